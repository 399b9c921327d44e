/**
 * Every loss with 3-D features (`createLoss(name, params, { numClasses, embeddingDim: 3 })`):
 * values against the same plain-number re-computations as the 2-D tests, written for any
 * dimension (dot products and norms over all coordinates), gradients against central
 * differences, and no NaN/Inf at the edges.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { lossNames } from '../src/losses/registry.js';
import type { Loss, LossParams } from '../src/losses/types.js';
import {
  type Mat,
  assertAllClose,
  assertClose,
  assertFiniteEverywhere,
  autoGradX,
  checkGradients,
  col,
  dot,
  lossValue,
  make,
  mean,
  meanCrossEntropy,
  norm,
  numCols,
  setVar,
  unit,
  useCpu,
} from './losses-helpers.js';

before(useCpu);

const D = 3;
const C = 4;
/** W [3, 4]: four class vectors of different lengths pointing to different parts of the sphere. */
const classVectors: Mat = [
  [1.1, 0.3, 0.4],
  [-0.2, 0.8, -0.3],
  [-0.5, -0.6, 0.7],
  [0.3, -0.4, -0.9],
];
const W: Mat = [0, 1, 2].map((d) => classVectors.map((v) => v[d]!));
/** Six features, two of classes 0 and 1 (the metric losses need pairs), none in the xy plane. */
const X: Mat = [
  [1.2, 0.5, 0.3],
  [0.9, -0.2, 0.6],
  [-0.4, 1.1, 0.2],
  [0.1, 0.7, -0.8],
  [-0.6, -0.9, 1.0],
  [0.5, -0.3, -1.4],
];
const Y = [0, 0, 1, 1, 2, 3];

function make3(name: string, params: LossParams = {}): Loss {
  const loss = make(name, params, C, [], D);
  assert.equal(loss.embeddingDim, 3);
  if (loss.trainableVariables().W) {
    const [rows, cols] = loss.trainableVariables().W!.shape;
    // [D, C], or [D, C·K] for K sub-centers a class (column c·K + j): each sub-center is its class
    // vector turned a little, by an amount that differs with j.
    assert.ok(rows === 3 && cols! % C === 0, `${name}: W is [D, C] or [D, C·K], got [${rows}, ${cols}]`);
    const k = cols! / C;
    setVar(loss, 'W', k === 1 ? W : W.map((row, d) => Array.from({ length: C * k }, (_, col) => row[Math.floor(col / k)]! + 0.15 * (col % k) * (d === (col % 3) ? 1 : -0.5))));
  }
  return loss;
}

const cosines = (x: Mat, w: Mat) => x.map((xi) => Array.from({ length: numCols(w) }, (_, j) => dot(xi, col(w, j)) / (norm(xi) * norm(col(w, j)))));
const linear = (x: Mat, w: Mat) => x.map((xi) => Array.from({ length: numCols(w) }, (_, j) => dot(xi, col(w, j))));
const head = (x: Mat, y: number[], target: (c: number) => number, scale: number) =>
  meanCrossEntropy(cosines(x, W).map((row, i) => row.map((c, j) => scale * (j === y[i] ? target(c) : c))), y);
const dist = (a: number[], b: number[], squared = false) => {
  const s = a.reduce((t, v, k) => t + (v - b[k]!) ** 2, 0);
  return squared ? s : Math.sqrt(s);
};
/** ψ(θ) = (−1)^k cos(mθ) − 2k, θ in [kπ/m, (k+1)π/m]. */
const psi = (theta: number, m: number) => {
  const k = Math.min(Math.floor((m * theta) / Math.PI), m - 1);
  return (-1) ** k * Math.cos(m * theta) - 2 * k;
};

/** Circle loss with α_p, α_n computed from `frozen` cosines (its stop-gradient), the cosines from x. */
function circleRef(x: Mat, frozen: Mat = cosines(x, W), m = 0.6, gamma = 4): number {
  return meanCrossEntropy(
    cosines(x, W).map((row, i) => row.map((c, j) => (j === Y[i] ? gamma * Math.max(0, 1 + m - frozen[i]![j]!) * (c - (1 - m)) : gamma * Math.max(0, frozen[i]![j]! + m) * (c - m)))),
    Y,
  );
}

/** The plain re-computation of each loss's value in 3-D (with W as set by make3). */
const REFERENCE: Record<string, { params: LossParams; value: () => number }> = {
  softmax: { params: {}, value: () => meanCrossEntropy(linear(X, W), Y) },
  circle: { params: { m: 0.6, gamma: 4 }, value: () => circleRef(X) },
  l2softmax: { params: { alpha: 4, trainable: false }, value: () => meanCrossEntropy(linear(X.map((x) => unit(x).map((v) => 4 * v)), W), Y) },
  normface: { params: { s: 16 }, value: () => head(X, Y, (c) => c, 16) },
  cosface: { params: { s: 16, m: 0.35 }, value: () => head(X, Y, (c) => c - 0.35, 16) },
  arcface: { params: { s: 16, m: 0.5, boundary: 'fallback' }, value: () => head(X, Y, (c) => (Math.acos(c) < Math.PI - 0.5 ? Math.cos(Math.acos(c) + 0.5) : c - 0.5 * Math.sin(0.5)), 16) },
  sphereface: {
    params: { m: 3, base: 2, gamma: 0, power: 1, lambda_min: 0 },
    value: () => meanCrossEntropy(X.map((x, i) => cosines([x], W)[0]!.map((c, j) => norm(x) * (j === Y[i] ? (2 * c + psi(Math.acos(c), 3)) / 3 : c))), Y),
  },
  lsoftmax: {
    params: { m: 2, base: 1, gamma: 0, power: 1, beta_min: 0 },
    value: () => meanCrossEntropy(X.map((x, i) => cosines([x], W)[0]!.map((c, j) => norm(col(W, j)) * norm(x) * (j === Y[i] ? (c + psi(Math.acos(c), 2)) / 2 : c))), Y),
  },
  ring: {
    params: { R: 1.3, loss_weight: 0.5 },
    value: () => meanCrossEntropy(linear(X, W.map((r, d) => r.map((v, j) => v / norm(col(W, j))))), Y) + 0.5 * 0.5 * mean(X.map((x) => (norm(x) - 1.3) ** 2)),
  },
  focal: {
    params: { gamma: 2 },
    value: () =>
      mean(
        linear(X, W).map((z, i) => {
          const mx = Math.max(...z);
          const p = Math.exp(z[Y[i]!]! - mx) / z.reduce((s, v) => s + Math.exp(v - mx), 0);
          return -((1 - p) ** 2) * Math.log(p);
        }),
      ),
  },
  // centers start at zero: the term is ½·mean‖x‖²
  center: { params: { loss_weight: 0.3 }, value: () => meanCrossEntropy(linear(X, W), Y) + 0.3 * 0.5 * mean(X.map((x) => dot(x, x))) },
  contrastive: {
    params: { m: 2, loss_weight: 0.7 },
    value: () => {
      let sum = 0;
      let n = 0;
      for (let i = 0; i < X.length; i++)
        for (let j = 0; j < X.length; j++) {
          if (i === j) continue;
          const d = dist(X[i]!, X[j]!);
          sum += Y[i] === Y[j] ? d * d : Math.max(0, 2 - d) ** 2;
          n++;
        }
      return meanCrossEntropy(linear(X, W), Y) + 0.7 * (sum / n);
    },
  },
  triplet: {
    params: { m: 1, strategy: 'batch_hard', loss_weight: 0.4 },
    value: () => {
      const terms: number[] = [];
      for (let a = 0; a < X.length; a++) {
        const P = X.map((_, p) => p).filter((p) => p !== a && Y[p] === Y[a]);
        const N = X.map((_, q) => q).filter((q) => Y[q] !== Y[a]);
        if (P.length && N.length) terms.push(Math.max(0, Math.max(...P.map((p) => dist(X[a]!, X[p]!))) - Math.min(...N.map((q) => dist(X[a]!, X[q]!))) + 1));
      }
      return meanCrossEntropy(linear(X, W), Y) + 0.4 * (terms.length ? mean(terms) : 0);
    },
  },
};

test('values in 3-D equal the plain re-computations', () => {
  for (const [name, r] of Object.entries(REFERENCE)) {
    const loss = make3(name, r.params);
    assertClose(lossValue(loss, X, Y), r.value(), { rel: 1e-5 }, `${name} (3-D)`);
    loss.dispose();
  }
});

test('every loss: gradients in 3-D (features and every trainable variable) match central differences; no NaN/Inf at the edges', () => {
  const EDGES: Mat = [
    [0, 0, 0], // no direction
    [1.1, 0.3, 0.4], // along W_0
    [-1.1, -0.3, -0.4], // opposite W_0
    [1e-4, -2e-4, 1e-4],
    [3, 0, -4],
    [-0.2, 0.8, -0.3], // along W_1
  ];
  const names = lossNames();
  assert.equal(names.length, 20);
  for (const name of names) {
    const params = REFERENCE[name]?.params ?? {};
    const loss = make3(name, params);
    if (name === 'circle') {
      // α_p, α_n are constants of the gradient (stop-gradient): differences with them frozen
      const frozen = cosines(X, W);
      const h = 1e-3;
      const fd = X.map((row, i) =>
        row.map((_, d) => {
          const xp = X.map((r) => [...r]);
          const xm = X.map((r) => [...r]);
          xp[i]![d]! += h;
          xm[i]![d]! -= h;
          return (circleRef(xp, frozen) - circleRef(xm, frozen)) / (2 * h);
        }),
      );
      assertAllClose(autoGradX(loss, X, Y).flat(), fd.flat(), { abs: 1e-3, rel: 1e-3 }, 'circle d/dx (3-D)');
    } else checkGradients(loss, X, Y);
    assertFiniteEverywhere(loss, EDGES, Y, '3-D edges');
    loss.dispose();
  }
});
