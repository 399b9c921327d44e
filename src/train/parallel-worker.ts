/**
 * One data-parallel worker (see parallel.ts): a replica of the feature network on a one-thread
 * backend. It blocks on shared memory between steps (this thread does nothing else).
 */
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import { createFeatureNet } from '../model/net.js';
import { Rng } from '../rng.js';
import { CMD, CTRL, ERROR_BYTES, floatView, type WorkerSetup } from './parallel.js';

const setup = (workerData as { setup: WorkerSetup }).setup;
const { index, offsets } = setup;
const ctrl = new Int32Array(setup.ctrl);
const data = new Float32Array(setup.data);
const errors = new Uint8Array(setup.errors);
const slot = (field: number) => CTRL.base + index * CTRL.stride + field;

function waitChange(field: number, from: number): number {
  const idx = slot(field);
  for (;;) {
    const v = Atomics.load(ctrl, idx);
    if (v !== from) return v;
    Atomics.wait(ctrl, idx, v);
  }
}

function waitFor(field: number, value: number): void {
  const idx = slot(field);
  for (;;) {
    const v = Atomics.load(ctrl, idx);
    if (v === value) return;
    Atomics.wait(ctrl, idx, v);
  }
}

function signal(field: number, value: number): void {
  Atomics.store(ctrl, slot(field), value);
  Atomics.notify(ctrl, slot(field));
}

function report(e: unknown): void {
  const bytes = Buffer.from(String((e as Error)?.stack ?? e), 'utf8').subarray(0, ERROR_BYTES - 1);
  errors.fill(0, index * ERROR_BYTES, (index + 1) * ERROR_BYTES);
  errors.set(bytes, index * ERROR_BYTES);
}

await initBackend(setup.backend, { threads: 1 });
const net = createFeatureNet(new Rng(0), setup.embeddingDim);
const vars = setup.varNames.map((n) => {
  const v = net.variables[n];
  if (!v) throw new Error(`worker: the network has no variable '${n}'`);
  return v;
});
const [h, w, c] = setup.imageShape;
const pixels = h * w * c;
const d = setup.embeddingDim;
let weightsVersion = -1;

function syncWeights(): void {
  const version = Atomics.load(ctrl, CTRL.weightsVersion);
  if (version === weightsVersion) return;
  let off = offsets.weights;
  for (const v of vars) {
    const t = tf.tensor(data.subarray(off, off + v.size), v.shape);
    v.assign(t);
    t.dispose();
    off += v.size;
  }
  weightsVersion = version;
}

parentPort!.postMessage({ type: 'ready' });

let seq = 0;
for (;;) {
  seq = waitChange(CTRL.go, seq);
  const cmd = ctrl[slot(CTRL.cmd)];
  if (cmd === CMD.exit) break;
  const start = ctrl[slot(CTRL.start)]!;
  const size = ctrl[slot(CTRL.size)]!;
  let phase: 'emb' | 'done' = 'emb';
  try {
    syncWeights();
    tf.tidy(() => {
      const x = tf.tensor4d(data.subarray(offsets.x + start * pixels, offsets.x + (start + size) * pixels), [size, h, w, c]);
      if (cmd === CMD.forward) {
        data.set(floatView(net.forward(x)), offsets.emb + start * d);
        signal(CTRL.embReady, seq);
        return;
      }
      const { value, grads } = tf.variableGrads(() => {
        const emb = net.forward(x);
        data.set(floatView(emb), offsets.emb + start * d);
        signal(CTRL.embReady, seq);
        phase = 'done';
        waitFor(CTRL.dembReady, seq);
        const demb = tf.tensor2d(data.subarray(offsets.demb + start * d, offsets.demb + (start + size) * d), [size, d]);
        // d/dθ sum(emb * dL/demb) = this slice's share of dL/dθ
        return tf.sum(tf.mul(emb, demb)) as tf.Scalar;
      }, vars);
      let off = offsets.grads + index * offsets.params;
      for (const v of vars) {
        const g = grads[v.name];
        if (g) data.set(floatView(g), off);
        else data.fill(0, off, off + v.size);
        off += v.size;
      }
      tf.dispose([value, ...Object.values(grads)]);
      signal(CTRL.done, seq);
    });
  } catch (e) {
    report(e);
    if (phase === 'emb') signal(CTRL.embReady, -seq);
    signal(CTRL.done, -seq);
  }
}
net.dispose();
process.exit(0);
