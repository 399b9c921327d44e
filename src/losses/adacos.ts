import * as tf from '@tensorflow/tfjs-core';
import { constantOf, kthSmallest } from './angular.js';
import { BaseLoss, crossEntropy, l2Normalize, oneHotFloat, uniqueName } from './common.js';
import { type ComputeOptions, type LossContext, type LossOutput, type ParamsOf, defineLoss, param } from './types.js';

/** The fixed AdaCos scale √2·ln(C − 1), also the dynamic scale's starting value. */
export function adacosFixedScale(numClasses: number): number {
  return Math.SQRT2 * Math.log(numClasses - 1);
}

/** Clamp of the cosine before acos for the median angle (as in the reference implementation). */
export const ADACOS_ACOS_EPS = 1e-7;

const adacosParams = {
  variant: param.choice({
    default: 'dynamic',
    choices: ['dynamic', 'fixed'] as const,
    description:
      "'dynamic': the scale is recomputed from every training batch, s = ln B_avg / cos(min(π/4, θ_med)); " +
      "'fixed': s = √2·ln(C − 1) throughout (≈ 3.11 for C = 10)",
  }),
  max_scale: param.number({
    default: 32,
    gt: 1,
    description:
      'the dynamic scale is kept in [1, max_scale]. In 512-D the paper\'s scale never comes near it; in 2-D the first batches, whose ' +
      'non-target cosines exceed cos(min(π/4, θ_med)), make ln B_avg / cos(…) grow by a factor each step until exp overflows (NaN ' +
      'after ~10 steps without the bound). 32, the scale of the other 2-D heads',
  }),
  warmupSteps: param.integer({
    default: 0,
    min: 0,
    description:
      'dynamic variant: training steps at the start that keep the starting scale √2·ln(C − 1) (the fixed variant) before the scale adapts. ' +
      '0 in the paper and code; the 2-D config uses one epoch (468), without which a run can start at the bound and stay with every feature in one direction (docs/modern-losses.md)',
  }),
};

/** The dynamic scale is never below this (a scale ≤ 0 would turn the logits around). */
export const ADACOS_MIN_SCALE = 1;

/**
 * AdaCos (Zhang et al., CVPR 2019): no margin, logits s·cos θ_j, cos θ_j = x̂·Ŵ_j, with an
 * adaptive scale. Fixed variant: s = √2·ln(C − 1). Dynamic variant: s starts there; on a training
 * batch the scale used is
 *   B_avg = (1/N)·Σ_i Σ_{k≠y_i} exp(s_prev·cos θ_{i,k}),   θ_med = median_i θ_{i,y_i},
 *   s = ln B_avg / cos(min(π/4, θ_med)),
 * computed without gradient, and kept in [1, max_scale] (a guard this toolkit adds for 2-D, where
 * the unbounded scale overflows in the first steps; see max_scale). As in the widely used implementation (4uiiurz1/pytorch-adacos, which the
 * paper's formulas match) the batch's own new scale scales its logits, and the median of an even
 * count is the lower middle value (torch.median). That new scale is kept in the state variable `s`
 * by `afterStep`, which recomputes it from the step's embeddings and labels with the class weights
 * after the optimizer's update (the step itself used the weights before it; the two differ by one
 * Adam step). Evaluation uses the kept `s` and changes nothing.
 *
 * `warmupSteps` (not in the paper; 0 by default) keeps the starting scale for the first training
 * steps. In 2-D every loss's features first gather in one direction; there the batch's non-target
 * cosines are large and θ_med is past π/4, so the new scale grows each step to max_scale, where a
 * run can stay. After an epoch at the fixed scale the features are spread and the scale adapts
 * from there. The steps taken are the counter `steps`, saved in checkpoints.
 */
export class AdaCosLoss extends BaseLoss<typeof adacosParams> {
  /** Class weights [embeddingDim, numClasses]. */
  readonly W: tf.Variable;
  /** The scale of the last training step (a scalar state variable, checkpointed). */
  readonly s: tf.Variable;

  constructor(params: ParamsOf<typeof adacosParams>, ctx: LossContext) {
    super(adacosLoss, params, ctx);
    this.W = this.addClassWeights(ctx);
    this.s = tf.variable(tf.scalar(adacosFixedScale(ctx.numClasses)), false, uniqueName('adacos_s'));
    if (params.variant === 'dynamic') {
      this.state.s = this.s;
      this.counters.steps = 0;
    }
  }

  /** Whether a training step now adapts the scale (the dynamic variant, after `warmupSteps`). */
  private adapting(): boolean {
    return this.params.variant === 'dynamic' && this.counters.steps! >= this.params.warmupSteps;
  }

  /** cos θ [N, C]. */
  cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(l2Normalize(embeddings, 1), l2Normalize(this.W as tf.Tensor2D, 0)) as tf.Tensor2D);
  }

  /** The scale a training batch with these cosines gets (a scalar without gradient). */
  batchScale(cos: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    return constantOf((c) => tf.tidy(() => {
      const oh = oneHotFloat(labels, this.numClasses);
      const n = c.shape[0];
      const bAvg = tf.div(tf.sum(tf.mul(tf.exp(tf.mul(this.s, c)), tf.sub(1, oh))), n);
      const cosY = tf.sum(tf.mul(c, oh), 1) as tf.Tensor1D;
      const theta = tf.acos(tf.clipByValue(cosY, -1 + ADACOS_ACOS_EPS, 1 - ADACOS_ACOS_EPS)) as tf.Tensor1D;
      const thetaMed = kthSmallest(theta, (n - 1) >> 1);
      const sNew = tf.div(tf.log(bAvg), tf.cos(tf.minimum(thetaMed, Math.PI / 4)));
      return tf.clipByValue(sNew, ADACOS_MIN_SCALE, this.params.max_scale) as tf.Scalar;
    }), cos);
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.mul(this.cosines(embeddings), this.s) as tf.Tensor2D);
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, opts: ComputeOptions = {}): LossOutput {
    return tf.tidy(() => {
      const cos = this.cosines(embeddings);
      const dynamic = this.adapting() && (opts.training ?? true) && cos.shape[0] > 0;
      const s = dynamic ? this.batchScale(cos, labels) : this.s;
      const logits = tf.mul(cos, s) as tf.Tensor2D;
      return { loss: crossEntropy(logits, labels), logits };
    });
  }

  afterStep(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void {
    if (this.params.variant !== 'dynamic' || embeddings.shape[0] === 0) return;
    const adapting = this.adapting();
    this.counters.steps! += 1;
    if (!adapting) return;
    const next = tf.tidy(() => this.batchScale(this.cosines(embeddings), labels));
    this.s.assign(next);
    next.dispose();
  }

  override dispose(): void {
    super.dispose();
    if (!this.s.isDisposed) this.s.dispose();
  }
}

export const adacosLoss = defineLoss({
  name: 'adacos',
  normalized: true,
  figureNote:
    "no margin and no hand-set scale: the scale is recomputed from every batch (ln B_avg / cos(min(π/4, θ_med))), so what separates the classes is the scale the batches chose, not a margin.",
  displayName: 'AdaCosLoss',
  figureFolder: 'AdaCos',
  description: 'AdaCos: no margin, scale from the batch (ln B_avg / cos(min(π/4, θ_med)), no gradient), or fixed √2·ln(C − 1).',
  params: adacosParams,
  displayNameSuffix: (p) => (p.variant === 'fixed' ? '_fixed' : ''),
  titleParams: (p) => ({ variant: p.variant }),
  validate(_p, ctx) {
    if (ctx.numClasses < 3) return `AdaCos needs at least 3 classes (its scale √2·ln(C − 1) is 0 or undefined for C = ${ctx.numClasses})`;
    return null;
  },
  create: (params, ctx) => new AdaCosLoss(params, ctx),
});
