/**
 * Center loss: value, gradients, the paper's center update checked by hand, and the centers'
 * status (state, not trainable, moved only by afterStep).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Mat,
  assertAllClose,
  assertClose,
  assertFiniteEverywhere,
  autoGradVars,
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
  useCpu,
  weightsFromClassVectors,
} from './losses-helpers.js';

before(useCpu);

const W: Mat = weightsFromClassVectors([polar(10, 1.3), polar(100, 0.7), polar(200, 1.1)]);
const X: Mat = [
  [1.0, 2.0],
  [3.0, -1.0],
  [-2.0, 0.5],
  [0.5, 1.5],
];
const Y = [0, 1, 2, 0];
const C = 3;

const linear = (x: Mat, w: Mat) => x.map((xi) => Array.from({ length: numCols(w) }, (_, j) => dot(xi, col(w, j))));
const centerTerm = (x: Mat, y: number[], c: Mat) => 0.5 * mean(x.map((xi, i) => (xi[0]! - c[y[i]!]![0]!) ** 2 + (xi[1]! - c[y[i]!]![1]!) ** 2));

const step = (loss: ReturnType<typeof make>, x: Mat, y: number[]) =>
  tf.tidy(() => loss.afterStep!(tf.tensor2d(x), tf.tensor1d(y, 'int32')));

describe('center', () => {
  test('centers are a zero-initialised [C, D] state variable, not trainable', () => {
    const loss = make('center', {}, C);
    assert.deepEqual(Object.keys(loss.trainableVariables()), ['W']);
    assert.deepEqual(Object.keys(loss.stateVariables()), ['centers']);
    const c = loss.stateVariables().centers!;
    assert.equal(c.trainable, false);
    assert.deepEqual(c.shape, [C, 2]);
    assert.deepEqual(getVar(loss, 'centers'), [
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    assert.deepEqual(loss.titleParams(), { loss_weight: 0.01 });
    assert.equal(loss.displayName, 'CenterLoss');
    loss.dispose();
  });

  test('value = CE(x·W) + λ·½·mean‖x − c_y‖²', () => {
    const loss = makeWithW('center', { loss_weight: 0.3 }, C, W);
    const centers: Mat = [
      [0.5, 1.0],
      [2.0, 0.0],
      [-1.0, -1.0],
    ];
    setVar(loss, 'centers', centers);
    assertClose(lossValue(loss, X, Y), meanCrossEntropy(linear(X, W), Y) + 0.3 * centerTerm(X, Y, centers), { rel: 1e-5 }, 'center');
    loss.dispose();
  });

  test('gradients (x, W) match central differences; no gradient reaches the centers', () => {
    const loss = makeWithW('center', { loss_weight: 0.3 }, C, W);
    setVar(loss, 'centers', [
      [0.5, 1.0],
      [2.0, 0.0],
      [-1.0, -1.0],
    ]);
    checkGradients(loss, X, Y);
    assert.deepEqual(Object.keys(autoGradVars(loss, X, Y)), ['W']);
    loss.dispose();
  });

  test('update: Δc_j = Σ_{y_i = j}(c_j − x_i)/(1 + n_j), c_j ← c_j − α·Δc_j, by hand', () => {
    const loss = make('center', { alpha: 0.5 }, C);
    // Step 1 from zero centers. Class 0: x0 = (1, 2), x3 = (0.5, 1.5), n = 2:
    //   Δc0 = ((0 − 1) + (0 − 0.5), (0 − 2) + (0 − 1.5)) / 3 = (−0.5, −7/6); c0 = −0.5·Δc0 = (0.25, 7/12).
    // Class 1: x1 = (3, −1), n = 1: Δc1 = (−3, 1)/2; c1 = (0.75, −0.25).
    // Class 2: x2 = (−2, 0.5): Δc2 = (2, −0.5)/2; c2 = (−0.5, 0.125).
    step(loss, X, Y);
    assertAllClose(getVar(loss, 'centers').flat(), [0.25, 7 / 12, 0.75, -0.25, -0.5, 0.125], { abs: 1e-6 }, 'step 1');
    // Step 2, a batch without class 2 (its center must not move).
    // Class 0: x = (1, 1), n = 1: Δc0 = (0.25 − 1, 7/12 − 1)/2 = (−0.375, −5/24); c0 = (0.4375, 0.6875).
    // Class 1: x = (2, 0) and (1, −1), n = 2: Δc1 = ((0.75 − 2) + (0.75 − 1), (−0.25 − 0) + (−0.25 + 1))/3 = (−0.5, 1/6);
    //   c1 = (1.0, −1/3).
    step(loss, [[1, 1], [2, 0], [1, -1]], [0, 1, 1]);
    assertAllClose(getVar(loss, 'centers').flat(), [0.4375, 0.6875, 1.0, -1 / 3, -0.5, 0.125], { abs: 1e-6 }, 'step 2');
    loss.dispose();
  });

  test('compute (training or not) never moves the centers', () => {
    const loss = make('center', {}, C);
    lossValue(loss, X, Y, true);
    lossValue(loss, X, Y, false);
    assert.deepEqual(getVar(loss, 'centers').flat(), [0, 0, 0, 0, 0, 0]);
    loss.dispose();
  });

  test('no NaN/Inf at the edges', () => {
    const loss = makeWithW('center', {}, C, W);
    assertFiniteEverywhere(loss, [[0, 0], polar(100, 2), polar(20, 3), polar(190, 1)], Y);
    loss.dispose();
  });
});
