import type * as tf from '@tensorflow/tfjs-core';
import { ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const normfaceParams = {
  s: param.number({ default: 32, gt: 0, description: 'scale s of the cosine logits' }),
};

/** NormFace (Wang et al. 2017): softmax on s·cos θ_j, features and weights normalized, no margin. */
export class NormFaceLoss extends ScaledCosineHead<typeof normfaceParams> {
  protected readonly scale: number;

  constructor(params: ParamsOf<typeof normfaceParams>, ctx: LossContext) {
    super(normfaceLoss, params, ctx);
    this.scale = params.s;
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D): tf.Tensor2D {
    return cosTarget;
  }
}

export const normfaceLoss = defineLoss({
  name: 'normface',
  normalized: true,
  displayName: 'NormFaceLoss',
  figureFolder: 'NormFace',
  description: 'NormFace: softmax on s·cos θ with normalized features and weights (no margin).',
  params: normfaceParams,
  // The reference figures name NormFace by the epoch alone.
  titleParams: () => ({}),
  create: (params, ctx) => new NormFaceLoss(params, ctx),
});
