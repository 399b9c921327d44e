import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend.js';
import { createLoss } from '../src/losses/registry.js';
import { createFeatureNet } from '../src/model/net.js';
import { Adam } from '../src/train/optimizer.js';
import { trainStep, trainableVariables } from '../src/train/step.js';
import { Rng } from '../src/rng.js';

test('no tensor leak across training steps (wasm backend)', async () => {
  await initBackend('wasm');
  const rng = new Rng(1);
  const net = createFeatureNet(rng);
  const loss = createLoss('softmax', {}, { numClasses: 10, embeddingDim: 2, rng });
  const vars = trainableVariables(net, loss);
  const opt = new Adam(vars, { lr: 1e-3, weightDecay: 1e-4 });
  const x = tf.tensor4d(rng.normalArray(16 * 28 * 28), [16, 28, 28, 1]);
  const y = tf.tensor1d(new Int32Array(16).map((_, i) => i % 10), 'int32');
  const step = () =>
    tf.tidy(() => {
      const r = trainStep(net, loss, opt, vars, x, y);
      return r.loss.dataSync()[0]!;
    });
  const first = step();
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 20; i++) last = step();
  assert.equal(tf.memory().numTensors, before, 'tensor count is stable across steps');
  assert.ok(Number.isFinite(last));
  assert.ok(last < first, `loss decreases on a fixed batch: ${first} -> ${last}`);
  opt.dispose();
  loss.dispose();
  net.dispose();
  tf.dispose([x, y]);
});

test('the reference network: shapes, parameter count, He-normal (fan_out) scale', async () => {
  await initBackend('wasm');
  const net = createFeatureNet(new Rng(3));
  const out = tf.tidy(() => net.forward(tf.zeros([2, 28, 28, 1]) as tf.Tensor4D).shape);
  assert.deepEqual(out, [2, 2]);
  const n = Object.values(net.variables).reduce((a, v) => a + v.size, 0);
  // 3x3 convs 1-16-16-32-32-64-2 with biases
  const expect = [[1, 16], [16, 16], [16, 32], [32, 32], [32, 64], [64, 2]].reduce((a, [i, o]) => a + 9 * i! * o! + o!, 0);
  assert.equal(n, expect);
  const w = net.variables['conv5.w']!.dataSync() as Float32Array;
  const std = Math.sqrt(w.reduce((a: number, v: number) => a + v * v, 0) / w.length);
  assert.ok(Math.abs(std - Math.sqrt(2 / (9 * 64))) < 0.01, `std ${std}`);
  net.dispose();
});

test("the network's two conv expressions (tf.fused.conv2d, conv2dBiasAct) agree, forward and gradient", async () => {
  await initBackend('wasm');
  const a = createFeatureNet(new Rng(4), 2, { convOp: 'fused' });
  const b = createFeatureNet(new Rng(4), 2, { convOp: 'biasAct' }); // what 'auto' (the default) takes on wasm
  const x = tf.tensor4d(new Rng(9).normalArray(3 * 28 * 28), [3, 28, 28, 1]);
  const run = (net: typeof a) =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(net.forward(x))) as tf.Scalar, Object.values(net.variables));
      return [value.dataSync()[0]!, ...Object.values(grads).flatMap((g) => Array.from(g.dataSync().slice(0, 8)))];
    });
  const ra = run(a);
  const rb = run(b);
  const scale = Math.max(...ra.map(Math.abs));
  ra.forEach((v, i) => assert.ok(Math.abs(v - rb[i]!) <= 1e-4 * scale, `value ${i}: ${v} vs ${rb[i]}`));
  a.dispose();
  b.dispose();
  x.dispose();
});
