import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classMeanDirections,
  classifierAccuracy,
  computeSeparability,
  intraClassAngularSpread,
  minInterClassAngle,
  minInterClassAnglePair,
  nearestMeanCosineAccuracy,
  normStats,
} from '../src/metrics/separability.js';

const close = (a: number, b: number, tol = 1e-9, msg?: string) =>
  assert.ok(Math.abs(a - b) <= tol, msg ?? `expected ${b}, got ${a}`);

const deg = (d: number) => (d * Math.PI) / 180;

/** Points at angle (degrees) and radius, with their labels. */
function polar(items: [angleDeg: number, r: number, label: number][]) {
  const points = new Float64Array(2 * items.length);
  const labels = new Int32Array(items.length);
  items.forEach(([a, r, l], i) => {
    points[2 * i] = r * Math.cos(deg(a));
    points[2 * i + 1] = r * Math.sin(deg(a));
    labels[i] = l;
  });
  return { points, labels };
}

test('classifierAccuracy counts matches', () => {
  assert.equal(classifierAccuracy([0, 1, 2, 3], [0, 1, 0, 3]), 0.75);
  assert.equal(classifierAccuracy(new Int32Array([5]), new Uint8Array([5])), 1);
  assert.ok(Number.isNaN(classifierAccuracy([], [])));
  assert.throws(() => classifierAccuracy([1], [1, 2]), /1 predictions for 2 labels/);
});

test('four directions 90° apart: min inter-class angle 90, spread 0, nearest-mean accuracy 1', () => {
  // Several radii per direction: the norm must not matter.
  const items: [number, number, number][] = [];
  for (let c = 0; c < 4; c++) for (const r of [0.5, 1, 7]) items.push([90 * c + 10, r, c]);
  const { points, labels } = polar(items);
  close(minInterClassAngle(points, labels, 4), 90, 1e-9);
  const spread = intraClassAngularSpread(points, labels, 4);
  close(spread.mean, 0, 1e-9);
  spread.perClass.forEach((v) => close(v!, 0, 1e-9));
  assert.equal(nearestMeanCosineAccuracy(points, labels, 4), 1);
  const dirs = classMeanDirections(points, labels, 4);
  close(dirs[1]![0]!, Math.cos(deg(100)), 1e-12);
  close(dirs[1]![1]!, Math.sin(deg(100)), 1e-12);
});

test('points at ±10° around a direction have spread 10', () => {
  const { points, labels } = polar([
    [30 - 10, 1, 0],
    [30 + 10, 2, 0],
    [30 - 10, 5, 0],
    [30 + 10, 0.1, 0],
    // Second class: ±4° around 200°.
    [196, 1, 1],
    [204, 1, 1],
  ]);
  const s = intraClassAngularSpread(points, labels, 2);
  close(s.perClass[0]!, 10, 1e-9);
  close(s.perClass[1]!, 4, 1e-9);
  close(s.mean, 7, 1e-9);
  close(minInterClassAngle(points, labels, 2), 170, 1e-9);
});

test('small angles are accurate (no acos cancellation)', () => {
  const { points, labels } = polar([
    [45 - 1e-6, 1, 0],
    [45 + 1e-6, 1, 0],
  ]);
  close(intraClassAngularSpread(points, labels, 1).perClass[0]!, 1e-6, 1e-12);
});

test('nearestMeanCosineAccuracy: a point nearer another class mean is wrong', () => {
  const { points, labels } = polar([
    [0, 1, 0],
    [0, 1, 0],
    [2, 1, 0],
    [90, 1, 1],
    [90, 1, 1],
    [88, 1, 1],
    // Labelled 1 but at 10°: nearer class 0's mean direction.
    [10, 1, 1],
  ]);
  close(nearestMeanCosineAccuracy(points, labels, 2), 6 / 7, 1e-12);
});

test('normStats: norms 1 and 3 give mean 2 and std 1', () => {
  const s = normStats(new Float32Array([1, 0, 0, -3]));
  assert.equal(s.mean, 2);
  assert.equal(s.std, 1);
  assert.equal(s.min, 1);
  assert.equal(s.max, 3);
  assert.equal(s.count, 2);
  // Other dimension, and a non-finite feature skipped.
  const t = normStats([3, 4, 0, NaN, 0, 0], 3);
  assert.equal(t.count, 1);
  assert.equal(t.mean, 5);
  assert.equal(t.std, 0);
  assert.ok(Number.isNaN(normStats([]).mean));
  assert.throws(() => normStats([1, 2, 3]), /dimension 2/);
});

test('empty classes, zero vectors and bad labels are skipped without NaN', () => {
  // 10 classes but only 0, 3 and 7 have points; a zero vector and an out-of-range label too.
  const { points, labels } = polar([
    [0, 1, 0],
    [120, 2, 3],
    [240, 3, 7],
    [50, 1, 42],
  ]);
  const pts = Float64Array.from([...points, 0, 0]);
  const lab = Int32Array.from([...labels, 3]);
  const s = intraClassAngularSpread(pts, lab, 10);
  close(s.mean, 0, 1e-9);
  assert.equal(s.perClass.filter((v) => v !== null).length, 3);
  assert.equal(s.perClass[1], null);
  close(minInterClassAngle(pts, lab, 10), 120, 1e-9);
  assert.deepEqual(minInterClassAnglePair(pts, lab, 10).classes, [0, 3]);
  // 4 valid labels (42 ignored); the zero vector of class 3 has no direction and is counted wrong.
  close(nearestMeanCosineAccuracy(pts, lab, 10), 3 / 4);
  const all = computeSeparability(pts, lab, Int32Array.from([0, 3, 7, 1, 3]), 10);
  for (const [k, v] of Object.entries(all)) {
    if (typeof v === 'number') assert.ok(Number.isFinite(v), `${k} is ${v}`);
  }
  // One class only: no pair, so the angle is NaN (JSON null), not an exception.
  const one = polar([[10, 1, 0]]);
  assert.ok(Number.isNaN(minInterClassAngle(one.points, one.labels, 10)));
  assert.equal(minInterClassAnglePair(one.points, one.labels, 10).classes, null);
});

test('a class whose unit vectors cancel out has no mean direction', () => {
  const { points, labels } = polar([
    [0, 1, 0],
    [180, 1, 0],
    [90, 1, 1],
  ]);
  const dirs = classMeanDirections(points, labels, 2);
  assert.equal(dirs[0], null);
  assert.ok(dirs[1] !== null);
  assert.ok(Number.isNaN(minInterClassAngle(points, labels, 2)));
});

test('computeSeparability returns everything in one JSON-serialisable object', () => {
  const { points, labels } = polar([
    [0, 1, 0],
    [0, 3, 0],
    [90, 1, 1],
    [90, 3, 1],
    [180, 1, 2],
    [180, 3, 2],
    [270, 1, 3],
    [270, 3, 3],
  ]);
  const pred = Int32Array.from(labels);
  pred[0] = 1;
  const s = computeSeparability(points, labels, pred, 4);
  assert.equal(s.count, 8);
  assert.equal(s.dim, 2);
  assert.equal(s.classifierAccuracy, 7 / 8);
  assert.equal(s.nearestMeanCosineAccuracy, 1);
  close(s.intraClassAngularSpread, 0);
  close(s.minInterClassAngle, 90);
  assert.deepEqual(s.minInterClassAnglePair, [0, 1]);
  close(s.normMean, 2);
  close(s.normStd, 1);
  const round = JSON.parse(JSON.stringify(s));
  assert.equal(round.count, 8);
  assert.equal(round.intraClassAngularSpreadPerClass.length, 4);
  // Without a classifier: accuracy NaN, which JSON writes as null.
  const noPred = computeSeparability(points, labels, null, 4);
  assert.ok(Number.isNaN(noPred.classifierAccuracy));
  assert.equal(JSON.parse(JSON.stringify(noPred)).classifierAccuracy, null);
  // Empty input.
  const empty = computeSeparability(new Float32Array(0), new Int32Array(0), new Int32Array(0), 10);
  assert.equal(empty.count, 0);
  assert.doesNotThrow(() => JSON.stringify(empty));
  assert.throws(() => computeSeparability(new Float32Array(3), new Int32Array(2), null, 10), /whole number of coordinates/);
});

test('a full-size snapshot (60,000 points) is handled (speed belongs to the bench, not to a timed test)', () => {
  const n = 60000;
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    const a = (2 * Math.PI * c) / 10 + ((i % 7) - 3) * 0.01;
    points[2 * i] = (1 + (i % 13)) * Math.cos(a);
    points[2 * i + 1] = (1 + (i % 13)) * Math.sin(a);
    labels[i] = c;
  }
  const s = computeSeparability(points, labels, labels, 10);
  assert.equal(s.nearestMeanCosineAccuracy, 1);
  close(s.minInterClassAngle, 36, 0.01);
});
