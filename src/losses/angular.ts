/**
 * cos(θ + m) from cos θ with no rule past θ + m > π: cos θ·cos m − sin θ·sin m, with
 * sin θ = sqrt(max(1 − cos²θ, ε)) so that the gradient stays finite at cos θ = ±1 (the acos form
 * cos(acos(c) + m) has an infinite derivative there). This is what pytorch-metric-learning's
 * ArcFaceLoss and the ElasticFace authors' code compute (torch.cos(torch.acos(c) + m)); ArcFace's
 * own `additiveAngularMargin` adds a rule past π − m instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ARC_BOUNDARIES, type ArcBoundary, SIN_EPS, additiveAngularMargin } from './arcface.js';

/** cos(θ + m) for cos θ [N, 1] (or [N, C]) and a margin that is a number or a per-row tensor [N, 1]. */
export function cosPlusMargin(cos: tf.Tensor2D, m: number | tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const cosM = typeof m === 'number' ? Math.cos(m) : tf.cos(m);
    const sinM = typeof m === 'number' ? Math.sin(m) : tf.sin(m);
    const sin = tf.sqrt(tf.maximum(tf.sub(1, tf.square(cos)), SIN_EPS));
    return tf.sub(tf.mul(cos, cosM), tf.mul(sin, sinM)) as tf.Tensor2D;
  });
}

/**
 * The rule past θ + m > π of the heads that add an angular margin: ArcFace's three
 * ('fallback', 'easy', 'none', see `additiveAngularMargin`) or 'always', cos(θ + m) for every θ as
 * pytorch-metric-learning and the ElasticFace code compute it. In 2-D 'always' pushes a sample
 * with θ_y > π − m further from its class (cos(θ + m) rises with θ there): on the toy problem of
 * test/losses-toy.test.ts it left 9-18 % of the samples misclassified where 'fallback' left none.
 */
export type ArcRule = ArcBoundary | 'always';
export const ARC_RULES: readonly ArcRule[] = [...ARC_BOUNDARIES, 'always'];

/** cos(θ + m) under `rule` (m a number or a per-row tensor [N, 1]). */
export function angularMargin(cos: tf.Tensor2D, m: number | tf.Tensor2D, rule: ArcRule): tf.Tensor2D {
  return rule === 'always' ? cosPlusMargin(cos, m) : additiveAngularMargin(cos, m, rule);
}

/**
 * The k-th smallest of the values of `v` [N] along its only axis (k from 0), without gradient and
 * without reading the values back (tf.topk keeps it on the device).
 */
export function kthSmallest(v: tf.Tensor1D, k: number): tf.Scalar {
  return tf.tidy(() => {
    const n = v.shape[0];
    const { values } = tf.topk(v, n, true); // descending
    return tf.reshape(tf.slice(values, [n - 1 - k], [1]), []) as tf.Scalar;
  });
}

/**
 * `fn(x)` as a constant: its value, with a zero gradient for `x`, and none of its inner operations
 * recorded for differentiation (so it may use operations tfjs cannot differentiate, such as TopK).
 */
export function constantOf<T extends tf.Tensor>(fn: (x: tf.Tensor) => T, x: tf.Tensor): T {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    return { value: fn(input), gradFunc: (_dy: tf.Tensor) => tf.zerosLike(input) };
  });
  return f(x) as T;
}
