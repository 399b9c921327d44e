import * as tf from '@tensorflow/tfjs-core';
import { classWeights, crossEntropy, uniqueName } from './common.js';
import type { Loss, LossContext, LossDefinition, LossParams } from './types.js';

/** Plain softmax cross-entropy on a linear classifier: logits = x·W (+ b). */
export class SoftmaxLoss implements Loss {
  readonly name = 'softmax';
  readonly displayName: string;
  readonly numClasses: number;
  readonly embeddingDim: number;
  readonly W: tf.Variable;
  readonly b?: tf.Variable;

  constructor(
    readonly params: Readonly<LossParams>,
    ctx: LossContext,
  ) {
    this.numClasses = ctx.numClasses;
    this.embeddingDim = ctx.embeddingDim;
    this.displayName = params.bias ? 'SoftmaxLoss_bias' : 'SoftmaxLoss';
    this.W = classWeights(ctx);
    if (params.bias) this.b = tf.variable(tf.zeros([ctx.numClasses]), true, uniqueName('b'));
  }

  trainableVariables(): Record<string, tf.Variable> {
    return this.b ? { W: this.W, b: this.b } : { W: this.W };
  }
  stateVariables(): Record<string, tf.Variable> {
    return {};
  }
  getCounters(): Record<string, number> {
    return {};
  }
  setCounters(): void {}

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const z = tf.matMul(embeddings, this.W);
      return (this.b ? tf.add(z, this.b) : z) as tf.Tensor2D;
    });
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D) {
    const logits = this.predict(embeddings);
    return { loss: crossEntropy(logits, labels), logits };
  }

  titleParams(): Record<string, unknown> {
    return {};
  }

  dispose(): void {
    this.W.dispose();
    this.b?.dispose();
  }
}

export const softmaxLoss: LossDefinition = {
  name: 'softmax',
  displayName: 'SoftmaxLoss',
  figureFolder: 'Softmax',
  description: 'Softmax cross-entropy on a linear classifier: radial spokes, one per class.',
  params: {
    bias: { type: 'boolean', default: false, description: 'add a bias per class to the logits' },
  },
  create: (params, ctx) => new SoftmaxLoss(params, ctx),
};
