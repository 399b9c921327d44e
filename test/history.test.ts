/**
 * The feature history of a run (src/run/history.ts): its schedule, its file format, what a tiny
 * run records, its size, exact resume (an interrupted and resumed run has the same frames as an
 * uninterrupted one, a stale frame after the checkpoint included) and the fallback to the
 * snapshots of a run folder without history/. Tiny synthetic data: 320 images, batch 8, 40 steps
 * x 3 epochs, on wasm with one thread.
 */
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { trainCommand } from '../src/commands/train.js';
import {
  decodeFrame,
  earlySteps,
  encodeFrame,
  evenSubsample,
  frameEpochs,
  type History,
  historyFramePath,
  listHistoryFrames,
  planHistory,
  readHistory,
  truncateHistory,
} from '../src/run/history.js';
import { Interrupted } from '../src/util/errors.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';

let dir = '';
let data = '';
let cfg = '';
let reference = '';

process.env.FACELOSSES_THREADS = '1';

const base = { profile: 'full' as const, backend: 'wasm' as const, quiet: true };

before(async () => {
  dir = tempDir();
  data = writeSyntheticIdx(join(dir, 'data'), 320, 64);
  cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, 'name: tiny\nloss: { name: center }\ntrain: { epochs: 3, batchSize: 8, lr: 0.002, seed: 3 }\nsnapshots: [3]\n');
  reference = join(dir, 'reference');
  await trainCommand({ ...base, config: cfg, dataDir: data, out: reference });
});

test('schedule: log-spaced steps inside the first epoch, then epoch ends; long runs keep every k-th epoch and the snapshot epochs', () => {
  assert.deepEqual(earlySteps(468), [0, 10, 20, 50, 100, 200]);
  assert.deepEqual(earlySteps(23), [0, 10, 20]);
  assert.deepEqual(earlySteps(10), [0]);
  assert.deepEqual(earlySteps(5000), [0, 10, 20, 50, 100, 200, 500, 1000, 2000]);
  assert.deepEqual(frameEpochs(5, 100), [1, 2, 3, 4, 5]);
  const long = frameEpochs(500, 100, [100, 300, 500]);
  assert.equal(long.length, 100);
  assert.equal(long[0], 5);
  assert.equal(long.at(-1), 500);
  assert.deepEqual(frameEpochs(7, 3, [4]), [3, 4, 6, 7]);
  assert.deepEqual(frameEpochs(7, 0), []);
  assert.deepEqual([...evenSubsample(10, 4)], [1, 3, 6, 8]);
  assert.deepEqual([...evenSubsample(3, 4)], [0, 1, 2]);
  const p = planHistory({ dim: 2, numClasses: 10, stepsPerEpoch: 468, epochs: 5, epochFrames: 100, trainCount: 60000, validCount: 10000, weightsKind: 'class weights' });
  assert.deepEqual(p.steps, [0, 10, 20, 50, 100, 200, 468, 936, 1404, 1872, 2340]);
  assert.equal(p.trainIndices.length, 1000);
  assert.equal(p.earlyValidIndices.length, 2000);
  assert.equal(planHistory({ dim: 2, numClasses: 10, stepsPerEpoch: 468, epochs: 5, epochFrames: 0, trainCount: 60000, validCount: 10000, weightsKind: null }).steps.length, 0);
});

test('a frame survives encoding: features of any dimension, indices, class vectors', () => {
  const pts = (n: number, d: number, all: boolean) => ({
    features: Float32Array.from({ length: n * d }, (_, i) => i / 7 - 3),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
    predicted: Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10),
    indices: Int32Array.from({ length: n }, (_, i) => (all ? i : 5 * i + 1)),
  });
  for (const d of [2, 3]) {
    const f = { step: 20, epoch: 20 / 468, validAccuracy: 0.25, valid: pts(13, d, true), train: pts(7, d, false), weights: Float32Array.from({ length: 10 * d }, (_, i) => i) };
    const back = decodeFrame(encodeFrame(f, d, 10, { weightsKind: 'centers', seconds: 0.5 }));
    assert.deepEqual(back.frame, f);
    assert.equal(back.dim, d);
    assert.equal(back.weightsKind, 'centers');
    assert.equal(back.seconds, 0.5);
    const partial = { ...f, valid: pts(5, d, false), weights: null };
    assert.deepEqual(decodeFrame(encodeFrame(partial, d, 10)).frame, partial);
  }
  const bytes = encodeFrame({ step: 0, epoch: 0, validAccuracy: 0, valid: pts(4, 2, true), train: pts(4, 2, false), weights: null }, 2, 10);
  assert.throws(() => decodeFrame(bytes.subarray(0, bytes.length - 9), 'f.bin'), /f\.bin: cut short/);
  assert.throws(() => decodeFrame(new Uint8Array(12), 'g.bin'), /g\.bin: not a facelosses history frame/);
});

test('a run records frames at steps 0, 10, 20 and every epoch end: all test images at epoch ends, the centers, a small folder', () => {
  const h = readHistory(reference);
  assert.equal(h.source, 'history');
  assert.equal(h.dim, 2);
  assert.equal(h.numClasses, 10);
  assert.equal(h.stepsPerEpoch, 40);
  assert.equal(h.weightsKind, 'centers');
  assert.deepEqual(h.frames.map((f) => f.step), [0, 10, 20, 40, 80, 120]);
  assert.deepEqual(h.frames.map((f) => f.epoch), [0, 0.25, 0.5, 1, 2, 3]);
  for (const f of h.frames) {
    assert.equal(f.valid.labels.length, 64, 'the early subsample holds all 64 test images of this tiny set');
    assert.equal(f.train.labels.length, 320);
    assert.equal(f.valid.features.length, 2 * 64);
    assert.ok(f.weights && f.weights.length === 20);
    assert.ok([...f.valid.features].every(Number.isFinite));
  }
  assert.ok(h.frames[0]!.weights!.every((v) => v === 0), 'centers start at zero');
  assert.ok(h.frames.at(-1)!.weights!.some((v) => v !== 0), 'and move');
  // The last frame is the evaluation the snapshot of the last epoch holds: same features.
  const snap = JSON.parse(readFileSync(join(reference, 'snapshots', 'valid-epoch-0003.json'), 'utf8'));
  const snapFeatures = new Float32Array(new Uint8Array(Buffer.from(snap.features, 'base64')).buffer);
  assert.deepEqual([...h.frames.at(-1)!.valid.features], [...snapFeatures]);
  const last = JSON.parse(readFileSync(join(reference, 'metrics.jsonl'), 'utf8').trim().split('\n').at(-1)!);
  assert.equal(h.frames.at(-1)!.validAccuracy, last.validAccuracy);
  // Labels and indices agree with the data (the synthetic labels are index % 10).
  for (const f of h.frames) for (const p of [f.valid, f.train]) p.indices.forEach((k, i) => assert.equal(p.labels[i], k % 10));
  const bytes = listHistoryFrames(reference).reduce((s, f) => s + statSync(f.file).size, 0);
  assert.ok(bytes < 64 * 1024, `${bytes} bytes`);
});

function assertSameHistory(a: History, b: History): void {
  assert.deepEqual(
    a.frames.map((f) => f.step),
    b.frames.map((f) => f.step),
  );
  for (let i = 0; i < a.frames.length; i++) assert.deepEqual(a.frames[i], b.frames[i], `frame at step ${a.frames[i]!.step}`);
}

test('interrupted in epoch 2 (a stale frame after the checkpoint left behind), then resumed: the same history as the uninterrupted run', async () => {
  const run = join(dir, 'interrupted');
  // Ctrl-C in the middle of epoch 2, through train's step seam.
  await assert.rejects(
    trainCommand({
      ...base,
      config: cfg,
      dataDir: data,
      out: run,
      wrapStep: (compute, at) => {
        if (at.epoch === 2 && at.step === 15) process.emit('SIGINT', 'SIGINT');
        return compute();
      },
    }),
    (e: unknown) => e instanceof Interrupted,
  );
  const steps = listHistoryFrames(run).map((f) => f.step);
  assert.deepEqual(steps, [0, 10, 20, 40]);
  // As if a killed process had taken a frame after its checkpoint: a damaged one at a later step.
  copyFileSync(historyFramePath(run, 40), historyFramePath(run, 80));
  writeFileSync(historyFramePath(run, 80), 'cut');
  await trainCommand({ resume: run, quiet: true });
  assertSameHistory(readHistory(run), readHistory(reference));
});

test('truncateHistory drops the frames after a step and half-written ones', () => {
  const run = join(dir, 'trunc');
  const h = join(run, 'history');
  cpSync(join(reference, 'history'), h, { recursive: true });
  writeFileSync(join(h, '.frame-000000120.bin.123.tmp'), 'x');
  const removed = truncateHistory(run, 40).map((f) => f.slice(h.length + 1)).sort();
  assert.deepEqual(removed, ['.frame-000000120.bin.123.tmp', 'frame-000000080.bin', 'frame-000000120.bin']);
  assert.deepEqual(listHistoryFrames(run).map((f) => f.step), [0, 10, 20, 40]);
});

test('a run folder without history/ (written before it existed, or history.epochFrames: 0) reads from its snapshots', async () => {
  const off = join(dir, 'no-history.yaml');
  writeFileSync(off, readFileSync(cfg, 'utf8').replace('snapshots: [3]', 'snapshots: [1, 3]\nhistory: { epochFrames: 0 }'));
  const run = join(dir, 'old');
  await trainCommand({ ...base, config: off, dataDir: data, out: run });
  assert.equal(existsSync(join(run, 'history')), false);
  const h = readHistory(run);
  assert.equal(h.source, 'snapshots');
  assert.equal(h.stepsPerEpoch, 40);
  assert.equal(h.weightsKind, null);
  assert.deepEqual(h.frames.map((f) => [f.step, f.epoch]), [[40, 1], [120, 3]]);
  const last = h.frames[1]!;
  assert.equal(last.valid.labels.length, 64);
  assert.equal(last.train.labels.length, 320);
  assert.ok(last.train.indices.every((k) => k === -1), 'train indices of a snapshot are unknown');
  assert.equal(last.weights, null);
  // Same training, same features: the snapshot fallback shows what the history shows.
  assert.deepEqual(last.valid, readHistory(reference).frames.at(-1)!.valid);
});
