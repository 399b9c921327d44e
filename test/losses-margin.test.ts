/**
 * Cosine margin heads: NormFace, CosFace (AM-Softmax), ArcFace, MagFace, Circle. Values against
 * plain-number re-computations, gradients against central differences, the 2-D bounds, and no
 * NaN/Inf at the edges (x = 0, x ∥ W_y, x anti-parallel to W_y, θ + m past π).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { additiveAngularMargin } from '../src/losses/arcface.js';
import { cosfaceMaxMargin, cosfaceMaxMargin2d, cosfaceMinScale } from '../src/losses/cosface.js';
import { maxMinAngle } from '../src/losses/bounds.js';
import { magfaceMinLambda } from '../src/losses/magface.js';
import { LossConfigError, getLossDefinition, resolveParams } from '../src/losses/registry.js';
import {
  type Mat,
  assertAllClose,
  assertClose,
  assertFiniteEverywhere,
  autoGradVars,
  autoGradX,
  checkGradients,
  col,
  crossEntropyRow,
  dot,
  lossValue,
  make,
  makeWithW,
  mean,
  meanCrossEntropy,
  norm,
  numCols,
  polar,
  setVar,
  useCpu,
  weightsFromClassVectors,
} from './losses-helpers.js';

before(useCpu);

// Four classes with weights of different lengths at known angles, four samples.
const W: Mat = weightsFromClassVectors([polar(10, 1.3), polar(100, 0.7), polar(200, 1.1), polar(290, 0.9)]);
const X: Mat = [polar(30, 1.5), polar(80, 0.8), polar(250, 2.0), polar(170, 1.2)];
const Y = [0, 1, 2, 3];
const C = 4;

/** cos θ_ij between x_i and W_j, plain numbers. */
function cosines(x: Mat, w: Mat): Mat {
  return x.map((xi) => Array.from({ length: numCols(w) }, (_, j) => dot(xi, col(w, j)) / (norm(xi) * norm(col(w, j)))));
}

/** Mean CE of logits built from cosines: target via `target(cos_y, i)`, others via `other(cos)`, times `scale`. */
function headLoss(x: Mat, y: number[], w: Mat, target: (c: number, i: number) => number, other = (c: number) => c, scale = 1): number {
  const cs = cosines(x, w);
  return meanCrossEntropy(
    cs.map((row, i) => row.map((c, j) => scale * (j === y[i] ? target(c, i) : other(c)))),
    y,
  );
}

const arcRef = (c: number, m: number, rule: 'fallback' | 'easy' | 'none') => {
  const theta = Math.acos(c);
  if (rule === 'easy') return c > 0 ? Math.cos(theta + m) : c;
  if (theta < Math.PI - m) return Math.cos(theta + m);
  return rule === 'fallback' ? c - m * Math.sin(m) : c;
};

function expectConfigError(name: string, params: Record<string, unknown>, key: string, ...parts: Array<string | RegExp>) {
  const def = getLossDefinition(name);
  assert.throws(
    () => resolveParams(def, params, { numClasses: 10, embeddingDim: 2 }),
    (e: unknown) => {
      assert.ok(e instanceof LossConfigError, String(e));
      assert.equal(e.key, key);
      for (const p of parts) assert.match(e.message, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
      return true;
    },
  );
}

describe('normface', () => {
  test('value = CE of s·cos θ', () => {
    const loss = makeWithW('normface', { s: 8 }, C, W);
    assertClose(lossValue(loss, X, Y), headLoss(X, Y, W, (c) => c, (c) => c, 8), { rel: 1e-5 }, 'normface');
    loss.dispose();
  });
  test('gradients (x, W) match central differences, s = 32', () => {
    const loss = makeWithW('normface', {}, C, W);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('logits and predict are s·cos θ', () => {
    const loss = makeWithW('normface', { s: 10 }, C, W);
    const p = tf.tidy(() => loss.predict!(tf.tensor2d(X)).arraySync() as Mat);
    assertAllClose(p.flat(), cosines(X, W).flat().map((c) => 10 * c), { abs: 1e-5 }, 'predict');
    loss.dispose();
  });
});

describe('cosface / amsoftmax', () => {
  test('value = CE with target s(cos θ_y − m)', () => {
    const loss = makeWithW('cosface', { s: 32, m: 0.15 }, C, W);
    assertClose(lossValue(loss, X, Y), headLoss(X, Y, W, (c) => c - 0.15, (c) => c, 32), { rel: 1e-5 }, 'cosface');
    loss.dispose();
  });
  test('gradients match central differences', () => {
    const loss = makeWithW('cosface', { s: 32, m: 0.1 }, C, W);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('amsoftmax is an alias, logits carry no margin', () => {
    const loss = make('amsoftmax', { m: 0.1 }, C);
    assert.equal(loss.name, 'cosface');
    assert.equal(loss.displayName, 'CosFaceLoss');
    setVar(loss, 'W', W);
    const logits = tf.tidy(() => loss.compute(tf.tensor2d(X), tf.tensor1d(Y, 'int32')).logits!.arraySync() as Mat);
    assertAllClose(logits.flat(), cosines(X, W).flat().map((c) => 32 * c), { abs: 1e-4 }, 'logits');
    loss.dispose();
  });
  test('bounds: m <= 1 − cos(2π/C), s >= (C−1)/C·ln((C−1)·0.9/0.1), refused with the bound named', () => {
    assertClose(cosfaceMaxMargin2d(10), 0.190983, { abs: 1e-6 }, 'm bound');
    assertClose(cosfaceMinScale(10), 0.9 * Math.log(81), { abs: 1e-9 }, 's bound');
    expectConfigError('cosface', { m: 0.2 }, 'loss.params.m', 'loss.params.m = 0.2', '1 − cos(2π/C)', '0.1910', 'C = 10');
    expectConfigError('amsoftmax', { s: 3 }, 'loss.params.s', 'loss.params.s = 3', '(C−1)/C·ln((C−1)·p/(1−p))', '3.955');
    // 3-D: θ* from Fejes Tóth's bound (12 classes: the icosahedron, 63.43°, exact); 10 classes allow m <= 0.651
    assertClose((maxMinAngle(12, 3) * 180) / Math.PI, 63.4349, { abs: 1e-3 }, 'θ*(12, 3)');
    assertClose(cosfaceMaxMargin(10, 3), 0.65077, { abs: 1e-4 }, 'm bound 3-D');
    assertClose(cosfaceMaxMargin(4, 3), 4 / 3, { abs: 1e-12 }, 'm bound, the tetrahedron');
    assertClose(cosfaceMaxMargin(6, 3), 1, { abs: 1e-12 }, 'm bound, the octahedron');
    assert.throws(
      () => resolveParams(getLossDefinition('cosface'), { m: 0.7 }, { numClasses: 10, embeddingDim: 3 }),
      (e: unknown) => e instanceof LossConfigError && e.key === 'loss.params.m' && /m = 0\.7 is above the CosFace bound for a 3-D embedding, m <= 1 − cos\(θ\*\) = 0\.6508 for C = 10 classes, θ\* = arccos\(\(cot²ω − 1\)\/2\).*Fejes Tóth.* = 69\.\d\d°: .*fit on the sphere; use m <= 0\.651/.test(e.message),
    );
    assert.doesNotThrow(() => resolveParams(getLossDefinition('cosface'), { m: 0.35 }, { numClasses: 10, embeddingDim: 3 }));
    // Inside both bounds, and the looser 2-D bound of fewer classes.
    const def = getLossDefinition('cosface');
    assert.doesNotThrow(() => resolveParams(def, { m: 0.19, s: 4 }, { numClasses: 10, embeddingDim: 2 }));
    assert.doesNotThrow(() => resolveParams(def, { m: 0.5 }, { numClasses: 4, embeddingDim: 2 }));
  });
});

describe('arcface', () => {
  test('value = CE with target s·cos(θ_y + m), every boundary rule', () => {
    // Sample 3 sits at θ_y = 170° from its class: past π − m for m = 0.5.
    const x: Mat = [polar(30, 1.5), polar(80, 0.8), polar(250, 2.0), polar(120, 1.2)];
    const thetaLast = Math.acos(cosines(x, W)[3]![3]!);
    assert.ok(thetaLast > Math.PI - 0.5, 'the last sample is past π − m');
    for (const rule of ['fallback', 'easy', 'none'] as const) {
      const loss = makeWithW('arcface', { s: 32, m: 0.5, boundary: rule }, C, W);
      assertClose(lossValue(loss, x, Y), headLoss(x, Y, W, (c) => arcRef(c, 0.5, rule), (c) => c, 32), { rel: 1e-4 }, rule);
      loss.dispose();
    }
  });
  test('gradients match central differences (x, W), m = 0.5', () => {
    const loss = makeWithW('arcface', {}, C, W);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('margin step: cos(θ + m) via the sine, each rule past π − m, finite gradient at cos θ = ±1', () => {
    const m = 0.5;
    const cs = [1, 0.999999, 0.7, 0, -0.5, -0.87, -0.9, -0.999999, -1];
    for (const rule of ['fallback', 'easy', 'none'] as const) {
      const got = tf.tidy(() => Array.from(additiveAngularMargin(tf.tensor2d(cs, [cs.length, 1]), m, rule).dataSync()));
      assertAllClose(got, cs.map((c) => arcRef(c, m, rule)), { abs: 2e-3 }, `margin ${rule}`);
      const g = tf.tidy(() =>
        Array.from(tf.grad((c: tf.Tensor) => tf.sum(additiveAngularMargin(c as tf.Tensor2D, m, rule)))(tf.tensor2d(cs, [cs.length, 1])).dataSync()),
      );
      assert.ok(g.every(Number.isFinite), `${rule}: gradient ${g}`);
    }
  });
  test('no NaN/Inf: x = 0, x ∥ W_y, x anti-parallel to W_y, θ + m past π, for all three rules', () => {
    const cases: Array<[string, Mat]> = [
      ['x = 0', [[0, 0], polar(80, 0.8), polar(250, 2), polar(170, 1)]],
      ['x ∥ W_y', [polar(10, 2), polar(100, 0.5), polar(200, 3), polar(290, 1)]],
      ['x anti-parallel', [polar(190, 2), polar(280, 0.5), polar(20, 3), polar(110, 1)]],
      ['θ + m past π', [polar(170, 2), polar(260, 0.5), polar(40, 3), polar(130, 1)]],
    ];
    for (const rule of ['fallback', 'easy', 'none'] as const) {
      const loss = makeWithW('arcface', { boundary: rule }, C, W);
      for (const [what, x] of cases) assertFiniteEverywhere(loss, x, Y, `${rule}, ${what}`);
      loss.dispose();
    }
  });
  test('boundary must be one of the rules', () => {
    expectConfigError('arcface', { boundary: 'clamp' }, 'loss.params.boundary', 'fallback, easy, none');
  });
});

describe('magface', () => {
  const P = { s: 32, l_a: 1, u_a: 10, l_m: 0.2, u_m: 0.5, lambda_g: 2 };
  function magRef(x: Mat, y: number[], w: Mat): number {
    const a = x.map((xi) => Math.min(P.u_a, Math.max(P.l_a, norm(xi))));
    const mOf = (ai: number) => P.l_m + ((P.u_m - P.l_m) * (ai - P.l_a)) / (P.u_a - P.l_a);
    const ce = headLoss(x, y, w, (c, i) => arcRef(c, mOf(a[i]!), 'fallback'), (c) => c, P.s);
    return ce + P.lambda_g * mean(a.map((ai) => ai / P.u_a ** 2 + 1 / ai));
  }
  // Norms 1.5, 3, 0.5 (clamped to l_a) and 12 (clamped to u_a).
  const x: Mat = [polar(30, 1.5), polar(80, 3), polar(250, 0.5), polar(170, 12)];
  test('value = CE with margin m(‖x‖) + λ_g·mean g(a), a clamped to [l_a, u_a]', () => {
    const loss = makeWithW('magface', P, C, W);
    assertClose(lossValue(loss, x, Y), magRef(x, Y, W), { rel: 1e-4 }, 'magface');
    loss.dispose();
  });
  test('gradients match central differences (margin and regulariser depend on ‖x‖)', () => {
    const loss = makeWithW('magface', P, C, W);
    checkGradients(loss, x, Y);
    loss.dispose();
  });
  test('defaults are the documented 2-D values, λ_g above its bound; a smaller λ_g warns', () => {
    const def = getLossDefinition('magface');
    const p = resolveParams(def, {}, { numClasses: 10, embeddingDim: 2 });
    assert.deepEqual(p, P);
    assert.ok(P.lambda_g >= magfaceMinLambda(P));
    assertClose(magfaceMinLambda({ s: 64, l_a: 10, u_a: 110, l_m: 0.45, u_m: 0.8 }), 22.59, { abs: 0.01 }, 'published bound');
    const warnings: string[] = [];
    resolveParams(def, { lambda_g: 0.5 }, { numClasses: 10, embeddingDim: 2 }, (m) => warnings.push(m));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /loss\.params\.lambda_g = 0\.5 is below the MagFace bound .*1\.07/);
    expectConfigError('magface', { l_a: 5, u_a: 5 }, 'loss.params.u_a', 'greater than l_a');
  });
  test('no NaN/Inf at x = 0, ∥ and anti-parallel to W_y', () => {
    const loss = makeWithW('magface', {}, C, W);
    assertFiniteEverywhere(loss, [[0, 0], polar(100, 5), polar(20, 3), polar(290, 20)], Y);
    loss.dispose();
  });
});

describe('circle (class-level)', () => {
  // Not the 2-D defaults (m 1, γ 1): with m < 1 the clamp of α_n at s_n < −m is exercised too.
  const m = 0.6;
  const gamma = 4;
  /** Loss with α_p, α_n computed from `frozen` (the stop-gradient semantics) and cosines from x. */
  function circleRef(x: Mat, y: number[], w: Mat, frozen: Mat = cosines(x, w)): number {
    const cs = cosines(x, w);
    const logits = cs.map((row, i) =>
      row.map((c, j) => {
        const f = frozen[i]![j]!;
        return j === y[i]
          ? gamma * Math.max(0, 1 + m - f) * (c - (1 - m))
          : gamma * Math.max(0, f + m) * (c - m);
      }),
    );
    return logits.reduce((s, z, i) => s + crossEntropyRow(z, y[i]!), 0) / x.length;
  }
  test('value = CE of γα_p(s_p − (1 − m)) and γα_n(s_n − m)', () => {
    const loss = makeWithW('circle', { m, gamma }, C, W);
    assertClose(lossValue(loss, X, Y), circleRef(X, Y, W), { rel: 1e-5 }, 'circle');
    loss.dispose();
  });
  test('gradients: central differences with α_p, α_n held fixed (no gradient through them)', () => {
    const loss = makeWithW('circle', { m, gamma }, C, W);
    const frozen = cosines(X, W);
    const h = 1e-5;
    const fdX = X.map((row, i) =>
      row.map((_, d) => {
        const xp = X.map((r) => [...r]);
        const xm = X.map((r) => [...r]);
        xp[i]![d]! += h;
        xm[i]![d]! -= h;
        return (circleRef(xp, Y, W, frozen) - circleRef(xm, Y, W, frozen)) / (2 * h);
      }),
    );
    assertAllClose(autoGradX(loss, X, Y).flat(), fdX.flat(), { abs: 1e-3, rel: 1e-3 }, 'circle d/dx');
    const fdW = W.map((row, a) =>
      row.map((_, b) => {
        const wp = W.map((r) => [...r]);
        const wm = W.map((r) => [...r]);
        wp[a]![b]! += h;
        wm[a]![b]! -= h;
        return (circleRef(X, Y, wp, frozen) - circleRef(X, Y, wm, frozen)) / (2 * h);
      }),
    );
    assertAllClose(autoGradVars(loss, X, Y).W!, fdW.flat(), { abs: 1e-3, rel: 1e-3 }, 'circle d/dW');
    // And the weights really are held: differentiating through α would give another gradient.
    const fdFull = (() => {
      const xp = X.map((r) => [...r]);
      const xm = X.map((r) => [...r]);
      xp[0]![0]! += h;
      xm[0]![0]! -= h;
      return (circleRef(xp, Y, W) - circleRef(xm, Y, W)) / (2 * h);
    })();
    assert.ok(Math.abs(fdFull - fdX[0]![0]!) > 1e-3, 'stop-gradient changes the gradient');
    loss.dispose();
  });
  test('logits for accuracy are γ·cos θ; no NaN/Inf at the edges', () => {
    const loss = makeWithW('circle', { m, gamma }, C, W);
    const logits = tf.tidy(() => loss.compute(tf.tensor2d(X), tf.tensor1d(Y, 'int32')).logits!.arraySync() as Mat);
    assertAllClose(logits.flat(), cosines(X, W).flat().map((c) => gamma * c), { abs: 1e-5 }, 'logits');
    assertFiniteEverywhere(loss, [[0, 0], polar(100, 5), polar(20, 3), polar(290, 2)], Y);
    loss.dispose();
  });
});

test('normalized heads: W is normalized on every forward (scaling W changes nothing)', () => {
  for (const name of ['normface', 'cosface', 'arcface', 'magface', 'circle']) {
    const loss = makeWithW(name, {}, C, W);
    const a = lossValue(loss, X, Y);
    setVar(loss, 'W', W.map((r) => r.map((v) => v * 7)));
    assertClose(lossValue(loss, X, Y), a, { rel: 1e-5 }, name);
    loss.dispose();
  }
});
