/** The triplet term and its mining strategies (batch_hard, batch_all, semi_hard) over a batch. */
import * as tf from '@tensorflow/tfjs-core';
import { greaterMask } from './common.js';
import { pairMasks, pairwiseDistances } from './pairs.js';

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
