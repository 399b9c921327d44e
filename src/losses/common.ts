import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-gradients.js';
import { Rng } from '../rng.js';
import type { LossContext } from './types.js';

/** Xavier/Glorot normal initial values for a [rows, cols] matrix. */
export function glorotNormal(rows: number, cols: number, rng?: Rng): Float32Array {
  const r = rng ?? new Rng(0);
  return r.normalArray(rows * cols, Math.sqrt(2 / (rows + cols)));
}

/** Class-weight matrix W of layout [embeddingDim, numClasses] (column j is W_j). */
export function classWeights(ctx: LossContext, name = 'W'): tf.Variable {
  const { embeddingDim: d, numClasses: c } = ctx;
  return tf.variable(tf.tensor2d(glorotNormal(d, c, ctx.rng), [d, c]), true, uniqueName(name));
}

let counter = 0;
/** tfjs variable names must be unique in the engine; keep the readable part first. */
export function uniqueName(name: string): string {
  counter += 1;
  return `${name}_${counter}`;
}

/** Mean softmax cross-entropy of logits [N, C] against integer labels [N]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), 1)));
  });
}

/** Row-wise L2 normalisation with an epsilon, safe at x = 0 (gives 0, gradient finite). */
export function l2Normalize(x: tf.Tensor2D, axis = 1, eps = 1e-12): tf.Tensor2D {
  return tf.tidy(() => {
    const sq = tf.sum(tf.square(x), axis, true);
    return tf.mul(x, tf.rsqrt(tf.maximum(sq, eps))) as tf.Tensor2D;
  });
}
