/**
 * The one trainer: any loss of the registry, the reference network, Adam with L2 weight decay and
 * step decay. Knows nothing of any particular loss. Writes the run folder: run.json,
 * metrics.jsonl (one line per epoch) and snapshots/ (train and valid features at the snapshot
 * epochs).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ResolvedConfig } from '../config/config.js';
import { type Dataset, batches, gatherImages, gatherLabels, loadDataset, shuffledIndices, type Split } from '../data/mnist.js';
import { getLossDefinition } from '../losses/registry.js';
import type { Loss } from '../losses/types.js';
import { createFeatureNet, type FeatureNet } from '../model/net.js';
import { Rng } from '../rng.js';
import { type EpochMetrics, appendMetrics, writeRunInfo, type RunInfo } from '../run/run.js';
import { type Snapshot, saveSnapshot } from '../run/snapshot.js';
import { codeVersion } from '../version.js';
import { Adam, stepDecayLr } from './optimizer.js';
import { trainStep, trainableVariables } from './step.js';

export type TrainEvent =
  | { type: 'start'; epochs: number; startEpoch: number; stepsPerEpoch: number; trainCount: number; validCount: number }
  | { type: 'step'; epoch: number; step: number; stepsPerEpoch: number; loss: number; imagesPerSecond: number; doneSteps: number; totalSteps: number }
  | { type: 'epoch'; metrics: EpochMetrics; epochs: number }
  | { type: 'snapshot'; epoch: number; files: string[] };

export interface TrainOptions {
  config: ResolvedConfig;
  outDir: string;
  backend: string;
  onEvent?: (e: TrainEvent) => void;
  /** Called after each snapshot is saved; draws figures (kept out of the trainer so it stays plot-free). */
  onSnapshot?: (runDir: string, epoch: number, snaps: Snapshot[]) => Promise<string[]> | string[];
  /** Data already loaded (tests, batch runs); else loaded from config.data. */
  dataset?: Dataset;
}

export interface TrainResult {
  metrics: EpochMetrics[];
  validAccuracy: number;
  runDir: string;
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly value: number,
  ) {
    super(`loss became ${value} at epoch ${epoch}, step ${step}; stopping (lower the learning rate or check the loss parameters)`);
    this.name = 'NonFiniteLossError';
  }
}

export interface Experiment {
  net: FeatureNet;
  loss: Loss;
  optimizer: Adam;
  vars: Record<string, tf.Variable>;
  rng: Rng;
  dispose(): void;
}

/** Builds network, loss and optimizer from a config, seeded. */
export function buildExperiment(config: ResolvedConfig, numClasses: number): Experiment {
  const rng = new Rng(config.train.seed);
  const initRng = new Rng(config.train.seed + 0x5eed);
  const net = createFeatureNet(initRng, 2);
  const def = getLossDefinition(config.loss.name);
  const loss = def.create(config.loss.params, { numClasses, embeddingDim: 2, rng: initRng });
  const vars = trainableVariables(net, loss);
  const optimizer = new Adam(vars, { lr: config.train.lr, weightDecay: config.train.weightDecay });
  return {
    net,
    loss,
    optimizer,
    vars,
    rng,
    dispose() {
      optimizer.dispose();
      loss.dispose();
      net.dispose();
    },
  };
}

/** argmax per row of [N, C] logits → Uint8Array. */
function argmaxRows(logits: Float32Array | Int32Array | Uint8Array, n: number, c: number, out: Uint8Array, offset: number): void {
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = -Infinity;
    for (let j = 0; j < c; j++) {
      const v = logits[i * c + j]!;
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    out[offset + i] = best;
  }
}

/** Features, predictions and mean loss over a split, in evaluation mode (no state changes). */
export function evaluate(exp: Experiment, split: Split, numClasses: number, batchSize = 500): { snapshot: Omit<Snapshot, 'epoch' | 'split'>; loss: number; accuracy: number } {
  const n = split.count;
  const features = new Float32Array(n * 2);
  const predicted = new Uint8Array(n);
  const labels = new Uint8Array(split.labels.subarray(0, n));
  let lossSum = 0;
  let correct = 0;
  for (let s = 0; s < n; s += batchSize) {
    const idx = new Uint32Array(Math.min(batchSize, n - s)).map((_, i) => s + i);
    const b = idx.length;
    tf.tidy(() => {
      const x = tf.tensor4d(gatherImages(split, idx), [b, split.height, split.width, 1]);
      const y = tf.tensor1d(gatherLabels(split, idx), 'int32');
      const emb = exp.net.forward(x);
      const out = exp.loss.compute(emb, y, { training: false });
      const logits = exp.loss.predict ? exp.loss.predict(emb) : out.logits;
      features.set(emb.dataSync(), s * 2);
      lossSum += out.loss.dataSync()[0]! * b;
      if (logits) argmaxRows(logits.dataSync() as Float32Array, b, numClasses, predicted, s);
    });
  }
  for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
  return {
    snapshot: { numClasses, embeddingDim: 2, count: n, features, labels, predicted },
    loss: lossSum / n,
    accuracy: n ? correct / n : 0,
  };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config, outDir } = opts;
  const emit = opts.onEvent ?? (() => {});
  const data = opts.dataset ?? loadDataset(config.data);
  const numClasses = data.numClasses;
  const exp = buildExperiment(config, numClasses);
  const { batchSize, epochs } = config.train;
  const stepsPerEpoch = Math.floor(data.train.count / batchSize);
  if (stepsPerEpoch < 1) {
    exp.dispose();
    throw new Error(`the training set has ${data.train.count} images, fewer than one batch of ${batchSize}`);
  }
  const snapshots = new Set(config.snapshots);
  const info: RunInfo = {
    format: 'facelosses-run/1',
    config,
    profile: config.profile,
    backend: opts.backend,
    codeVersion: codeVersion(),
    startedAt: new Date().toISOString(),
    status: 'running',
  };
  writeRunInfo(outDir, info);
  emit({ type: 'start', epochs, startEpoch: 1, stepsPerEpoch, trainCount: stepsPerEpoch * batchSize, validCount: data.valid.count });

  const all: EpochMetrics[] = [];
  const totalSteps = epochs * stepsPerEpoch;
  const t0 = performance.now();
  const xBuf = new Float32Array(batchSize * 28 * 28);
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const tEpoch = performance.now();
      const lr = stepDecayLr(config.train.lr, epoch, config.train.lrStepEpochs, config.train.lrGamma);
      exp.optimizer.lr = lr;
      const order = shuffledIndices(data.train.count, exp.rng);
      const bs = batches(order, batchSize, true);
      const snap = snapshots.has(epoch);
      const feats = snap ? new Float32Array(bs.length * batchSize * 2) : undefined;
      const labs = snap ? new Uint8Array(bs.length * batchSize) : undefined;
      const preds = snap ? new Uint8Array(bs.length * batchSize) : undefined;
      let lossSum = 0;
      let correct = 0;
      for (let i = 0; i < bs.length; i++) {
        const idx = bs[i]!;
        const yArr = gatherLabels(data.train, idx);
        const stepLoss = tf.tidy(() => {
          const x = tf.tensor4d(gatherImages(data.train, idx, xBuf), [batchSize, 28, 28, 1]);
          const y = tf.tensor1d(yArr, 'int32');
          const r = trainStep(exp.net, exp.loss, exp.optimizer, exp.vars, x, y);
          if (r.logits) {
            const p = tf.argMax(r.logits, 1).dataSync();
            for (let k = 0; k < batchSize; k++) {
              if (p[k] === yArr[k]) correct++;
              if (preds) preds[i * batchSize + k] = p[k]!;
            }
          }
          if (feats) feats.set(r.embeddings.dataSync(), i * batchSize * 2);
          return r.loss.dataSync()[0]!;
        });
        if (!Number.isFinite(stepLoss)) throw new NonFiniteLossError(epoch, i + 1, stepLoss);
        if (labs) for (let k = 0; k < batchSize; k++) labs[i * batchSize + k] = yArr[k]!;
        lossSum += stepLoss;
        const done = (epoch - 1) * stepsPerEpoch + i + 1;
        emit({
          type: 'step',
          epoch,
          step: i + 1,
          stepsPerEpoch,
          loss: stepLoss,
          imagesPerSecond: ((i + 1) * batchSize) / ((performance.now() - tEpoch) / 1000),
          doneSteps: done,
          totalSteps,
        });
      }
      const trainSeconds = (performance.now() - tEpoch) / 1000;
      const ev = evaluate(exp, data.valid, numClasses);
      const m: EpochMetrics = {
        epoch,
        lr,
        loss: lossSum / bs.length,
        trainAccuracy: correct / (bs.length * batchSize),
        validLoss: ev.loss,
        validAccuracy: ev.accuracy,
        imagesPerSecond: (bs.length * batchSize) / trainSeconds,
        seconds: (performance.now() - tEpoch) / 1000,
        elapsedSeconds: (performance.now() - t0) / 1000,
      };
      appendMetrics(outDir, m);
      all.push(m);
      emit({ type: 'epoch', metrics: m, epochs });
      if (snap) {
        const s: Snapshot[] = [
          { epoch, split: 'train', numClasses, embeddingDim: 2, count: labs!.length, features: feats!, labels: labs!, predicted: preds! },
          { epoch, split: 'valid', ...ev.snapshot },
        ];
        const files = s.map((x) => saveSnapshot(outDir, x));
        if (opts.onSnapshot) files.push(...(await opts.onSnapshot(outDir, epoch, s)));
        emit({ type: 'snapshot', epoch, files });
      }
    }
  } catch (e) {
    writeRunInfo(outDir, { ...info, status: 'failed', message: (e as Error).message });
    exp.dispose();
    throw e;
  }
  const last = all[all.length - 1]!;
  writeRunInfo(outDir, { ...info, status: 'finished', finishedAt: new Date().toISOString(), validAccuracy: last.validAccuracy });
  exp.dispose();
  return { metrics: all, validAccuracy: last.validAccuracy, runDir: outDir };
}
