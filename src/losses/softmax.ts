import * as tf from '@tensorflow/tfjs-core';
import { BaseLoss, crossEntropy, uniqueName } from './common.js';
import { type ComputeOptions, type LossContext, type LossOutput, type ParamsOf, defineLoss, param } from './types.js';

const softmaxParams = {
  bias: param.boolean({ default: false, description: 'add a bias per class to the logits' }),
};

/** Plain softmax cross-entropy on a linear classifier: logits = x·W (+ b). */
export class SoftmaxLoss extends BaseLoss<typeof softmaxParams> {
  readonly W: tf.Variable;
  readonly b?: tf.Variable;

  constructor(params: ParamsOf<typeof softmaxParams>, ctx: LossContext) {
    super(softmaxLoss, params, ctx);
    this.W = this.addClassWeights(ctx);
    if (params.bias) {
      this.b = tf.tidy(() => tf.variable(tf.zeros([ctx.numClasses]), true, uniqueName('b')));
      this.trainable.b = this.b;
    }
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const z = tf.matMul(embeddings, this.W as tf.Tensor2D);
      return (this.b ? tf.add(z, this.b) : z) as tf.Tensor2D;
    });
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, _opts?: ComputeOptions): LossOutput {
    return tf.tidy(() => {
      const logits = this.predict(embeddings);
      return { loss: crossEntropy(logits, labels), logits };
    });
  }
}

export const softmaxLoss = defineLoss({
  name: 'softmax',
  displayName: 'SoftmaxLoss',
  figureFolder: 'Softmax',
  description: 'Softmax cross-entropy on a linear classifier: radial spokes, one per class.',
  params: softmaxParams,
  displayNameSuffix: (p) => (p.bias ? '_bias' : ''),
  titleParams: () => ({}),
  create: (p, ctx) => new SoftmaxLoss(p, ctx),
});
