/**
 * The adaptive margin heads: Sub-center ArcFace, AdaCos, CurricularFace, AdaFace, ElasticFace.
 * Values against plain-number re-computations of the authors' (and pytorch-metric-learning's)
 * formulas, gradients against double-precision central differences of those re-computations (the
 * quantities the formulas take without gradient held at their values) and against the toolkit's
 * own finite differences, no NaN/Inf at the edges, running state that moves only in afterStep and
 * resumes exactly.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { adacosFixedScale } from '../src/losses/adacos.js';
import type { AdaCosLoss } from '../src/losses/adacos.js';
import { ADAFACE_EPS, ADAFACE_INIT_MEAN, ADAFACE_INIT_STD } from '../src/losses/adaface.js';
import type { ElasticFaceLoss } from '../src/losses/elasticface.js';
import { LossConfigError, createLoss, getLossDefinition, resolveParams } from '../src/losses/registry.js';
import type { SubCenterArcFaceLoss } from '../src/losses/subcenter_arcface.js';
import type { Loss } from '../src/losses/types.js';
import { Rng } from '../src/rng.js';
import {
  type Mat,
  assertAllClose,
  assertClose,
  assertFiniteEverywhere,
  autoGradVars,
  autoGradX,
  checkGradients,
  col,
  dot,
  getVar,
  lossValue,
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

const C = 4;
const W: Mat = weightsFromClassVectors([polar(10, 1.3), polar(100, 0.7), polar(200, 1.1), polar(290, 0.9)]);
// Sample 1 is nearer class 0 than its own class 1 (a hard negative for CurricularFace); norms 0.5 to 3.
const X: Mat = [polar(30, 1.5), polar(40, 0.5), polar(230, 3.0), polar(250, 1.2)];
const Y = [0, 1, 2, 3];

function cosines(x: Mat, w: Mat): Mat {
  return x.map((xi) => Array.from({ length: numCols(w) }, (_, j) => dot(xi, col(w, j)) / (norm(xi) * norm(col(w, j)))));
}

/** Double-precision central differences of a plain function of x and W, by element. */
function fdPlain(f: (x: Mat, w: Mat) => number, x: Mat, w: Mat, h = 1e-6): { dx: number[]; dw: number[] } {
  const bump = (m: Mat, i: number, j: number, d: number) => m.map((r, a) => r.map((v, b) => (a === i && b === j ? v + d : v)));
  const dx: number[] = [];
  x.forEach((r, i) => r.forEach((_, j) => dx.push((f(bump(x, i, j, h), w) - f(bump(x, i, j, -h), w)) / (2 * h))));
  const dw: number[] = [];
  w.forEach((r, i) => r.forEach((_, j) => dw.push((f(x, bump(w, i, j, h)) - f(x, bump(w, i, j, -h))) / (2 * h))));
  return { dx, dw };
}

/** Autodiff gradients of the loss (d/dx and d/dW, flattened) against a plain function's central differences. */
function assertGradientsMatch(loss: Loss, f: (x: Mat, w: Mat) => number, x: Mat, y: number[], w: Mat, tol = { abs: 1e-5, rel: 1e-4 }, msg = loss.name): void {
  const { dx, dw } = fdPlain(f, x, w);
  assertAllClose(autoGradX(loss, x, y).flat(), dx, tol, `${msg} d/dx`);
  assertAllClose(autoGradVars(loss, x, y).W!, dw, tol, `${msg} d/dW`);
}

const edges: Array<[string, Mat]> = [
  ['x = 0', [[0, 0], polar(100, 0.8), polar(250, 2), polar(170, 1)]],
  ['x ∥ W_y', [polar(10, 2), polar(100, 0.5), polar(200, 3), polar(290, 1)]],
  ['x anti-parallel to W_y', [polar(190, 2), polar(280, 0.5), polar(20, 3), polar(110, 1)]],
  ['θ + m past π', [polar(170, 2), polar(260, 0.5), polar(40, 3), polar(130, 1)]],
];

function expectConfigError(name: string, params: Record<string, unknown>, key: string, re: RegExp, ctx = { numClasses: 10, embeddingDim: 2 }) {
  assert.throws(
    () => resolveParams(getLossDefinition(name), params, ctx),
    (e: unknown) => {
      assert.ok(e instanceof LossConfigError, String(e));
      assert.equal(e.key, key);
      assert.match(e.message, re);
      return true;
    },
  );
}

/** (compute, afterStep) `steps` times on shifted batches. */
function runSteps(loss: Loss, steps: number, from = 0): void {
  for (let k = from; k < from + steps; k++) {
    const x = X.map((r, i) => polar(30 * i + 17 * k, 0.5 + ((i + k) % 4) * 0.7));
    tf.tidy(() => {
      const xt = tf.tensor2d(x);
      const yt = tf.tensor1d(Y, 'int32');
      loss.compute(xt, yt, { training: true });
      loss.afterStep?.(xt, yt);
    });
  }
}

const stateOf = (loss: Loss) => ({
  counters: loss.getCounters(),
  state: Object.fromEntries(Object.entries(loss.stateVariables()).map(([k, v]) => [k, Array.from(v.dataSync())])),
});

/** A run of 5 steps equals 2 steps, a copy of the state (as a checkpoint holds it) into a new loss, and 3 more. */
function assertResumesExactly(name: string, params: Record<string, unknown>): void {
  const ctx = { numClasses: C, embeddingDim: 2, rng: new Rng(7) };
  const a = createLoss(name, params, { ...ctx, rng: new Rng(7) });
  setVar(a, 'W', W);
  runSteps(a, 5);
  const b = createLoss(name, params, { ...ctx, rng: new Rng(7) });
  setVar(b, 'W', W);
  runSteps(b, 2);
  const saved = stateOf(b);
  b.dispose();
  const c = createLoss(name, params, { ...ctx, rng: new Rng(99) });
  setVar(c, 'W', W);
  c.setCounters(saved.counters);
  for (const [k, v] of Object.entries(c.stateVariables())) {
    const t = tf.tensor(saved.state[k]!, v.shape);
    v.assign(t);
    t.dispose();
  }
  runSteps(c, 3, 2);
  assert.deepEqual(stateOf(c), stateOf(a), `${name}: resumed state`);
  assert.equal(lossValue(c, X, Y), lossValue(a, X, Y), `${name}: the next step's loss, bit for bit`);
  a.dispose();
  c.dispose();
}

/** compute (training or not) changes no state; afterStep does. */
function assertStateMovesOnlyInAfterStep(loss: Loss): void {
  const s0 = stateOf(loss);
  lossValue(loss, X, Y, true);
  lossValue(loss, X, Y, false);
  autoGradX(loss, X, Y);
  assert.deepEqual(stateOf(loss), s0, `${loss.name}: compute moved the state`);
  runSteps(loss, 1);
  assert.notDeepEqual(stateOf(loss), s0, `${loss.name}: afterStep did not move the state`);
}

// ---------------------------------------------------------------- Sub-center ArcFace

describe('subcenter_arcface', () => {
  const K = 3;
  // W [2, C·K]: column c·K + j is sub-center j of class c, at 10° + 90°·c + (j − 1)·35°, lengths varying.
  const WS: Mat = weightsFromClassVectors(
    Array.from({ length: C * K }, (_, q) => polar(10 + 90 * Math.floor(q / K) + ((q % K) - 1) * 35, 0.6 + 0.15 * q)),
  );
  /**
   * pytorch-metric-learning's SubCenterArcFaceLoss, re-computed in plain numbers from its source:
   * cosine = CosineSimilarity(embeddings, W.t()) [N, C·K], .view(-1, C, K).max(axis=2); target
   * cos(acos(clamp(c, −1, 1)) + margin); logits·scale; CrossEntropyLoss, mean reducer.
   */
  function pmlSubCenter(x: Mat, y: number[], w: Mat, s: number, m: number, k: number): number {
    const all = cosines(x, w);
    const classes = all.map((row) => Array.from({ length: row.length / k }, (_, c) => Math.max(...row.slice(c * k, c * k + k))));
    const logits = classes.map((row, i) => row.map((c, j) => s * (j === y[i] ? Math.cos(Math.acos(Math.min(1, Math.max(-1, c))) + m) : c)));
    return meanCrossEntropy(logits, y);
  }

  test('W is [embeddingDim, numClasses·K]; the class cosine is the largest sub-center cosine (column c·K + j)', () => {
    const loss = makeWithW('subcenter_arcface', { k: K }, C, WS) as SubCenterArcFaceLoss;
    assert.deepEqual(loss.W.shape, [2, C * K]);
    const got = tf.tidy(() => loss.cosines(tf.tensor2d(X)).arraySync() as Mat);
    const all = cosines(X, WS);
    assertAllClose(got.flat(), all.flatMap((r) => [0, 1, 2, 3].map((c) => Math.max(r[3 * c]!, r[3 * c + 1]!, r[3 * c + 2]!))), { abs: 1e-6 }, 'class cosines');
    const dom = tf.tidy(() => Array.from(loss.dominantSubCenters(tf.tensor2d(X), tf.tensor1d(Y, 'int32')).dataSync()));
    assert.deepEqual(dom, Y.map((c, i) => [0, 1, 2].reduce((b, j) => (all[i]![3 * c + j]! > all[i]![3 * c + b]! ? j : b), 0)));
    loss.dispose();
  });
  test("equals pytorch-metric-learning's SubCenterArcFaceLoss (re-computed from its formulas): value to 1e-6, gradients to 2e-6 (float32)", () => {
    // The toolkit computes in float32: at s = 4 values agree to 1e-6 and gradients to 2e-6 absolute
    // (float32 rounding of sums that partly cancel); at s = 32 the logits carry 32× the rounding of
    // the cosines, so there the bound is 2e-6 absolute plus 1e-4 relative.
    for (const [s, m, x, rel] of [
      [4, 0.3, X, 0],
      [4, 0.5, edges[3]![1], 0], // θ_y + m past π: no rule there, as in pytorch-metric-learning
      [32, 0.5, X, 1e-4],
      [32, 0.5, edges[3]![1], 1e-4],
    ] as Array<[number, number, Mat, number]>) {
      const loss = makeWithW('subcenter_arcface', { s, m, k: K, boundary: 'always' }, C, WS);
      const ref = (xx: Mat, ww: Mat) => pmlSubCenter(xx, Y, ww, s, m, K);
      assertClose(lossValue(loss, x, Y), ref(x, WS), { abs: 1e-6, rel }, `value s ${s} m ${m}`);
      assertGradientsMatch(loss, ref, x, Y, WS, { abs: 2e-6, rel }, `s ${s} m ${m}`);
      loss.dispose();
    }
  });
  test('only the dominant sub-center of each class gets a gradient from a sample', () => {
    const loss = makeWithW('subcenter_arcface', { k: K }, C, WS);
    const x = [X[0]!];
    const gW = autoGradVars(loss, x, [0]).W!; // [2, 12] row-major
    const all = cosines(x, WS)[0]!;
    for (let c = 0; c < C; c++) {
      const best = [0, 1, 2].reduce((b, j) => (all[3 * c + j]! > all[3 * c + b]! ? j : b), 0);
      for (let j = 0; j < K; j++) {
        const moved = Math.abs(gW[3 * c + j]!) + Math.abs(gW[12 + 3 * c + j]!) > 0;
        assert.equal(moved, j === best, `class ${c} sub-center ${j}`);
      }
    }
    loss.dispose();
  });
  test('K = 1 is ArcFace (every boundary rule); the default rule differs from pytorch-metric-learning only past π − m; defaults', () => {
    const far = edges[3]![1];
    for (const rule of ['fallback', 'easy', 'none'] as const) {
      const one = makeWithW('subcenter_arcface', { k: 1, boundary: rule }, C, W);
      const arc = makeWithW('arcface', { boundary: rule }, C, W);
      for (const x of [X, far]) assertClose(lossValue(one, x, Y), lossValue(arc, x, Y), { abs: 1e-6 }, `K = 1, ${rule}`);
      one.dispose();
      arc.dispose();
    }
    const def = makeWithW('subcenter_arcface', {}, C, WS);
    assertClose(lossValue(def, X, Y), pmlSubCenter(X, Y, WS, 32, 0.5, K), { abs: 1e-6, rel: 1e-4 }, 'inside π − m: the same as pytorch-metric-learning');
    def.dispose();
    const k1 = makeWithW('subcenter_arcface', { k: 1 }, C, W);
    assert.ok(Math.abs(lossValue(k1, far, Y) - pmlSubCenter(far, Y, W, 32, 0.5, 1)) > 1e-2, 'past π − m the fallback differs');
    k1.dispose();
    const one = makeWithW('subcenter_arcface', { k: 1 }, C, W);
    checkGradients(one, X, Y);
    one.dispose();
    assert.deepEqual(resolveParams(getLossDefinition('subcenter_arcface'), {}, { numClasses: 10, embeddingDim: 2 }), { s: 32, m: 0.5, boundary: 'fallback', k: 3 });
    expectConfigError('subcenter_arcface', { k: 0 }, 'loss.params.k', /k must be >= 1/);
    expectConfigError('subcenter_arcface', { k: 2.5 }, 'loss.params.k', /integer/);
  });
  test('no NaN/Inf at the edges', () => {
    const loss = makeWithW('subcenter_arcface', {}, C, WS);
    for (const [what, x] of edges) assertFiniteEverywhere(loss, x, Y, what);
    loss.dispose();
  });
});

// ---------------------------------------------------------------- AdaCos

describe('adacos', () => {
  /** The reference implementation's new scale from the previous one and a batch's cosines (plain numbers). */
  function adacosScale(cs: Mat, y: number[], sPrev: number): number {
    const bAvg = cs.reduce((acc, row, i) => acc + row.reduce((a, c, j) => a + (j === y[i] ? 0 : Math.exp(sPrev * c)), 0), 0) / cs.length;
    const thetas = cs.map((row, i) => Math.acos(Math.min(1 - 1e-7, Math.max(-1 + 1e-7, row[y[i]!]!)))).sort((a, b) => a - b);
    const med = thetas[(thetas.length - 1) >> 1]!; // torch.median: the lower middle value
    return Math.min(32, Math.max(1, Math.log(bAvg) / Math.cos(Math.min(Math.PI / 4, med))));
  }
  const plain = (x: Mat, w: Mat, s: number) => meanCrossEntropy(cosines(x, w).map((r) => r.map((c) => s * c)), Y);

  test('fixed: s = √2·ln(C − 1); dynamic: s = ln B_avg / cos(min(π/4, θ_med)) from the batch, lower median', () => {
    assertClose(adacosFixedScale(10), Math.SQRT2 * Math.log(9), { abs: 1e-12 }, 'C = 10');
    const fixed = makeWithW('adacos', { variant: 'fixed' }, C, W);
    assertClose(lossValue(fixed, X, Y), plain(X, W, Math.SQRT2 * Math.log(3)), { rel: 1e-5 }, 'fixed');
    const dyn = makeWithW('adacos', {}, C, W) as AdaCosLoss;
    const s = adacosScale(cosines(X, W), Y, Math.SQRT2 * Math.log(3));
    assertClose(lossValue(dyn, X, Y), plain(X, W, s), { rel: 1e-5 }, 'dynamic');
    // Odd batch: the median is the middle value.
    const x3 = X.slice(0, 3);
    const s3 = adacosScale(cosines(x3, W), Y.slice(0, 3), Math.SQRT2 * Math.log(3));
    assertClose(lossValue(dyn, x3, Y.slice(0, 3)), meanCrossEntropy(cosines(x3, W).map((r) => r.map((c) => s3 * c)), Y.slice(0, 3)), { rel: 1e-5 }, 'odd batch');
    // Evaluation uses the kept scale.
    assertClose(lossValue(dyn, X, Y, false), plain(X, W, Math.SQRT2 * Math.log(3)), { rel: 1e-5 }, 'evaluation');
    // afterStep keeps the batch's scale; the next batch starts from it.
    tf.tidy(() => dyn.afterStep(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
    assertClose(dyn.s.dataSync()[0]!, s, { rel: 1e-5 }, 'kept scale');
    assertClose(lossValue(dyn, X, Y), plain(X, W, adacosScale(cosines(X, W), Y, s)), { rel: 1e-5 }, 'second step');
    fixed.dispose();
    dyn.dispose();
  });
  test('no gradient through the scale: gradients are those of s·cos with s held at the batch value', () => {
    const dyn = makeWithW('adacos', {}, C, W);
    const s = adacosScale(cosines(X, W), Y, Math.SQRT2 * Math.log(3));
    assertGradientsMatch(dyn, (x, w) => plain(x, w, s), X, Y, W);
    const fixed = makeWithW('adacos', { variant: 'fixed' }, C, W);
    checkGradients(fixed, X, Y);
    dyn.dispose();
    fixed.dispose();
  });
  test('the dynamic scale stays in [1, max_scale]: a batch whose negatives lie closer than its targets', () => {
    // Every sample 100° from its class and 10° from the next class: the unbounded scale would be
    // ln B_avg / cos(π/4) with B_avg > e^{s·0.98}, larger than s, and grow every step.
    const x: Mat = [polar(110, 1), polar(190, 1), polar(280, 1), polar(20, 1)];
    const loss = makeWithW('adacos', { max_scale: 6 }, C, W) as AdaCosLoss;
    for (let i = 0; i < 4; i++) tf.tidy(() => loss.afterStep(tf.tensor2d(x), tf.tensor1d(Y, 'int32')));
    assert.equal(loss.s.dataSync()[0], 6);
    assert.ok(Number.isFinite(lossValue(loss, x, Y)));
    loss.dispose();
  });
  test('the scale moves only in afterStep and resumes exactly; the fixed variant keeps no state', () => {
    assertStateMovesOnlyInAfterStep(makeWithW('adacos', {}, C, W));
    assertResumesExactly('adacos', {});
    const fixed = makeWithW('adacos', { variant: 'fixed' }, C, W);
    assert.deepEqual(Object.keys(fixed.stateVariables()), []);
    assert.equal(fixed.displayName, 'AdaCosLoss_fixed');
    fixed.dispose();
    expectConfigError('adacos', {}, 'loss.params', /at least 3 classes/, { numClasses: 2, embeddingDim: 2 });
  });
  test('warmupSteps: the starting scale for the first training steps, then the scale adapts; the step count resumes exactly', () => {
    const s0 = Math.SQRT2 * Math.log(3);
    const dyn = makeWithW('adacos', { warmupSteps: 2 }, C, W) as AdaCosLoss;
    assert.notEqual(adacosScale(cosines(X, W), Y, s0), s0, 'the fixture tells the two apart');
    for (let step = 0; step < 2; step++) {
      assertClose(lossValue(dyn, X, Y), plain(X, W, s0), { rel: 1e-5 }, `training step ${step + 1}: the starting scale`);
      tf.tidy(() => dyn.afterStep(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
      assertClose(dyn.s.dataSync()[0]!, s0, { rel: 1e-6 }, `kept scale after step ${step + 1}`);
    }
    assert.deepEqual(dyn.getCounters(), { steps: 2 });
    const s = adacosScale(cosines(X, W), Y, s0);
    assertClose(lossValue(dyn, X, Y), plain(X, W, s), { rel: 1e-5 }, 'step 3 adapts');
    tf.tidy(() => dyn.afterStep(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
    assertClose(dyn.s.dataSync()[0]!, s, { rel: 1e-5 }, 'kept scale after step 3');
    dyn.dispose();
    assertResumesExactly('adacos', { warmupSteps: 3 });
  });
  test('no NaN/Inf at the edges, both variants', () => {
    for (const variant of ['dynamic', 'fixed']) {
      const loss = makeWithW('adacos', { variant }, C, W);
      for (const [what, x] of edges) assertFiniteEverywhere(loss, x, Y, `${variant}, ${what}`);
      loss.dispose();
    }
  });
});

// ---------------------------------------------------------------- CurricularFace

describe('curricularface', () => {
  const s = 32;
  const m = 0.5;
  /** The authors' forward in plain numbers, with t already moved by the batch (tUsed). */
  function curricular(x: Mat, w: Mat, tUsed: number): number {
    const cs = cosines(x, w);
    const logits = cs.map((row, i) => {
      const cy = row[Y[i]!]!;
      const sin = Math.sqrt(1 - cy * cy);
      const cosThetaM = cy * Math.cos(m) - sin * Math.sin(m);
      const target = cy > Math.cos(Math.PI - m) ? cosThetaM : cy - Math.sin(Math.PI - m) * m;
      return row.map((c, j) => s * (j === Y[i] ? target : c > cosThetaM ? c * (tUsed + c) : c));
    });
    return meanCrossEntropy(logits, Y);
  }
  const meanTarget = (x: Mat, w: Mat) => mean(cosines(x, w).map((r, i) => r[Y[i]!]!));

  test('value: ArcFace target, hard negatives cos θ_j·(t + cos θ_j), t moved by the batch with momentum 0.01', () => {
    const cs = cosines(X, W);
    const hard = cs.some((row, i) => row.some((c, j) => j !== Y[i] && c > Math.cos(Math.acos(row[Y[i]!]!) + m)));
    assert.ok(hard, 'the fixture has a hard negative');
    const loss = makeWithW('curricularface', {}, C, W);
    setVar(loss, 't', 0.3);
    const tUsed = 0.01 * meanTarget(X, W) + 0.99 * 0.3;
    assertClose(lossValue(loss, X, Y), curricular(X, W, tUsed), { rel: 1e-5 }, 'training');
    assertClose(lossValue(loss, X, Y, false), curricular(X, W, 0.3), { rel: 1e-5 }, 'evaluation uses the kept t');
    assert.notEqual(curricular(X, W, 0.3), curricular(X, W, 0.9), 'the fixture depends on t');
    tf.tidy(() => loss.afterStep?.(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
    assertClose(getVar(loss, 't') as unknown as number, tUsed, { abs: 1e-7 }, 'afterStep keeps the t the step used');
    loss.dispose();
  });
  test('gradients: t held at its value (no gradient), finite differences of the plain forward', () => {
    const loss = makeWithW('curricularface', {}, C, W);
    setVar(loss, 't', 0.3);
    const tUsed = 0.01 * meanTarget(X, W) + 0.99 * 0.3;
    assertGradientsMatch(loss, (x, w) => curricular(x, w, tUsed), X, Y, W);
    loss.dispose();
    // With a momentum near 0 the batch cannot move t: the toolkit's own central differences agree.
    const still = makeWithW('curricularface', { momentum: 1e-9 }, C, W);
    setVar(still, 't', 0.3);
    checkGradients(still, X, Y);
    still.dispose();
  });
  test('t moves only in afterStep, starts at 0, resumes exactly; no NaN/Inf at the edges', () => {
    const loss = makeWithW('curricularface', {}, C, W);
    assert.equal(getVar(loss, 't') as unknown as number, 0);
    assertStateMovesOnlyInAfterStep(loss);
    assertResumesExactly('curricularface', {});
    const e = makeWithW('curricularface', {}, C, W);
    setVar(e, 't', 0.5);
    for (const [what, x] of edges) assertFiniteEverywhere(e, x, Y, what);
    e.dispose();
  });
  test('warmupSteps: ArcFace for the first training steps (t moving), then the curriculum; the step count resumes exactly', () => {
    const loss = makeWithW('curricularface', { warmupSteps: 2 }, C, W);
    const arc = makeWithW('arcface', { s, m }, C, W);
    setVar(loss, 't', 0.3);
    const arcValue = lossValue(arc, X, Y);
    const tUsed = 0.01 * meanTarget(X, W) + 0.99 * 0.3;
    assert.notEqual(arcValue, curricular(X, W, tUsed), 'the fixture tells the two apart');
    for (let step = 0; step < 2; step++) {
      assertClose(lossValue(loss, X, Y), arcValue, { rel: 1e-6 }, `training step ${step + 1}: ArcFace`);
      tf.tidy(() => loss.afterStep?.(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
    }
    assert.deepEqual(loss.getCounters(), { steps: 2 });
    const t2 = getVar(loss, 't') as unknown as number;
    assert.ok(t2 > 0.3, 't moved during the warm-up');
    assertClose(lossValue(loss, X, Y), curricular(X, W, 0.01 * meanTarget(X, W) + 0.99 * t2), { rel: 1e-5 }, 'step 3: the curriculum');
    assertClose(lossValue(loss, X, Y, false), curricular(X, W, t2), { rel: 1e-5 }, 'evaluation always uses the curriculum');
    loss.dispose();
    arc.dispose();
    // 5 steps in one go equal 2 steps, a save, and 3 more: the warm-up ends inside the second part.
    assertResumesExactly('curricularface', { warmupSteps: 3 });
  });
});

// ---------------------------------------------------------------- AdaFace

describe('adaface', () => {
  const P = { s: 32, m: 0.09, h: 0.333, t_alpha: 0.01 };
  const eps = ADAFACE_EPS;
  /** ẑ of each row with the statistics moved by the batch (the authors' head.py, plain numbers). */
  function quality(x: Mat, mu0: number, sd0: number, alpha = P.t_alpha): number[] {
    const n = x.map((r) => Math.min(100, Math.max(0.001, norm(r))));
    const mu = mean(n);
    const sd = Math.sqrt(n.reduce((a, v) => a + (v - mu) ** 2, 0) / (n.length - 1));
    const bm = alpha * mu + (1 - alpha) * mu0;
    const bs = alpha * sd + (1 - alpha) * sd0;
    return n.map((v) => Math.min(1, Math.max(-1, (P.h * (v - bm)) / (bs + eps))));
  }
  function adaface(x: Mat, w: Mat, z: number[]): number {
    const cs = cosines(x, w);
    const logits = cs.map((row, i) =>
      row.map((c0, j) => {
        const c = Math.min(1 - eps, Math.max(-1 + eps, c0));
        if (j !== Y[i]) return P.s * c;
        const theta = Math.min(Math.PI - eps, Math.max(eps, Math.acos(c) - P.m * z[i]!));
        return P.s * (Math.cos(theta) - (P.m * z[i]! + P.m));
      }),
    );
    return meanCrossEntropy(logits, Y);
  }

  test('value: ẑ from the norm and the running statistics (moved by the batch), g_angle = −mẑ, g_add = mẑ + m', () => {
    const loss = makeWithW('adaface', P, C, W);
    assert.equal(getVar(loss, 'norm_mean') as unknown as number, ADAFACE_INIT_MEAN);
    assert.equal(getVar(loss, 'norm_std') as unknown as number, ADAFACE_INIT_STD);
    setVar(loss, 'norm_mean', 1.4);
    setVar(loss, 'norm_std', 0.25);
    const z = quality(X, 1.4, 0.25);
    assert.ok(z.some((v) => v === -1) && z.some((v) => v > 0) && z.some((v) => Math.abs(v) < 1), `the fixture spans ẑ: ${z}`);
    assertClose(lossValue(loss, X, Y), adaface(X, W, z), { rel: 1e-5 }, 'training');
    assertClose(lossValue(loss, X, Y, false), adaface(X, W, quality(X, 1.4, 0.25, 0)), { rel: 1e-5 }, 'evaluation uses the kept statistics');
    tf.tidy(() => loss.afterStep?.(tf.tensor2d(X), tf.tensor1d(Y, 'int32')));
    const n = X.map(norm);
    const sd = Math.sqrt(n.reduce((a, v) => a + (v - mean(n)) ** 2, 0) / 3);
    assertClose(getVar(loss, 'norm_mean') as unknown as number, 0.01 * mean(n) + 0.99 * 1.4, { abs: 1e-6 }, 'μ');
    assertClose(getVar(loss, 'norm_std') as unknown as number, 0.01 * sd + 0.99 * 0.25, { abs: 1e-6 }, 'σ (N − 1)');
    loss.dispose();
  });
  test('the margin follows the norm: ẑ = −1 is ArcFace, ẑ = 0 CosFace, ẑ = 1 cos(θ − m) − 2m', () => {
    const c = Math.cos(1.0);
    const row = (z: number) => {
      const theta = Math.min(Math.PI - eps, Math.max(eps, Math.acos(c) - P.m * z));
      return Math.cos(theta) - (P.m * z + P.m);
    };
    assertClose(row(-1), Math.cos(1.0 + P.m), { abs: 1e-12 }, 'low norm');
    assertClose(row(0), c - P.m, { abs: 1e-12 }, 'mean norm');
    assertClose(row(1), Math.cos(1.0 - P.m) - 2 * P.m, { abs: 1e-12 }, 'high norm');
    // The same through the loss: two samples at the same angle, norms far below and far above μ.
    const loss = makeWithW('adaface', P, C, W);
    setVar(loss, 'norm_mean', 2);
    setVar(loss, 'norm_std', 0.1);
    const lossAt = (r: number) => lossValue(loss, [polar(10 + (1.0 * 180) / Math.PI, r)], [0], false);
    assert.ok(lossAt(5) > lossAt(0.5), 'at the same angle a high-norm sample gets the larger margin (cos(θ − m) − 2m < cos(θ + m) here)');
    loss.dispose();
  });
  test('gradients: ẑ held at its value (no gradient), finite differences of the plain forward', () => {
    const loss = makeWithW('adaface', P, C, W);
    setVar(loss, 'norm_mean', 1.4);
    setVar(loss, 'norm_std', 0.25);
    const z = quality(X, 1.4, 0.25);
    assertGradientsMatch(loss, (x, w) => adaface(x, w, z), X, Y, W);
    loss.dispose();
  });
  test('2-D bound: a high-norm sample gets the cosine margin 2m, refused above 1 − cos(2π/C); the paper\'s 0.4 is fine in 3-D', () => {
    expectConfigError('adaface', { m: 0.4 }, 'loss.params.m', /AdaFace bound for a 2-D embedding.*2m.*0\.1910 .*use m <= 0\.095/);
    assert.equal(resolveParams(getLossDefinition('adaface'), { m: 0.4 }, { numClasses: 10, embeddingDim: 3 }).m, 0.4);
    assert.equal(resolveParams(getLossDefinition('adaface'), {}, { numClasses: 10, embeddingDim: 2 }).m, 0.08);
  });
  test('the statistics move only in afterStep and resume exactly; no NaN/Inf at the edges', () => {
    assertStateMovesOnlyInAfterStep(makeWithW('adaface', P, C, W));
    assertResumesExactly('adaface', P);
    const loss = makeWithW('adaface', P, C, W);
    setVar(loss, 'norm_mean', 1.4);
    setVar(loss, 'norm_std', 0.25);
    for (const [what, x] of edges) assertFiniteEverywhere(loss, x, Y, what);
    loss.dispose();
  });
});

// ---------------------------------------------------------------- ElasticFace

describe('elasticface', () => {
  const s = 32;
  function elastic(x: Mat, w: Mat, margins: number[], variant: 'arc' | 'cos'): number {
    const logits = cosines(x, w).map((row, i) =>
      row.map((c, j) => s * (j !== Y[i] ? c : variant === 'arc' ? Math.cos(Math.acos(c) + margins[i]!) : c - margins[i]!)),
    );
    return meanCrossEntropy(logits, Y);
  }
  const seeded = (params: Record<string, unknown>) => {
    const loss = createLoss('elasticface', params, { numClasses: C, embeddingDim: 2, rng: new Rng(5) }) as ElasticFaceLoss;
    setVar(loss, 'W', W);
    return loss;
  };

  test('per-sample margins drawn from N(m, σ) by the seeded generator; arc and cos targets', () => {
    for (const [variant, m] of [
      ['arc', 0.5],
      ['cos', 0.1],
    ] as const) {
      const loss = seeded({ variant, m, sigma: 0.05 });
      const draws = loss.nextMargins(4);
      assert.equal(new Set(draws).size, 4, 'four different margins');
      assertClose(lossValue(loss, X, Y), elastic(X, W, draws, variant), { rel: 1e-5 }, variant);
      assertClose(lossValue(loss, X, Y), lossValue(loss, X, Y), { abs: 0 }, `${variant}: compute draws the same until afterStep`);
      assertClose(lossValue(loss, X, Y, false), elastic(X, W, [m, m, m, m], variant), { rel: 1e-5 }, `${variant}: evaluation uses m`);
      runSteps(loss, 1);
      assert.notDeepEqual(loss.nextMargins(4), draws, 'afterStep moves the generator');
      loss.dispose();
    }
    // The draws are N(m, σ): mean and spread of many.
    const many = seeded({ m: 0.5, sigma: 0.05 }).nextMargins(20000);
    assertClose(mean(many), 0.5, { abs: 2e-3 }, 'mean');
    assertClose(Math.sqrt(mean(many.map((v) => (v - 0.5) ** 2))), 0.05, { abs: 2e-3 }, 'σ');
  });
  test("plus: sorted draws handed out as the authors' code does, sorted[argsort(cos θ_y, descending)]", () => {
    const loss = seeded({ plus: true });
    const draws = loss.nextMargins(4);
    const sorted = [...draws].sort((a, b) => a - b);
    const cy = cosines(X, W).map((r, i) => r[Y[i]!]!);
    const order = [0, 1, 2, 3].sort((a, b) => cy[b]! - cy[a]!);
    const margins = order.map((k) => sorted[k]!);
    assertClose(lossValue(loss, X, Y), elastic(X, W, margins, 'arc'), { rel: 1e-5 }, 'plus');
    assert.equal(loss.displayName, 'ElasticFaceLoss_plus');
    loss.dispose();
  });
  test('gradients: margins held at their draws, finite differences of the plain forward (arc, cos, plus)', () => {
    for (const params of [{ variant: 'arc' }, { variant: 'cos', m: 0.1 }, { plus: true }] as const) {
      const loss = seeded(params);
      const draws = loss.nextMargins(4);
      const variant: 'arc' | 'cos' = 'variant' in params && params.variant === 'cos' ? 'cos' : 'arc';
      let margins = draws;
      if ('plus' in params) {
        const sorted = [...draws].sort((a, b) => a - b);
        const cy = cosines(X, W).map((r, i) => r[Y[i]!]!);
        margins = [0, 1, 2, 3].sort((a, b) => cy[b]! - cy[a]!).map((k) => sorted[k]!);
      }
      assertGradientsMatch(loss, (x, w) => elastic(x, w, margins, variant), X, Y, W, undefined, JSON.stringify(params));
      loss.dispose();
    }
  });
  test('the generator state is the counters: compute moves nothing, a resumed run draws the same', () => {
    assertStateMovesOnlyInAfterStep(seeded({}));
    assertResumesExactly('elasticface', {});
    assertResumesExactly('elasticface', { plus: true, variant: 'cos', m: 0.1 });
    expectConfigError('elasticface', { variant: 'cos', m: 0.35 }, 'loss.params.m', /CosFace bound for a 2-D embedding.*0\.1910 .*use m <= 0\.191/);
    const p = resolveParams(getLossDefinition('elasticface'), { variant: 'cos', m: 0.35 }, { numClasses: 10, embeddingDim: 3 });
    assert.equal(p.m, 0.35, 'the 2-D bound does not apply in 3-D');
  });
  test('no NaN/Inf at the edges, every variant', () => {
    for (const params of [{}, { variant: 'cos', m: 0.1 }, { plus: true }]) {
      const loss = seeded(params);
      for (const [what, x] of edges) assertFiniteEverywhere(loss, x, Y, `${JSON.stringify(params)}, ${what}`);
      loss.dispose();
    }
  });
});

// ---------------------------------------------------------------- all five

test('all five build in 3-D too, train a step without leaking tensors, and give finite values', () => {
  const ctx = { numClasses: 10, embeddingDim: 3, rng: new Rng(1) };
  for (const name of ['subcenter_arcface', 'adacos', 'curricularface', 'adaface', 'elasticface']) {
    const loss = createLoss(name, {}, ctx);
    const x = Array.from({ length: 12 }, (_, i) => [Math.cos(i), Math.sin(2 * i), 0.3 * i - 1.5]);
    const y = Array.from({ length: 12 }, (_, i) => i % 10);
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) {
      tf.tidy(() => {
        const xt = tf.tensor2d(x);
        const yt = tf.tensor1d(y, 'int32');
        const g = tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, yt).loss)(xt);
        assert.ok(Array.from(g.dataSync()).every(Number.isFinite), `${name}: 3-D gradient`);
        loss.afterStep?.(xt, yt);
      });
    }
    assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
    assert.ok(Number.isFinite(lossValue(loss, x, y)), name);
    loss.dispose();
  }
});
