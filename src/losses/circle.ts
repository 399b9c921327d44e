import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from './common.js';
import { ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const circleParams = {
  m: param.number({
    default: 1,
    min: 0,
    max: 1,
    description:
      'relaxation m (positives pushed past 1 − m, negatives below m; the weights are α_p = max(0, 1 + m − s_p), ' +
      'α_n = max(0, s_n + m)). 1 for 2-D, not the paper\'s 0.25: with m = 1, α_n never reaches 0, so a rival class keeps ' +
      'being pushed until it is opposite, as in NormFace; with m < 1 the push stops at s_n = −m. At γ 1, m 1 and m 0.6 ' +
      'both train (82.8 and 76.1 % valid after 3 epochs of all MNIST, one seed each; docs/quick-profile.md#circle-loss)',
  }),
  gamma: param.number({
    default: 1,
    gt: 0,
    description:
      'scale γ. 1 for 2-D, not the paper\'s 256 (512-D faces): with γ 4-32 (m 0.25-0.8) the ten class weights lock into ' +
      'groups within the first epoch and the run stays at 24-38 % valid, because a rival whose weight shares the ' +
      'target\'s direction leaves the target a margin 0.154·γ larger than an evenly spread neighbour does; at γ 1 that pull is weak and the ' +
      'classes spread into ten spokes (γ 0.5 / 1 / 2: 71.2 / 82.8 / 72.2 % after 3 epochs; docs/quick-profile.md#circle-loss)',
  }),
};

/**
 * Circle loss, class-level form (Sun et al. 2020): with s_p = cos θ_y and s_n = cos θ_j,
 * target logit γ·α_p·(s_p − (1 − m)), other logits γ·α_n·(s_n − m), where
 * α_p = max(0, 1 + m − s_p) and α_n = max(0, s_n + m) are weights taken without gradient;
 * then softmax cross-entropy. Prediction uses the plain γ·cos θ_j.
 */
export class CircleLoss extends ScaledCosineHead<typeof circleParams> {
  protected readonly scale: number;
  readonly m: number;

  constructor(params: ParamsOf<typeof circleParams>, ctx: LossContext) {
    super(circleLoss, params, ctx);
    this.scale = params.gamma;
    this.m = params.m;
  }

  protected modifyTargetCosine(sp: tf.Tensor2D): tf.Tensor2D {
    const alphaP = stopGradient(tf.relu(tf.sub(1 + this.m, sp)));
    return tf.mul(alphaP, tf.sub(sp, 1 - this.m)) as tf.Tensor2D;
  }

  protected override modifyOtherCosines(sn: tf.Tensor2D): tf.Tensor2D {
    const alphaN = stopGradient(tf.relu(tf.add(sn, this.m)));
    return tf.mul(alphaN, tf.sub(sn, this.m)) as tf.Tensor2D;
  }
}

export const circleLoss = defineLoss({
  name: 'circle',
  normalized: true,
  displayName: 'CircleLoss',
  figureFolder: 'Circle',
  description: 'Circle loss (class-level): self-paced weights α_p, α_n on the cosine logits, margins 1 − m and m; defaults re-chosen for 2-D (γ 1, m 1: the paper\'s γ locks the class weights into groups in 2-D, see gamma).',
  params: circleParams,
  titleParams: (p) => ({ m: p.m, gamma: p.gamma }),
  create: (params, ctx) => new CircleLoss(params, ctx),
});
