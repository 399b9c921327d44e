/** Pairs of a batch for the metric-learning terms (contrastive, triplet): distances and label masks. */
import * as tf from '@tensorflow/tfjs-core';
import { SQRT_EPS } from './common.js';

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
