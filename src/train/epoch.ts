/**
 * One epoch of training steps: shuffled batches, each step's forward and backward, the NaN guard,
 * the update, progress, and a checkpoint of the position reached when training is asked to stop.
 *
 * Each step's loss, gradient probe, correct count (and, in a snapshot epoch, predictions and
 * features) stay on the device until read back together: at most every READ_BACK_SECONDS or
 * READ_BACK_STEPS steps, at the end of the epoch and before a checkpoint. No per-step
 * synchronisation, which would stall a GPU, except with nanPolicy 'skip-batch', where a step's
 * update waits for its own values (a non-finite or diverged batch is not applied).
 */
import * as tf from '@tensorflow/tfjs-core';
import { engineFault } from '../backend.js';
import type { ResolvedConfig } from '../config/config.js';
import { batches, gatherImages, gatherLabels, shuffledIndices, type Split } from '../data/mnist.js';
import type { EpochPosition } from '../run/checkpoint.js';
import type { Experiment } from './experiment.js';
import { allFinite, finiteProbe, type LossGuard, type NanPolicy, NonFiniteLossError } from './nan-guard.js';
import { stepDecayLr, warmupFactor } from './optimizer.js';
import type { DataParallel } from './parallel.js';
import { applyGradients, computeGradients, type StepResult } from './step.js';

/** Training reads its per-step values back at most this often (seconds) ... */
const READ_BACK_SECONDS = 1;
/** ... or after this many steps (a GPU runs ahead of the host by at most this many steps). */
const READ_BACK_STEPS = 32;

/** Lets pending signals (Ctrl-C) and I/O run between steps. */
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** A step's loss, embeddings, logits and the gradients of every trainable variable. */
export type Gradients = StepResult & { grads: Record<string, tf.Tensor> };
/** Where a step stands: epoch and step, both counted from 1. */
export interface StepPlace {
  epoch: number;
  step: number;
}
/**
 * Runs in place of a step's forward and backward pass (inside the step's tf.tidy): calls
 * `compute` (the engine's own pass) and returns its result or another one. Tests make a step's
 * loss NaN this way.
 */
export type WrapStep = (compute: () => Gradients, at: StepPlace) => Gradients;

/** Progress after each step (see TrainEvent 'step'). */
export interface StepProgress {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  imagesPerSecond: number;
  doneSteps: number;
  totalSteps: number;
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

export interface EpochSetup {
  exp: Experiment;
  /** Data-parallel workers for the network's forward and backward, when used. */
  dp?: DataParallel;
  split: Split;
  train: ResolvedConfig['train'];
  nanPolicy: NanPolicy;
  guard: LossGuard;
  /** Where the run's checkpoint stands and where it is, for the message of a NaN stop. */
  lastGood: () => string | undefined;
  runDir: string;
  /** Saves a checkpoint of the last completed epoch and the position inside the next; returns the file. */
  checkpoint: (epoch: number, position: EpochPosition) => Promise<string>;
  onStep: (p: StepProgress) => void;
  /** Called after each step's update with the optimisation steps done in the run (the feature history takes its early frames here). */
  afterStep?: (doneSteps: number) => Promise<void> | void;
  wrapStep?: WrapStep;
  /** Aborted: stop at the start of the next step, after a checkpoint. */
  signal?: AbortSignal;
}

/** What an epoch's steps gave. */
export interface EpochResult {
  lr: number;
  /** Mean loss over the applied steps and training accuracy (0 without logits). */
  loss: number;
  trainAccuracy: number;
  skippedBatches: number;
  imagesPerSecond: number;
  /** performance.now() when this process started the epoch, and the epoch's seconds before (resumed). */
  startedAt: number;
  priorSeconds: number;
  /** Train features, labels and predictions of every step, in a snapshot epoch. */
  snapshot?: { features: Float32Array; labels: Uint8Array; predicted: Uint8Array };
}

interface Sums {
  epoch: number;
  startedAt: number;
  firstStep: number;
  lastRead: number;
  lossSum: number;
  correct: number;
  counted: number;
  applied: number;
  skipped: number;
  feats?: Float32Array;
  labs?: Uint8Array;
  preds?: Uint8Array;
}

/** An epoch in progress: what it trains on and the sums read back so far. */
interface EpochState extends Sums {
  /** The epoch's base learning rate (before warm-up). */
  lr: number;
  /** The epoch's shuffled batches of image indices. */
  batches: Uint32Array[];
  /** The random state the shuffle started from; a checkpoint inside the epoch keeps it to shuffle again alike. */
  rngAtEpochStart: EpochPosition['rngAtEpochStart'];
  /** Training seconds of this epoch before a resume. */
  priorSeconds: number;
}

/** A step's tensors after its forward and backward pass, until its update is applied. */
interface StepTensors {
  grads: Record<string, tf.Tensor>;
  embeddings: tf.Tensor2D;
  y: tf.Tensor1D;
  /** Read back later: [loss, gradient probe, correct count, predictions?, features?] (see forwardBackward). */
  readout: tf.Tensor1D;
}

export class EpochTrainer {
  /** Steps whose values are still on the device (see readBack). */
  private readonly pending: Array<{ step: number; readout: tf.Tensor1D; applied: boolean }> = [];
  private readonly xBuf: Float32Array;
  readonly stepsPerEpoch: number;

  constructor(private readonly s: EpochSetup) {
    this.xBuf = new Float32Array(s.train.batchSize * s.split.height * s.split.width);
    this.stepsPerEpoch = Math.floor(s.split.count / s.train.batchSize);
  }

  /** Trains one epoch (from `resumeAt` when it continues one), collecting train features when `snapshot`. */
  async run(epoch: number, snapshot: boolean, resumeAt?: EpochPosition): Promise<EpochResult> {
    const st = this.begin(epoch, snapshot, resumeAt);
    for (let i = st.firstStep; i < st.batches.length; i++) {
      if (this.s.signal?.aborted) await this.interrupt(st, i);
      await this.step(st, i);
      if (this.s.afterStep) await this.s.afterStep((epoch - 1) * st.batches.length + i + 1);
      await yieldToEventLoop();
    }
    return this.finish(st);
  }

  /**
   * Shuffles the epoch's batches and sets up its sums: from zero, or from the position reached
   * (random state at the epoch's start, sums and snapshot values of the steps done) when resumed.
   */
  private begin(epoch: number, snapshot: boolean, pos: EpochPosition | undefined): EpochState {
    const { exp, split, train } = this.s;
    const { batchSize } = train;
    if (pos) exp.rng.setState(pos.rngAtEpochStart);
    const rngAtEpochStart = exp.rng.getState();
    const startedAt = performance.now();
    const lr = stepDecayLr(train.lr, epoch, train.lrStepEpochs, train.lrGamma);
    const bs = batches(shuffledIndices(split.count, exp.rng), batchSize, true);
    const firstStep = pos?.step ?? 0;
    const n = bs.length * batchSize;
    const dim = exp.net.embeddingDim;
    const st: EpochState = {
      epoch,
      startedAt,
      firstStep,
      lastRead: performance.now(),
      lossSum: pos?.lossSum ?? 0,
      correct: pos?.correct ?? 0,
      counted: pos?.counted ?? 0,
      applied: pos?.appliedSteps ?? 0,
      skipped: pos?.skippedSteps ?? 0,
      ...(snapshot ? { feats: new Float32Array(n * dim), labs: new Uint8Array(n), preds: new Uint8Array(n) } : {}),
      lr,
      batches: bs,
      rngAtEpochStart,
      priorSeconds: pos?.trainSeconds ?? 0,
    };
    if (pos?.snapshot && st.feats && st.labs && st.preds) {
      st.feats.set(pos.snapshot.features.subarray(0, firstStep * batchSize * dim));
      st.labs.set(pos.snapshot.labels.subarray(0, firstStep * batchSize));
      st.preds.set(pos.snapshot.predicted.subarray(0, firstStep * batchSize));
    }
    return st;
  }

  /** Stops before step `i` (0-based) on request: reads back, saves the position reached and throws TrainingInterrupted. */
  private async interrupt(st: EpochState, i: number): Promise<never> {
    const { batchSize } = this.s.train;
    const dim = this.s.exp.net.embeddingDim;
    await this.readBack(st);
    const done = i * batchSize;
    const file = await this.s.checkpoint(st.epoch - 1, {
      epoch: st.epoch,
      step: i,
      rngAtEpochStart: st.rngAtEpochStart,
      lossSum: st.lossSum,
      correct: st.correct,
      counted: st.counted,
      appliedSteps: st.applied,
      skippedSteps: st.skipped,
      trainSeconds: st.priorSeconds + (performance.now() - st.startedAt) / 1000,
      snapshot: st.feats && st.labs && st.preds ? { features: st.feats.subarray(0, dim * done), labels: st.labs.subarray(0, done), predicted: st.preds.subarray(0, done) } : undefined,
    });
    throw new TrainingInterrupted(String(this.s.signal?.reason ?? 'SIGINT'), st.epoch, i, st.batches.length, file);
  }

  /**
   * Step `i` (0-based): forward and backward, then the update, unless nanPolicy 'skip-batch'
   * finds the batch non-finite or diverged; the step's values are read back when due.
   */
  private async step(st: EpochState, i: number): Promise<void> {
    const { exp, dp, train, nanPolicy } = this.s;
    const g = this.forwardBackward(st, i);
    let apply = true;
    if (nanPolicy === 'skip-batch') {
      // The update waits for this step's values: read them (and everything before) now.
      this.pending.push({ step: i, readout: g.readout, applied: false });
      const before = st.skipped;
      try {
        await this.readBack(st);
      } catch (e) {
        tf.dispose([g.grads, g.embeddings, g.y]);
        throw e;
      }
      apply = st.skipped === before;
    }
    if (apply) {
      tf.tidy(() => {
        exp.optimizer.lr = st.lr * warmupFactor(train.warmupEpochs, st.epoch, i, st.batches.length);
        applyGradients(exp.optimizer, exp.loss, g, g.y);
        dp?.markWeightsChanged();
      });
    }
    tf.dispose([g.grads, g.embeddings, g.y]);
    if (nanPolicy !== 'skip-batch') {
      this.pending.push({ step: i, readout: g.readout, applied: true });
      if (this.pending.length >= READ_BACK_STEPS || performance.now() - st.lastRead >= 1000 * READ_BACK_SECONDS || i === st.batches.length - 1) await this.readBack(st);
    }
  }

  /** The forward and backward pass of step `i` (0-based), with the values to read back joined in one tensor. */
  private forwardBackward(st: EpochState, i: number): StepTensors {
    const { exp, dp, split } = this.s;
    const { batchSize } = this.s.train;
    const idx = st.batches[i]!;
    const yArr = gatherLabels(split, idx);
    st.labs?.set(yArr, i * batchSize);
    // Readout: [loss, gradient probe, correct count (-1 without logits), predictions (B, in a
    // snapshot epoch with logits), features (2B, in a snapshot epoch)].
    return tf.tidy(() => {
      const x = tf.tensor4d(gatherImages(split, idx, this.xBuf), [batchSize, split.height, split.width, 1]);
      const y = tf.tensor1d(yArr, 'int32');
      const compute = () => (dp ? dp.computeGradients(exp.loss, exp.vars, x, y) : computeGradients(exp.net, exp.loss, exp.vars, x, y));
      const r = this.s.wrapStep ? this.s.wrapStep(compute, { epoch: st.epoch, step: i + 1 }) : compute();
      const pred = r.logits ? tf.argMax(r.logits, 1) : undefined;
      const right = pred ? tf.sum(tf.cast(tf.equal(pred, y), 'float32')) : tf.scalar(-1);
      const parts: tf.Tensor[] = [tf.reshape(r.loss, [1]), tf.reshape(finiteProbe(Object.values(r.grads)), [1]), tf.reshape(right, [1])];
      if (st.preds && pred) parts.push(tf.cast(pred, 'float32'));
      if (st.feats) parts.push(tf.reshape(r.embeddings, [-1]));
      return { grads: r.grads, embeddings: r.embeddings, y, readout: tf.concat(parts) as tf.Tensor1D };
    });
  }

  /**
   * Reads back the last steps and ends the epoch: stops when no batch was applied or a weight
   * became non-finite, else returns the epoch's result.
   */
  private async finish(st: EpochState): Promise<EpochResult> {
    const { exp, nanPolicy } = this.s;
    const steps = st.batches.length;
    await this.readBack(st);
    const trainTime = (performance.now() - st.startedAt) / 1000;
    if (st.applied === 0) throw this.stopped(st.epoch, steps, NaN, `every batch of the epoch had a non-finite or diverged loss or gradient (${st.skipped} skipped)`, nanPolicy);
    // The update of a finite gradient can still overflow, and a loss's own step can go wrong:
    // nothing non-finite goes into a checkpoint.
    if (!(await allFinite([...Object.values(exp.vars), ...Object.values(exp.loss.stateVariables())]))) {
      throw this.stopped(st.epoch, steps, st.lossSum / st.applied, 'a weight became non-finite');
    }
    return {
      lr: st.lr,
      loss: st.lossSum / st.applied,
      trainAccuracy: st.counted ? st.correct / st.counted : 0,
      skippedBatches: st.skipped,
      imagesPerSecond: ((steps - st.firstStep) * this.s.train.batchSize) / (trainTime || 1e-9),
      startedAt: st.startedAt,
      priorSeconds: st.priorSeconds,
      snapshot: st.feats && st.labs && st.preds ? { features: st.feats, labels: st.labs, predicted: st.preds } : undefined,
    };
  }

  /** Releases the values of steps not read back (after a failure). */
  dispose(): void {
    tf.dispose(this.pending.splice(0).map((p) => p.readout));
  }

  private stopped(epoch: number, step: number, value: number, what: string, policy?: NanPolicy): NonFiniteLossError {
    return new NonFiniteLossError(epoch, step, value, what, this.s.lastGood(), this.s.runDir, policy);
  }

  /** Reads back the pending steps' values, adds them to the epoch's sums and applies the NaN guard. */
  private async readBack(st: Sums): Promise<void> {
    if (!this.pending.length) return;
    const { batchSize } = this.s.train;
    const dim = this.s.exp.net.embeddingDim;
    const batch = this.pending.splice(0);
    const joined = batch.length === 1 ? batch[0]!.readout : tf.concat(batch.map((p) => p.readout));
    let values: Float32Array;
    try {
      values = (await joined.data()) as Float32Array;
    } finally {
      tf.dispose([joined, ...batch.map((p) => p.readout)]);
    }
    const fault = engineFault();
    if (fault) throw fault;
    st.lastRead = performance.now();
    let o = 0;
    for (const p of batch) {
      const i = p.step;
      const n = p.readout.shape[0];
      const v = values.subarray(o, o + n);
      o += n;
      const lossValue = v[0]!;
      const problem = this.s.guard.problem(lossValue, v[1]!);
      if (st.preds && n - 3 - (st.feats ? dim * batchSize : 0) === batchSize) for (let k = 0; k < batchSize; k++) st.preds[i * batchSize + k] = v[3 + k]!;
      if (st.feats) st.feats.set(v.subarray(n - dim * batchSize), i * batchSize * dim);
      if (!problem) {
        st.lossSum += lossValue;
        st.applied++;
        if (v[2]! >= 0) {
          st.correct += v[2]!;
          st.counted += batchSize;
        }
      } else if (this.s.nanPolicy === 'stop' || p.applied) {
        throw this.stopped(st.epoch, i + 1, lossValue, problem);
      } else {
        st.skipped++;
      }
      this.s.onStep({
        epoch: st.epoch,
        step: i + 1,
        stepsPerEpoch: this.stepsPerEpoch,
        loss: lossValue,
        imagesPerSecond: ((i + 1 - st.firstStep) * batchSize) / ((performance.now() - st.startedAt) / 1000),
        doneSteps: (st.epoch - 1) * this.stepsPerEpoch + i + 1,
        totalSteps: this.s.train.epochs * this.stepsPerEpoch,
      });
    }
  }
}
