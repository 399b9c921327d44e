/**
 * The NaN guard: what a non-finite loss or gradient, or a diverged loss, does to a run. nanPolicy
 * 'stop' ends the run (the last good checkpoint stays); 'skip-batch' discards that batch's update
 * and counts it in the epoch's metrics as skippedBatches.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkpointPath } from '../run/checkpoint.js';

export type NanPolicy = 'stop' | 'skip-batch';
export const NAN_POLICIES: readonly NanPolicy[] = ['stop', 'skip-batch'];
/** A loss this many times its first value (at least 1) counts as diverged, like a NaN. */
export const DIVERGENCE_FACTOR = 1e4;

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

/**
 * Judges each step's loss and gradient probe. Divergence (a loss that is finite but exploded,
 * e.g. lr 10) is treated like a NaN: the reference is the run's first good loss (at least 1).
 */
export class LossGuard {
  private ref: number | undefined;

  /** `firstLoss`: the first epoch's mean loss of a resumed run. */
  constructor(firstLoss?: number) {
    this.ref = firstLoss === undefined ? undefined : Math.max(1, Math.abs(firstLoss));
  }

  /** What went wrong with a step (its loss and gradient probe), or undefined when nothing did. */
  problem(loss: number, gradientProbe: number): string | undefined {
    if (!Number.isFinite(loss)) return `the loss became ${loss}`;
    if (this.ref !== undefined && Math.abs(loss) > DIVERGENCE_FACTOR * this.ref) {
      return `the loss diverged to ${loss.toPrecision(3)} (over ${DIVERGENCE_FACTOR}x its first value ${this.ref.toPrecision(3)})`;
    }
    if (!Number.isFinite(gradientProbe)) return 'a gradient became non-finite';
    this.ref ??= Math.max(1, Math.abs(loss));
    return undefined;
  }
}

/** 0 when every value of every tensor is finite, NaN otherwise (one scalar to read back). */
export function finiteProbe(ts: tf.Tensor[]): tf.Scalar {
  // Pairwise adds, not addN: one kernel with many inputs can exceed a GPU's buffer bindings.
  return tf.tidy(() => ts.map((t) => tf.sum(tf.mul(t, 0))).reduce((a, b) => tf.add(a, b), tf.scalar(0)) as tf.Scalar);
}

/** True when every variable holds only finite values (one asynchronous read-back). */
export async function allFinite(vars: tf.Variable[]): Promise<boolean> {
  const probe = finiteProbe(vars);
  try {
    return Number.isFinite((await probe.data())[0]!);
  } finally {
    probe.dispose();
  }
}
