import * as tf from '@tensorflow/tfjs-core';
import { SoftmaxPlusAuxLoss } from './auxiliary.js';
import { Centers } from './centers.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const centerParams = {
  loss_weight: param.number({ default: 0.01, min: 0, description: 'weight λ of ½·mean‖x − c_y‖²' }),
  alpha: param.number({ default: 0.5, min: 0, max: 1, description: 'center learning rate α of the update rule' }),
};

/**
 * Center loss (Wen et al. 2016): CE(x·W) + λ·½·mean‖x − c_y‖². The centers are state (not
 * trained by the optimizer, no weight decay), start at zero and move in afterStep by the paper's
 * rule c_j ← c_j − α·Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j).
 */
export class CenterLoss extends SoftmaxPlusAuxLoss<typeof centerParams> {
  /** Class centers [numClasses, embeddingDim]; read or assign `centers.centers`. */
  readonly centers: Centers;

  constructor(params: ParamsOf<typeof centerParams>, ctx: LossContext) {
    super(centerLoss, params, ctx);
    this.centers = new Centers(ctx, params.alpha);
    this.state.centers = this.centers.centers;
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    return tf.mul(this.params.loss_weight, this.centers.term(embeddings, labels)) as tf.Scalar;
  }

  afterStep(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void {
    this.centers.update(embeddings, labels);
  }
}

export const centerLoss = defineLoss({
  name: 'center',
  displayName: 'CenterLoss',
  figureFolder: 'CenterLoss',
  description: 'Center loss: softmax plus λ·½·mean‖x − c_y‖², centers moved by the paper\'s update rule.',
  params: centerParams,
  titleParams: (p) => ({ loss_weight: p.loss_weight }),
  create: (params, ctx) => new CenterLoss(params, ctx),
});
