/**
 * The fused Adam kernel (src/kernels/adam-kernel.ts) gives bit-for-bit the composed update, on
 * wasm and cpu, and is the path that actually runs there.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend.js';
import { Adam, configureAdam } from '../src/train/optimizer.js';
import { countPaths } from '../src/kernels/fast-path.js';
import { Rng } from '../src/rng.js';

before(async () => {
  await initBackend('wasm');
});

async function run(backend: string, fused: boolean, wd: number): Promise<{ params: Float32Array[]; state: Float32Array[]; counts: Record<string, number> }> {
  await tf.setBackend(backend);
  configureAdam({ fused });
  try {
    const rng = new Rng(9);
    const shapes = [[3, 3, 4, 8], [8], [2, 10]];
    const vars: Record<string, tf.Variable> = {};
    shapes.forEach((s, i) => (vars[`v${i}`] = tf.variable(tf.tensor(rng.normalArray(s.reduce((a, b) => a * b, 1)), s))));
    const opt = new Adam(vars, { lr: 3e-3, weightDecay: wd });
    const before = tf.memory().numTensors;
    const { counts } = countPaths(() => {
      for (let step = 0; step < 5; step++) {
        const grads: Record<string, tf.Tensor> = {};
        for (const [k, v] of Object.entries(vars)) grads[k] = tf.tensor(rng.normalArray(v.size, step === 2 ? 1e-6 : 1), v.shape);
        opt.lr = 3e-3 * (1 - 0.1 * step);
        opt.apply(grads);
        tf.dispose(Object.values(grads));
      }
    });
    assert.equal(tf.memory().numTensors, before, `${backend} fused=${fused}: tensors leaked`);
    const st = await opt.getState();
    const out = {
      params: Object.values(vars).map((v) => v.dataSync() as Float32Array),
      state: [...Object.values(st.m), ...Object.values(st.v)],
      counts,
    };
    opt.dispose();
    tf.dispose(Object.values(vars));
    return out;
  } finally {
    configureAdam({ fused: true });
  }
}

for (const backend of ['wasm', 'cpu']) {
  test(`fused Adam kernel on ${backend}: bit-identical to the composed update (with and without weight decay), and it ran`, async () => {
    for (const wd of [1e-4, 0]) {
      const a = await run(backend, true, wd);
      const b = await run(backend, false, wd);
      assert.equal(a.counts['adam.fused'], 15, JSON.stringify(a.counts));
      assert.equal(a.counts['adam.composed'] ?? 0, 0);
      assert.equal(b.counts['adam.composed'], 15);
      for (let i = 0; i < a.params.length; i++) assert.deepEqual(a.params[i], b.params[i], `param ${i} wd=${wd}`);
      for (let i = 0; i < a.state.length; i++) assert.deepEqual(a.state[i], b.state[i], `state ${i} wd=${wd}`);
    }
  });
}
