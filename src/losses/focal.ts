import * as tf from '@tensorflow/tfjs-core';
import { BaseLoss } from './common.js';
import { type ComputeOptions, type LossContext, type LossOutput, type ParamsOf, defineLoss, param } from './types.js';

const focalParams = {
  gamma: param.number({ default: 2, min: 0, description: 'focusing exponent γ (0 = cross-entropy)' }),
  alpha: param.nullableNumbers({
    default: null,
    nullable: true,
    description: 'per-class weights α_c (one number per class), or null for none',
  }),
};

/**
 * Focal loss (Lin et al. 2017) on a linear classifier: mean of −α_y·(1 − p_y)^γ·log p_y, with
 * α_y = 1 when alpha is null. 1 − p_y is computed as −expm1(log p_y) (accurate near p_y = 1).
 */
export class FocalLoss extends BaseLoss<typeof focalParams> {
  readonly W: tf.Variable;

  constructor(params: ParamsOf<typeof focalParams>, ctx: LossContext) {
    super(focalLoss, params, ctx);
    this.W = this.addClassWeights(ctx);
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(embeddings, this.W as tf.Tensor2D));
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, _opts?: ComputeOptions): LossOutput {
    return tf.tidy(() => {
      const logits = this.predict(embeddings);
      const y = tf.cast(labels, 'int32');
      const logp = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(y, this.numClasses)), 1);
      // Floored so that (1 − p)^γ keeps a finite gradient for γ < 1 when p_y rounds to 1.
      const oneMinusP = tf.maximum(tf.neg(tf.expm1(logp)), 1e-30);
      const gamma = this.params.gamma;
      let per = tf.neg(tf.mul(gamma === 0 ? tf.onesLike(logp) : tf.pow(oneMinusP, gamma), logp));
      const alpha = this.params.alpha;
      if (alpha) per = tf.mul(per, tf.gather(tf.tensor1d(alpha), y));
      return { loss: tf.mean(per) as tf.Scalar, logits };
    });
  }
}

export const focalLoss = defineLoss({
  name: 'focal',
  displayName: 'FocalLoss',
  figureFolder: 'Focal',
  description: 'Focal loss on a linear classifier: cross-entropy down-weighted by (1 − p_y)^gamma.',
  params: focalParams,
  titleParams: (p) => ({ alpha: p.alpha, gamma: p.gamma }),
  validate(params, ctx) {
    const a = params.alpha;
    if (a && a.length !== ctx.numClasses) return `alpha has ${a.length} entries; it needs one per class (${ctx.numClasses})`;
    if (a && a.some((v) => v < 0)) return `alpha must not contain negative weights, got ${JSON.stringify(a)}`;
    return null;
  },
  create: (params, ctx) => new FocalLoss(params, ctx),
});
