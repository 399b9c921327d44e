import * as tf from '@tensorflow/tfjs-core';
import { BaseLoss, crossEntropy, l2Normalize, rowNorm, uniqueName } from './common.js';
import { type ComputeOptions, type LossContext, type LossOutput, type ParamsOf, defineLoss, param } from './types.js';

const ringParams = {
  R: param.number({ default: 1.0, gt: 0, description: 'initial ring radius R (trained with the network)' }),
  loss_weight: param.number({ default: 0.1, min: 0, description: 'weight λ of ½·mean((‖x‖ − R)²)' }),
};

/**
 * Ring loss (Zheng et al. 2018): softmax cross-entropy on a classifier with normalized weights,
 * logits x·Ŵ_j, plus loss_weight·½·mean((‖x‖ − R)²) with R trainable.
 */
export class RingLoss extends BaseLoss<typeof ringParams> {
  readonly W: tf.Variable;
  /** The ring radius R, a trainable scalar. */
  readonly R: tf.Variable;

  constructor(params: ParamsOf<typeof ringParams>, ctx: LossContext) {
    super(ringLoss, params, ctx);
    this.W = this.addClassWeights(ctx);
    this.R = tf.tidy(() => tf.variable(tf.scalar(params.R), true, uniqueName('R')));
    this.trainable.R = this.R;
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(embeddings, l2Normalize(this.W as tf.Tensor2D, 0)));
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, _opts?: ComputeOptions): LossOutput {
    return tf.tidy(() => {
      const logits = this.predict(embeddings);
      const ring = tf.mul(0.5, tf.mean(tf.square(tf.sub(rowNorm(embeddings), this.R))));
      const loss = tf.add(crossEntropy(logits, labels), tf.mul(this.params.loss_weight, ring)) as tf.Scalar;
      return { loss, logits };
    });
  }
}

export const ringLoss = defineLoss({
  name: 'ring',
  displayName: 'RingLoss',
  figureFolder: 'RingLoss',
  description: 'Ring loss: softmax with normalized classifier weights plus a pull of ‖x‖ towards a trainable radius R.',
  params: ringParams,
  titleParams: (p) => ({ init_R: p.R, loss_weight: p.loss_weight }),
  create: (params, ctx) => new RingLoss(params, ctx),
});
