/**
 * Small run folders for the report tests, written directly (no training): run.json, metrics.jsonl
 * and snapshots with made-up features whose geometry is known, over the real MNIST test images
 * (so each valid point's digit is known).
 */
import { mkdirSync } from 'node:fs';
import { resolveConfig } from '../../src/config/config.js';
import { loadDataset } from '../../src/data/mnist.js';
import { Rng } from '../../src/rng.js';
import { writeMetrics, writeRunInfo } from '../../src/run/run.js';
import { saveSnapshot } from '../../src/run/snapshot.js';

export interface FakeRunOptions {
  loss?: string;
  dim?: 2 | 3;
  epochs?: number;
  validCount?: number;
  trainCount?: number;
}

/** Valid point that the fixture puts alone, far out at the top right of every frame. */
export const LONE_POINT = 4321;

export function writeFakeRun(dir: string, o: FakeRunOptions = {}): string {
  const dim = o.dim ?? 2;
  const epochs = o.epochs ?? 3;
  const validCount = o.validCount ?? 10_000;
  const trainCount = o.trainCount ?? 3000;
  mkdirSync(dir, { recursive: true });
  const config = resolveConfig(
    { name: 'fake', loss: { name: o.loss ?? 'softmax' }, data: { trainLimit: trainCount, validLimit: validCount }, train: { epochs, batchSize: 100 }, snapshots: Array.from({ length: epochs }, (_, i) => i + 1) },
    'fake.yaml',
  );
  const ds = loadDataset({ trainLimit: trainCount, validLimit: validCount });
  const rng = new Rng(3);
  const feats = (labels: Uint8Array, epoch: number, lone: number) => {
    const n = labels.length;
    const f = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      const th = (2 * Math.PI * c) / 10 + (rng.next() - 0.5) * (0.9 / epoch);
      const r = 5 * epoch * (0.4 + rng.next());
      if (dim === 2) f.set([r * Math.cos(th), r * Math.sin(th)], i * 2);
      else f.set([r * Math.cos(th) * 0.8, r * Math.sin(th) * 0.8, r * (c % 2 ? 0.6 : -0.6)], i * 3);
    }
    if (lone >= 0) for (let d = 0; d < dim; d++) f[lone * dim + d] = 9 * epoch;
    return f;
  };
  const predictedOf = (labels: Uint8Array, epoch: number) => labels.map((c) => (rng.next() < 0.3 / epoch ? (c + 1) % 10 : c));
  const metrics = [];
  for (let e = 1; e <= epochs; e++) {
    const vl = ds.valid.labels.slice(0, validCount);
    const tl = ds.train.labels.slice(0, trainCount);
    const vp = predictedOf(vl, e);
    saveSnapshot(dir, { epoch: e, split: 'valid', numClasses: 10, embeddingDim: dim, count: validCount, features: feats(vl, e, LONE_POINT < validCount ? LONE_POINT : -1), labels: vl, predicted: vp });
    saveSnapshot(dir, { epoch: e, split: 'train', numClasses: 10, embeddingDim: dim, count: trainCount, features: feats(tl, e, -1), labels: tl, predicted: predictedOf(tl, e) });
    const acc = vp.reduce((s, p, i) => s + (p === vl[i] ? 1 : 0), 0) / validCount;
    metrics.push({ epoch: e, lr: 0.001, loss: 2 / e, trainAccuracy: acc - 0.01, validLoss: 2.2 / e, validAccuracy: acc, imagesPerSecond: 1000, seconds: 1 });
  }
  writeMetrics(dir, metrics);
  writeRunInfo(dir, { format: 'facelosses-run/1', config, profile: 'full', backend: 'wasm', codeVersion: 'test', startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), status: 'finished', validAccuracy: metrics[metrics.length - 1]!.validAccuracy });
  return dir;
}
