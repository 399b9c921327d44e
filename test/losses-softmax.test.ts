/**
 * Linear-classifier losses: Softmax (with and without bias), L2-Softmax (fixed and trainable α,
 * the α_low warning), Ring loss (trainable R) and Focal loss (with and without per-class α).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { l2softmaxAlphaLow } from '../src/losses/l2softmax.js';
import { LossConfigError, getLossDefinition, resolveParams } from '../src/losses/registry.js';
import {
  type Mat,
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
  norm,
  numCols,
  polar,
  setVar,
  unit,
  useCpu,
  weightsFromClassVectors,
} from './losses-helpers.js';

before(useCpu);

const W: Mat = weightsFromClassVectors([polar(10, 1.3), polar(100, 0.7), polar(200, 1.1)]);
const X: Mat = [polar(30, 1.5), polar(80, 0.8), polar(250, 2.0), polar(160, 1.2)];
const Y = [0, 1, 2, 0];
const C = 3;

const linear = (x: Mat, w: Mat, b?: number[]) =>
  x.map((xi) => Array.from({ length: numCols(w) }, (_, j) => dot(xi, col(w, j)) + (b ? b[j]! : 0)));

/** Edge embeddings for class labels Y: zero, parallel and anti-parallel to W_y. */
const EDGES: Mat = [[0, 0], polar(100, 2), polar(20, 3), polar(190, 1)];

describe('softmax', () => {
  test('value, gradients (x, W), edges', () => {
    const loss = makeWithW('softmax', {}, C, W);
    assertClose(lossValue(loss, X, Y), meanCrossEntropy(linear(X, W), Y), { rel: 1e-5 }, 'softmax');
    checkGradients(loss, X, Y);
    assertFiniteEverywhere(loss, EDGES, Y);
    assert.equal(loss.displayName, 'SoftmaxLoss');
    loss.dispose();
  });
  test('with bias: value and gradients (x, W, b)', () => {
    const loss = make('softmax', { bias: true }, C);
    assert.equal(loss.displayName, 'SoftmaxLoss_bias');
    setVar(loss, 'W', W);
    const b = [0.3, -0.2, 0.1];
    loss.trainableVariables().b!.assign(tf.tensor1d(b));
    assertClose(lossValue(loss, X, Y), meanCrossEntropy(linear(X, W, b), Y), { rel: 1e-5 }, 'softmax bias');
    checkGradients(loss, X, Y);
    loss.dispose();
  });
});

describe('l2softmax', () => {
  const ref = (x: Mat, w: Mat, alpha: number) => meanCrossEntropy(linear(x.map((xi) => unit(xi).map((v) => v * alpha)), w), Y);
  test('value = CE of W·(α x/‖x‖); α trainable by default', () => {
    const loss = make('l2softmax', {}, C);
    assert.deepEqual(Object.keys(loss.trainableVariables()).sort(), ['W', 'alpha']);
    setVar(loss, 'W', W);
    assertClose(lossValue(loss, X, Y), ref(X, W, 1), { rel: 1e-5 }, 'alpha 1');
    setVar(loss, 'alpha', 16);
    assertClose(lossValue(loss, X, Y), ref(X, W, 16), { rel: 1e-5 }, 'alpha 16');
    assert.deepEqual(loss.titleParams(), { alpha: 1, trainable: true });
    loss.dispose();
  });
  test('gradients (x, W, α) match central differences', () => {
    const loss = makeWithW('l2softmax', { alpha: 3 }, C, W);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('fixed α is state, not trainable', () => {
    const loss = make('l2softmax', { alpha: 16, trainable: false }, C);
    assert.deepEqual(Object.keys(loss.trainableVariables()), ['W']);
    assert.deepEqual(Object.keys(loss.stateVariables()), ['alpha']);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('α_low(C, D): 10 classes evenly on the circle in 2-D, the regular simplex in 3-D and beyond', () => {
    // 2-D: at α_low the nine other classes at 36°·k give the target exactly p = 0.9
    const a2 = l2softmaxAlphaLow(10, 2);
    let rest = 0;
    for (let k = 1; k < 10; k++) rest += Math.exp(a2 * Math.cos((2 * Math.PI * k) / 10));
    assertClose(Math.exp(a2) / (Math.exp(a2) + rest), 0.9, { abs: 1e-9 }, 'p at α_low (2-D)');
    assertClose(a2, 15.137, { abs: 1e-3 }, 'α_low 2-D');
    // D >= 3 (C = 10): the simplex (every other class at cos −1/9) is the best any arrangement does
    const simplex = 0.9 * Math.log(81);
    for (const D of [3, 4, 9, 32]) assertClose(l2softmaxAlphaLow(10, D), simplex, { abs: 1e-12 }, `α_low ${D}-D`);
    const a = simplex;
    assertClose(Math.exp(a) / (Math.exp(a) + 9 * Math.exp(-a / 9)), 0.9, { abs: 1e-9 }, 'p of the simplex at α_low');
    // three classes in 2-D: the simplex is the triangle, and both formulas agree
    assertClose(l2softmaxAlphaLow(3, 2), (2 / 3) * Math.log(18), { abs: 1e-9 }, 'α_low C = 3, 2-D');
  });
  test('warns (naming the key and α_low for the dimension) for a fixed α below α_low, not otherwise', () => {
    const def = getLossDefinition('l2softmax');
    const ctx = { numClasses: 10, embeddingDim: 2 };
    const warnings: string[] = [];
    resolveParams(def, { alpha: 1, trainable: false }, ctx, (m) => warnings.push(m));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^loss\.params\.alpha = 1 \(fixed\) is below the L2-Softmax lower bound α_low = the α with Σ_k e\^\{α\(cos\(2πk\/C\) − 1\)\} = \(1−p\)\/p \(classes evenly on the circle\) = 15\.137 for C = 10 classes in 2-D/);
    assert.match(warnings[0]!, /use alpha >= 15\.14 or trainable: true/);
    const in3d: string[] = [];
    resolveParams(def, { alpha: 3, trainable: false }, { numClasses: 10, embeddingDim: 3 }, (m) => in3d.push(m));
    assert.equal(in3d.length, 1);
    assert.match(in3d[0]!, /α_low = max\(\(C−1\)\/C·ln\(\(C−1\)p\/\(1−p\)\), ln\(p\/\(1−p\)\)\/\(1 − cos θ\*\)\) = 3\.955 for C = 10 classes in 3-D/);
    resolveParams(def, { alpha: 5, trainable: false }, { numClasses: 10, embeddingDim: 3 }, (m) => in3d.push(m));
    assert.equal(in3d.length, 1, 'α 5 is above the 3-D bound');
    const none: string[] = [];
    resolveParams(def, { alpha: 1, trainable: true }, ctx, (m) => none.push(m));
    resolveParams(def, { alpha: 16, trainable: false }, ctx, (m) => none.push(m));
    assert.deepEqual(none, []);
  });
  test('no NaN/Inf at the edges', () => {
    const loss = makeWithW('l2softmax', {}, C, W);
    assertFiniteEverywhere(loss, EDGES, Y);
    loss.dispose();
  });
});

describe('ring', () => {
  const ref = (x: Mat, w: Mat, R: number, lw: number) => {
    const wn = [w[0]!.map((_, j) => col(w, j)[0]! / norm(col(w, j))), w[1]!.map((_, j) => col(w, j)[1]! / norm(col(w, j)))];
    return meanCrossEntropy(linear(x, wn), Y) + lw * 0.5 * mean(x.map((xi) => (norm(xi) - R) ** 2));
  };
  test('value = CE(x·Ŵ) + λ·½·mean((‖x‖ − R)²); R readable and settable', () => {
    const loss = makeWithW('ring', {}, C, W);
    assertClose(lossValue(loss, X, Y), ref(X, W, 1, 0.1), { rel: 1e-5 }, 'R 1');
    setVar(loss, 'R', 2.5);
    assert.equal((loss.trainableVariables().R!.dataSync()[0]), 2.5);
    assertClose(lossValue(loss, X, Y), ref(X, W, 2.5, 0.1), { rel: 1e-5 }, 'R 2.5');
    assert.deepEqual(loss.titleParams(), { init_R: 1, loss_weight: 0.1 });
    loss.dispose();
  });
  test('gradients (x, W, R) match central differences', () => {
    const loss = makeWithW('ring', { R: 1.3, loss_weight: 0.5 }, C, W);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('no NaN/Inf at the edges', () => {
    const loss = makeWithW('ring', {}, C, W);
    assertFiniteEverywhere(loss, EDGES, Y);
    loss.dispose();
  });
});

describe('focal', () => {
  const ref = (x: Mat, w: Mat, gamma: number, alpha: number[] | null) => {
    const z = linear(x, w);
    return mean(
      z.map((zi, i) => {
        const mx = Math.max(...zi);
        const p = Math.exp(zi[Y[i]!]! - mx) / zi.reduce((s, v) => s + Math.exp(v - mx), 0);
        return -(alpha ? alpha[Y[i]!]! : 1) * (1 - p) ** gamma * Math.log(p);
      }),
    );
  };
  test('value = mean −α_y(1 − p_y)^γ log p_y, with and without α; γ = 0 is cross-entropy', () => {
    for (const [gamma, alpha] of [
      [2, null],
      [2, [0.25, 0.5, 1]],
      [0.5, null],
      [0, null],
    ] as Array<[number, number[] | null]>) {
      const loss = makeWithW('focal', { gamma, alpha }, C, W);
      assertClose(lossValue(loss, X, Y), ref(X, W, gamma, alpha), { rel: 1e-5 }, `γ=${gamma} α=${alpha}`);
      loss.dispose();
    }
    const ce = make('focal', { gamma: 0 }, C);
    setVar(ce, 'W', W);
    assertClose(lossValue(ce, X, Y), meanCrossEntropy(linear(X, W), Y), { rel: 1e-5 }, 'γ=0');
    ce.dispose();
  });
  test('gradients (x, W) match central differences', () => {
    const loss = makeWithW('focal', { gamma: 2, alpha: [0.25, 0.5, 1] }, C, W);
    checkGradients(loss, X, Y);
    loss.dispose();
  });
  test('no NaN/Inf at the edges, nor when p_y rounds to 1 (γ = 0.5)', () => {
    const loss = make('focal', { gamma: 0.5 }, C);
    setVar(loss, 'W', W.map((r) => r.map((v) => v * 100)));
    assertFiniteEverywhere(loss, EDGES, Y);
    assertFiniteEverywhere(loss, [polar(10, 50), polar(100, 50), polar(200, 50), polar(10, 50)], Y, 'p_y = 1');
    assert.deepEqual(loss.titleParams(), { alpha: null, gamma: 0.5 });
    loss.dispose();
  });
  test('alpha needs one weight per class', () => {
    assert.throws(
      () => resolveParams(getLossDefinition('focal'), { alpha: [1, 2] }, { numClasses: 10, embeddingDim: 2 }),
      (e: unknown) => e instanceof LossConfigError && e.key === 'loss.params.alpha' && /2 entries.*one per class \(10\)/.test(e.message),
    );
  });
});

test('class weights are readable and assignable', () => {
  for (const name of ['softmax', 'l2softmax', 'ring', 'focal']) {
    const loss = make(name, {}, C);
    assert.deepEqual(
      getVar(loss, 'W').map((r) => r.length),
      [C, C],
      `${name}: W is [embeddingDim, numClasses]`,
    );
    setVar(loss, 'W', W);
    assert.deepEqual(getVar(loss, 'W').flat().map((v) => Math.round(v * 1e5)), W.flat().map((v) => Math.round(v * 1e5)));
    loss.dispose();
  }
});
