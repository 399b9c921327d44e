/**
 * Checkpoints hold the whole training state of every loss of the registry: weights, Adam, the
 * loss's state variables (centers) and counters (annealing), both generators. A fresh experiment
 * restored from an encoded checkpoint is bit-identical and stays so for the next step.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend.js';
import { resolveConfig } from '../src/config/config.js';
import { lossDefinitions } from '../src/losses/registry.js';
import { Rng } from '../src/rng.js';
import { type Checkpoint, captureState, checkpointPath, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, restoreState, saveCheckpoint } from '../src/run/checkpoint.js';
import { buildExperiment, type Experiment } from '../src/train/experiment.js';
import { computeGradients } from '../src/train/step.js';
import { UserError } from '../src/util/errors.js';
import { tempDir } from './helpers/fixtures.js';

const B = 20;
const rng = new Rng(11);
const xData = rng.normalArray(B * 28 * 28);
const yData = Int32Array.from({ length: B }, (_, i) => i % 10);

before(async () => {
  await initBackend('wasm', { threads: 1 });
});

function step(exp: Experiment): void {
  tf.tidy(() => {
    const x = tf.tensor4d(xData, [B, 28, 28, 1]);
    const y = tf.tensor1d(yData, 'int32');
    const g = computeGradients(exp.net, exp.loss, exp.vars, x, y);
    exp.optimizer.apply(g.grads);
    exp.loss.afterStep?.(g.embeddings, y);
  });
  exp.rng.next();
}

async function checkpointOf(exp: Experiment): Promise<Checkpoint> {
  return { format: 'facelosses-checkpoint/1', savedAt: 'now', backend: 'wasm', epoch: 0, ...(await captureState(exp)), metrics: [], elapsedSeconds: 0, data: '' };
}

/** Everything but the metadata, as comparable plain arrays. */
function plain(c: Checkpoint): unknown {
  return JSON.parse(encodeCheckpoint({ ...c, savedAt: '' }));
}

for (const def of lossDefinitions()) {
  test(`checkpoint round trip: ${def.name}`, async () => {
    const config = resolveConfig({ loss: { name: def.name }, train: { seed: 5 } }, 'cfg.yaml');
    const a = buildExperiment(config, 10);
    const b = buildExperiment({ ...config, train: { ...config.train, seed: 99 } }, 10);
    try {
      step(a);
      step(a);
      const saved = await checkpointOf(a);
      const decoded = decodeCheckpoint(encodeCheckpoint(saved), 'last.json');
      restoreState(b, decoded);
      assert.deepEqual(plain(await checkpointOf(b)), plain(saved));
      step(a);
      step(b);
      assert.deepEqual(plain(await checkpointOf(b)), plain(await checkpointOf(a)), 'the next step is the same');
      assert.equal(a.optimizer.step, 3);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
}

test('a checkpoint that does not fit the model is refused, naming the variable', async () => {
  const a = buildExperiment(resolveConfig({ loss: { name: 'softmax' } }, 'a.yaml'), 10);
  const b = buildExperiment(resolveConfig({ loss: { name: 'softmax', params: { bias: true } } }, 'b.yaml'), 10);
  try {
    const c = await checkpointOf(a);
    assert.throws(() => restoreState(b, c, 'last.json'), (e: unknown) => e instanceof UserError && /last\.json: the checkpoint does not fit this model: trainable variables are/.test(e.message));
    const bad = { ...c, weights: { ...c.weights, 'conv1.w': { shape: [3, 3, 1, 8], data: new Float32Array(72) } } };
    assert.throws(() => restoreState(a, bad, 'last.json'), /conv1\.w has shape \[3,3,1,8\] in the checkpoint, \[3,3,1,16\] in the model/);
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('saving replaces the file atomically and leaves no temporary files; corrupt files are refused', async () => {
  const dir = tempDir();
  const exp = buildExperiment(resolveConfig({ loss: { name: 'softmax' } }, 'a.yaml'), 10);
  try {
    const c = await checkpointOf(exp);
    saveCheckpoint(dir, c);
    saveCheckpoint(dir, { ...c, epoch: 0 });
    assert.deepEqual(readdirSync(`${dir}/checkpoint`), ['last.json']);
    assert.deepEqual(plain(loadCheckpoint(dir)), plain(c));
    const text = encodeCheckpoint(c);
    for (const broken of [text.slice(0, text.length >> 1), text.replace('"epoch":0', '"epoch":2'), text.replace('facelosses-checkpoint/1', 'x')]) {
      assert.throws(() => decodeCheckpoint(broken, checkpointPath(dir)), (e: unknown) => e instanceof UserError && /unreadable checkpoint/.test(e.message));
    }
  } finally {
    exp.dispose();
  }
});
