/**
 * The webgpu engine against the cpu engine, on whatever WebGPU adapter this process gets (run by
 * test/webgpu.test.ts with Mesa's lavapipe; not a test file of its own, since it needs that
 * environment from the start of the process):
 *  - each kernel of the network (fused convolution + bias + ReLU, max pooling, the mean) and the
 *    whole network: forward values and gradients;
 *  - each loss head of the registry: loss, logits, gradients with respect to the features and the
 *    head's own weights, and the state after its per-step hook;
 *  - a short training stopped after epoch 1 and resumed from its checkpoint (the curve is written
 *    for the driver to compare with an uninterrupted wasm run), and no leaked tensor.
 * Both engines run in this process: tensors never cross from one to the other (each side builds
 * its inputs from the same host arrays and reads back with data()).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { type BackendInfo, initBackend } from '../../src/backend.js';
import { lossDefinitions, createLoss } from '../../src/losses/registry.js';
import { createFeatureNet } from '../../src/model/net.js';
import { Rng } from '../../src/rng.js';
import { loadCheckpoint } from '../../src/run/checkpoint.js';
import { tempDir } from '../helpers/fixtures.js';
import { relDiff, shortTraining, trainCurve } from '../helpers/webgpu.js';

/** Gradients and values: max |webgpu - cpu| / max |cpu| per tensor. lavapipe measures ~1e-6. */
const TOL = 1e-4;

let info: BackendInfo;
before(async () => {
  // Fails (never skips) with what is missing: no webgpu package, no Vulkan loader, no adapter.
  info = await initBackend('webgpu');
  process.stdout.write(`# engine: ${info.detail}\n`);
});

/** Runs `f` on a backend and reads its tensors back (named), disposing everything it made. */
async function on(backend: 'cpu' | 'webgpu', f: () => Record<string, tf.Tensor>): Promise<Record<string, Float32Array>> {
  assert.ok(await tf.setBackend(backend), `setBackend(${backend})`);
  const before = tf.memory().numTensors;
  const out = tf.tidy(f);
  const names = Object.keys(out);
  const values = await Promise.all(names.map((n) => out[n]!.data()));
  tf.dispose(Object.values(out));
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return Object.fromEntries(names.map((n, i) => [n, Float32Array.from(values[i] as Float32Array)]));
}

/** The same computation on both engines; every output within TOL. Returns the worst difference. */
async function compare(what: string, f: () => Record<string, tf.Tensor>, tol = TOL): Promise<number> {
  const ref = await on('cpu', f);
  const gpu = await on('webgpu', f);
  let worst = 0;
  for (const k of Object.keys(ref)) {
    const d = relDiff(gpu[k]!, ref[k]!);
    worst = Math.max(worst, d);
    assert.ok(d <= tol, `${what}: ${k} differs by ${d.toExponential(2)} (relative to its largest value), more than ${tol}`);
  }
  return worst;
}

const report: Record<string, number> = {};
const rng = new Rng(11);
const arr = (n: number, std = 1) => Float32Array.from(rng.normalArray(n, std));

test('kernels of the network: forward and gradients match cpu', async () => {
  const x = arr(2 * 7 * 7 * 4);
  const w = arr(3 * 3 * 4 * 8, 0.3);
  const b = arr(8, 0.1);
  const dy = arr(2 * 7 * 7 * 8);
  for (const activation of ['relu', 'linear'] as const) {
    report[`conv3x3+bias+${activation}`] = await compare(`fused conv2d (${activation})`, () => {
      const xs = tf.tensor4d(x, [2, 7, 7, 4]);
      const ws = tf.tensor4d(w, [3, 3, 4, 8]);
      const bs = tf.tensor1d(b);
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.mul(tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: 1, pad: 'same', bias: bb, activation }), tf.tensor4d(dy, [2, 7, 7, 8]));
      const [gx, gw, gb] = tf.grads((xx, ww, bb) => tf.sum(f(xx!, ww!, bb!)))([xs, ws, bs]);
      return { y: f(xs, ws, bs), gx: gx!, gw: gw!, gb: gb! };
    });
  }
  const p = arr(2 * 7 * 7 * 4);
  const dp = arr(2 * 4 * 4 * 4);
  report['maxPool3x3s2'] = await compare('maxPool 3x3 stride 2', () => {
    const xs = tf.tensor4d(p, [2, 7, 7, 4]);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, 3, 2, 'same'), tf.tensor4d(dp, [2, 4, 4, 4]))));
    return { y: tf.maxPool(xs, 3, 2, 'same'), gx: g(xs) };
  });
  const dm = arr(2 * 4);
  report['mean'] = await compare('global mean', () => {
    const xs = tf.tensor4d(p, [2, 7, 7, 4]);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.mean(xx, [1, 2]), tf.tensor2d(dm, [2, 4]))));
    return { y: tf.mean(xs, [1, 2]), gx: g(xs) };
  });
});

test('the network: features and the gradient of every weight match cpu', async () => {
  const B = 4;
  const x = arr(B * 28 * 28);
  const r = arr(B * 2);
  report['network'] = await compare('network', () => {
    const net = createFeatureNet(new Rng(5), 2);
    try {
      const xs = tf.tensor4d(x, [B, 28, 28, 1]);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(net.forward(xs), tf.tensor2d(r, [B, 2]))) as tf.Scalar, Object.values(net.variables));
      const out: Record<string, tf.Tensor> = { features: net.forward(xs), value };
      for (const [k, v] of Object.entries(net.variables)) out[`grad ${k}`] = grads[v.name]!;
      return out;
    } finally {
      net.dispose();
    }
  });
});

for (const def of lossDefinitions()) {
  test(`loss head ${def.name}: loss, logits, gradients and per-step state match cpu`, async () => {
    const B = 16;
    const emb = arr(B * 2, 3);
    const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
    report[`loss ${def.name}`] = await compare(`loss ${def.name}`, () => {
      const loss = createLoss(def.name, {}, { numClasses: 10, embeddingDim: 2, rng: new Rng(9) }, () => {});
      try {
        const e = tf.variable(tf.tensor2d(emb, [B, 2]), true, `emb-${def.name}-${tf.getBackend()}`);
        const y = tf.tensor1d(labels, 'int32');
        const head = loss.trainableVariables();
        let logits: tf.Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const o = loss.compute(e, y, { training: true });
          if (o.logits) logits = tf.keep(o.logits);
          return o.loss;
        }, [e, ...Object.values(head)]);
        const out: Record<string, tf.Tensor> = { loss: value, 'grad features': grads[e.name]! };
        if (logits) out.logits = tf.clone(logits);
        tf.dispose(logits);
        for (const [k, v] of Object.entries(head)) if (grads[v.name]) out[`grad ${k}`] = grads[v.name]!;
        if (loss.predict) out.predict = loss.predict(e);
        loss.afterStep?.(e, y);
        for (const [k, v] of Object.entries(loss.stateVariables())) out[`state ${k}`] = tf.clone(v);
        e.dispose();
        return out;
      } finally {
        loss.dispose();
      }
      // AdaFace's margin moves with the batch-normalised feature norm and its default scale is 64:
      // float32 rounding on the GPU reaches its class-weight gradient at about 2e-4 of its largest value.
    }, def.name === 'adaface' ? 3e-4 : TOL);
  });
}

test('a short training, stopped after epoch 1 and resumed from its checkpoint; no leaked tensor', async () => {
  await tf.setBackend('webgpu');
  const dir = tempDir('facelosses-webgpu-');
  const t0 = performance.now();
  const tensors = tf.memory().numTensors;
  // Epoch 1, then epoch 2 resumed from the checkpoint (weights, Adam moments and loss state read
  // back with data() and restored): the curve the driver compares with an uninterrupted wasm run.
  const part = await trainCurve(join(dir, 'run'), shortTraining(dir, 1), 'webgpu');
  const rest = await trainCurve(join(dir, 'run'), shortTraining(dir), 'webgpu', loadCheckpoint(join(dir, 'run')));
  assert.equal(tf.memory().numTensors, tensors, 'tensors leaked by training');
  const seconds = (performance.now() - t0) / 1000;
  const curve = { steps: [...part.steps, ...rest.steps], epochs: rest.epochs };
  assert.equal(curve.steps.length, 6);
  assert.equal(curve.epochs.length, 2);
  assert.ok(curve.steps.every(Number.isFinite), `finite losses: ${curve.steps}`);
  const out = process.env.FACELOSSES_WEBGPU_OUT;
  if (out) writeFileSync(join(out, 'curve.json'), JSON.stringify({ ...curve, seconds, device: info.detail, report }));
  process.stdout.write(`# short training: ${seconds.toFixed(1)} s for 2 x 3 steps at batch 16 and 2 evaluations\n`);
  process.stdout.write(`# worst relative differences to cpu: ${JSON.stringify(Object.fromEntries(Object.entries(report).map(([k, v]) => [k, Number(v.toExponential(2))])))}\n`);
});
