/**
 * How well separated the learned features are, from plain arrays (no tfjs): classifier accuracy,
 * nearest-class-mean accuracy by cosine, the angular spread within classes, the smallest angle
 * between class mean directions, and the statistics of the feature norms.
 *
 * Features are interleaved, row-major: `points[i * dim + d]`. The dimension is
 * `points.length / labels.length` (2 for this project's embedding).
 *
 * Conventions:
 * - A class's mean direction is the normalized mean of its normalized features.
 * - A feature with a non-finite coordinate or zero norm has no direction: it is left out of the
 *   class means and spreads, and counts as misclassified by the nearest-mean rule.
 * - Labels outside [0, numClasses) are ignored (not counted at all).
 * - Classes with no usable feature (or whose unit vectors cancel out) are skipped, never NaN.
 * - An undefined value (no data) is NaN; JSON.stringify writes it as null.
 */

export type NumArray = ArrayLike<number>;

const RAD2DEG = 180 / Math.PI;

/** Angle in degrees between two unit vectors, accurate near 0 and 180 (2·atan2(|a−b|, |a+b|)). */
function unitAngleDeg(a: NumArray, ao: number, b: NumArray, bo: number, dim: number): number {
  let d2 = 0;
  let s2 = 0;
  for (let k = 0; k < dim; k++) {
    const u = a[ao + k]!;
    const v = b[bo + k]!;
    d2 += (u - v) * (u - v);
    s2 += (u + v) * (u + v);
  }
  return 2 * Math.atan2(Math.sqrt(d2), Math.sqrt(s2)) * RAD2DEG;
}

function inferDim(points: NumArray, n: number, what: string): number {
  if (n === 0) {
    if (points.length === 0) return 2;
    throw new RangeError(`${what}: points has ${points.length} numbers but there are no labels`);
  }
  const dim = points.length / n;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(`${what}: points has ${points.length} numbers for ${n} labels; expected a whole number of coordinates per label`);
  }
  return dim;
}

function validLabel(l: number, numClasses: number): boolean {
  return Number.isInteger(l) && l >= 0 && l < numClasses;
}

/**
 * Unit vectors of all features (Float64Array, n*dim) and a mask of those that have a direction.
 */
function normalizeAll(points: NumArray, n: number, dim: number): { unit: Float64Array; ok: Uint8Array } {
  const unit = new Float64Array(n * dim);
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let finite = true;
    for (let k = 0; k < dim; k++) {
      const v = Number(points[i * dim + k]);
      if (!Number.isFinite(v)) finite = false;
      s += v * v;
    }
    const r = Math.sqrt(s);
    if (!finite || !(r > 0) || !Number.isFinite(r)) continue;
    for (let k = 0; k < dim; k++) unit[i * dim + k] = Number(points[i * dim + k]) / r;
    ok[i] = 1;
  }
  return { unit, ok };
}

function meanDirections(unit: Float64Array, ok: Uint8Array, labels: NumArray, numClasses: number, dim: number): (Float64Array | null)[] {
  const sums = Array.from({ length: numClasses }, () => new Float64Array(dim));
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const l = Number(labels[i]);
    if (!ok[i] || !validLabel(l, numClasses)) continue;
    const s = sums[l]!;
    for (let k = 0; k < dim; k++) s[k]! += unit[i * dim + k]!;
    counts[l]! += 1;
  }
  return sums.map((s, c) => {
    if (counts[c] === 0) return null;
    let r = 0;
    for (let k = 0; k < dim; k++) r += s[k]! * s[k]!;
    r = Math.sqrt(r);
    // Unit vectors that cancel out (e.g. exactly opposite pairs) have no mean direction.
    if (!(r > 1e-12 * counts[c]!)) return null;
    for (let k = 0; k < dim; k++) s[k]! /= r;
    return s;
  });
}

/** Fraction of points whose predicted class equals the label; NaN when there is none. */
export function classifierAccuracy(pred: NumArray, labels: NumArray): number {
  if (pred.length !== labels.length) {
    throw new RangeError(`classifierAccuracy: ${pred.length} predictions for ${labels.length} labels`);
  }
  if (labels.length === 0) return Number.NaN;
  let hit = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) hit++;
  return hit / labels.length;
}

interface Prepared {
  n: number;
  dim: number;
  numClasses: number;
  labels: NumArray;
  unit: Float64Array;
  ok: Uint8Array;
  dirs: (Float64Array | null)[];
}

function prepare(points: NumArray, labels: NumArray, numClasses: number, what: string): Prepared {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`${what}: numClasses must be a positive integer, got ${numClasses}`);
  }
  const n = labels.length;
  const dim = inferDim(points, n, what);
  const { unit, ok } = normalizeAll(points, n, dim);
  const dirs = meanDirections(unit, ok, labels, numClasses, dim);
  return { n, dim, numClasses, labels, unit, ok, dirs };
}

function nearestMeanFrom(p: Prepared): number {
  const { n, dim, numClasses, labels, unit, ok, dirs } = p;
  let hit = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const l = Number(labels[i]);
    if (!validLabel(l, numClasses)) continue;
    total++;
    if (!ok[i]) continue;
    let best = -1;
    let bestCos = -Infinity;
    for (let c = 0; c < numClasses; c++) {
      const d = dirs[c];
      if (!d) continue;
      let cos = 0;
      for (let k = 0; k < dim; k++) cos += unit[i * dim + k]! * d[k]!;
      if (cos > bestCos) {
        bestCos = cos;
        best = c;
      }
    }
    if (best === l) hit++;
  }
  return total > 0 ? hit / total : Number.NaN;
}

export interface AngularSpread {
  /** Mean over the classes that have a direction of their per-class spread, in degrees. */
  mean: number;
  /** Per class: mean angle (degrees) between each feature and the class mean direction; null if the class is empty. */
  perClass: (number | null)[];
}

function spreadFrom(p: Prepared): AngularSpread {
  const { n, dim, numClasses, labels, unit, ok, dirs } = p;
  const perClass: (number | null)[] = Array.from({ length: numClasses }, () => null);
  const sum = new Float64Array(numClasses);
  const cnt = new Float64Array(numClasses);
  for (let i = 0; i < n; i++) {
    const l = Number(labels[i]);
    if (!ok[i] || !validLabel(l, numClasses)) continue;
    const d = dirs[l];
    if (!d) continue;
    sum[l]! += unitAngleDeg(unit, i * dim, d, 0, dim);
    cnt[l]! += 1;
  }
  let total = 0;
  let classes = 0;
  for (let c = 0; c < numClasses; c++) {
    if (cnt[c] === 0) continue;
    perClass[c] = sum[c]! / cnt[c]!;
    total += perClass[c]!;
    classes++;
  }
  return { mean: classes > 0 ? total / classes : Number.NaN, perClass };
}

export interface InterClassAngle {
  /** Smallest angle in degrees between two class mean directions; NaN with fewer than two classes. */
  degrees: number;
  /** The two classes at that angle (smaller id first), or null. */
  classes: [number, number] | null;
}

function minPairFrom(p: Prepared): InterClassAngle {
  const { dirs, dim } = p;
  let best: InterClassAngle = { degrees: Number.NaN, classes: null };
  for (let a = 0; a < dirs.length; a++) {
    const da = dirs[a];
    if (!da) continue;
    for (let b = a + 1; b < dirs.length; b++) {
      const db = dirs[b];
      if (!db) continue;
      const deg = unitAngleDeg(da, 0, db, 0, dim);
      if (!(deg >= best.degrees)) best = { degrees: deg, classes: [a, b] };
    }
  }
  return best;
}

/**
 * Unit mean direction of each class (the normalized mean of its normalized features), or null for
 * a class with no usable feature.
 */
export function classMeanDirections(points: NumArray, labels: NumArray, numClasses: number): (number[] | null)[] {
  return prepare(points, labels, numClasses, 'classMeanDirections').dirs.map((d) => (d ? Array.from(d) : null));
}

/**
 * Accuracy of the rule "predict the class whose mean direction has the largest cosine with the
 * feature", over the points with a valid label. Features without a direction count as wrong.
 * NaN when no point has a valid label.
 */
export function nearestMeanCosineAccuracy(points: NumArray, labels: NumArray, numClasses: number): number {
  return nearestMeanFrom(prepare(points, labels, numClasses, 'nearestMeanCosineAccuracy'));
}

/** Mean angle between each feature and its class mean direction, per class and averaged over classes. */
export function intraClassAngularSpread(points: NumArray, labels: NumArray, numClasses: number): AngularSpread {
  return spreadFrom(prepare(points, labels, numClasses, 'intraClassAngularSpread'));
}

/** Smallest angle (degrees) between two class mean directions, and which two classes. */
export function minInterClassAnglePair(points: NumArray, labels: NumArray, numClasses: number): InterClassAngle {
  return minPairFrom(prepare(points, labels, numClasses, 'minInterClassAngle'));
}

/** Smallest angle (degrees) between two class mean directions; NaN with fewer than two classes. */
export function minInterClassAngle(points: NumArray, labels: NumArray, numClasses: number): number {
  return minPairFrom(prepare(points, labels, numClasses, 'minInterClassAngle')).degrees;
}

export interface NormStats {
  /** Mean of ‖x‖ over the finite features. */
  mean: number;
  /** Population standard deviation of ‖x‖. */
  std: number;
  min: number;
  max: number;
  /** Number of finite features used. */
  count: number;
}

/** Mean, (population) standard deviation, min and max of the feature norms. */
export function normStats(points: NumArray, dim = 2): NormStats {
  if (!Number.isInteger(dim) || dim < 1 || points.length % dim !== 0) {
    throw new RangeError(`normStats: ${points.length} numbers do not split into features of dimension ${dim}`);
  }
  const n = points.length / dim;
  const norms: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) {
      const v = Number(points[i * dim + k]);
      s += v * v;
    }
    const r = Math.sqrt(s);
    if (Number.isFinite(r)) norms.push(r);
  }
  if (norms.length === 0) return { mean: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN, count: 0 };
  let mean = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const r of norms) {
    mean += r;
    if (r < min) min = r;
    if (r > max) max = r;
  }
  mean /= norms.length;
  let v = 0;
  for (const r of norms) v += (r - mean) * (r - mean);
  return { mean, std: Math.sqrt(v / norms.length), min, max, count: norms.length };
}

export interface Separability {
  /** Number of points. */
  count: number;
  dim: number;
  numClasses: number;
  /** Fraction of points whose predicted class is right; NaN without predictions. */
  classifierAccuracy: number;
  nearestMeanCosineAccuracy: number;
  /** Mean over classes of the mean angle (degrees) to the class mean direction. */
  intraClassAngularSpread: number;
  intraClassAngularSpreadPerClass: (number | null)[];
  /** Smallest angle (degrees) between two class mean directions. */
  minInterClassAngle: number;
  minInterClassAnglePair: [number, number] | null;
  /** Unit mean direction of each class (null when empty). */
  classMeanDirections: (number[] | null)[];
  normMean: number;
  normStd: number;
  normMin: number;
  normMax: number;
}

/**
 * All separability numbers for one snapshot, as one JSON-serialisable object (raw, unrounded).
 * `pred` may be null for losses without a classifier.
 */
export function computeSeparability(
  points: NumArray,
  labels: NumArray,
  pred: NumArray | null | undefined,
  numClasses: number,
): Separability {
  const p = prepare(points, labels, numClasses, 'computeSeparability');
  const spread = spreadFrom(p);
  const inter = minPairFrom(p);
  const norms = normStats(points, p.dim);
  return {
    count: p.n,
    dim: p.dim,
    numClasses,
    classifierAccuracy: pred ? classifierAccuracy(pred, labels) : Number.NaN,
    nearestMeanCosineAccuracy: nearestMeanFrom(p),
    intraClassAngularSpread: spread.mean,
    intraClassAngularSpreadPerClass: spread.perClass,
    minInterClassAngle: inter.degrees,
    minInterClassAnglePair: inter.classes,
    classMeanDirections: p.dirs.map((d) => (d ? Array.from(d) : null)),
    normMean: norms.mean,
    normStd: norms.std,
    normMin: norms.min,
    normMax: norms.max,
  };
}
