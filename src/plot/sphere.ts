/**
 * Figures of 3-D features, in the palette and title style of the 2-D scatter plots
 * (./scatter.ts): one tab10 colour per class, small dots, the class digit in bold at each class's
 * mean direction, a title, white background.
 *
 * Four views:
 *   'unit'  the unit sphere seen from a fixed viewpoint (orthographic): the front hemisphere
 *           solid, the back faded behind a veil, a 30° graticule;
 *   'pair'  two opposite views of the sphere side by side, so no point hides;
 *   'map'   the Hammer equal-area map of all directions (longitude atan2(y, x), latitude asin(z));
 *   'raw'   the raw (unnormalised) features in a 3-D projection with the axes, and a panel of
 *           their norms per class (median and 5-95 % range).
 * Class weight directions (the columns of W, when the loss has them) are marked as diamonds.
 *
 * Pure drawing: this module knows nothing of training. `drawSphere` draws one sphere into a
 * rectangle of any 2-D canvas context, so an animation frame or a page can reuse it with its own
 * viewpoint (`sphereCamera`); `renderSphereRgba` gives a view's pixels (the frames of a run's
 * animation).
 */
import { type Canvas, createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { plotFontFamily } from './fonts.js';
import { classColor, UNKNOWN_CLASS_COLOR } from './palette.js';
import type { ClassIds } from './scatter.js';

export type SphereView = 'unit' | 'pair' | 'map' | 'raw';

export interface SphereInput {
  /** N*3 interleaved x, y, z. Points with a non-finite coordinate (or zero norm) are skipped. */
  points: Float32Array | Float64Array | ArrayLike<number>;
  /** N class ids used for colour (the predicted class, by default). */
  colorLabels: ClassIds;
  /** N class ids used to place the bold digit at each class's mean direction; defaults to colorLabels. */
  labelLabels?: ClassIds;
  numClasses: number;
  /** Figure title; '\n' starts a new line; empty for none. */
  title: string;
  /** Canvas size in pixels; default 640x480. */
  width?: number;
  height?: number;
  /** Class weight directions, numClasses*3 (row c is W_c); marked as diamonds when given. */
  classDirections?: ArrayLike<number>;
  /** Dot radius in pixels; default 1.6 at 640x480, scaled with the canvas. */
  pointRadius?: number;
  /** The viewpoint of 'unit' and 'raw' (and the first sphere of 'pair'). */
  camera?: SphereCamera;
}

/** A viewpoint: the rotation that takes feature coordinates to screen coordinates. */
export interface SphereCamera {
  azimuthDeg: number;
  elevationDeg: number;
  /** Rows: screen right, screen up, towards the viewer. */
  rows: [[number, number, number], [number, number, number], [number, number, number]];
}

/** The fixed viewpoint of the figures: 35° around the z axis from x, 25° above the equator. */
export const DEFAULT_CAMERA_ANGLES = { azimuthDeg: 35, elevationDeg: 25 } as const;

/**
 * The camera looking at the origin from direction (azimuth, elevation) in feature space, with the
 * feature z axis pointing up on the screen.
 */
export function sphereCamera(azimuthDeg: number = DEFAULT_CAMERA_ANGLES.azimuthDeg, elevationDeg: number = DEFAULT_CAMERA_ANGLES.elevationDeg): SphereCamera {
  const a = (azimuthDeg * Math.PI) / 180;
  const e = (elevationDeg * Math.PI) / 180;
  const toViewer: [number, number, number] = [Math.cos(e) * Math.cos(a), Math.cos(e) * Math.sin(a), Math.sin(e)];
  const right: [number, number, number] = [-Math.sin(a), Math.cos(a), 0];
  // up = toViewer × right
  const up: [number, number, number] = [
    toViewer[1] * right[2] - toViewer[2] * right[1],
    toViewer[2] * right[0] - toViewer[0] * right[2],
    toViewer[0] * right[1] - toViewer[1] * right[0],
  ];
  return { azimuthDeg, elevationDeg, rows: [right, up, toViewer] };
}

/** The camera looking from the opposite side (what the first one cannot see). */
export function oppositeCamera(c: SphereCamera): SphereCamera {
  return sphereCamera(c.azimuthDeg + 180, -c.elevationDeg);
}

/** Screen coordinates (right, up) and depth (towards the viewer) of a 3-D vector. */
export function project(c: SphereCamera, x: number, y: number, z: number): [number, number, number] {
  const [r, u, v] = c.rows;
  return [r[0] * x + r[1] * y + r[2] * z, u[0] * x + u[1] * y + u[2] * z, v[0] * x + v[1] * y + v[2] * z];
}

/** Hammer equal-area projection of a unit direction: x in [−2√2, 2√2], y in [−√2, √2]. */
export function hammer(x: number, y: number, z: number): [number, number] {
  const lon = Math.atan2(y, x);
  const lat = Math.asin(Math.max(-1, Math.min(1, z)));
  const d = Math.sqrt(1 + Math.cos(lat) * Math.cos(lon / 2));
  return [(2 * Math.SQRT2 * Math.cos(lat) * Math.sin(lon / 2)) / d, (Math.SQRT2 * Math.sin(lat)) / d];
}

/** The features as unit directions, with their classes and norms; skipped points counted. */
export interface PreparedSphere {
  /** n*3 unit directions of the drawn points. */
  unit: Float64Array;
  norms: Float64Array;
  raw: Float64Array;
  color: Int32Array;
  /** Mean unit direction per class (normalised), null for a class with no point. */
  meanDirs: ([number, number, number] | null)[];
  /** Mean raw feature per class, null for a class with no point. */
  rawMeans: ([number, number, number] | null)[];
  /** Class weight directions (normalised), or null per class when absent. */
  weightDirs: ([number, number, number] | null)[];
  drawn: number;
  skipped: number;
  numClasses: number;
}

export function prepareSphere(input: SphereInput): PreparedSphere {
  const n = input.colorLabels.length;
  if (input.points.length !== 3 * n) {
    throw new RangeError(`sphere: points has ${input.points.length} numbers but colorLabels has ${n} ids; expected points.length = 3 * ${n}`);
  }
  const k = input.numClasses;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`sphere: numClasses must be a positive integer, got ${k}`);
  if (input.labelLabels && input.labelLabels.length !== n) throw new RangeError(`sphere: labelLabels has ${input.labelLabels.length} ids, expected ${n}`);
  if (input.classDirections && input.classDirections.length !== 3 * k) {
    throw new RangeError(`sphere: classDirections has ${input.classDirections.length} numbers, expected 3 * ${k}`);
  }
  const labelLabels = input.labelLabels ?? input.colorLabels;
  const unit = new Float64Array(3 * n);
  const raw = new Float64Array(3 * n);
  const norms = new Float64Array(n);
  const color = new Int32Array(n);
  const sums = Array.from({ length: k }, () => [0, 0, 0]);
  const rawSums = Array.from({ length: k }, () => [0, 0, 0, 0]);
  let m = 0;
  let skipped = 0;
  for (let i = 0; i < n; i++) {
    const x = Number(input.points[3 * i]);
    const y = Number(input.points[3 * i + 1]);
    const z = Number(input.points[3 * i + 2]);
    const r = Math.hypot(x, y, z);
    if (!Number.isFinite(r) || !(r > 0)) {
      skipped++;
      continue;
    }
    unit[3 * m] = x / r;
    unit[3 * m + 1] = y / r;
    unit[3 * m + 2] = z / r;
    raw[3 * m] = x;
    raw[3 * m + 1] = y;
    raw[3 * m + 2] = z;
    norms[m] = r;
    const c = Number(input.colorLabels[i]);
    color[m] = Number.isInteger(c) && c >= 0 && c < k ? c : k;
    const l = Number(labelLabels[i]);
    if (Number.isInteger(l) && l >= 0 && l < k) {
      const s = sums[l]!;
      s[0]! += x / r;
      s[1]! += y / r;
      s[2]! += z / r;
      const t = rawSums[l]!;
      t[0]! += x;
      t[1]! += y;
      t[2]! += z;
      t[3]! += 1;
    }
    m++;
  }
  const unitDir = (v: number[]): [number, number, number] | null => {
    const r = Math.hypot(v[0]!, v[1]!, v[2]!);
    return r > 1e-9 ? [v[0]! / r, v[1]! / r, v[2]! / r] : null;
  };
  const cd = input.classDirections;
  return {
    unit: unit.subarray(0, 3 * m),
    raw: raw.subarray(0, 3 * m),
    norms: norms.subarray(0, m),
    color: color.subarray(0, m),
    meanDirs: sums.map(unitDir),
    rawMeans: rawSums.map((t) => (t[3]! > 0 ? ([t[0]! / t[3]!, t[1]! / t[3]!, t[2]! / t[3]!] as [number, number, number]) : null)),
    weightDirs: Array.from({ length: k }, (_, c) => (cd ? unitDir([Number(cd[3 * c]), Number(cd[3 * c + 1]), Number(cd[3 * c + 2])]) : null)),
    drawn: m,
    skipped,
    numClasses: k,
  };
}

/** Font sizes and dot radius scaled from the 640x480 reference (as the 2-D scatter plots). */
export function sphereSizes(width: number, height: number) {
  const s = Math.max(0.5, Math.min(width / 640, height / 480));
  return {
    title: Math.max(10, Math.round(15 * s)),
    small: Math.max(8, Math.round(12 * s)),
    digit: Math.max(11, Math.round(16 * s)),
    radius: Math.max(0.6, 1.6 * s),
    marker: Math.max(3, 6 * s),
    pad: Math.round(10 * s),
  };
}

type Ctx = SKRSContext2D;

const GRID_FRONT = '#b4b4b4';
const GRID_BACK = '#e2e2e2';
/** Opacity of the white veil over the back hemisphere. */
const VEIL = 0.72;

function colorOf(c: number, k: number): string {
  return c < k ? classColor(c, k) : UNKNOWN_CLASS_COLOR;
}

/** Polyline of a curve on the unit sphere, split into its front and back parts. */
function strokeSphereCurve(ctx: Ctx, cam: SphereCamera, cx: number, cy: number, R: number, pts: [number, number, number][], front: boolean): void {
  ctx.beginPath();
  let pen = false;
  for (const p of pts) {
    const [sx, sy, d] = project(cam, p[0], p[1], p[2]);
    if (d >= 0 === front) {
      if (pen) ctx.lineTo(cx + sx * R, cy - sy * R);
      else ctx.moveTo(cx + sx * R, cy - sy * R);
      pen = true;
    } else pen = false;
  }
  ctx.stroke();
}

/** The graticule: parallels and meridians every 30°, as lists of points. */
function graticule(): [number, number, number][][] {
  const curves: [number, number, number][][] = [];
  const step = Math.PI / 90;
  for (let lat = -60; lat <= 60; lat += 30) {
    const phi = (lat * Math.PI) / 180;
    const c: [number, number, number][] = [];
    for (let t = 0; t <= 2 * Math.PI + 1e-9; t += step) c.push([Math.cos(phi) * Math.cos(t), Math.cos(phi) * Math.sin(t), Math.sin(phi)]);
    curves.push(c);
  }
  for (let lon = 0; lon < 180; lon += 30) {
    const l = (lon * Math.PI) / 180;
    const c: [number, number, number][] = [];
    for (let t = 0; t <= 2 * Math.PI + 1e-9; t += step) c.push([Math.cos(t) * Math.cos(l), Math.cos(t) * Math.sin(l), Math.sin(t)]);
    curves.push(c);
  }
  return curves;
}
const GRATICULE = graticule();

function diamond(ctx: Ctx, x: number, y: number, r: number, fill: string, alpha: number): void {
  ctx.save();
  ctx.globalAlpha = alpha;
  ctx.beginPath();
  ctx.moveTo(x, y - r);
  ctx.lineTo(x + r, y);
  ctx.lineTo(x, y + r);
  ctx.lineTo(x - r, y);
  ctx.closePath();
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.lineWidth = Math.max(1, r / 4);
  ctx.strokeStyle = '#000000';
  ctx.stroke();
  ctx.restore();
}

function digit(ctx: Ctx, text: string, x: number, y: number, size: number, family: string, alpha: number): void {
  ctx.save();
  ctx.globalAlpha = alpha;
  ctx.font = `bold ${size}px ${family}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineWidth = Math.max(2, size / 5);
  ctx.strokeStyle = '#ffffff';
  ctx.strokeText(text, x, y);
  ctx.fillStyle = '#000000';
  ctx.fillText(text, x, y);
  ctx.restore();
}

export interface SphereDrawOptions {
  /** Dot radius and marker/digit sizes in pixels. */
  radius: number;
  marker: number;
  digitSize: number;
  family?: string;
  classNames?: readonly string[];
}

/**
 * Draws the unit sphere seen by `cam` into the square of radius R around (cx, cy): the back
 * hemisphere's graticule and points first, a white veil over them, then the front hemisphere's
 * graticule, points (far to near), weight diamonds and class digits. Reusable for any frame.
 */
export function drawSphere(ctx: Ctx, p: PreparedSphere, cam: SphereCamera, cx: number, cy: number, R: number, o: SphereDrawOptions): void {
  const family = o.family ?? plotFontFamily();
  const k = p.numClasses;
  const n = p.drawn;
  const sx = new Float32Array(n);
  const sy = new Float32Array(n);
  const depth = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [a, b, d] = project(cam, p.unit[3 * i]!, p.unit[3 * i + 1]!, p.unit[3 * i + 2]!);
    sx[i] = cx + a * R;
    sy[i] = cy - b * R;
    depth[i] = d;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => depth[a]! - depth[b]!);
  const dots = (front: boolean) => {
    for (const i of order) {
      if (depth[i]! >= 0 !== front) continue;
      ctx.fillStyle = colorOf(p.color[i]!, k);
      ctx.beginPath();
      ctx.arc(sx[i]!, sy[i]!, o.radius, 0, 2 * Math.PI);
      ctx.fill();
    }
  };
  ctx.save();
  ctx.lineWidth = 1;
  // back: graticule, points
  ctx.strokeStyle = GRID_BACK;
  for (const c of GRATICULE) strokeSphereCurve(ctx, cam, cx, cy, R, c, false);
  dots(false);
  // the veil, and the sphere's outline
  ctx.globalAlpha = VEIL;
  ctx.fillStyle = '#ffffff';
  ctx.beginPath();
  ctx.arc(cx, cy, R, 0, 2 * Math.PI);
  ctx.fill();
  ctx.globalAlpha = 1;
  ctx.strokeStyle = '#808080';
  ctx.beginPath();
  ctx.arc(cx, cy, R, 0, 2 * Math.PI);
  ctx.stroke();
  // front: graticule, points
  ctx.strokeStyle = GRID_FRONT;
  for (const c of GRATICULE) strokeSphereCurve(ctx, cam, cx, cy, R, c, true);
  dots(true);
  // weight directions, then digits (faded on the back)
  p.weightDirs.forEach((w, c) => {
    if (!w) return;
    const [a, b, d] = project(cam, w[0], w[1], w[2]);
    diamond(ctx, cx + a * R, cy - b * R, o.marker, colorOf(c, k), d >= 0 ? 1 : 0.35);
  });
  p.meanDirs.forEach((m, c) => {
    if (!m) return;
    const [a, b, d] = project(cam, m[0], m[1], m[2]);
    // Just outside the cloud along the direction as seen on screen, like the 2-D unit view.
    const s = Math.hypot(a, b);
    const push = s > 1e-6 ? (o.digitSize * 0.9) / R / s : 0;
    digit(ctx, o.classNames?.[c] ?? String(c), cx + a * (1 + push) * R, cy - b * (1 + push) * R, o.digitSize, family, d >= 0 ? 1 : 0.4);
  });
  ctx.restore();
}

/** Draws the Hammer map of all directions into the rectangle (x0, y0, w, h), centred, 2:1. */
export function drawHammer(ctx: Ctx, p: PreparedSphere, x0: number, y0: number, w: number, h: number, o: SphereDrawOptions): void {
  const family = o.family ?? plotFontFamily();
  const k = p.numClasses;
  const scale = Math.min(w / (4 * Math.SQRT2), h / (2 * Math.SQRT2));
  const cx = x0 + w / 2;
  const cy = y0 + h / 2;
  const at = (x: number, y: number, z: number): [number, number] => {
    const [hx, hy] = hammer(x, y, z);
    return [cx + hx * scale, cy - hy * scale];
  };
  ctx.save();
  // outline and graticule (the 180° meridian is the outline)
  ctx.lineWidth = 1;
  ctx.strokeStyle = GRID_FRONT;
  const line = (pts: [number, number][]) => {
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
  };
  const deg = Math.PI / 180;
  for (let lat = -60; lat <= 60; lat += 30) {
    const pts: [number, number][] = [];
    for (let lon = -179.9; lon <= 179.9; lon += 2) pts.push(at(Math.cos(lat * deg) * Math.cos(lon * deg), Math.cos(lat * deg) * Math.sin(lon * deg), Math.sin(lat * deg)));
    line(pts);
  }
  for (let lon = -150; lon <= 150; lon += 30) {
    const pts: [number, number][] = [];
    for (let lat = -90; lat <= 90; lat += 2) pts.push(at(Math.cos(lat * deg) * Math.cos(lon * deg), Math.cos(lat * deg) * Math.sin(lon * deg), Math.sin(lat * deg)));
    line(pts);
  }
  ctx.strokeStyle = '#808080';
  ctx.beginPath();
  ctx.ellipse(cx, cy, 2 * Math.SQRT2 * scale, Math.SQRT2 * scale, 0, 0, 2 * Math.PI);
  ctx.stroke();
  for (let i = 0; i < p.drawn; i++) {
    const [x, y] = at(p.unit[3 * i]!, p.unit[3 * i + 1]!, p.unit[3 * i + 2]!);
    ctx.fillStyle = colorOf(p.color[i]!, k);
    ctx.beginPath();
    ctx.arc(x, y, o.radius, 0, 2 * Math.PI);
    ctx.fill();
  }
  p.weightDirs.forEach((wd, c) => {
    if (!wd) return;
    const [x, y] = at(wd[0], wd[1], wd[2]);
    diamond(ctx, x, y, o.marker, colorOf(c, k), 1);
  });
  p.meanDirs.forEach((m, c) => {
    if (!m) return;
    const [x, y] = at(m[0], m[1], m[2]);
    digit(ctx, o.classNames?.[c] ?? String(c), x, y - o.digitSize, o.digitSize, family, 1);
  });
  // where the axes point: +x at the centre, ±y at ±90° longitude, the poles ±z
  ctx.font = `${Math.max(8, Math.round(o.digitSize * 0.7))}px ${family}`;
  ctx.fillStyle = '#606060';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillText('+z', cx, cy - Math.SQRT2 * scale - o.digitSize * 0.9);
  ctx.textBaseline = 'bottom';
  ctx.fillText('−z', cx, cy + Math.SQRT2 * scale + o.digitSize * 0.9);
  ctx.restore();
}

/** The raw features in a 3-D projection (the same camera) with the x, y, z axes from the origin. */
function drawRaw(ctx: Ctx, p: PreparedSphere, cam: SphereCamera, x0: number, y0: number, w: number, h: number, o: SphereDrawOptions): void {
  const family = o.family ?? plotFontFamily();
  const k = p.numClasses;
  const n = p.drawn;
  // The scale: the 99th percentile of the norms fills the panel (a few far points may leave it).
  const sorted = Float64Array.from(p.norms).sort();
  const extent = Math.max(1e-9, sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]! : 1);
  const R = (Math.min(w, h) / 2) * 0.85;
  const cx = x0 + w / 2;
  const cy = y0 + h / 2;
  const s = R / extent;
  const sx = new Float32Array(n);
  const sy = new Float32Array(n);
  const depth = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [a, b, d] = project(cam, p.raw[3 * i]!, p.raw[3 * i + 1]!, p.raw[3 * i + 2]!);
    sx[i] = cx + a * s;
    sy[i] = cy - b * s;
    depth[i] = d;
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(x0, y0, w, h);
  ctx.clip();
  // axes: −extent..+extent along x, y, z, labelled at the positive end with the extent
  ctx.lineWidth = 1;
  ctx.font = `${o.digitSize * 0.75}px ${family}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  (['x', 'y', 'z'] as const).forEach((name, j) => {
    const e = [0, 0, 0];
    e[j] = extent;
    const [a, b] = project(cam, e[0]!, e[1]!, e[2]!);
    ctx.strokeStyle = '#a0a0a0';
    ctx.beginPath();
    ctx.moveTo(cx - a * s, cy + b * s);
    ctx.lineTo(cx + a * s, cy - b * s);
    ctx.stroke();
    ctx.fillStyle = '#606060';
    ctx.fillText(name, cx + a * s * 1.08, cy - b * s * 1.08);
  });
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => depth[a]! - depth[b]!);
  for (const i of order) {
    ctx.fillStyle = colorOf(p.color[i]!, k);
    ctx.beginPath();
    ctx.arc(sx[i]!, sy[i]!, o.radius, 0, 2 * Math.PI);
    ctx.fill();
  }
  // the class digit at each class's mean feature, as in the 2-D raw figures
  p.rawMeans.forEach((m, c) => {
    if (!m) return;
    const [a, b] = project(cam, m[0], m[1], m[2]);
    digit(ctx, o.classNames?.[c] ?? String(c), cx + a * s, cy - b * s, o.digitSize, family, 1);
  });
  ctx.restore();
  // tick: the length of the axes in feature units
  ctx.save();
  ctx.font = `${o.digitSize * 0.75}px ${family}`;
  ctx.fillStyle = '#000000';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'bottom';
  ctx.textBaseline = 'top';
  ctx.fillText(`axes: ±${formatNumber(extent)}`, x0 + 4, y0 + 2);
  ctx.restore();
}

/** Per class: the median norm as a dot and its 5-95 % range as a bar, on a shared axis. */
function drawNormPanel(ctx: Ctx, p: PreparedSphere, x0: number, y0: number, w: number, h: number, small: number, family: string): void {
  const k = p.numClasses;
  const byClass: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < p.drawn; i++) if (p.color[i]! < k) byClass[p.color[i]!]!.push(p.norms[i]!);
  const q = (a: number[], f: number) => a[Math.min(a.length - 1, Math.floor(f * a.length))]!;
  const stats = byClass.map((a) => {
    a.sort((u, v) => u - v);
    return a.length ? { lo: q(a, 0.05), med: q(a, 0.5), hi: q(a, 0.95) } : null;
  });
  const hiAll = Math.max(1e-9, ...stats.map((s) => (s ? s.hi : 0)));
  ctx.save();
  ctx.font = `${small}px ${family}`;
  ctx.fillStyle = '#000000';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillText('norm ‖x‖ per class', x0 + w / 2, y0);
  const top = y0 + small * 1.8;
  const bottom = y0 + h - small * 1.8;
  const left = x0 + small * 1.4;
  const right = x0 + w - small * 0.8;
  const rowH = (bottom - top) / k;
  const X = (v: number) => left + (v / hiAll) * (right - left);
  ctx.strokeStyle = '#000000';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, bottom);
  ctx.lineTo(right, bottom);
  ctx.stroke();
  ctx.textBaseline = 'top';
  ctx.fillText('0', left, bottom + 3);
  ctx.fillText(formatNumber(hiAll), right, bottom + 3);
  stats.forEach((s, c) => {
    const y = top + (c + 0.5) * rowH;
    ctx.fillStyle = '#000000';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.font = `bold ${small}px ${family}`;
    ctx.fillText(String(c), left - 4, y);
    if (!s) return;
    ctx.strokeStyle = classColor(c, k);
    ctx.lineWidth = Math.max(2, Math.min(rowH * 0.25, small * 0.35));
    ctx.beginPath();
    ctx.moveTo(X(s.lo), y);
    ctx.lineTo(X(s.hi), y);
    ctx.stroke();
    ctx.fillStyle = classColor(c, k);
    ctx.beginPath();
    ctx.arc(X(s.med), y, Math.max(2.5, Math.min(rowH * 0.28, small * 0.4)), 0, 2 * Math.PI);
    ctx.fill();
    ctx.strokeStyle = '#000000';
    ctx.lineWidth = 1;
    ctx.stroke();
  });
  ctx.restore();
}

function formatNumber(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/** Title lines centred at the top; returns the height they take. */
function drawTitle(ctx: Ctx, title: string, width: number, size: number, pad: number, family: string): number {
  if (!title) return pad;
  ctx.save();
  ctx.fillStyle = '#000000';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.font = `${size}px ${family}`;
  const room = width - 2 * pad;
  // a line wider than the figure breaks after a comma; a part still too wide is set smaller
  const lines: string[] = [];
  for (const line of title.split('\n')) {
    let rest = line;
    while (ctx.measureText(rest).width > room) {
      const parts = rest.split(', ');
      let k = parts.length - 1;
      while (k > 1 && ctx.measureText(parts.slice(0, k).join(', ') + ',').width > room) k--;
      if (k < 1 || parts.length < 2) break;
      lines.push(parts.slice(0, k).join(', ') + ',');
      rest = parts.slice(k).join(', ');
    }
    lines.push(rest);
  }
  lines.forEach((l, i) => {
    ctx.font = `${size}px ${family}`;
    const w = ctx.measureText(l).width;
    if (w > room) ctx.font = `${Math.max(7, Math.floor((size * room) / w))}px ${family}`;
    ctx.fillText(l, width / 2, pad + i * size * 1.2);
  });
  ctx.restore();
  return pad * 2 + lines.length * size * 1.2;
}

export interface SphereResult {
  png: Buffer;
  drawn: number;
  skipped: number;
}

/**
 * Draws one view of 3-D features on a new canvas and hands it, with the prepared points, to `use`
 * (which encodes it or reads its pixels).
 */
async function withSphere<T>(input: SphereInput, view: SphereView, use: (canvas: Canvas, p: PreparedSphere) => Promise<T> | T): Promise<T> {
  const width = Math.round(input.width ?? 640);
  const height = Math.round(input.height ?? 480);
  if (!(width >= 64 && height >= 64)) throw new RangeError(`sphere: canvas must be at least 64x64, got ${width}x${height}`);
  const p = prepareSphere(input);
  const sz = sphereSizes(width, height);
  const family = plotFontFamily();
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  const top = drawTitle(ctx, input.title, width, sz.title, sz.pad, family);
  const opts: SphereDrawOptions = { radius: input.pointRadius ?? sz.radius, marker: sz.marker, digitSize: sz.digit, family };
  const cam = input.camera ?? sphereCamera();
  const areaH = height - top - sz.pad;
  const caption = (text: string, x: number, y: number) => {
    ctx.save();
    ctx.font = `${sz.small}px ${family}`;
    ctx.fillStyle = '#404040';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(text, x, y);
    ctx.restore();
  };
  const viewName = (c: SphereCamera) => `seen from azimuth ${Math.round(((c.azimuthDeg % 360) + 360) % 360)}°, elevation ${Math.round(c.elevationDeg)}°`;
  if (view === 'unit') {
    const R = Math.min(width - 2 * sz.pad, areaH - sz.small * 1.5) / 2 - sz.digit;
    drawSphere(ctx, p, cam, width / 2, top + (areaH - sz.small * 1.5) / 2, R, opts);
    caption(viewName(cam), width / 2, height - sz.pad / 2);
  } else if (view === 'pair') {
    const half = width / 2;
    const R = Math.min(half - 2 * sz.pad, areaH - sz.small * 1.5) / 2 - sz.digit;
    const cy = top + (areaH - sz.small * 1.5) / 2;
    const back = oppositeCamera(cam);
    drawSphere(ctx, p, cam, half / 2, cy, R, opts);
    drawSphere(ctx, p, back, half + half / 2, cy, R, opts);
    caption(viewName(cam), half / 2, height - sz.pad / 2);
    caption(`${viewName(back)} (opposite)`, half + half / 2, height - sz.pad / 2);
  } else if (view === 'map') {
    drawHammer(ctx, p, sz.pad, top + sz.digit, width - 2 * sz.pad, areaH - 2 * sz.digit - sz.small * 1.5, opts);
    caption('Hammer equal-area map: longitude atan2(y, x), latitude asin(z)', width / 2, height - sz.pad / 2);
  } else {
    const panelW = Math.round(width * 0.27);
    drawRaw(ctx, p, cam, sz.pad, top, width - panelW - 2 * sz.pad, areaH, opts);
    drawNormPanel(ctx, p, width - panelW - sz.pad, top + sz.pad, panelW, areaH - sz.pad, sz.small, family);
    caption(`raw features, ${viewName(cam)}`, (width - panelW) / 2, height - sz.pad / 2);
  }
  return use(canvas, p);
}

/** Renders one view of 3-D features to a PNG. */
export async function renderSphere(input: SphereInput, view: SphereView): Promise<SphereResult> {
  return withSphere(input, view, async (canvas, p) => ({ png: await canvas.encode('png'), drawn: p.drawn, skipped: p.skipped }));
}

export async function renderSpherePng(input: SphereInput, view: SphereView): Promise<Buffer> {
  return (await renderSphere(input, view)).png;
}

/** One view's pixels (RGBA, row-major), for the frames of an animation: the PNG's pixels. */
export async function renderSphereRgba(input: SphereInput, view: SphereView): Promise<{ rgba: Uint8ClampedArray; width: number; height: number; drawn: number; skipped: number }> {
  return withSphere(input, view, (canvas, p) => {
    const img = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    return { rgba: img.data, width: canvas.width, height: canvas.height, drawn: p.drawn, skipped: p.skipped };
  });
}
