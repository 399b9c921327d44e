import type * as tf from '@tensorflow/tfjs-core';
import { ScaledCosineHead } from './margin.js';
import type { LossContext, LossDefinition, LossParams } from './types.js';

/** NormFace (Wang et al. 2017): softmax on s·cos θ_j, features and weights normalized, no margin. */
export class NormFaceLoss extends ScaledCosineHead {
  readonly name = 'normface';
  protected readonly scale: number;

  constructor(params: Readonly<LossParams>, ctx: LossContext) {
    super(params, ctx, 'NormFaceLoss');
    this.scale = params.s as number;
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D): tf.Tensor2D {
    return cosTarget;
  }

  titleParams(): Record<string, unknown> {
    // The reference figures name NormFace by the epoch alone.
    return {};
  }
}

export const normfaceLoss: LossDefinition = {
  name: 'normface',
  normalized: true,
  displayName: 'NormFaceLoss',
  figureFolder: 'NormFace',
  description: 'NormFace: softmax on s·cos θ with normalized features and weights (no margin).',
  params: {
    s: { type: 'number', default: 32, gt: 0, description: 'scale s of the cosine logits' },
  },
  create: (params, ctx) => new NormFaceLoss(params, ctx),
};
