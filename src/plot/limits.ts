/** Axis limits of a scatter plot: the data's bounds with a margin, widened to an equal aspect ratio. */

export interface Bounds {
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

/** matplotlib's default data margin: 5% of the range on each side. */
const MARGIN = 0.05;

/**
 * Axis limits with equal data units per pixel on both axes for a plotting area of
 * `widthPx` x `heightPx`: the tighter axis is widened about its centre until both axes show the
 * same number of units per pixel (matplotlib's `set_aspect('equal', adjustable='datalim')`).
 */
export function equalAspectLimits(b: Bounds, widthPx: number, heightPx: number): Bounds {
  if (!(widthPx > 0) || !(heightPx > 0)) throw new RangeError(`plot area must be positive, got ${widthPx}x${heightPx}`);
  const cx = (b.xMin + b.xMax) / 2;
  const cy = (b.yMin + b.yMax) / 2;
  const upp = Math.max((b.xMax - b.xMin) / widthPx, (b.yMax - b.yMin) / heightPx);
  const hx = (upp * widthPx) / 2;
  const hy = (upp * heightPx) / 2;
  return { xMin: cx - hx, xMax: cx + hx, yMin: cy - hy, yMax: cy + hy };
}

/** The data's own bounds, no margin; undefined when there are no points. */
function dataBounds(xs: Iterable<[number, number]>): Bounds | undefined {
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const [x, y] of xs) {
    if (x < xMin) xMin = x;
    if (x > xMax) xMax = x;
    if (y < yMin) yMin = y;
    if (y > yMax) yMax = y;
  }
  return xMin <= xMax ? { xMin, xMax, yMin, yMax } : undefined;
}

/** Bounds of the data plus a relative margin, never of zero size. */
export function paddedBounds(xs: Iterable<[number, number]>, margin = MARGIN): Bounds {
  const b = dataBounds(xs);
  return b ? pad(b, margin) : { xMin: -1, xMax: 1, yMin: -1, yMax: 1 };
}

/** `b` plus a relative margin; a degenerate extent borrows the other axis's, or a small absolute one. */
function pad(b: Bounds, margin = MARGIN): Bounds {
  let { xMin, xMax, yMin, yMax } = b;
  let dx = xMax - xMin;
  let dy = yMax - yMin;
  const fallback = Math.max(dx, dy, Math.abs(xMin), Math.abs(xMax), Math.abs(yMin), Math.abs(yMax)) * 0.1 || 1;
  if (dx === 0) {
    xMin -= fallback / 2;
    xMax += fallback / 2;
    dx = fallback;
  }
  if (dy === 0) {
    yMin -= fallback / 2;
    yMax += fallback / 2;
    dy = fallback;
  }
  return { xMin: xMin - margin * dx, xMax: xMax + margin * dx, yMin: yMin - margin * dy, yMax: yMax + margin * dy };
}

/**
 * Axis limits for the frames of an animation, one per frame: frame i's limits enclose its own
 * finite points and every later frame's (the union of the data's bounds from frame i to the last), padded
 * as `paddedBounds` pads. As the animation plays the axes only ever close in, and never cut off a
 * point:
 * - features that grow keep the last frame's axes throughout, so the early, small clouds grow
 *   into the final picture and nothing jumps;
 * - features that shrink (on a long schedule weight decay pulls them in once the training set is
 *   fitted, e.g. L2-Softmax from norms in the tens to about 0.1) are followed inwards instead of
 *   leaving the early frames outside the picture.
 * The last frame's limits are `paddedBounds` of its own data: those of its static figure.
 */
export function settlingBounds(frames: Iterable<[number, number]>[]): Bounds[] {
  const finite = function* (points: Iterable<[number, number]>) {
    for (const p of points) if (Number.isFinite(p[0]) && Number.isFinite(p[1])) yield p;
  };
  const own = frames.map((points) => dataBounds(finite(points)));
  const out: Bounds[] = new Array(own.length);
  let later: Bounds | undefined;
  for (let i = own.length - 1; i >= 0; i--) {
    const a = own[i];
    later = !a ? later : !later ? a : { xMin: Math.min(a.xMin, later.xMin), xMax: Math.max(a.xMax, later.xMax), yMin: Math.min(a.yMin, later.yMin), yMax: Math.max(a.yMax, later.yMax) };
    out[i] = later ? pad(later) : paddedBounds([]);
  }
  return out;
}
