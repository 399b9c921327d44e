/**
 * Pair and triplet losses added to softmax: Contrastive, Triplet (batch_hard, batch_all,
 * semi_hard; squared; normalize) and Triplet+Center. Values against brute-force loops over the
 * pairs and triplets, gradients against central differences, and the degenerate batches (one
 * class, no valid triplet, coincident points) give finite numbers with the auxiliary term 0.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Mat,
  assertAllClose,
  assertClose,
  assertFiniteEverywhere,
  checkGradients,
  col,
  dot,
  getVar,
  lossValue,
  make,
  makeWithW,
  mean,
  meanCrossEntropy,
  numCols,
  polar,
  setVar,
  unit,
  useCpu,
  weightsFromClassVectors,
} from './losses-helpers.js';

before(useCpu);

const W: Mat = weightsFromClassVectors([polar(10, 1.3), polar(100, 0.7), polar(200, 1.1)]);
const C = 3;
// Six points, two per class, placed so that the strategies pick different triplets (no ties).
const X: Mat = [
  [0.05, 0.02],
  [0.3, 0.1],
  [0.52, 0.21],
  [0.9, 0.43],
  [0.21, 0.62],
  [1.1, -0.33],
];
const Y = [0, 0, 1, 1, 2, 2];

const ce = (x: Mat, y: number[]) => meanCrossEntropy(x.map((xi) => Array.from({ length: numCols(W) }, (_, j) => dot(xi, col(W, j)))), y);
const dist = (a: number[], b: number[], squared = false) => {
  const s = (a[0]! - b[0]!) ** 2 + (a[1]! - b[1]!) ** 2;
  return squared ? s : Math.sqrt(s);
};

function contrastiveRef(x: Mat, y: number[], m: number): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++)
    for (let j = 0; j < x.length; j++) {
      if (i === j) continue;
      const d = dist(x[i]!, x[j]!);
      sum += y[i] === y[j] ? d * d : Math.max(0, m - d) ** 2;
      n++;
    }
  return n ? sum / n : 0;
}

function tripletRef(x: Mat, y: number[], m: number, strategy: string, squared = false): number {
  const N = x.length;
  const d = (i: number, j: number) => dist(x[i]!, x[j]!, squared);
  const pos = (a: number) => [...Array(N).keys()].filter((p) => p !== a && y[p] === y[a]);
  const neg = (a: number) => [...Array(N).keys()].filter((n) => y[n] !== y[a]);
  const losses: number[] = [];
  for (let a = 0; a < N; a++) {
    const P = pos(a);
    const Nn = neg(a);
    if (strategy === 'batch_hard') {
      if (P.length && Nn.length) losses.push(Math.max(0, Math.max(...P.map((p) => d(a, p))) - Math.min(...Nn.map((n) => d(a, n))) + m));
    } else if (strategy === 'batch_all') {
      for (const p of P) for (const n of Nn) {
        const l = d(a, p) - d(a, n) + m;
        if (l > 1e-16) losses.push(l);
      }
    } else {
      for (const p of P) {
        const semi = Nn.filter((n) => d(a, n) > d(a, p) && d(a, n) < d(a, p) + m);
        if (semi.length) losses.push(d(a, p) - Math.min(...semi.map((n) => d(a, n))) + m);
      }
    }
  }
  return losses.length ? mean(losses) : 0;
}

function centerRef(x: Mat, y: number[], c: Mat): number {
  return 0.5 * mean(x.map((xi, i) => dist(xi, c[y[i]!]!, true)));
}

describe('contrastive', () => {
  test('value = CE + λ·mean over pairs (same·d² + (1 − same)·max(0, m − d)²), raw and normalized', () => {
    for (const normalize of [false, true]) {
      const loss = make('contrastive', { m: 0.5, loss_weight: 0.7, normalize }, C);
      assert.equal(loss.displayName, normalize ? 'ContrastiveLoss_norm' : 'ContrastiveLoss');
      setVar(loss, 'W', W);
      const f = normalize ? X.map(unit) : X;
      assertClose(lossValue(loss, X, Y), ce(X, Y) + 0.7 * contrastiveRef(f, Y, 0.5), { rel: 1e-5 }, `normalize=${normalize}`);
      assert.deepEqual(loss.titleParams(), { m: 0.5, loss_weight: 0.7 });
      loss.dispose();
    }
  });
  test('gradients (x, W) match central differences', () => {
    for (const normalize of [false, true]) {
      const loss = makeWithW('contrastive', { m: 0.5, loss_weight: 0.7, normalize }, C, W);
      // x/‖x‖ curves sharply at the first point (‖x‖ ≈ 0.05): a smaller step there.
      checkGradients(loss, X, Y, undefined, normalize ? 1e-4 : 1e-3);
      loss.dispose();
    }
  });
  test('one class, one sample, coincident points, x = 0: finite', () => {
    const loss = makeWithW('contrastive', { loss_weight: 1 }, C, W);
    const one: Mat = [[0.1, 0.2], [0.4, -0.1], [0.3, 0.3]];
    assertClose(lossValue(loss, one, [1, 1, 1]), ce(one, [1, 1, 1]) + contrastiveRef(one, [1, 1, 1], 0.5), { rel: 1e-5 }, 'one class');
    assertClose(lossValue(loss, [[0.3, 0.4]], [2]), ce([[0.3, 0.4]], [2]), { rel: 1e-6 }, 'one sample: term 0');
    assertFiniteEverywhere(loss, [[0, 0], [0, 0], [0.5, 0.5], [0.5, 0.5]], [0, 0, 1, 2], 'coincident');
    loss.dispose();
    const norm = make('contrastive', { normalize: true }, C);
    assertFiniteEverywhere(norm, [[0, 0], [0, 0], [0.5, 0.5], [0.5, 0.5]], [0, 0, 1, 2], 'normalize, x = 0');
    norm.dispose();
  });
});

describe('triplet', () => {
  test('value for every strategy, squared or not, raw or normalized (brute force)', () => {
    for (const strategy of ['batch_hard', 'batch_all', 'semi_hard'])
      for (const squared of [false, true])
        for (const normalize of [false, true]) {
          const loss = makeWithW('triplet', { m: 0.25, loss_weight: 0.5, strategy, squared, normalize }, C, W);
          const f = normalize ? X.map(unit) : X;
          const term = tripletRef(f, Y, 0.25, strategy, squared);
          const what = `${strategy} squared=${squared} normalize=${normalize}`;
          assertClose(lossValue(loss, X, Y), ce(X, Y) + 0.5 * term, { rel: 1e-5 }, what);
          loss.dispose();
        }
    // The data does tell the strategies apart.
    const terms = ['batch_hard', 'batch_all', 'semi_hard'].map((s) => tripletRef(X, Y, 0.25, s));
    assert.equal(new Set(terms.map((t) => t.toFixed(6))).size, 3, `distinct strategy values ${terms}`);
    assert.ok(terms.every((t) => t > 0));
  });
  test('gradients (x, W) match central differences for every strategy', () => {
    for (const strategy of ['batch_hard', 'batch_all', 'semi_hard']) {
      const loss = makeWithW('triplet', { m: 0.25, loss_weight: 0.5, strategy }, C, W);
      checkGradients(loss, X, Y);
      loss.dispose();
    }
  });
  test('a single class or no valid triplet gives term 0, not NaN', () => {
    for (const strategy of ['batch_hard', 'batch_all', 'semi_hard']) {
      const loss = makeWithW('triplet', { strategy, loss_weight: 1 }, C, W);
      const oneClass: Mat = [[0.1, 0.2], [0.4, -0.1], [0.3, 0.3]];
      assertClose(lossValue(loss, oneClass, [1, 1, 1]), ce(oneClass, [1, 1, 1]), { rel: 1e-6 }, `${strategy}: one class`);
      assertFiniteEverywhere(loss, oneClass, [1, 1, 1], `${strategy}: one class`);
      const allDifferent: Mat = [[0.1, 0.2], [0.4, -0.1], [0.3, 0.3]];
      assertClose(lossValue(loss, allDifferent, [0, 1, 2]), ce(allDifferent, [0, 1, 2]), { rel: 1e-6 }, `${strategy}: no positive`);
      assertFiniteEverywhere(loss, allDifferent, [0, 1, 2], `${strategy}: no positive`);
      // Valid triplets, all satisfied by far more than the margin: nothing active.
      const easy: Mat = [[0, 0], [0.01, 0], [5, 5], [5.01, 5]];
      assertClose(lossValue(loss, easy, [0, 0, 1, 1]), ce(easy, [0, 0, 1, 1]), { rel: 1e-6 }, `${strategy}: all satisfied`);
      assertFiniteEverywhere(loss, easy, [0, 0, 1, 1], `${strategy}: all satisfied`);
      assertFiniteEverywhere(loss, [[0, 0], [0, 0], [0, 0], [1, 1]], [0, 0, 1, 1], `${strategy}: coincident points`);
      assertClose(lossValue(loss, [[0.2, 0.1], [0.3, 0.3]], [0, 0]), ce([[0.2, 0.1], [0.3, 0.3]], [0, 0]), { rel: 1e-6 }, 'two samples');
      loss.dispose();
    }
  });
  test('display names and title parameters follow the reference figures', () => {
    const a = make('triplet', {}, C);
    const b = make('triplet', { normalize: true }, C);
    assert.equal(a.displayName, 'TripletLoss');
    assert.equal(b.displayName, 'TripletLoss_norm');
    assert.deepEqual(a.titleParams(), { m: 0.25, loss_weight: 0.1, strategy: 'batch_hard' });
    a.dispose();
    b.dispose();
  });
});

describe('triplet_center', () => {
  const centers: Mat = [
    [0.1, 0.1],
    [0.6, 0.3],
    [0.5, 0.2],
  ];
  test('value = CE + w_trp·triplet + w_ctr·½·mean‖f − c_y‖², raw and normalized', () => {
    for (const normalize of [false, true]) {
      const loss = make('triplet_center', { w_trp: 0.4, w_ctr: 0.3, normalize }, C);
      assert.equal(loss.displayName, normalize ? 'Triplet_CenterLoss_norm' : 'Triplet_CenterLoss');
      setVar(loss, 'W', W);
      setVar(loss, 'centers', centers);
      const f = normalize ? X.map(unit) : X;
      const expected = ce(X, Y) + 0.4 * tripletRef(f, Y, 0.25, 'batch_hard') + 0.3 * centerRef(f, Y, centers);
      assertClose(lossValue(loss, X, Y), expected, { rel: 1e-5 }, `normalize=${normalize}`);
      loss.dispose();
    }
  });
  test('gradients (x, W) match central differences', () => {
    const loss = makeWithW('triplet_center', { w_trp: 0.4, w_ctr: 0.3 }, C, W);
    setVar(loss, 'centers', centers);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('centers: state, updated in afterStep by the center rule on the (normalized) features', () => {
    for (const normalize of [false, true]) {
      const loss = make('triplet_center', { alpha: 0.5, normalize }, C);
      assert.deepEqual(Object.keys(loss.trainableVariables()), ['W']);
      assert.deepEqual(Object.keys(loss.stateVariables()), ['centers']);
      lossValue(loss, X, Y);
      assert.deepEqual(getVar(loss, 'centers').flat(), [0, 0, 0, 0, 0, 0], 'compute leaves the centers');
      tf.tidy(() => loss.afterStep!(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
      // From zero centers with two samples per class: c_j = α·(x_a + x_b)/3.
      const f = normalize ? X.map(unit) : X;
      const expected = [0, 1, 2].flatMap((j) => [0, 1].map((d) => (0.5 * (f[2 * j]![d]! + f[2 * j + 1]![d]!)) / 3));
      assertAllClose(getVar(loss, 'centers').flat(), expected, { abs: 1e-6 }, `normalize=${normalize}`);
      assert.deepEqual(loss.titleParams(), { m: 0.25, w_ctr: 0.1, w_trp: 0.1, strategy: 'batch_hard' });
      loss.dispose();
    }
  });
  test('a single class or no valid triplet: finite', () => {
    const loss = make('triplet_center', {}, C);
    assertFiniteEverywhere(loss, [[0.1, 0.2], [0.4, -0.1], [0.3, 0.3]], [1, 1, 1], 'one class');
    assertFiniteEverywhere(loss, [[0, 0], [0.4, -0.1], [0.3, 0.3]], [0, 1, 2], 'no triplet');
    loss.dispose();
  });
});
