import * as tf from '@tensorflow/tfjs-core';
import { greaterMask } from './common.js';
import { ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

/** Floor of sin²θ before the square root: sin θ = sqrt(max(1 − cos²θ, ε)) stays differentiable at ±1. */
export const SIN_EPS = 1e-6;

export type ArcBoundary = 'fallback' | 'easy' | 'none';
export const ARC_BOUNDARIES: readonly ArcBoundary[] = ['fallback', 'easy', 'none'];

/**
 * cos(θ + m) from cos θ without acos: cos θ·cos m − sin θ·sin m, sin θ = sqrt(max(1 − cos²θ, ε)).
 * Past θ > π − m (where cos(θ + m) would start rising again) the `boundary` rule applies:
 * - 'fallback': cos θ − m·sin m (insightface),
 * - 'easy': margin only where cos θ > 0, plain cos θ elsewhere,
 * - 'none': plain cos θ past π − m.
 * `m` is a number or a per-row tensor [N, 1] (MagFace). Finite for every cos θ in [-1, 1].
 */
export function additiveAngularMargin(cos: tf.Tensor2D, m: number | tf.Tensor2D, boundary: ArcBoundary): tf.Tensor2D {
  return tf.tidy(() => {
    const cosM = typeof m === 'number' ? Math.cos(m) : tf.cos(m);
    const sinM = typeof m === 'number' ? Math.sin(m) : tf.sin(m);
    const sin = tf.sqrt(tf.maximum(tf.sub(1, tf.square(cos)), SIN_EPS));
    const phi = tf.sub(tf.mul(cos, cosM), tf.mul(sin, sinM));
    // 0/1 masks without gradient (tfjs has no gradient for Greater); blend instead of where.
    const pick = (mask: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.add(tf.mul(mask, a), tf.mul(tf.sub(1, mask), b));
    if (boundary === 'easy') return pick(greaterMask(cos, 0), phi, cos) as tf.Tensor2D;
    // θ < π − m  ⇔  cos θ > cos(π − m) = −cos m.
    const inside = greaterMask(cos, tf.neg(cosM));
    if (boundary === 'none') return pick(inside, phi, cos) as tf.Tensor2D;
    return pick(inside, phi, tf.sub(cos, tf.mul(m, sinM))) as tf.Tensor2D;
  });
}

const arcfaceParams = {
  s: param.number({ default: 32, gt: 0, description: 'scale s of the cosine logits' }),
  m: param.number({ default: 0.5, min: 0, max: Math.PI / 2, description: 'additive angular margin m (radians)' }),
  boundary: param.choice({
    default: 'fallback',
    choices: ARC_BOUNDARIES,
    description:
      "rule past θ_y > π − m, where cos(θ + m) stops decreasing: 'fallback' (cos θ − m·sin m, insightface), " +
      "'easy' (margin only where cos θ > 0), 'none' (no margin past π − m)",
  }),
};

/** ArcFace (Deng et al. 2019): target logit s·cos(θ_y + m), others s·cos θ_j. */
export class ArcFaceLoss extends ScaledCosineHead<typeof arcfaceParams> {
  protected readonly scale: number;
  readonly m: number;
  readonly boundary: ArcBoundary;

  constructor(params: ParamsOf<typeof arcfaceParams>, ctx: LossContext) {
    super(arcfaceLoss, params, ctx);
    this.scale = params.s;
    this.m = params.m;
    this.boundary = params.boundary;
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D): tf.Tensor2D {
    return additiveAngularMargin(cosTarget, this.m, this.boundary);
  }
}

export const arcfaceLoss = defineLoss({
  name: 'arcface',
  normalized: true,
  displayName: 'ArcFaceLoss',
  figureFolder: 'ArcFace',
  description: 'ArcFace: additive angular margin, target logit s·cos(θ_y + m).',
  params: arcfaceParams,
  titleParams: (p) => ({ s: p.s, m: p.m }),
  create: (params, ctx) => new ArcFaceLoss(params, ctx),
});
