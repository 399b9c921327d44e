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

/** Bounds of the data plus a relative margin, never of zero size. */
export function paddedBounds(xs: Iterable<[number, number]>, margin = MARGIN): Bounds {
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
  if (!(xMin <= xMax)) return { xMin: -1, xMax: 1, yMin: -1, yMax: 1 };
  let dx = xMax - xMin;
  let dy = yMax - yMin;
  // A degenerate extent borrows the other axis's, or a small absolute one.
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
