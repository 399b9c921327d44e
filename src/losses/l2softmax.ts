import * as tf from '@tensorflow/tfjs-core';
import { maxMinAngle } from './bounds.js';
import { BaseLoss, crossEntropy, l2Normalize, uniqueName } from './common.js';
import { type ComputeOptions, type LossContext, type LossOutput, type ParamsOf, defineLoss, param } from './types.js';

/** Target probability the lower bound on α is derived for (Ranjan et al. 2017). */
export const L2SOFTMAX_P = 0.9;

/**
 * α_low(C, D): below it the target class cannot reach probability p with C classes in a
 * D-dimensional embedding, however the class weights lie.
 *   D = 2:   the α with Σ_{k=1..C−1} e^{α(cos(2πk/C) − 1)} = (1−p)/p (C classes evenly on the circle; 15.1 for C = 10);
 *   else:    max((C−1)/C·ln((C−1)p/(1−p)), ln(p/(1−p))/(1 − cos θ*(C, D))): the regular simplex (by Jensen's
 *            inequality no arrangement does better; exact for C <= D+1), and the nearest class no farther than
 *            θ*(C, D) (src/losses/bounds.ts); 3.95 for C = 10 in 3-D.
 * Ranjan et al.'s ln(p(C−2)/(1−p)) (4.28 for C = 10) is the α of one arrangement (one class opposite the
 * target, C−2 at 90°, possible when C <= 2D), not a bound for every D.
 */
export function l2softmaxAlphaLow(numClasses: number, embeddingDim = 2, p = L2SOFTMAX_P): number {
  const C = numClasses;
  const D = embeddingDim;
  const target = (1 - p) / p;
  if (D === 2) {
    // the sum falls with α: bisection
    const f = (a: number) => {
      let s = 0;
      for (let k = 1; k < C; k++) s += Math.exp(a * (Math.cos((2 * Math.PI * k) / C) - 1));
      return s - target;
    };
    let lo = 0;
    let hi = 1;
    while (f(hi) > 0 && hi < 1e9) hi *= 2;
    for (let i = 0; i < 100; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > 0) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  }
  const simplex = ((C - 1) / C) * Math.log(((C - 1) * p) / (1 - p));
  const nearest = Math.log(p / (1 - p)) / (1 - Math.cos(maxMinAngle(C, D)));
  return Math.max(simplex, nearest);
}

/** How α_low is computed for C classes in D dimensions, for the warning. */
function alphaLowFormula(C: number, D: number): string {
  if (D === 2) return 'the α with Σ_k e^{α(cos(2πk/C) − 1)} = (1−p)/p (classes evenly on the circle)';
  return 'max((C−1)/C·ln((C−1)p/(1−p)), ln(p/(1−p))/(1 − cos θ*))';
}

const l2softmaxParams = {
  alpha: param.number({
    default: 1.0,
    gt: 0,
    description:
      'scale α of the normalized features (initial value when trainable); a fixed α should be >= α_low(C, D) (p = 0.9): ' +
      'in 2-D the α with Σ_k e^{α(cos(2πk/C) − 1)} = (1−p)/p (≈ 15.14 for C = 10); in D >= 3 ' +
      'max((C−1)/C·ln((C−1)p/(1−p)), ln(p/(1−p))/(1 − cos θ*(C, D))), θ* as for CosFace\'s m (≈ 3.95 for C = 10)',
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
    const low = l2softmaxAlphaLow(ctx.numClasses, ctx.embeddingDim);
    const alpha = params.alpha;
    if (!params.trainable && Number.isFinite(low) && alpha < low) {
      warn(
        `alpha = ${alpha} (fixed) is below the L2-Softmax lower bound α_low = ${alphaLowFormula(ctx.numClasses, ctx.embeddingDim)} = ${low.toFixed(3)} ` +
          `for C = ${ctx.numClasses} classes in ${ctx.embeddingDim}-D and p = ${L2SOFTMAX_P}: the target class cannot reach probability ${L2SOFTMAX_P}, ` +
          `so training keeps pushing; use alpha >= ${Math.ceil(low * 100) / 100} or trainable: true`,
      );
    }
    return null;
  },
  create: (params, ctx) => new L2SoftmaxLoss(params, ctx),
});
