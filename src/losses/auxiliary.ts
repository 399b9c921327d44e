/**
 * The pieces of the auxiliary losses (Center, Contrastive, Triplet, Triplet+Center), which all
 * add a weighted term to softmax cross-entropy on a linear classifier without bias:
 * L = CE(x·W) + Σ λ_k·L_k(x).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BaseLoss, SQRT_EPS, crossEntropy, greaterMask, l2Normalize, oneHotFloat, uniqueName } from './common.js';
import type { ComputeOptions, LossContext, LossDefinition, LossOutput, ParamSchema, ParamsOf } from './types.js';

export abstract class SoftmaxPlusAuxLoss<S extends ParamSchema = ParamSchema> extends BaseLoss<S> {
  /** Class weights [embeddingDim, numClasses] of the softmax classifier. */
  readonly W: tf.Variable;

  constructor(definition: LossDefinition<S>, params: ParamsOf<S>, ctx: LossContext) {
    super(definition, params, ctx);
    this.W = this.addClassWeights(ctx);
  }

  /** The weighted auxiliary term (a scalar), inside the caller's tidy. */
  protected abstract auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar;

  /** Features the auxiliary term sees: x, or x/‖x‖ when `normalize` (the loss's normalize parameter). */
  protected auxFeatures(embeddings: tf.Tensor2D, normalize: boolean): tf.Tensor2D {
    return normalize ? l2Normalize(embeddings) : embeddings;
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(embeddings, this.W as tf.Tensor2D));
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, _opts?: ComputeOptions): LossOutput {
    return tf.tidy(() => {
      const logits = this.predict(embeddings);
      const loss = tf.add(crossEntropy(logits, labels), this.auxiliary(embeddings, labels)) as tf.Scalar;
      return { loss, logits };
    });
  }
}

/**
 * Class centers for the center loss: a [numClasses, embeddingDim] state variable, zero at the
 * start, not trained by the optimizer (no weight decay), moved once per training step by the
 * paper's rule Δc_j = Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j), c_j ← c_j − α·Δc_j.
 */
export class Centers {
  readonly centers: tf.Variable;

  constructor(
    ctx: LossContext,
    readonly alpha: number,
  ) {
    this.centers = tf.tidy(() => tf.variable(tf.zeros([ctx.numClasses, ctx.embeddingDim]), false, uniqueName('centers')));
  }

  /** ½·mean_i ‖x_i − c_{y_i}‖² (centers are constants here). */
  term(features: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    return tf.tidy(() => {
      const c = tf.gather(this.centers, tf.cast(labels, 'int32'));
      return tf.mul(0.5, tf.mean(tf.sum(tf.square(tf.sub(features, c)), 1))) as tf.Scalar;
    });
  }

  /** One center update from a batch. */
  update(features: tf.Tensor2D, labels: tf.Tensor1D): void {
    const next = tf.tidy(() => {
      const oh = oneHotFloat(labels, this.centers.shape[0]); // [N, C]
      const sums = tf.matMul(oh, features, true, false); // [C, D] Σ_{i: y_i = j} x_i
      const counts = tf.reshape(tf.sum(oh, 0), [-1, 1]); // [C, 1]
      const delta = tf.div(tf.sub(tf.mul(counts, this.centers), sums), tf.add(counts, 1));
      return tf.sub(this.centers, tf.mul(this.alpha, delta));
    });
    this.centers.assign(next);
    next.dispose();
  }
}

/** Pairwise Euclidean distances [N, N] of x [N, D]: sqrt(‖x_i − x_j‖² + ε), or the squared distance. */
export function pairwiseDistances(x: tf.Tensor2D, squared = false): tf.Tensor2D {
  return tf.tidy(() => {
    const diff = tf.sub(tf.expandDims(x, 1), tf.expandDims(x, 0)); // [N, N, D]
    const sq = tf.sum(tf.square(diff), 2);
    return (squared ? sq : tf.sqrt(tf.add(sq, SQRT_EPS))) as tf.Tensor2D;
  });
}

/** Float masks [N, N]: same label (i ≠ j) and different label. */
export function pairMasks(labels: tf.Tensor1D): { pos: tf.Tensor2D; neg: tf.Tensor2D } {
  return tf.tidy(() => {
    const l = tf.cast(labels, 'int32');
    const same = tf.cast(tf.equal(tf.expandDims(l, 1), tf.expandDims(l, 0)), 'float32');
    const n = labels.shape[0];
    return { pos: tf.sub(same, tf.eye(n)) as tf.Tensor2D, neg: tf.sub(1, same) as tf.Tensor2D };
  });
}

/**
 * Contrastive loss over all pairs i ≠ j of the batch:
 * mean(same·d² + (1 − same)·max(0, m − d)²). 0 for a batch of fewer than two samples.
 */
export function contrastiveTerm(features: tf.Tensor2D, labels: tf.Tensor1D, margin: number): tf.Scalar {
  return tf.tidy(() => {
    const n = features.shape[0];
    if (n < 2) return tf.scalar(0);
    const d = pairwiseDistances(features);
    const { pos, neg } = pairMasks(labels);
    const per = tf.add(tf.mul(pos, tf.square(d)), tf.mul(neg, tf.square(tf.relu(tf.sub(margin, d)))));
    return tf.div(tf.sum(per), n * (n - 1)) as tf.Scalar;
  });
}

export type TripletStrategy = 'batch_hard' | 'batch_all' | 'semi_hard';
export const TRIPLET_STRATEGIES: readonly TripletStrategy[] = ['batch_hard', 'batch_all', 'semi_hard'];

/** A distance no real pair reaches; fills masked entries before a min or a max. */
const FAR = 1e9;

/** mask·value + (1 − mask)·fill for a 0/1 float mask: a select whose gradient is exact and needs no boolean op. */
function blend(mask: tf.Tensor, value: tf.Tensor, fill: number): tf.Tensor {
  return tf.add(tf.mul(mask, value), tf.mul(tf.sub(1, mask), fill));
}

/**
 * Triplet loss max(0, d(a,p) − d(a,n) + m) with a mining strategy:
 * - batch_hard: per anchor, the farthest positive and the nearest negative; mean over anchors
 *   that have both;
 * - batch_all: every valid triplet; mean over the triplets with a positive loss;
 * - semi_hard: per (anchor, positive), the nearest negative with d(a,p) < d(a,n) < d(a,p) + m;
 *   mean over the pairs that have one.
 * Selection masks carry no gradient. 0 (not NaN) when no valid triplet exists.
 */
export function tripletTerm(
  features: tf.Tensor2D,
  labels: tf.Tensor1D,
  margin: number,
  strategy: TripletStrategy,
  squared = false,
): tf.Scalar {
  return tf.tidy(() => {
    if (features.shape[0] < 3) return tf.scalar(0);
    const d = pairwiseDistances(features, squared);
    const { pos, neg } = pairMasks(labels);
    const safeDiv = (num: tf.Tensor, count: tf.Tensor) => tf.div(num, tf.maximum(count, 1)) as tf.Scalar;

    if (strategy === 'batch_hard') {
      const hardestPos = tf.max(blend(pos, d, -FAR), 1);
      const hardestNeg = tf.min(blend(neg, d, FAR), 1);
      const valid = tf.mul(tf.max(pos, 1), tf.max(neg, 1)); // anchor has a positive and a negative
      const per = tf.mul(valid, tf.relu(tf.add(tf.sub(hardestPos, hardestNeg), margin)));
      return safeDiv(tf.sum(per), tf.sum(valid));
    }

    // Valid triplets [a, p, n]: p shares a's label (p ≠ a), n does not.
    const valid = tf.mul(tf.expandDims(pos, 2), tf.expandDims(neg, 1));
    const dap = tf.expandDims(d, 2); // [a, p, 1]
    const dan = tf.expandDims(d, 1); // [a, 1, n]

    if (strategy === 'batch_all') {
      const per = tf.mul(valid, tf.relu(tf.add(tf.sub(dap, dan), margin)));
      const active = greaterMask(per, 1e-16);
      return safeDiv(tf.sum(per), tf.sum(active));
    }

    // semi_hard: d(a,p) < d(a,n) < d(a,p) + m, chosen without gradient.
    const semi = tf.mul(valid, tf.mul(greaterMask(dan, dap), greaterMask(tf.add(dap, margin), dan))); // [a, p, n]
    const nearestNeg = tf.min(blend(semi, tf.broadcastTo(dan, semi.shape), FAR), 2); // [a, p]
    const has = tf.max(semi, 2); // [a, p]
    const per = tf.mul(has, tf.relu(tf.add(tf.sub(d, nearestNeg), margin)));
    return safeDiv(tf.sum(per), tf.sum(has));
  });
}
