/**
 * Scatter plots of 2-D features in the style of the reference MNIST figures: one Tableau colour
 * per class, small dots, the class digit in bold at each class mean, equal aspect ratio, a
 * title, white background, a framed axes box with ticks, no legend.
 *
 * Pure drawing: this module knows nothing of training. It draws with chart.js on an
 * @napi-rs/canvas context (no DOM).
 */
import { type Canvas, createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import {
  Chart,
  LinearScale,
  PointElement,
  ScatterController,
  Title,
  type ChartConfiguration,
  type Plugin,
  type Scale,
} from 'chart.js';
import { writeFileAtomic } from '../util/fsx.js';
import { plotFontFamily } from './fonts.js';
import { type Bounds, equalAspectLimits, paddedBounds } from './limits.js';
import { classColor, UNKNOWN_CLASS_COLOR } from './palette.js';

Chart.register(ScatterController, LinearScale, PointElement, Title);

export type ClassIds = Int32Array | Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | ArrayLike<number>;

export interface ScatterInput {
  /** N*2 interleaved x, y. Points with a non-finite coordinate are skipped. */
  points: Float32Array | Float64Array | ArrayLike<number>;
  /** N class ids used for colour (the predicted class, by default, in the reference figures). */
  colorLabels: ClassIds;
  /** N class ids used to place the bold digit at each class mean; defaults to colorLabels. */
  labelLabels?: ClassIds;
  /** Number of classes (10 for MNIST). */
  numClasses: number;
  /** Figure title, e.g. 'alpha=1.0, trainable=True, epoch=100'; empty for none; '\n' starts a new line. */
  title: string;
  /** Canvas size in pixels; default 640x480. */
  width?: number;
  height?: number;
  /**
   * 'raw' (default): the features as they are. 'unit': every point divided by its norm, the unit
   * circle drawn faintly, and each digit placed just outside the circle along its class's mean
   * direction (for normalized losses, whose information is all in the angle).
   */
  view?: 'raw' | 'unit';
  /** Dot radius in pixels; default 2 at 640x480, scaled with the canvas. */
  pointRadius?: number;
  /** Text drawn at each class mean instead of the class id. */
  classNames?: readonly string[];
  /**
   * Axis bounds of the raw view before the equal-aspect widening (an animation keeps one set for
   * every frame); default: the points' own bounds with a 5 % margin. Points outside are clipped.
   */
  bounds?: Bounds;
  /**
   * Class vectors drawn over the points (numClasses*2 interleaved x, y): 'weights' as arrows from
   * the origin along each class weight (lengths in proportion, scaled to fit: the arrow nearest to
   * the axes box along its own direction reaches 85 % of the way there; unit length in the unit view), 'centers' as a ringed dot at each
   * class center (its direction on the unit circle in the unit view).
   */
  classVectors?: { kind: 'weights' | 'centers'; xy: ArrayLike<number> };
  /**
   * Segments from the origin to (x, y) in data units, drawn over the points in their class's
   * colour with a dark outline (e.g. class weight directions); `faint` ones thin, dashed and
   * without outline; a `label` at the tip.
   */
  rays?: readonly ScatterRay[];
}

export interface ScatterRay {
  x: number;
  y: number;
  cls: number;
  faint?: boolean;
  label?: string;
}

export interface ScatterLayout extends Bounds {
  /** The plotting rectangle in canvas pixels. */
  chartArea: { left: number; top: number; right: number; bottom: number };
  /** Data units per pixel along x and y (equal, up to rounding). */
  unitsPerPixelX: number;
  unitsPerPixelY: number;
  /** Points drawn (finite ones). */
  drawn: number;
  /** Points skipped because a coordinate was not finite (or, in the unit view, zero norm). */
  skipped: number;
}

export interface ScatterResult {
  png: Buffer;
  layout: ScatterLayout;
}

/** Radius, in data units, at which the unit view places the digits. */
const UNIT_LABEL_RADIUS = 1.16;
/** Half-extent of the unit view's axes before the equal-aspect expansion. */
const UNIT_VIEW_EXTENT = 1.3;
interface Prepared {
  /** One array of points per class, then one for unknown class ids. */
  groups: { x: number; y: number }[][];
  /** Where to draw each class's digit; null for a class with no point. */
  labelPos: ({ x: number; y: number } | null)[];
  bounds: Bounds;
  drawn: number;
  skipped: number;
}

function checkInput(input: ScatterInput): number {
  const n = input.colorLabels.length;
  if (input.points.length !== 2 * n) {
    throw new RangeError(
      `scatter: points has ${input.points.length} numbers but colorLabels has ${n} ids; expected points.length = 2 * ${n}`,
    );
  }
  if (input.labelLabels && input.labelLabels.length !== n) {
    throw new RangeError(`scatter: labelLabels has ${input.labelLabels.length} ids, expected ${n} (one per point)`);
  }
  if (!Number.isInteger(input.numClasses) || input.numClasses < 1) {
    throw new RangeError(`scatter: numClasses must be a positive integer, got ${input.numClasses}`);
  }
  return n;
}

function prepare(input: ScatterInput): Prepared {
  const n = checkInput(input);
  const k = input.numClasses;
  const unit = input.view === 'unit';
  const { points, colorLabels } = input;
  const labelLabels = input.labelLabels ?? colorLabels;
  const groups: { x: number; y: number }[][] = Array.from({ length: k + 1 }, () => []);
  const sx = new Float64Array(k);
  const sy = new Float64Array(k);
  const cnt = new Float64Array(k);
  let drawn = 0;
  let skipped = 0;
  for (let i = 0; i < n; i++) {
    let x = Number(points[2 * i]);
    let y = Number(points[2 * i + 1]);
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      skipped++;
      continue;
    }
    if (unit) {
      const r = Math.hypot(x, y);
      if (!(r > 0) || !Number.isFinite(r)) {
        skipped++;
        continue;
      }
      x /= r;
      y /= r;
    }
    const c = Number(colorLabels[i]);
    const g = Number.isInteger(c) && c >= 0 && c < k ? c : k;
    groups[g]!.push({ x, y });
    drawn++;
    const l = Number(labelLabels[i]);
    if (Number.isInteger(l) && l >= 0 && l < k) {
      sx[l]! += x;
      sy[l]! += y;
      cnt[l]! += 1;
    }
  }
  const labelPos = Array.from({ length: k }, (_, c) => {
    if (cnt[c] === 0) return null;
    const mx = sx[c]! / cnt[c]!;
    const my = sy[c]! / cnt[c]!;
    if (!unit) return { x: mx, y: my };
    const r = Math.hypot(mx, my);
    return r > 1e-9 ? { x: (mx / r) * UNIT_LABEL_RADIUS, y: (my / r) * UNIT_LABEL_RADIUS } : { x: mx, y: my };
  });
  let bounds: Bounds;
  if (unit) {
    bounds = { xMin: -UNIT_VIEW_EXTENT, xMax: UNIT_VIEW_EXTENT, yMin: -UNIT_VIEW_EXTENT, yMax: UNIT_VIEW_EXTENT };
  } else if (input.bounds) {
    bounds = { ...input.bounds };
  } else {
    bounds = paddedBounds(
      (function* () {
        for (const g of groups) for (const p of g) yield [p.x, p.y] as [number, number];
      })(),
    );
  }
  return { groups, labelPos, bounds, drawn, skipped };
}

/** Font sizes and dot radius scaled from the 640x480 reference. */
function sizes(width: number, height: number) {
  const s = Math.max(0.5, Math.min(width / 640, height / 480));
  return {
    // Floors keep small tiles legible.
    title: Math.max(10, Math.round(15 * s)),
    tick: Math.max(8, Math.round(12 * s)),
    digit: Math.max(11, Math.round(16 * s)),
    radius: Math.max(0.75, 2 * s),
    tickLength: Math.max(2, Math.round(4 * s)),
    pad: Math.round(10 * s),
  };
}

/** Draws the class vectors of `input` (see ScatterInput.classVectors) inside the plotting area. */
function drawClassVectors(c: SKRSContext2D | CanvasRenderingContext2D, input: ScatterInput, x: Scale, y: Scale, area: { left: number; top: number; right: number; bottom: number }, radius: number): void {
  const cv = input.classVectors;
  if (!cv) return;
  const k = input.numClasses;
  const unit = input.view === 'unit';
  if (cv.xy.length < 2 * k) throw new RangeError(`scatter: classVectors has ${cv.xy.length} numbers, expected ${2 * k} (x, y per class)`);
  const vec = Array.from({ length: k }, (_, j) => ({ x: Number(cv.xy[2 * j]), y: Number(cv.xy[2 * j + 1]) }));
  c.save();
  c.beginPath();
  c.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
  c.clip();
  c.strokeStyle = '#000000';
  c.lineJoin = 'round';
  const px = (p: { x: number; y: number }) => ({ x: x.getPixelForValue(p.x), y: y.getPixelForValue(p.y) });
  if (cv.kind === 'weights') {
    // Scale: unit length in the unit view; else as long as fits: the arrow that comes nearest to
    // the axes box along its own direction reaches 85 % of the way there.
    const norms = vec.map((v) => Math.hypot(v.x, v.y));
    const toEdge = (ux: number, uy: number) =>
      Math.min(ux > 0 ? x.max / ux : ux < 0 ? x.min / ux : Infinity, uy > 0 ? y.max / uy : uy < 0 ? y.min / uy : Infinity);
    let scale = Infinity;
    vec.forEach((v, j) => {
      const n = norms[j]!;
      if (n > 0 && Number.isFinite(n)) scale = Math.min(scale, (0.85 * Math.max(0, toEdge(v.x / n, v.y / n))) / n);
    });
    if (!Number.isFinite(scale)) scale = 0;
    const o = px({ x: 0, y: 0 });
    const head = Math.max(6, 4 * radius);
    vec.forEach((v, j) => {
      const n = norms[j]!;
      if (!(n > 0) || !Number.isFinite(n)) return;
      const tip = px(unit ? { x: v.x / n, y: v.y / n } : { x: v.x * scale, y: v.y * scale });
      const ang = Math.atan2(tip.y - o.y, tip.x - o.x);
      c.lineWidth = Math.max(1, radius * 0.75);
      c.beginPath();
      c.moveTo(o.x, o.y);
      c.lineTo(tip.x - Math.cos(ang) * head * 0.8, tip.y - Math.sin(ang) * head * 0.8);
      c.stroke();
      c.beginPath();
      c.moveTo(tip.x, tip.y);
      c.lineTo(tip.x - head * Math.cos(ang - 0.4), tip.y - head * Math.sin(ang - 0.4));
      c.lineTo(tip.x - head * Math.cos(ang + 0.4), tip.y - head * Math.sin(ang + 0.4));
      c.closePath();
      c.fillStyle = classColor(j, k);
      c.fill();
      c.lineWidth = 1;
      c.stroke();
    });
  } else {
    const r = Math.max(3.5, 2.5 * radius);
    vec.forEach((v, j) => {
      const n = Math.hypot(v.x, v.y);
      if (!Number.isFinite(n)) return;
      const p = px(unit ? (n > 0 ? { x: v.x / n, y: v.y / n } : v) : v);
      c.beginPath();
      c.arc(p.x, p.y, r, 0, 2 * Math.PI);
      c.fillStyle = classColor(j, k);
      c.fill();
      c.lineWidth = Math.max(1, radius * 0.75);
      c.stroke();
    });
  }
  c.restore();
}

/**
 * Draws the scatter plot on a new canvas and hands it, with the layout actually used, to `use`
 * (which encodes it or reads its pixels) before the chart is released.
 */
async function withScatter<T>(input: ScatterInput, use: (canvas: Canvas, layout: ScatterLayout) => Promise<T> | T): Promise<T> {
  const width = Math.round(input.width ?? 640);
  const height = Math.round(input.height ?? 480);
  if (!(width >= 64 && height >= 64)) throw new RangeError(`scatter: canvas must be at least 64x64, got ${width}x${height}`);
  const prep = prepare(input);
  const k = input.numClasses;
  const sz = sizes(width, height);
  const family = plotFontFamily();
  const radius = input.pointRadius ?? sz.radius;
  const unit = input.view === 'unit';

  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');

  // Axis sizes are measured while the layout settles, then pinned so the final limits match the
  // final plotting rectangle exactly.
  const pin: { yWidth?: number; xHeight?: number } = {};
  let lim = prep.bounds;

  const whiteBackground: Plugin<'scatter'> = {
    id: 'faceloss-background',
    beforeDraw(chart) {
      const c = chart.ctx;
      c.save();
      c.fillStyle = '#ffffff';
      c.fillRect(0, 0, chart.width, chart.height);
      c.restore();
    },
  };
  const unitCircle: Plugin<'scatter'> = {
    id: 'faceloss-unit-circle',
    beforeDatasetsDraw(chart) {
      if (!unit) return;
      const { x, y } = chart.scales as Record<string, Scale>;
      const cx = x!.getPixelForValue(0);
      const cy = y!.getPixelForValue(0);
      const r = Math.abs(x!.getPixelForValue(1) - cx);
      const c = chart.ctx;
      c.save();
      c.beginPath();
      c.rect(chart.chartArea.left, chart.chartArea.top, chart.chartArea.width, chart.chartArea.height);
      c.clip();
      c.strokeStyle = '#c8c8c8';
      c.lineWidth = 1;
      c.beginPath();
      c.arc(cx, cy, r, 0, 2 * Math.PI);
      c.stroke();
      c.restore();
    },
  };
  const digitsAndFrame: Plugin<'scatter'> = {
    id: 'faceloss-digits',
    afterDatasetsDraw(chart) {
      const { x, y } = chart.scales as Record<string, Scale>;
      const c = chart.ctx;
      const a = chart.chartArea;
      drawClassVectors(c, input, x!, y!, a, radius);
      c.save();
      if (input.rays?.length) {
        const x0 = x!.getPixelForValue(0);
        const y0 = y!.getPixelForValue(0);
        c.lineCap = 'round';
        for (const ray of input.rays) {
          const px = x!.getPixelForValue(ray.x);
          const py = y!.getPixelForValue(ray.y);
          const w = ray.faint ? 1.5 : 3.5;
          c.setLineDash(ray.faint ? [5, 4] : []);
          c.beginPath();
          c.moveTo(x0, y0);
          c.lineTo(px, py);
          if (!ray.faint) {
            c.strokeStyle = '#000000';
            c.lineWidth = w + 2;
            c.stroke();
          }
          c.strokeStyle = ray.cls < k ? classColor(ray.cls, k) : UNKNOWN_CLASS_COLOR;
          c.lineWidth = w;
          c.stroke();
          if (ray.label) {
            c.setLineDash([]);
            c.font = `${ray.faint ? '' : 'bold '}${sz.tick}px ${family}`;
            c.fillStyle = '#000000';
            c.textAlign = 'center';
            c.textBaseline = 'middle';
            const len = Math.hypot(px - x0, py - y0) || 1;
            c.fillText(ray.label, px + ((px - x0) / len) * sz.tick, py + ((py - y0) / len) * sz.tick);
          }
        }
        c.setLineDash([]);
      }
      c.font = `bold ${sz.digit}px ${family}`;
      c.textAlign = 'center';
      c.textBaseline = 'middle';
      c.fillStyle = '#000000';
      prep.labelPos.forEach((p, cls) => {
        if (!p) return;
        const text = input.classNames?.[cls] ?? String(cls);
        c.fillText(text, x!.getPixelForValue(p.x), y!.getPixelForValue(p.y));
      });
      // The axes box (all four spines), crisp on the pixel grid.
      c.strokeStyle = '#000000';
      c.lineWidth = 1;
      c.strokeRect(Math.round(a.left) + 0.5, Math.round(a.top) + 0.5, Math.round(a.width) - 1, Math.round(a.height) - 1);
      c.restore();
    },
  };

  const axis = (which: 'x' | 'y', min: number, max: number) => ({
    type: 'linear' as const,
    position: which === 'x' ? ('bottom' as const) : ('left' as const),
    min,
    max,
    ticks: {
      includeBounds: false,
      color: '#000000',
      font: { family, size: sz.tick },
      maxRotation: 0,
      padding: 3,
    },
    grid: {
      display: true,
      drawOnChartArea: false,
      drawTicks: true,
      tickLength: sz.tickLength,
      color: '#000000',
    },
    border: { display: false },
    afterFit(scale: Scale) {
      if (which === 'y' && pin.yWidth !== undefined) scale.width = pin.yWidth;
      if (which === 'x' && pin.xHeight !== undefined) scale.height = pin.xHeight;
    },
  });

  const config: ChartConfiguration<'scatter', { x: number; y: number }[]> = {
    type: 'scatter',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: false,
      maintainAspectRatio: false,
      devicePixelRatio: 1,
      events: [],
      parsing: false,
      layout: { padding: { left: sz.pad, right: sz.pad * 2, top: 0, bottom: Math.round(sz.pad / 2) } },
      elements: { point: { radius, borderWidth: 0, hoverRadius: 0, hitRadius: 0, pointStyle: 'circle' } },
      scales: { x: axis('x', lim.xMin, lim.xMax), y: axis('y', lim.yMin, lim.yMax) },
      plugins: {
        title: {
          display: input.title.length > 0,
          text: input.title.includes('\n') ? input.title.split('\n') : input.title,
          color: '#000000',
          font: { family, size: sz.title, weight: 'normal' },
          padding: { top: sz.pad, bottom: sz.pad },
        },
      },
    },
    plugins: [whiteBackground, unitCircle, digitsAndFrame],
  };

  // chart.js only needs a 2-D context with a .canvas; @napi-rs/canvas provides one.
  const chart = new Chart(ctx as unknown as CanvasRenderingContext2D, config);
  try {
    const setLimits = (b: Bounds) => {
      const sc = chart.options.scales as Record<string, { min?: number; max?: number }>;
      sc.x!.min = b.xMin;
      sc.x!.max = b.xMax;
      sc.y!.min = b.yMin;
      sc.y!.max = b.yMax;
    };
    // Settle the layout without data (cheap): the tick labels depend on the limits, the limits on
    // the plotting area, the area on the tick labels. Two or three rounds suffice.
    for (let round = 0; round < 5; round++) {
      const a = chart.chartArea;
      lim = equalAspectLimits(prep.bounds, a.right - a.left, a.bottom - a.top);
      setLimits(lim);
      chart.update('none');
      const b = chart.chartArea;
      if (b.left === a.left && b.right === a.right && b.top === a.top && b.bottom === a.bottom) break;
    }
    pin.yWidth = chart.scales['y']!.width;
    pin.xHeight = chart.scales['x']!.height;
    chart.update('none');
    const a = chart.chartArea;
    lim = equalAspectLimits(prep.bounds, a.right - a.left, a.bottom - a.top);
    setLimits(lim);

    chart.data.datasets = prep.groups
      .map((data, g) => ({
        data,
        backgroundColor: g < k ? classColor(g, k) : UNKNOWN_CLASS_COLOR,
        pointRadius: radius,
        showLine: false,
      }))
      .filter((d) => d.data.length > 0);
    chart.update('none');

    const xs = chart.scales['x']!;
    const ys = chart.scales['y']!;
    const area = chart.chartArea;
    const layout: ScatterLayout = {
      xMin: xs.min,
      xMax: xs.max,
      yMin: ys.min,
      yMax: ys.max,
      chartArea: { left: area.left, top: area.top, right: area.right, bottom: area.bottom },
      unitsPerPixelX: (xs.max - xs.min) / (xs.right - xs.left),
      unitsPerPixelY: (ys.max - ys.min) / (ys.bottom - ys.top),
      drawn: prep.drawn,
      skipped: prep.skipped,
    };
    return await use(canvas, layout);
  } finally {
    chart.destroy();
  }
}

/**
 * Render the scatter plot and return the PNG with the layout actually used (axis limits,
 * plotting rectangle, units per pixel), which tests and callers can check.
 */
export async function renderScatter(input: ScatterInput): Promise<ScatterResult> {
  return withScatter(input, async (canvas, layout) => ({ png: await canvas.encode('png'), layout }));
}

/** The scatter plot's pixels (RGBA, row-major), for the frames of an animation. */
export async function renderScatterRgba(input: ScatterInput): Promise<{ rgba: Uint8ClampedArray; width: number; height: number; layout: ScatterLayout }> {
  return withScatter(input, (canvas, layout) => {
    const img = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    return { rgba: img.data, width: canvas.width, height: canvas.height, layout };
  });
}

/** The scatter plot as PNG bytes. */
export async function renderScatterPng(input: ScatterInput): Promise<Buffer> {
  return (await renderScatter(input)).png;
}

/** Render and write the PNG atomically (temporary file, then rename), creating folders. */
export async function writeScatterPng(file: string, input: ScatterInput): Promise<void> {
  await writeFileAtomic(file, await renderScatterPng(input));
}
