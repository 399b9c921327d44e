import * as tf from '@tensorflow/tfjs-core';
import { additiveAngularMargin } from './arcface.js';
import { cosPlusMargin } from './angular.js';
import { greaterMask, stopGradient, uniqueName } from './common.js';
import { type MarginContext, ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const curricularParams = {
  s: param.number({ default: 32, gt: 0, description: 'scale s (the paper uses 64 for 512-D faces; 32 as for the ArcFace figure; the 2-D config uses 16)' }),
  m: param.number({ default: 0.5, min: 0, max: Math.PI / 2, description: 'additive angular margin m on the target (radians), 0.5 as in the paper' }),
  momentum: param.number({
    default: 0.01,
    gt: 0,
    max: 1,
    description: 'momentum α of the running mean t ← α·mean(cos θ_y) + (1 − α)·t (0.01 in the paper and code)',
  }),
  warmupSteps: param.integer({
    default: 0,
    min: 0,
    description:
      'training steps at the start in which no negative is reweighted (the loss is ArcFace; t moves from the first step). 0 in the paper and code; the 2-D config uses one epoch (468), without which the 2-D features stay in one direction (docs/modern-losses.md)',
  }),
};

/**
 * CurricularFace (Huang et al., CVPR 2020), following the authors' code (HuangYG123/CurricularFace):
 * - target: ArcFace's cos(θ_y + m), and past θ_y > π − m the fallback cos θ_y − m·sin m;
 * - a non-target j is hard when cos θ_j > cos(θ_y + m) (the plain cos(θ_y + m), without the
 *   fallback, as in the code); a hard one becomes cos θ_j·(t + cos θ_j), the others stay;
 * - t is a running mean of the target cosine, t ← 0.01·mean_i cos θ_{i,y_i} + 0.99·t, starting at 0,
 *   without gradient. As in the code, a training batch uses the t already moved by its own mean.
 *   The state variable `t` is moved by `afterStep`, which recomputes that mean from the step's
 *   embeddings with the class weights after the optimizer's update (the step used the weights
 *   before it; the two differ by one Adam step). Evaluation uses the kept t.
 * Logits s·(those cosines); accuracy and `predict` use s·cos θ.
 *
 * `warmupSteps` (not in the paper; 0 by default) leaves the negatives as they are for the first
 * training steps. In 2-D every loss's features first gather in one direction (the first Adam steps
 * move them together); there every negative counts as hard, and the early curriculum (t near 0,
 * so cos θ_j·(t + cos θ_j) < cos θ_j) removes the push between classes that lets ArcFace leave
 * that state. After an epoch of ArcFace the features are spread, and the curriculum keeps them so.
 * The steps taken are the counter `steps`, saved in checkpoints.
 */
export class CurricularFaceLoss extends ScaledCosineHead<typeof curricularParams> {
  protected readonly scale: number;
  /** The running mean t of the target cosine (scalar state variable, checkpointed). */
  readonly t: tf.Variable;

  constructor(params: ParamsOf<typeof curricularParams>, ctx: LossContext) {
    super(curricularfaceLoss, params, ctx);
    this.scale = params.s;
    this.t = tf.variable(tf.scalar(0), false, uniqueName('curricular_t'));
    this.state.t = this.t;
    this.counters.steps = 0;
  }

  /** Whether the hard negatives are reweighted in a training step now (after `warmupSteps`). */
  private curriculumOn(): boolean {
    return this.counters.steps! >= this.params.warmupSteps;
  }

  /** t after a batch whose target cosines are `cosTarget` [N, 1] (no gradient). */
  nextT(cosTarget: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const a = this.params.momentum;
      return tf.add(tf.mul(a, tf.mean(stopGradient(cosTarget))), tf.mul(1 - a, this.t)) as tf.Scalar;
    });
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D): tf.Tensor2D {
    return additiveAngularMargin(cosTarget, this.params.m, 'fallback');
  }

  protected override modifyOtherCosines(cos: tf.Tensor2D, c: MarginContext): tf.Tensor2D {
    if (c.training && !this.curriculumOn()) return cos;
    const cosTarget = tf.sum(tf.mul(cos, c.oneHot), 1, true) as tf.Tensor2D;
    const t = c.training && cos.shape[0] > 0 ? this.nextT(cosTarget) : this.t;
    const hard = greaterMask(cos, stopGradient(cosPlusMargin(cosTarget, this.params.m)));
    const reweighted = tf.mul(cos, tf.add(t, cos));
    return tf.add(tf.mul(hard, reweighted), tf.mul(tf.sub(1, hard), cos)) as tf.Tensor2D;
  }

  afterStep(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void {
    if (embeddings.shape[0] === 0) return;
    this.counters.steps! += 1;
    const next = tf.tidy(() => {
      const oh = tf.cast(tf.oneHot(tf.cast(labels, 'int32'), this.numClasses), 'float32');
      return this.nextT(tf.sum(tf.mul(this.cosines(embeddings), oh), 1, true) as tf.Tensor2D);
    });
    this.t.assign(next);
    next.dispose();
  }
}

export const curricularfaceLoss = defineLoss({
  name: 'curricularface',
  normalized: true,
  figureNote:
    "ArcFace's margin under a curriculum: the negatives closer than cos(θ_y + m) are weighted up by t + cos θ_j as the running mean t of the target cosine grows, so the confusable digits are pushed apart harder late in training.",
  displayName: 'CurricularFaceLoss',
  figureFolder: 'CurricularFace',
  description: 'CurricularFace: ArcFace target; hard negatives cos θ_j > cos(θ_y + m) reweighted to cos θ_j·(t + cos θ_j), t a running mean of cos θ_y.',
  params: curricularParams,
  titleParams: (p) => ({ s: p.s, m: p.m }),
  create: (params, ctx) => new CurricularFaceLoss(params, ctx),
});
