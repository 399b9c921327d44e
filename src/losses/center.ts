import * as tf from '@tensorflow/tfjs-core';
import { Centers, SoftmaxPlusAuxLoss } from './auxiliary.js';
import type { LossContext, LossDefinition, LossParams } from './types.js';

/**
 * Center loss (Wen et al. 2016): CE(x·W) + λ·½·mean‖x − c_y‖². The centers are state (not
 * trained by the optimizer, no weight decay), start at zero and move in afterStep by the paper's
 * rule c_j ← c_j − α·Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j).
 */
export class CenterLoss extends SoftmaxPlusAuxLoss {
  readonly name = 'center';
  /** Class centers [numClasses, embeddingDim]; read or assign `centers.centers`. */
  readonly centers: Centers;

  constructor(params: Readonly<LossParams>, ctx: LossContext) {
    super(params, ctx, 'CenterLoss');
    this.centers = new Centers(ctx, params.alpha as number);
    this.state.centers = this.centers.centers;
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    return tf.mul(this.params.loss_weight as number, this.centers.term(embeddings, labels)) as tf.Scalar;
  }

  afterStep(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void {
    this.centers.update(embeddings, labels);
  }

  titleParams(): Record<string, unknown> {
    return { loss_weight: this.params.loss_weight };
  }
}

export const centerLoss: LossDefinition = {
  name: 'center',
  displayName: 'CenterLoss',
  figureFolder: 'CenterLoss',
  description: 'Center loss: softmax plus λ·½·mean‖x − c_y‖², centers moved by the paper\'s update rule.',
  params: {
    loss_weight: { type: 'number', default: 0.01, min: 0, description: 'weight λ of ½·mean‖x − c_y‖²' },
    alpha: { type: 'number', default: 0.5, min: 0, max: 1, description: 'center learning rate α of the update rule' },
  },
  create: (params, ctx) => new CenterLoss(params, ctx),
};
