/**
 * The base of the auxiliary losses (Center, Contrastive, Triplet, Triplet+Center), which all add
 * a weighted term to softmax cross-entropy on a linear classifier without bias:
 * L = CE(x·W) + Σ λ_k·L_k(x). The terms: centers.ts, contrastive.ts, triplet-mining.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BaseLoss, crossEntropy, l2Normalize } from './common.js';
import type { ComputeOptions, LossContext, LossDefinition, LossOutput, ParamSchema, ParamsOf } from './types.js';

export abstract class SoftmaxPlusAuxLoss<S extends ParamSchema = ParamSchema> extends BaseLoss<S> {
  /** Class weights [embeddingDim, numClasses] of the softmax classifier. */
  readonly W: tf.Variable;

  constructor(definition: LossDefinition<S>, params: ParamsOf<S>, ctx: LossContext) {
    super(definition, params, ctx);
    this.W = this.addClassWeights(ctx);
  }

  /** The weighted auxiliary term (a scalar), inside the caller's tidy. */
  protected abstract auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar;

  /** Features the auxiliary term sees: x, or x/‖x‖ when `normalize` (the loss's normalize parameter). */
  protected auxFeatures(embeddings: tf.Tensor2D, normalize: boolean): tf.Tensor2D {
    return normalize ? l2Normalize(embeddings) : embeddings;
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(embeddings, this.W as tf.Tensor2D));
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, _opts?: ComputeOptions): LossOutput {
    return tf.tidy(() => {
      const logits = this.predict(embeddings);
      const loss = tf.add(crossEntropy(logits, labels), this.auxiliary(embeddings, labels)) as tf.Scalar;
      return { loss, logits };
    });
  }
}
