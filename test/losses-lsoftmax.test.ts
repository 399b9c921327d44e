/**
 * L-Softmax and A-Softmax (SphereFace): ψ(θ) with its Chebyshev expansion, the annealing
 * schedule and its counter (moved by afterStep only), values against plain re-computations and
 * gradients against central differences.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { annealingWeight, chebyshev, psi, psiOfAngle, type LSoftmaxLoss } from '../src/losses/lsoftmax.js';
import { getLossDefinition, resolveParams } from '../src/losses/registry.js';
import {
  type Mat,
  assertAllClose,
  assertClose,
  assertFiniteEverywhere,
  checkGradients,
  col,
  dot,
  lossValue,
  make,
  makeWithW,
  meanCrossEntropy,
  norm,
  numCols,
  polar,
  setVar,
  useCpu,
  weightsFromClassVectors,
} from './losses-helpers.js';

before(useCpu);

/** ψ straight from its definition, with acos and cos(mθ) (not the Chebyshev path). */
function psiRef(theta: number, m: number): number {
  const k = Math.min(Math.floor((m * theta) / Math.PI), m - 1);
  return (-1) ** k * Math.cos(m * theta) - 2 * k;
}

const W: Mat = weightsFromClassVectors([polar(10, 1.3), polar(100, 0.7), polar(200, 1.1), polar(290, 0.9)]);
const X: Mat = [polar(30, 1.5), polar(80, 0.8), polar(250, 2.0), polar(160, 1.2)];
const Y = [0, 1, 2, 3];
const C = 4;

/**
 * Plain re-computation: target logit ‖W_y‖‖x‖(β cos θ_y + ψ(θ_y))/(1 + β) (‖W_y‖ = 1 for
 * SphereFace), others ‖W_j‖‖x‖cos θ_j.
 */
function refLoss(x: Mat, y: number[], w: Mat, m: number, beta: number, normalizeW: boolean): number {
  const logits = x.map((xi, i) =>
    Array.from({ length: numCols(w) }, (_, j) => {
      const wj = col(w, j);
      const wn = normalizeW ? 1 : norm(wj);
      const c = dot(xi, wj) / (norm(xi) * norm(wj));
      const f = j === y[i] ? (beta * c + psiRef(Math.acos(c), m)) / (1 + beta) : c;
      return wn * norm(xi) * f;
    }),
  );
  return meanCrossEntropy(logits, y);
}

describe('ψ', () => {
  test('Chebyshev expansion equals cos(mθ) (m = 0..6)', () => {
    const thetas = Array.from({ length: 41 }, (_, i) => (i * Math.PI) / 40);
    for (let m = 0; m <= 6; m++) {
      const got = tf.tidy(() => Array.from(chebyshev(tf.tensor1d(thetas.map(Math.cos)), m).dataSync()));
      assertAllClose(got, thetas.map((t) => Math.cos(m * t)), { abs: 1e-5 }, `T_${m}`);
    }
  });
  test('monotonically decreasing on [0, π] for m = 1..4, from 1 to 1 − 2m, equal to its definition', () => {
    const n = 2001;
    const thetas = Array.from({ length: n }, (_, i) => (i * Math.PI) / (n - 1));
    for (let m = 1; m <= 4; m++) {
      const got = tf.tidy(() => Array.from(psi(tf.tensor1d(thetas.map(Math.cos)), m).dataSync()));
      for (let i = 1; i < n; i++) assert.ok(got[i]! <= got[i - 1]! + 1e-5, `m=${m}: ψ rises at θ=${thetas[i]}: ${got[i - 1]} → ${got[i]}`);
      assertClose(got[0]!, 1, { abs: 1e-6 }, `m=${m} ψ(0)`);
      assertClose(got[n - 1]!, 1 - 2 * m, { abs: 1e-5 }, `m=${m} ψ(π)`);
      // Away from the knots kπ/m (where float32 cos θ may fall on either side) it is the definition.
      thetas.forEach((t, i) => {
        const nearKnot = Math.abs((m * t) / Math.PI - Math.round((m * t) / Math.PI)) < 1e-3;
        if (!nearKnot) assertClose(got[i]!, psiRef(t, m), { abs: 2e-4 }, `m=${m} ψ(${t})`);
        assertClose(psiOfAngle(t, m), psiRef(t, m), { abs: 1e-12 }, `psiOfAngle m=${m}`);
      });
    }
  });
  test('gradient of ψ w.r.t. cos θ is finite everywhere, including cos θ = ±1 (k has no gradient)', () => {
    const cs = [1, 0.9999999, 0.5, 0, -0.5, -0.9999999, -1];
    for (let m = 1; m <= 4; m++) {
      const g = tf.tidy(() => Array.from(tf.grad((c: tf.Tensor) => tf.sum(psi(c, m)))(tf.tensor1d(cs)).dataSync()));
      assert.ok(g.every(Number.isFinite), `m=${m}: ${g}`);
      // dψ/dc = (−1)^k·T_m'(c) = (−1)^k·m·U_{m−1}(c); at c = 0.5 (θ = 60°):
      const theta = Math.PI / 3;
      const k = Math.min(Math.floor((m * theta) / Math.PI), m - 1);
      assertClose(g[2]!, ((-1) ** k * m * Math.sin(m * theta)) / Math.sin(theta), { abs: 1e-4 }, `m=${m} dψ/dc at 0.5`);
    }
  });
});

describe('annealing', () => {
  test('β = max(β_min, base·(1 + γ·it)^(−power)), published schedules as defaults', () => {
    const ls = resolveParams(getLossDefinition('lsoftmax'), {}, { numClasses: 10, embeddingDim: 2 });
    assert.deepEqual(ls, { m: 3, base: 1000, gamma: 2.5e-5, power: 35, beta_min: 0 });
    const sf = resolveParams(getLossDefinition('sphereface'), {}, { numClasses: 10, embeddingDim: 2 });
    assert.deepEqual(sf, { m: 3, base: 1000, gamma: 0.12, power: 1, lambda_min: 5 });
    const s = { base: 1000, gamma: 0.12, power: 1, min: 5 };
    assert.equal(annealingWeight(s, 0), 1000);
    assertClose(annealingWeight(s, 100), 1000 / 13, { rel: 1e-12 }, 'it=100');
    assert.equal(annealingWeight(s, 1e6), 5);
  });
  test('the counter moves in afterStep only: compute with training true or false leaves it', () => {
    for (const name of ['lsoftmax', 'sphereface']) {
      const loss = make(name, {}, C) as LSoftmaxLoss;
      assert.deepEqual(loss.getCounters(), { iteration: 0 });
      lossValue(loss, X, Y, true);
      lossValue(loss, X, Y, false);
      tf.tidy(() => {
        tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, tf.tensor1d(Y, 'int32'), { training: true }).loss)(tf.tensor2d(X));
        loss.predict!(tf.tensor2d(X));
      });
      assert.deepEqual(loss.getCounters(), { iteration: 0 }, `${name}: compute must not advance the counter`);
      const beta0 = loss.annealing();
      tf.tidy(() => loss.afterStep!(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
      tf.tidy(() => loss.afterStep!(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
      assert.deepEqual(loss.getCounters(), { iteration: 2 });
      assert.ok(loss.annealing() < beta0, `${name}: β decays with training steps`);
      loss.setCounters({ iteration: 12345 });
      assert.equal(loss.getCounters().iteration, 12345);
      assert.throws(() => loss.setCounters({ iter: 1 }), /no counter 'iter'.*iteration/);
      loss.dispose();
    }
  });
});

for (const [name, normalizeW, minKey] of [
  ['lsoftmax', false, 'beta_min'],
  ['sphereface', true, 'lambda_min'],
] as const) {
  describe(name, () => {
    test('value = CE with the annealed ψ target, at the start and late in training (m = 1..4)', () => {
      for (let m = 1; m <= 4; m++) {
        const loss = make(name, { m }, C) as LSoftmaxLoss;
        setVar(loss, 'W', W);
        for (const it of [0, 5000, 1e7]) {
          loss.setCounters({ iteration: it });
          const beta = loss.annealing();
          assertClose(lossValue(loss, X, Y), refLoss(X, Y, W, m, beta, normalizeW), { rel: 1e-4, abs: 1e-5 }, `m=${m} it=${it}`);
        }
        loss.dispose();
      }
    });
    test('gradients match central differences (β small, so ψ dominates)', () => {
      const loss = make(name, { m: 3, [minKey]: 0.1 }, C) as LSoftmaxLoss;
      setVar(loss, 'W', W);
      loss.setCounters({ iteration: 1e7 });
      checkGradients(loss, X, Y);
      loss.dispose();
    });
    test('logits / predict carry no margin', () => {
      const loss = makeWithW(name, {}, C, W);
      const p = tf.tidy(() => loss.predict!(tf.tensor2d(X)).arraySync() as Mat);
      const expected = X.map((xi) =>
        Array.from({ length: C }, (_, j) => (normalizeW ? dot(xi, col(W, j)) / norm(col(W, j)) : dot(xi, col(W, j)))),
      );
      assertAllClose(p.flat(), expected.flat(), { abs: 1e-5 }, 'predict');
      loss.dispose();
    });
    test('no NaN/Inf at x = 0, ∥ and anti-parallel to W_y (m = 1..4)', () => {
      for (let m = 1; m <= 4; m++) {
        const loss = makeWithW(name, { m }, C, W);
        loss.setCounters({ iteration: 1e7 });
        assertFiniteEverywhere(loss, [[0, 0], polar(100, 2), polar(20, 3), polar(290, 1)], Y, `m=${m}`);
        loss.dispose();
      }
    });
  });
}
