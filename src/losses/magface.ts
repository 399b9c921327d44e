import * as tf from '@tensorflow/tfjs-core';
import { additiveAngularMargin } from './arcface.js';
import { ScaledCosineHead, type MarginContext } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

/**
 * Smallest λ_g for which the per-sample MagFace loss has its optimum magnitude inside
 * [l_a, u_a]: the cross-entropy pulls a down with a force of at most s·m'(a), the regulariser
 * pushes it up with λ_g·(−g'(a)), weakest at a = l_a; so λ_g ≥ s·(u_m − l_m)/(u_a − l_a) ·
 * l_a²u_a²/(u_a² − l_a²). (For the published face values, 64/110/10/0.8/0.45: 22.6 ≤ 35.)
 */
export function magfaceMinLambda(p: { s: number; l_a: number; u_a: number; l_m: number; u_m: number }): number {
  const slope = (p.u_m - p.l_m) / (p.u_a - p.l_a);
  return (p.s * slope * p.l_a ** 2 * p.u_a ** 2) / (p.u_a ** 2 - p.l_a ** 2);
}

const magfaceParams = {
  s: param.number({
    default: 32,
    gt: 0,
    description: 'scale s of the cosine logits (32, as for the CosFace/ArcFace figures; the published 64 is for 512-D)',
  }),
  l_a: param.number({
    default: 1,
    gt: 0,
    description:
      'lower magnitude bound l_a. The published 10 assumes 512-D face features; this network\'s 2-D features start with norms ' +
      'of about 0.5-2.2 (median 0.8-2.0 over init seeds), and below l_a the clamp gives the magnitude no MagFace gradient, so l_a ' +
      'sits at the typical starting norm (the cosine logits make the norms grow from there)',
  }),
  u_a: param.number({
    default: 10,
    gt: 0,
    description:
      'upper magnitude bound u_a, where g(a) = a/u_a² + 1/a is smallest: easy samples drift out to norm ~u_a, hard ones stay nearer l_a, ' +
      'so the raw 2-D plot shows a quality-ordered band between radius 1 and 10',
  }),
  l_m: param.number({
    default: 0.2,
    min: 0,
    description: 'margin at a = l_a (radians)',
  }),
  u_m: param.number({
    default: 0.5,
    min: 0,
    max: Math.PI / 2,
    description:
      'margin at a = u_a (radians). 0.5 as in the ArcFace figure: ten classes on a circle are 2π/10 ≈ 0.63 rad apart, so the ' +
      'published 0.8 could not be met by any class in 2-D',
  }),
  lambda_g: param.number({
    default: 2,
    min: 0,
    description:
      'weight λ_g of g(a). Must be >= s·(u_m − l_m)/(u_a − l_a)·l_a²u_a²/(u_a² − l_a²) (≈ 1.08 for the defaults) for the optimum ' +
      'magnitude to lie inside [l_a, u_a]; 2 keeps the published margin over that bound (35 vs 22.6)',
  }),
};

/**
 * MagFace (Meng et al. 2021): ArcFace whose margin grows with the feature magnitude
 * a = clamp(‖x‖, l_a, u_a): m(a) = l_m + (u_m − l_m)(a − l_a)/(u_a − l_a), plus λ_g·g(a) with
 * g(a) = a/u_a² + 1/a. Past θ_y > π − m(a) the insightface fallback cos θ − m·sin m applies.
 */
export class MagFaceLoss extends ScaledCosineHead<typeof magfaceParams> {
  protected readonly scale: number;

  constructor(params: ParamsOf<typeof magfaceParams>, ctx: LossContext) {
    super(magfaceLoss, params, ctx);
    this.scale = params.s;
  }

  /** a = ‖x‖ clamped to [l_a, u_a], [N, 1]. */
  protected magnitude(c: MarginContext): tf.Tensor2D {
    return tf.clipByValue(c.xNorm, this.params.l_a, this.params.u_a) as tf.Tensor2D;
  }

  /** m(a) [N, 1]. */
  margin(a: tf.Tensor2D): tf.Tensor2D {
    const { l_a, u_a, l_m, u_m } = this.params;
    return tf.add(l_m, tf.mul((u_m - l_m) / (u_a - l_a), tf.sub(a, l_a))) as tf.Tensor2D;
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D, c: MarginContext): tf.Tensor2D {
    return additiveAngularMargin(cosTarget, this.margin(this.magnitude(c)), 'fallback');
  }

  protected override extraLoss(c: MarginContext): tf.Scalar {
    const a = this.magnitude(c);
    const uA = this.params.u_a;
    const g = tf.add(tf.div(a, uA * uA), tf.reciprocal(a));
    return tf.mul(this.params.lambda_g, tf.mean(g)) as tf.Scalar;
  }
}

export const magfaceLoss = defineLoss({
  name: 'magface',
  normalized: true,
  displayName: 'MagFaceLoss',
  figureFolder: 'MagFace',
  description:
    'MagFace: ArcFace with a margin that grows with the feature norm, plus a norm regulariser; ' +
    'defaults re-chosen for a 2-D embedding (the published 10/110/0.45/0.8/35/64 are for 512-D faces).',
  params: magfaceParams,
  titleParams: (p) => ({ s: p.s, l_m: p.l_m, u_m: p.u_m, lambda_g: p.lambda_g }),
  validate(p, _ctx, warn) {
    if (!(p.u_a > p.l_a)) return `u_a = ${p.u_a} must be greater than l_a = ${p.l_a}`;
    if (!(p.u_m >= p.l_m)) return `u_m = ${p.u_m} must be at least l_m = ${p.l_m} (the margin grows with the magnitude)`;
    const lo = magfaceMinLambda(p);
    if (p.lambda_g < lo) {
      warn(
        `lambda_g = ${p.lambda_g} is below the MagFace bound s·(u_m − l_m)/(u_a − l_a)·l_a²u_a²/(u_a² − l_a²) = ${lo.toFixed(4)}: ` +
          'the feature magnitudes may collapse to l_a instead of reflecting sample quality',
      );
    }
    return null;
  },
  create: (params, ctx) => new MagFaceLoss(params, ctx),
});
