/**
 * Takes the frames of a run's feature history (src/run/history.ts decides when and writes them):
 * forward passes over the fixed subsamples in evaluation mode, which change no state (no
 * generator draw, no weight, no loss counter), so a run with its history trains exactly as one
 * without.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, Split } from '../data/mnist.js';
import type { Loss } from '../losses/types.js';
import type { ClassVectorKind, HistoryFrame, HistoryPlan, HistoryPoints } from '../run/history.js';
import type { Snapshot } from '../run/snapshot.js';
import { evaluate } from './evaluate.js';
import type { Experiment } from './experiment.js';
import type { DataParallel } from './parallel.js';

/**
 * The loss's class vectors as [numClasses, dim]: its class centers (state variable `centers`,
 * Center and Triplet+Center losses), else its class weights (trainable `W` of [dim, numClasses],
 * transposed), else none.
 */
function classVectorsOf(loss: Loss): { kind: ClassVectorKind; read: () => tf.Tensor2D } | null {
  const c = loss.stateVariables().centers;
  if (c && c.shape.length === 2 && c.shape[0] === loss.numClasses) return { kind: 'centers', read: () => tf.clone(c) as tf.Tensor2D };
  const w = loss.trainableVariables().W;
  if (w && w.shape.length === 2 && w.shape[1] === loss.numClasses) return { kind: 'class weights', read: () => tf.transpose(w) as tf.Tensor2D };
  return null;
}

/** What kind of class vectors the loss has (see classVectorsOf). */
export function classVectorKind(loss: Loss): ClassVectorKind | null {
  return classVectorsOf(loss)?.kind ?? null;
}

/** The images of `split` at `indices`, as a split of their own. */
function subSplit(split: Split, indices: Int32Array): Split {
  const px = split.height * split.width;
  const images = new Uint8Array(indices.length * px);
  const labels = new Uint8Array(indices.length);
  indices.forEach((k, i) => {
    images.set(split.images.subarray(k * px, (k + 1) * px), i * px);
    labels[i] = split.labels[k]!;
  });
  return { images, labels, count: indices.length, height: split.height, width: split.width };
}

export class HistoryFrames {
  private readonly trainSub: Split;
  private readonly validSub: Split;

  constructor(
    private readonly exp: Experiment,
    data: Dataset,
    private readonly plan: HistoryPlan,
    private readonly dp?: DataParallel,
  ) {
    this.trainSub = subSplit(data.train, plan.trainIndices);
    this.validSub = subSplit(data.valid, plan.earlyValidIndices);
  }

  /**
   * The frame after `step` optimisation steps. `valid`: the whole test set's evaluation the
   * trainer made at an epoch's end; without it the early subsample is evaluated. Returns the frame
   * and the seconds it took.
   */
  async take(step: number, valid?: { snapshot: Omit<Snapshot, 'epoch' | 'split'>; accuracy: number }): Promise<{ frame: HistoryFrame; seconds: number }> {
    const t0 = performance.now();
    const { exp, plan, dp } = this;
    const numClasses = plan.numClasses;
    const pts = (s: Omit<Snapshot, 'epoch' | 'split'>, indices: Int32Array): HistoryPoints => ({ features: s.features, labels: s.labels, predicted: s.predicted, indices });
    let v = valid;
    let validIndices: Int32Array;
    if (v) validIndices = Int32Array.from({ length: v.snapshot.count }, (_, i) => i);
    else {
      v = await evaluate(exp, this.validSub, numClasses, { dp });
      validIndices = plan.earlyValidIndices;
    }
    const tr = await evaluate(exp, this.trainSub, numClasses, { dp });
    const cv = classVectorsOf(exp.loss);
    let weights: Float32Array | null = null;
    if (cv) {
      const t = cv.read();
      try {
        weights = new Float32Array((await t.data()) as Float32Array);
      } finally {
        t.dispose();
      }
    }
    const frame: HistoryFrame = {
      step,
      epoch: step / plan.stepsPerEpoch,
      validAccuracy: v.accuracy,
      valid: pts(v.snapshot, validIndices),
      train: pts(tr.snapshot, plan.trainIndices),
      weights,
    };
    return { frame, seconds: (performance.now() - t0) / 1000 };
  }
}
