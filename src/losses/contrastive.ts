import * as tf from '@tensorflow/tfjs-core';
import { SoftmaxPlusAuxLoss, contrastiveTerm } from './auxiliary.js';
import type { LossContext, LossDefinition, LossParams } from './types.js';

/**
 * Contrastive loss (Hadsell et al. 2006) over all pairs of the batch, added to softmax:
 * CE(x·W) + λ·mean(same·d² + (1 − same)·max(0, m − d)²), on x or x/‖x‖ (normalize).
 */
export class ContrastiveLoss extends SoftmaxPlusAuxLoss {
  readonly name = 'contrastive';

  constructor(params: Readonly<LossParams>, ctx: LossContext) {
    super(params, ctx, params.normalize ? 'ContrastiveLoss_norm' : 'ContrastiveLoss');
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const term = contrastiveTerm(this.auxFeatures(embeddings), labels, this.params.m as number);
    return tf.mul(this.params.loss_weight as number, term) as tf.Scalar;
  }

  titleParams(): Record<string, unknown> {
    return { m: this.params.m, loss_weight: this.params.loss_weight };
  }
}

export const contrastiveLoss: LossDefinition = {
  name: 'contrastive',
  displayName: 'ContrastiveLoss',
  figureFolder: 'Contrastive',
  description: 'Contrastive loss over the pairs of each batch, added to softmax; optionally on normalized features.',
  params: {
    m: { type: 'number', default: 0.5, min: 0, description: 'margin m: different-class pairs closer than m are pushed apart' },
    loss_weight: { type: 'number', default: 0.01, min: 0, description: 'weight λ of the contrastive term' },
    normalize: { type: 'boolean', default: false, description: 'compute distances on x/‖x‖ (display name gets _norm)' },
  },
  create: (params, ctx) => new ContrastiveLoss(params, ctx),
};
