import * as tf from '@tensorflow/tfjs-core';
import { BaseLoss, crossEntropy, l2Normalize, uniqueName } from './common.js';
import { type ComputeOptions, type LossContext, type LossOutput, type ParamsOf, defineLoss, param } from './types.js';

/** Target probability the lower bound on α is derived for (Ranjan et al. 2017). */
export const L2SOFTMAX_P = 0.9;

/** α_low = ln(p(C − 2)/(1 − p)): below it the target class cannot reach probability p. */
export function l2softmaxAlphaLow(numClasses: number, p = L2SOFTMAX_P): number {
  return Math.log((p * (numClasses - 2)) / (1 - p));
}

const l2softmaxParams = {
  alpha: param.number({
    default: 1.0,
    gt: 0,
    description: 'scale α of the normalized features (initial value when trainable); a fixed α should be >= ln(p(C−2)/(1−p)) ≈ 4.28 (C = 10, p = 0.9)',
  }),
  trainable: param.boolean({ default: true, description: 'learn α with the network' }),
};

/**
 * L2-Softmax (Ranjan et al. 2017): logits W_j·(α x/‖x‖) on a linear classifier; α fixed or
 * trainable. The features the model outputs (and that are plotted) are the raw x.
 */
export class L2SoftmaxLoss extends BaseLoss<typeof l2softmaxParams> {
  readonly W: tf.Variable;
  /** The scale α, a scalar variable: trainable when params.trainable, else state. */
  readonly alpha: tf.Variable;

  constructor(params: ParamsOf<typeof l2softmaxParams>, ctx: LossContext) {
    super(l2softmaxLoss, params, ctx);
    this.W = this.addClassWeights(ctx);
    const trainable = params.trainable;
    this.alpha = tf.tidy(() => tf.variable(tf.scalar(params.alpha), trainable, uniqueName('alpha')));
    if (trainable) this.trainable.alpha = this.alpha;
    else this.state.alpha = this.alpha;
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(tf.mul(l2Normalize(embeddings), this.alpha), this.W as tf.Tensor2D));
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, _opts?: ComputeOptions): LossOutput {
    return tf.tidy(() => {
      const logits = this.predict(embeddings);
      return { loss: crossEntropy(logits, labels), logits };
    });
  }
}

export const l2softmaxLoss = defineLoss({
  name: 'l2softmax',
  normalized: true,
  displayName: 'L2-SoftmaxLoss',
  figureFolder: 'L2Softmax',
  description: 'L2-Softmax: features L2-normalized and scaled by alpha (fixed or trainable) before a softmax classifier.',
  params: l2softmaxParams,
  titleParams: (p) => ({ alpha: p.alpha, trainable: p.trainable }),
  validate(params, ctx, warn) {
    const low = l2softmaxAlphaLow(ctx.numClasses);
    const alpha = params.alpha;
    if (!params.trainable && Number.isFinite(low) && alpha < low) {
      warn(
        `alpha = ${alpha} (fixed) is below the L2-Softmax lower bound α_low = ln(p(C−2)/(1−p)) = ${low.toFixed(3)} ` +
          `for C = ${ctx.numClasses} classes and p = ${L2SOFTMAX_P}: the target class cannot reach probability ${L2SOFTMAX_P}, ` +
          `so training keeps pushing; use alpha >= ${Math.ceil(low * 100) / 100} or trainable: true`,
      );
    }
    return null;
  },
  create: (params, ctx) => new L2SoftmaxLoss(params, ctx),
});
