/** The class centers of the center loss (Center, Triplet+Center): a state variable moved once per step. */
import * as tf from '@tensorflow/tfjs-core';
import { oneHotFloat, uniqueName } from './common.js';
import type { LossContext } from './types.js';

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
