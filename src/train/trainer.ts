/**
 * The one trainer: any loss of the registry, the reference network, Adam with L2 weight decay and
 * step decay. Knows nothing of any particular loss. Writes the run folder: run.json,
 * metrics.jsonl (one line per epoch), snapshots/ (train and valid features at the snapshot
 * epochs) and checkpoint/last.json after every epoch (see src/run/checkpoint.ts).
 *
 * Survival: a run continues exactly from a checkpoint (`resume`); an aborted `signal` (Ctrl-C)
 * stops at the end of the current step with a checkpoint of that position; a non-finite loss or
 * gradient stops the run (nanPolicy 'stop', the last good checkpoint stays) or discards that
 * batch's update ('skip-batch', counted in the epoch's metrics as skippedBatches).
 */
import * as tf from '@tensorflow/tfjs-core';
import { engineFault } from '../backend.js';
import type { ResolvedConfig } from '../config/config.js';
import { type Dataset, batches, gatherImages, gatherLabels, loadDataset, shuffledIndices, type Split } from '../data/mnist.js';
import { getLossDefinition } from '../losses/registry.js';
import type { Loss } from '../losses/types.js';
import { createFeatureNet, type FeatureNet } from '../model/net.js';
import { Rng } from '../rng.js';
import { type Checkpoint, type EpochPosition, captureState, checkpointPath, dataFingerprint, restoreState, saveCheckpoint } from '../run/checkpoint.js';
import { type EpochMetrics, appendMetrics, writeRunInfo, type RunInfo } from '../run/run.js';
import { type Snapshot, saveSnapshot } from '../run/snapshot.js';
import { codeVersion } from '../version.js';
import { Adam, stepDecayLr, warmupFactor } from './optimizer.js';
import { DataParallel } from './parallel.js';
import { computeGradients, trainableVariables } from './step.js';

export type TrainEvent =
  | { type: 'start'; epochs: number; startEpoch: number; stepsPerEpoch: number; trainCount: number; validCount: number; warmupEpochs?: number }
  | { type: 'step'; epoch: number; step: number; stepsPerEpoch: number; loss: number; imagesPerSecond: number; doneSteps: number; totalSteps: number }
  | { type: 'epoch'; metrics: EpochMetrics; epochs: number }
  | { type: 'snapshot'; epoch: number; files: string[] };

export interface TrainOptions {
  config: ResolvedConfig;
  outDir: string;
  backend: string;
  /** Threads of the engine, recorded in checkpoints (results may differ with another count). */
  backendThreads?: number;
  /** Data-parallel worker threads for the network's forward and backward (wasm; default 1 = none). */
  workers?: number;
  onEvent?: (e: TrainEvent) => void;
  /** Called after each snapshot is saved; draws figures (kept out of the trainer so it stays plot-free). */
  onSnapshot?: (runDir: string, epoch: number, snaps: Snapshot[]) => Promise<string[]> | string[];
  /** Data already loaded (tests, batch runs); else loaded from config.data. */
  dataset?: Dataset;
  /** Continue from this checkpoint of the run in outDir (its config must be `config`). */
  resume?: Checkpoint;
  /** Fields kept in run.json (a resumed run's startedAt, the overrides it was started with). */
  runInfo?: Partial<RunInfo>;
  /** What a non-finite loss or gradient does: stop the run (default) or skip that batch's update. */
  nanPolicy?: NanPolicy;
  /** Aborting it stops training at the end of the current step, with a checkpoint. */
  signal?: AbortSignal;
  /** Test hook: pretend the loss is NaN at this epoch and step (1-based). Default: the environment
   *  variable FACELOSSES_TEST_NAN_AT=EPOCH:STEP. */
  injectNaNAt?: { epoch: number; step: number };
}

export type NanPolicy = 'stop' | 'skip-batch';
/** A loss this many times its first value (at least 1) counts as diverged, like a NaN. */
export const DIVERGENCE_FACTOR = 1e4;
export const NAN_POLICIES: readonly NanPolicy[] = ['stop', 'skip-batch'];

export interface TrainResult {
  metrics: EpochMetrics[];
  validAccuracy: number;
  runDir: string;
}

/** The loss, a gradient or a weight stopped being finite. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly value: number,
    readonly what: string,
    /** Where the checkpoint on disk stands ('epoch 3'), or undefined when none was written. */
    lastGood: string | undefined,
    runDir: string,
    /** The policy in force: skip-batch is not suggested again when it was the one that failed. */
    policy: NanPolicy = 'stop',
  ) {
    const kept = lastGood ? `the last good checkpoint (${lastGood}) stays in ${checkpointPath(runDir)}` : 'no checkpoint was written yet';
    const loss = Number.isFinite(value) && !what.includes('diverged') ? ` (loss ${value})` : '';
    const next = policy === 'skip-batch' || !lastGood ? 'Lower train.lr or check the loss parameters, then start the run over with --force' : `Lower train.lr, check the loss parameters, or continue with --resume ${runDir} --nan-policy skip-batch`;
    super(`${what} at epoch ${epoch}, step ${step}${loss}; stopped, ${kept}. ${next}`);
    this.name = 'NonFiniteLossError';
  }
}

/** Training stopped on request (Ctrl-C / SIGTERM) after saving a checkpoint. */
export class TrainingInterrupted extends Error {
  constructor(
    readonly signal: string,
    readonly epoch: number,
    readonly step: number,
    readonly stepsPerEpoch: number,
    readonly checkpoint: string,
  ) {
    super(`interrupted (${signal}) ${step > 0 ? `in epoch ${epoch} after step ${step} of ${stepsPerEpoch}` : `after epoch ${epoch - 1}`}; checkpoint saved to ${checkpoint}`);
    this.name = 'TrainingInterrupted';
  }
}

export interface Experiment {
  net: FeatureNet;
  loss: Loss;
  optimizer: Adam;
  vars: Record<string, tf.Variable>;
  /** Shuffling. */
  rng: Rng;
  /** Initialisation; handed to the loss, which may keep drawing from it. */
  initRng: Rng;
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
    initRng,
    dispose() {
      optimizer.dispose();
      loss.dispose();
      net.dispose();
    },
  };
}

/**
 * Features, predictions and mean loss over a split, in evaluation mode (no state changes). One
 * asynchronous read-back per batch (a GPU engine cannot read synchronously).
 */
export async function evaluate(exp: Experiment, split: Split, numClasses: number, batchSize = 500): Promise<{ snapshot: Omit<Snapshot, 'epoch' | 'split'>; loss: number; accuracy: number }> {
  const n = split.count;
  const features = new Float32Array(n * 2);
  const predicted = new Uint8Array(n);
  const labels = new Uint8Array(split.labels.subarray(0, n));
  let lossSum = 0;
  let correct = 0;
  for (let s = 0; s < n; s += batchSize) {
    const idx = new Uint32Array(Math.min(batchSize, n - s)).map((_, i) => s + i);
    const b = idx.length;
    // [loss, features (2b), predicted class (b, or none without logits)]
    const readout = tf.tidy(() => {
      const x = tf.tensor4d(gatherImages(split, idx), [b, split.height, split.width, 1]);
      const y = tf.tensor1d(gatherLabels(split, idx), 'int32');
      const emb = exp.net.forward(x);
      const out = exp.loss.compute(emb, y, { training: false });
      const logits = exp.loss.predict ? exp.loss.predict(emb) : out.logits;
      const parts = [tf.reshape(out.loss, [1]), tf.reshape(emb, [-1])];
      if (logits) parts.push(tf.cast(tf.argMax(logits, 1), 'float32'));
      return tf.concat(parts);
    });
    const v = (await readout.data()) as Float32Array;
    readout.dispose();
    const fault = engineFault();
    if (fault) throw fault;
    lossSum += v[0]! * b;
    features.set(v.subarray(1, 1 + 2 * b), s * 2);
    if (v.length > 1 + 2 * b) for (let k = 0; k < b; k++) predicted[s + k] = v[1 + 2 * b + k]!;
  }
  for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
  return {
    snapshot: { numClasses, embeddingDim: 2, count: n, features, labels, predicted },
    loss: lossSum / n,
    accuracy: n ? correct / n : 0,
  };
}

/** 0 when every value of every tensor is finite, NaN otherwise (one scalar to read back). */
function finiteProbe(ts: tf.Tensor[]): tf.Scalar {
  // Pairwise adds, not addN: one kernel with many inputs can exceed a GPU's buffer bindings.
  return tf.tidy(() => ts.map((t) => tf.sum(tf.mul(t, 0))).reduce((a, b) => tf.add(a, b), tf.scalar(0)) as tf.Scalar);
}

function parseNaNHook(v: string | undefined): { epoch: number; step: number } | undefined {
  const m = v ? /^(\d+):(\d+)$/.exec(v.trim()) : null;
  return m ? { epoch: Number(m[1]), step: Number(m[2]) } : undefined;
}

/** Training reads its per-step values back at most this often (seconds) ... */
const READ_BACK_SECONDS = 1;
/** ... or after this many steps (a GPU runs ahead of the host by at most this many steps). */
const READ_BACK_STEPS = 32;

/** Lets pending signals (Ctrl-C) and I/O run between steps. */
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config, outDir } = opts;
  const emit = opts.onEvent ?? (() => {});
  const nanPolicy = opts.nanPolicy ?? 'stop';
  const inject = opts.injectNaNAt ?? parseNaNHook(process.env.FACELOSSES_TEST_NAN_AT);
  const data = opts.dataset ?? loadDataset(config.data);
  const numClasses = data.numClasses;
  const { batchSize, epochs } = config.train;
  const stepsPerEpoch = Math.floor(data.train.count / batchSize);
  if (stepsPerEpoch < 1) throw new Error(`the training set has ${data.train.count} images, fewer than one batch of ${batchSize}`);
  const exp = buildExperiment(config, numClasses);
  const fingerprint = dataFingerprint(data);
  const ck = opts.resume;
  try {
    if (ck) {
      if (ck.data && ck.data !== fingerprint) throw new Error('the data differ from the data the checkpoint was trained on');
      restoreState(exp, ck, checkpointPath(outDir));
    }
  } catch (e) {
    exp.dispose();
    throw e;
  }
  let dp: DataParallel | undefined;
  if ((opts.workers ?? 1) > 1) {
    try {
      dp = await DataParallel.create(exp.net, { workers: opts.workers, maxBatch: batchSize });
    } catch (e) {
      exp.dispose();
      throw e;
    }
  }
  const snapshots = new Set(config.snapshots);
  const now = new Date().toISOString();
  const info: RunInfo = {
    ...opts.runInfo,
    format: 'facelosses-run/1',
    config,
    profile: config.profile,
    backend: opts.backend,
    codeVersion: codeVersion(),
    startedAt: opts.runInfo?.startedAt ?? now,
    status: 'running',
  };
  delete info.finishedAt;
  delete info.message;
  if (ck) info.resumedAt = [...(info.resumedAt ?? []), now];
  writeRunInfo(outDir, info);

  const all: EpochMetrics[] = ck ? ck.metrics.map((m) => ({ ...m })) : [];
  const startEpoch = ck ? (ck.position ? ck.position.epoch : ck.epoch + 1) : 1;
  let lastGood: string | undefined = ck ? (ck.position ? `epoch ${ck.epoch}, then ${ck.position.step} steps of epoch ${ck.position.epoch}` : `epoch ${ck.epoch}`) : undefined;
  emit({ type: 'start', epochs, startEpoch, stepsPerEpoch, trainCount: stepsPerEpoch * batchSize, validCount: data.valid.count, warmupEpochs: config.train.warmupEpochs });

  const totalSteps = epochs * stepsPerEpoch;
  const t0 = performance.now() - 1000 * (ck?.elapsedSeconds ?? 0);
  const elapsed = () => (performance.now() - t0) / 1000;
  const xBuf = new Float32Array(batchSize * 28 * 28);
  const checkpoint = async (epoch: number, position?: EpochPosition): Promise<string> => {
    const state = await captureState(exp);
    return saveCheckpoint(outDir, {
      format: 'facelosses-checkpoint/1',
      savedAt: new Date().toISOString(),
      backend: opts.backend,
      threads: opts.backendThreads,
      epoch,
      position,
      ...state,
      metrics: all,
      elapsedSeconds: elapsed(),
      data: fingerprint,
    });
  };
  // Divergence (a loss that is finite but exploded, e.g. lr 10) is treated like a NaN: the
  // reference is the run's first loss (at least 1).
  let divergeRef: number | undefined = ck?.metrics[0] ? Math.max(1, Math.abs(ck.metrics[0].loss)) : undefined;
  const diverged = (v: number) => divergeRef !== undefined && Number.isFinite(v) && Math.abs(v) > DIVERGENCE_FACTOR * divergeRef;
  const stopRequested = () => Boolean(opts.signal?.aborted);
  /** Steps whose values are still on the device (see readBack below). */
  const pending: Array<{ step: number; readout: tf.Tensor1D; applied: boolean }> = [];
  const signalName = () => String(opts.signal?.reason ?? 'SIGINT');
  try {
    if (!ck) {
      // The initial state: a run killed in its first epoch can be resumed too.
      await checkpoint(0);
      lastGood = 'epoch 0, before training';
    }
    for (let epoch = startEpoch; epoch <= epochs; epoch++) {
      const pos = ck?.position && ck.position.epoch === epoch ? ck.position : undefined;
      if (pos) exp.rng.setState(pos.rngAtEpochStart);
      const rngAtEpochStart = exp.rng.getState();
      const tEpoch = performance.now();
      const lr = stepDecayLr(config.train.lr, epoch, config.train.lrStepEpochs, config.train.lrGamma);
      const order = shuffledIndices(data.train.count, exp.rng);
      const bs = batches(order, batchSize, true);
      const snap = snapshots.has(epoch);
      const feats = snap ? new Float32Array(bs.length * batchSize * 2) : undefined;
      const labs = snap ? new Uint8Array(bs.length * batchSize) : undefined;
      const preds = snap ? new Uint8Array(bs.length * batchSize) : undefined;
      let lossSum = pos?.lossSum ?? 0;
      let correct = pos?.correct ?? 0;
      let counted = pos?.counted ?? 0;
      let applied = pos?.appliedSteps ?? 0;
      let skipped = pos?.skippedSteps ?? 0;
      const firstStep = pos?.step ?? 0;
      const priorSeconds = pos?.trainSeconds ?? 0;
      if (pos?.snapshot && feats && labs && preds) {
        feats.set(pos.snapshot.features.subarray(0, firstStep * batchSize * 2));
        labs.set(pos.snapshot.labels.subarray(0, firstStep * batchSize));
        preds.set(pos.snapshot.predicted.subarray(0, firstStep * batchSize));
      }
      // Each step's loss, gradient probe, correct count (and, in a snapshot epoch, predictions and
      // features) stay on the device until read back together: at most every READ_BACK_SECONDS
      // or READ_BACK_STEPS steps, at the end of the epoch and before a checkpoint. No per-step
      // synchronisation, which would stall a GPU, except with nanPolicy 'skip-batch', where a
      // step's update waits for its own values (a non-finite or diverged batch is not applied).
      let lastRead = performance.now();
      const readBack = async (): Promise<void> => {
        if (!pending.length) return;
        const batch = pending.splice(0);
        const joined = batch.length === 1 ? batch[0]!.readout : tf.concat(batch.map((p) => p.readout));
        let values: Float32Array;
        try {
          values = (await joined.data()) as Float32Array;
        } finally {
          tf.dispose([joined, ...batch.map((p) => p.readout)]);
        }
        const fault = engineFault();
        if (fault) throw fault;
        lastRead = performance.now();
        let o = 0;
        for (const p of batch) {
          const i = p.step;
          const n = p.readout.shape[0];
          const v = values.subarray(o, o + n);
          o += n;
          const lossValue = inject && inject.epoch === epoch && inject.step === i + 1 ? NaN : v[0]!;
          const ok = Number.isFinite(lossValue) && Number.isFinite(v[1]!) && !diverged(lossValue);
          if (preds && n - 3 - (feats ? 2 * batchSize : 0) === batchSize) for (let k = 0; k < batchSize; k++) preds[i * batchSize + k] = v[3 + k]!;
          if (feats) feats.set(v.subarray(n - 2 * batchSize), i * batchSize * 2);
          if (ok) {
            divergeRef ??= Math.max(1, Math.abs(lossValue));
            lossSum += lossValue;
            applied++;
            if (v[2]! >= 0) {
              correct += v[2]!;
              counted += batchSize;
            }
          } else if (nanPolicy === 'stop' || p.applied) {
            const what = diverged(lossValue)
              ? `the loss diverged to ${lossValue.toPrecision(3)} (over ${DIVERGENCE_FACTOR}x its first value ${divergeRef!.toPrecision(3)})`
              : Number.isFinite(lossValue) ? 'a gradient became non-finite' : `the loss became ${lossValue}`;
            throw new NonFiniteLossError(epoch, i + 1, lossValue, what, lastGood, outDir);
          } else {
            skipped++;
          }
          emit({
            type: 'step',
            epoch,
            step: i + 1,
            stepsPerEpoch,
            loss: lossValue,
            imagesPerSecond: ((i + 1 - firstStep) * batchSize) / ((performance.now() - tEpoch) / 1000),
            doneSteps: (epoch - 1) * stepsPerEpoch + i + 1,
            totalSteps,
          });
        }
      };
      for (let i = firstStep; i < bs.length; i++) {
        if (stopRequested()) {
          await readBack();
          const n = i * batchSize;
          const file = await checkpoint(epoch - 1, {
            epoch,
            step: i,
            rngAtEpochStart,
            lossSum,
            correct,
            counted,
            appliedSteps: applied,
            skippedSteps: skipped,
            trainSeconds: priorSeconds + (performance.now() - tEpoch) / 1000,
            snapshot: feats && labs && preds ? { features: feats.subarray(0, 2 * n), labels: labs.subarray(0, n), predicted: preds.subarray(0, n) } : undefined,
          });
          throw new TrainingInterrupted(signalName(), epoch, i, bs.length, file);
        }
        const idx = bs[i]!;
        const yArr = gatherLabels(data.train, idx);
        if (labs) labs.set(yArr, i * batchSize);
        // Readout: [loss, gradient probe, correct count (-1 without logits), predictions (B, in a
        // snapshot epoch with logits), features (2B, in a snapshot epoch)].
        const g = tf.tidy(() => {
          const x = tf.tensor4d(gatherImages(data.train, idx, xBuf), [batchSize, 28, 28, 1]);
          const y = tf.tensor1d(yArr, 'int32');
          const r = dp ? dp.computeGradients(exp.loss, exp.vars, x, y) : computeGradients(exp.net, exp.loss, exp.vars, x, y);
          const pred = r.logits ? tf.argMax(r.logits, 1) : undefined;
          const right = pred ? tf.sum(tf.cast(tf.equal(pred, y), 'float32')) : tf.scalar(-1);
          const parts: tf.Tensor[] = [tf.reshape(r.loss, [1]), tf.reshape(finiteProbe(Object.values(r.grads)), [1]), tf.reshape(right, [1])];
          if (preds && pred) parts.push(tf.cast(pred, 'float32'));
          if (feats) parts.push(tf.reshape(r.embeddings, [-1]));
          return { grads: r.grads, embeddings: r.embeddings, y, readout: tf.concat(parts) as tf.Tensor1D };
        });
        let apply = true;
        if (nanPolicy === 'skip-batch') {
          // The update waits for this step's values: read them (and everything before) now.
          pending.push({ step: i, readout: g.readout, applied: false });
          const before = skipped;
          try {
            await readBack();
          } catch (e) {
            tf.dispose([g.grads, g.embeddings, g.y]);
            throw e;
          }
          apply = skipped === before;
        }
        if (apply) {
          tf.tidy(() => {
            exp.optimizer.lr = lr * warmupFactor(config.train.warmupEpochs, epoch, i, bs.length);
            exp.optimizer.apply(g.grads);
            dp?.markWeightsChanged();
            exp.loss.afterStep?.(g.embeddings, g.y);
          });
        }
        tf.dispose([g.grads, g.embeddings, g.y]);
        if (nanPolicy !== 'skip-batch') {
          pending.push({ step: i, readout: g.readout, applied: true });
          if (pending.length >= READ_BACK_STEPS || performance.now() - lastRead >= 1000 * READ_BACK_SECONDS || i === bs.length - 1) await readBack();
        }
        await yieldToEventLoop();
      }
      await readBack();
      const trainTime = (performance.now() - tEpoch) / 1000;
      if (applied === 0) throw new NonFiniteLossError(epoch, bs.length, NaN, `every batch of the epoch had a non-finite or diverged loss or gradient (${skipped} skipped)`, lastGood, outDir, nanPolicy);
      // The update of a finite gradient can still overflow, and a loss's own step can go wrong:
      // nothing non-finite goes into a checkpoint.
      const probe = finiteProbe([...Object.values(exp.vars), ...Object.values(exp.loss.stateVariables())]);
      const stateOk = Number.isFinite((await probe.data())[0]!);
      probe.dispose();
      if (!stateOk) throw new NonFiniteLossError(epoch, bs.length, lossSum / applied, 'a weight became non-finite', lastGood, outDir);
      const ev = await evaluate(exp, data.valid, numClasses);
      const m: EpochMetrics = {
        epoch,
        lr,
        loss: lossSum / applied,
        trainAccuracy: counted ? correct / counted : 0,
        validLoss: ev.loss,
        validAccuracy: ev.accuracy,
        skippedBatches: skipped,
        imagesPerSecond: ((bs.length - firstStep) * batchSize) / (trainTime || 1e-9),
        seconds: priorSeconds + (performance.now() - tEpoch) / 1000,
        elapsedSeconds: elapsed(),
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
        if (opts.onSnapshot) {
          try {
            files.push(...(await opts.onSnapshot(outDir, epoch, s)));
          } catch (e) {
            await checkpoint(epoch); // drawing failed: the epoch is trained and saved all the same
            lastGood = `epoch ${epoch}`;
            throw e;
          }
        }
        emit({ type: 'snapshot', epoch, files });
      }
      // Last: a kill before this line redoes the epoch (metrics, snapshots and figures included).
      const file = await checkpoint(epoch);
      lastGood = `epoch ${epoch}`;
      if (stopRequested() && epoch < epochs) throw new TrainingInterrupted(signalName(), epoch + 1, 0, bs.length, file);
    }
  } catch (e) {
    const status = e instanceof TrainingInterrupted ? 'interrupted' : 'failed';
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      // A full disk, a folder gone read-only: say what survives and how to go on.
      const kept = lastGood ? `the last good checkpoint (${lastGood}) stays in ${checkpointPath(outDir)}; fix the cause and continue with --resume ${outDir}` : 'no checkpoint was written';
      e = new Error(`could not write the run folder (${(e as Error).message}); ${kept}`);
    }
    try {
      writeRunInfo(outDir, { ...info, status, message: (e as Error).message });
    } catch {
      // A full disk must not hide the error that stopped the run.
    }
    tf.dispose(pending.splice(0).map((p) => p.readout));
    await dp?.dispose();
    exp.dispose();
    throw e;
  }
  const last = all[all.length - 1]!;
  writeRunInfo(outDir, { ...info, status: 'finished', finishedAt: new Date().toISOString(), validAccuracy: last.validAccuracy });
  await dp?.dispose();
  exp.dispose();
  return { metrics: all, validAccuracy: last.validAccuracy, runDir: outDir };
}
