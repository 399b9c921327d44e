/**
 * Scatter plots of 2-D features in the style of the reference MNIST figures: one Tableau colour
 * per class, small dots, the class digit in bold at each class mean, equal aspect ratio, a
 * title, white background, a framed axes box with ticks, no legend. A figure that colours the
 * points by something else than their class gives its own point colours and a colour bar.
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
  /**
   * Point colours by colour id, replacing the class palette: colorLabels then index this list
   * (ids outside it are drawn grey) and the groups are drawn in id order, later ids on top. The
   * digits still sit at the class means of labelLabels, which need numClasses.
   */
  pointColors?: readonly string[];
  /** A horizontal colour bar under the x axis, as wide as the plotting area (the canvas keeps its size). */
  colorBar?: ScatterColorBar;
}

/** A colour bar: what the colours of `pointColors` mean. */
export interface ScatterColorBar {
  /** The colours from the left end to the right end, in equal steps. */
  colors: readonly string[];
  /** Text under the left end, the middle and the right end; '\n' starts a new line. */
  left: string;
  middle?: string;
  right: string;
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
  /** The colour bar's rectangle in canvas pixels, when there is one. */
  colorBar?: { left: number; top: number; right: number; bottom: number };
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
  /** One array of points per class (or per point colour), then one for unknown ids. */
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
  // One group per colour: the classes, or the given point colours; the last group holds the others.
  const colours = input.pointColors?.length ?? k;
  const groups: { x: number; y: number }[][] = Array.from({ length: colours + 1 }, () => []);
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
    const g = Number.isInteger(c) && c >= 0 && c < colours ? c : colours;
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
  return { groups, labelPos, bounds: viewBounds(input, groups), drawn, skipped };
}

/**
 * Axis bounds before the equal-aspect widening: fixed in the unit view, else the given bounds or
 * the drawn points' own bounds with a margin.
 */
function viewBounds(input: ScatterInput, groups: Prepared['groups']): Bounds {
  if (input.view === 'unit') return { xMin: -UNIT_VIEW_EXTENT, xMax: UNIT_VIEW_EXTENT, yMin: -UNIT_VIEW_EXTENT, yMax: UNIT_VIEW_EXTENT };
  if (input.bounds) return { ...input.bounds };
  return paddedBounds(
    (function* () {
      for (const g of groups) for (const p of g) yield [p.x, p.y] as [number, number];
    })(),
  );
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

/** Sizes and fonts shared by everything drawn on one figure. */
interface Style {
  sz: ReturnType<typeof sizes>;
  family: string;
  /** Dot radius in pixels. */
  radius: number;
}

type Ctx2D = SKRSContext2D | CanvasRenderingContext2D;
type Area = { left: number; top: number; right: number; bottom: number };
type Point = { x: number; y: number };

/** The canvas size of `input` in whole pixels; throws below 64x64. */
function canvasSize(input: ScatterInput): { width: number; height: number } {
  const width = Math.round(input.width ?? 640);
  const height = Math.round(input.height ?? 480);
  if (!(width >= 64 && height >= 64)) throw new RangeError(`scatter: canvas must be at least 64x64, got ${width}x${height}`);
  return { width, height };
}

/** Clips `c` to the plotting area; the caller saves and restores the context around it. */
function clipToArea(c: Ctx2D, area: Area): void {
  c.beginPath();
  c.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
  c.clip();
}

/**
 * Scale of the weight arrows in the raw view: as long as fits, so that the arrow that comes
 * nearest to the axes box along its own direction reaches 85 % of the way there; 0 when no
 * vector has a finite, positive length.
 */
function weightArrowScale(vec: Point[], norms: number[], x: Scale, y: Scale): number {
  const toEdge = (ux: number, uy: number) =>
    Math.min(ux > 0 ? x.max / ux : ux < 0 ? x.min / ux : Infinity, uy > 0 ? y.max / uy : uy < 0 ? y.min / uy : Infinity);
  let scale = Infinity;
  vec.forEach((v, j) => {
    const n = norms[j]!;
    if (n > 0 && Number.isFinite(n)) scale = Math.min(scale, (0.85 * Math.max(0, toEdge(v.x / n, v.y / n))) / n);
  });
  return Number.isFinite(scale) ? scale : 0;
}

/** Arrows from the origin along each class weight (unit length in the unit view). */
function drawWeightArrows(c: Ctx2D, vec: Point[], k: number, unit: boolean, x: Scale, y: Scale, radius: number): void {
  const px = (p: Point) => ({ x: x.getPixelForValue(p.x), y: y.getPixelForValue(p.y) });
  const norms = vec.map((v) => Math.hypot(v.x, v.y));
  const scale = weightArrowScale(vec, norms, x, y);
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
}

/** A ringed dot at each class center (its direction on the unit circle in the unit view). */
function drawCenterDots(c: Ctx2D, vec: Point[], k: number, unit: boolean, x: Scale, y: Scale, radius: number): void {
  const r = Math.max(3.5, 2.5 * radius);
  vec.forEach((v, j) => {
    const n = Math.hypot(v.x, v.y);
    if (!Number.isFinite(n)) return;
    const p = unit ? (n > 0 ? { x: v.x / n, y: v.y / n } : v) : v;
    c.beginPath();
    c.arc(x.getPixelForValue(p.x), y.getPixelForValue(p.y), r, 0, 2 * Math.PI);
    c.fillStyle = classColor(j, k);
    c.fill();
    c.lineWidth = Math.max(1, radius * 0.75);
    c.stroke();
  });
}

/** Draws the class vectors of `input` (see ScatterInput.classVectors) inside the plotting area. */
function drawClassVectors(c: Ctx2D, input: ScatterInput, x: Scale, y: Scale, area: Area, radius: number): void {
  const cv = input.classVectors;
  if (!cv) return;
  const k = input.numClasses;
  const unit = input.view === 'unit';
  if (cv.xy.length < 2 * k) throw new RangeError(`scatter: classVectors has ${cv.xy.length} numbers, expected ${2 * k} (x, y per class)`);
  const vec = Array.from({ length: k }, (_, j) => ({ x: Number(cv.xy[2 * j]), y: Number(cv.xy[2 * j + 1]) }));
  c.save();
  clipToArea(c, area);
  c.strokeStyle = '#000000';
  c.lineJoin = 'round';
  if (cv.kind === 'weights') drawWeightArrows(c, vec, k, unit, x, y, radius);
  else drawCenterDots(c, vec, k, unit, x, y, radius);
  c.restore();
}

/**
 * Draws the rays of `input` (see ScatterInput.rays) from the origin, each with its label at the
 * tip. Leaves round line caps set: the caller saves and restores the context around it.
 */
function drawRays(c: Ctx2D, rays: readonly ScatterRay[], k: number, x: Scale, y: Scale, style: Style): void {
  const x0 = x.getPixelForValue(0);
  const y0 = y.getPixelForValue(0);
  c.lineCap = 'round';
  for (const ray of rays) {
    const px = x.getPixelForValue(ray.x);
    const py = y.getPixelForValue(ray.y);
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
      c.font = `${ray.faint ? '' : 'bold '}${style.sz.tick}px ${style.family}`;
      c.fillStyle = '#000000';
      c.textAlign = 'center';
      c.textBaseline = 'middle';
      const len = Math.hypot(px - x0, py - y0) || 1;
      c.fillText(ray.label, px + ((px - x0) / len) * style.sz.tick, py + ((py - y0) / len) * style.sz.tick);
    }
  }
  c.setLineDash([]);
}

/** The class digit (or class name) in bold at each class's label position. */
function drawClassLabels(c: Ctx2D, input: ScatterInput, labelPos: Prepared['labelPos'], x: Scale, y: Scale, style: Style): void {
  c.font = `bold ${style.sz.digit}px ${style.family}`;
  c.textAlign = 'center';
  c.textBaseline = 'middle';
  c.fillStyle = '#000000';
  labelPos.forEach((p, cls) => {
    if (!p) return;
    const text = input.classNames?.[cls] ?? String(cls);
    c.fillText(text, x.getPixelForValue(p.x), y.getPixelForValue(p.y));
  });
}

/** The colour bar's sizes in pixels: the gap above it, its height, the gap under it, one text line. */
function colorBarSizes(bar: ScatterColorBar, style: Style) {
  const lines = Math.max(...[bar.left, bar.middle ?? '', bar.right].map((t) => t.split('\n').length));
  const line = Math.round(style.sz.tick * 1.25);
  const gap = Math.max(4, Math.round(style.sz.pad * 0.8));
  const height = Math.max(8, Math.round(style.sz.tick * 0.9));
  const tick = Math.max(2, Math.round(style.sz.tickLength * 0.75));
  return { gap, height, tick, line, lines, space: gap + height + tick + Math.round(gap / 2) + lines * line + Math.round(gap / 2) };
}

/** Draws the colour bar under the x axis; returns its rectangle. */
function drawColorBar(c: Ctx2D, bar: ScatterColorBar, left: number, right: number, top: number, style: Style): { left: number; top: number; right: number; bottom: number } {
  const sz = colorBarSizes(bar, style);
  const y0 = Math.round(top + sz.gap);
  const x0 = Math.round(left);
  const x1 = Math.round(right);
  const n = bar.colors.length;
  for (let i = 0; i < n; i++) {
    const a = Math.round(x0 + ((x1 - x0) * i) / n);
    const b = Math.round(x0 + ((x1 - x0) * (i + 1)) / n);
    c.fillStyle = bar.colors[i]!;
    c.fillRect(a, y0, b - a, sz.height);
  }
  c.strokeStyle = '#000000';
  c.lineWidth = 1;
  c.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, sz.height - 1);
  // A tick under each labelled place: the ends and the middle.
  c.beginPath();
  for (const x of [x0 + 0.5, Math.round((x0 + x1) / 2) + 0.5, x1 - 0.5]) {
    c.moveTo(x, y0 + sz.height);
    c.lineTo(x, y0 + sz.height + sz.tick);
  }
  c.stroke();
  // The labels at the tick size, smaller when the left or right one would run into the middle one.
  const widest = (t: string | undefined) => Math.max(0, ...(t ?? '').split('\n').map((l) => c.measureText(l).width));
  c.font = `${style.sz.tick}px ${style.family}`;
  const room = (x1 - x0) / 2 - widest(bar.middle) / 2 - style.sz.tick;
  const need = Math.max(widest(bar.left), widest(bar.right));
  const font = need > room ? Math.max(6, Math.floor((style.sz.tick * Math.max(0, room)) / need)) : style.sz.tick;
  c.font = `${font}px ${style.family}`;
  c.fillStyle = '#000000';
  c.textBaseline = 'top';
  const textTop = y0 + sz.height + sz.tick + Math.round(sz.gap / 2);
  const text = (t: string | undefined, x: number, align: CanvasTextAlign) => {
    if (!t) return;
    c.textAlign = align;
    t.split('\n').forEach((line, i) => c.fillText(line, x, textTop + i * sz.line));
  };
  text(bar.left, x0, 'left');
  text(bar.middle, (x0 + x1) / 2, 'center');
  text(bar.right, x1, 'right');
  return { left: x0, top: y0, right: x1, bottom: y0 + sz.height };
}

/** The colour bar of `input`, if any, under the x axis once the chart is drawn. */
function colorBarPlugin(input: ScatterInput, style: Style, placed: { rect?: ScatterLayout['colorBar'] }): Plugin<'scatter'> {
  return {
    id: 'faceloss-color-bar',
    afterDraw(chart) {
      if (!input.colorBar) return;
      const c = chart.ctx;
      c.save();
      placed.rect = drawColorBar(c, input.colorBar, chart.chartArea.left, chart.chartArea.right, chart.scales['x']!.bottom, style);
      c.restore();
    },
  };
}

/** Fills the whole canvas white before anything else is drawn. */
function whiteBackgroundPlugin(): Plugin<'scatter'> {
  return {
    id: 'faceloss-background',
    beforeDraw(chart) {
      const c = chart.ctx;
      c.save();
      c.fillStyle = '#ffffff';
      c.fillRect(0, 0, chart.width, chart.height);
      c.restore();
    },
  };
}

/** The unit circle, drawn faintly under the points of the unit view. */
function unitCirclePlugin(unit: boolean): Plugin<'scatter'> {
  return {
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
}

/** What is drawn over the points: class vectors, rays, class labels and the axes box. */
function overlayPlugin(input: ScatterInput, prep: Prepared, style: Style): Plugin<'scatter'> {
  return {
    id: 'faceloss-digits',
    afterDatasetsDraw(chart) {
      const { x, y } = chart.scales as Record<string, Scale>;
      const c = chart.ctx;
      const a = chart.chartArea;
      drawClassVectors(c, input, x!, y!, a, style.radius);
      c.save();
      if (input.rays?.length) drawRays(c, input.rays, input.numClasses, x!, y!, style);
      drawClassLabels(c, input, prep.labelPos, x!, y!, style);
      // The axes box (all four spines), crisp on the pixel grid.
      c.strokeStyle = '#000000';
      c.lineWidth = 1;
      c.strokeRect(Math.round(a.left) + 0.5, Math.round(a.top) + 0.5, Math.round(a.width) - 1, Math.round(a.height) - 1);
      c.restore();
    },
  };
}

/** Axis sizes in pixels, once measured; they then stay fixed so the limits can follow the area. */
interface AxisPin {
  yWidth?: number;
  xHeight?: number;
}

/** One linear axis: black ticks outside the plotting area, no grid lines, no border. */
function axisOptions(which: 'x' | 'y', min: number, max: number, style: Style, pin: AxisPin) {
  return {
    type: 'linear' as const,
    position: which === 'x' ? ('bottom' as const) : ('left' as const),
    min,
    max,
    ticks: {
      includeBounds: false,
      color: '#000000',
      font: { family: style.family, size: style.sz.tick },
      maxRotation: 0,
      padding: 3,
    },
    grid: {
      display: true,
      drawOnChartArea: false,
      drawTicks: true,
      tickLength: style.sz.tickLength,
      color: '#000000',
    },
    border: { display: false },
    afterFit(scale: Scale) {
      if (which === 'y' && pin.yWidth !== undefined) scale.width = pin.yWidth;
      if (which === 'x' && pin.xHeight !== undefined) scale.height = pin.xHeight;
    },
  };
}

/** The chart.js configuration: no data yet, static rendering, the title and the plugins. */
function chartConfig(input: ScatterInput, lim: Bounds, style: Style, pin: AxisPin, plugins: Plugin<'scatter'>[]): ChartConfiguration<'scatter', Point[]> {
  const { sz, family, radius } = style;
  return {
    type: 'scatter',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: false,
      maintainAspectRatio: false,
      devicePixelRatio: 1,
      events: [],
      parsing: false,
      layout: { padding: { left: sz.pad, right: sz.pad * 2, top: 0, bottom: Math.round(sz.pad / 2) + (input.colorBar ? colorBarSizes(input.colorBar, style).space : 0) } },
      elements: { point: { radius, borderWidth: 0, hoverRadius: 0, hitRadius: 0, pointStyle: 'circle' } },
      scales: { x: axisOptions('x', lim.xMin, lim.xMax, style, pin), y: axisOptions('y', lim.yMin, lim.yMax, style, pin) },
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
    plugins,
  };
}

type ScatterChart = Chart<'scatter', Point[]>;

/** Sets the axis limits of `chart`; they take effect at its next update. */
function setLimits(chart: ScatterChart, b: Bounds): void {
  const sc = chart.options.scales as Record<string, { min?: number; max?: number }>;
  sc.x!.min = b.xMin;
  sc.x!.max = b.xMax;
  sc.y!.min = b.yMin;
  sc.y!.max = b.yMax;
}

/**
 * Sets equal-aspect limits around `bounds` that match the final plotting area. The layout is
 * settled without data (cheap): the tick labels depend on the limits, the limits on the plotting
 * area, the area on the tick labels; two or three rounds suffice. The axis sizes are then pinned
 * so the final limits match the final plotting rectangle exactly.
 */
function settleLimits(chart: ScatterChart, bounds: Bounds, pin: AxisPin): void {
  for (let round = 0; round < 5; round++) {
    const a = chart.chartArea;
    setLimits(chart, equalAspectLimits(bounds, a.right - a.left, a.bottom - a.top));
    chart.update('none');
    const b = chart.chartArea;
    if (b.left === a.left && b.right === a.right && b.top === a.top && b.bottom === a.bottom) break;
  }
  pin.yWidth = chart.scales['y']!.width;
  pin.xHeight = chart.scales['x']!.height;
  chart.update('none');
  const a = chart.chartArea;
  setLimits(chart, equalAspectLimits(bounds, a.right - a.left, a.bottom - a.top));
}

/** One dataset per non-empty group, in its class colour or its point colour (grey for unknown ids). */
function classDatasets(groups: Prepared['groups'], k: number, radius: number, pointColors?: readonly string[]) {
  const colour = (g: number) => (pointColors ? (pointColors[g] ?? UNKNOWN_CLASS_COLOR) : g < k ? classColor(g, k) : UNKNOWN_CLASS_COLOR);
  return groups
    .map((data, g) => ({
      data,
      backgroundColor: colour(g),
      pointRadius: radius,
      showLine: false,
    }))
    .filter((d) => d.data.length > 0);
}

/** The layout the rendered chart actually uses. */
function layoutOf(chart: ScatterChart, prep: Prepared, bar?: ScatterLayout['colorBar']): ScatterLayout {
  const xs = chart.scales['x']!;
  const ys = chart.scales['y']!;
  const area = chart.chartArea;
  return {
    xMin: xs.min,
    xMax: xs.max,
    yMin: ys.min,
    yMax: ys.max,
    chartArea: { left: area.left, top: area.top, right: area.right, bottom: area.bottom },
    unitsPerPixelX: (xs.max - xs.min) / (xs.right - xs.left),
    unitsPerPixelY: (ys.max - ys.min) / (ys.bottom - ys.top),
    drawn: prep.drawn,
    skipped: prep.skipped,
    ...(bar ? { colorBar: bar } : {}),
  };
}

/**
 * Draws the scatter plot on a new canvas and hands it, with the layout actually used, to `use`
 * (which encodes it or reads its pixels) before the chart is released.
 */
async function withScatter<T>(input: ScatterInput, use: (canvas: Canvas, layout: ScatterLayout) => Promise<T> | T): Promise<T> {
  const { width, height } = canvasSize(input);
  const prep = prepare(input);
  const sz = sizes(width, height);
  const style: Style = { sz, family: plotFontFamily(), radius: input.pointRadius ?? sz.radius };
  const canvas = createCanvas(width, height);
  const pin: AxisPin = {};
  const bar: { rect?: ScatterLayout['colorBar'] } = {};
  const plugins = [whiteBackgroundPlugin(), unitCirclePlugin(input.view === 'unit'), overlayPlugin(input, prep, style), colorBarPlugin(input, style, bar)];
  // The chart starts at the unwidened bounds; settleLimits replaces them.
  const config = chartConfig(input, prep.bounds, style, pin, plugins);
  // chart.js only needs a 2-D context with a .canvas; @napi-rs/canvas provides one.
  const chart = new Chart(canvas.getContext('2d') as unknown as CanvasRenderingContext2D, config);
  try {
    settleLimits(chart, prep.bounds, pin);
    chart.data.datasets = classDatasets(prep.groups, input.numClasses, style.radius, input.pointColors);
    chart.update('none');
    return await use(canvas, layoutOf(chart, prep, bar.rect));
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
