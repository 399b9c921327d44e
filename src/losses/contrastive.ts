import * as tf from '@tensorflow/tfjs-core';
import { SoftmaxPlusAuxLoss } from './auxiliary.js';
import { pairMasks, pairwiseDistances } from './pairs.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const contrastiveParams = {
  m: param.number({ default: 0.5, min: 0, description: 'margin m: different-class pairs closer than m are pushed apart' }),
  loss_weight: param.number({ default: 0.01, min: 0, description: 'weight λ of the contrastive term' }),
  normalize: param.boolean({ default: false, description: 'compute distances on x/‖x‖ (display name gets _norm)' }),
};

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

/**
 * Contrastive loss (Hadsell et al. 2006) over all pairs of the batch, added to softmax:
 * CE(x·W) + λ·mean(same·d² + (1 − same)·max(0, m − d)²), on x or x/‖x‖ (normalize).
 */
export class ContrastiveLoss extends SoftmaxPlusAuxLoss<typeof contrastiveParams> {
  constructor(params: ParamsOf<typeof contrastiveParams>, ctx: LossContext) {
    super(contrastiveLoss, params, ctx);
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const { m, loss_weight, normalize } = this.params;
    const term = contrastiveTerm(this.auxFeatures(embeddings, normalize), labels, m);
    return tf.mul(loss_weight, term) as tf.Scalar;
  }
}

export const contrastiveLoss = defineLoss({
  name: 'contrastive',
  displayName: 'ContrastiveLoss',
  figureFolder: 'Contrastive',
  description: 'Contrastive loss over the pairs of each batch, added to softmax; optionally on normalized features.',
  params: contrastiveParams,
  displayNameSuffix: (p) => (p.normalize ? '_norm' : ''),
  titleParams: (p) => ({ m: p.m, loss_weight: p.loss_weight }),
  create: (params, ctx) => new ContrastiveLoss(params, ctx),
});
