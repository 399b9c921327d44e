import * as tf from '@tensorflow/tfjs-core';
import { Rng, type RngState } from '../rng.js';
import { ARC_RULES, type ArcRule, angularMargin, constantOf } from './angular.js';
import { cosfaceMaxMargin2d } from './cosface.js';
import { type MarginContext, ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const elasticParams = {
  variant: param.choice({
    default: 'arc',
    choices: ['arc', 'cos'] as const,
    description: "'arc': target s·cos(θ_y + m_i) (ElasticFace-Arc); 'cos': target s·(cos θ_y − m_i) (ElasticFace-Cos)",
  }),
  s: param.number({ default: 32, gt: 0, description: 'scale s (the paper uses 64 for 512-D faces; 32 as for the ArcFace figure)' }),
  m: param.number({
    default: 0.5,
    min: 0,
    description:
      'mean m of the margin distribution N(m, σ): 0.5 rad for arc as in the paper; for cos the paper\'s 0.35 is above the 2-D bound ' +
      '1 − cos(2π/C) (≈ 0.191 for C = 10), use 0.1 as for CosFace',
  }),
  sigma: param.number({ default: 0.05, min: 0, description: 'standard deviation σ of the margin distribution (0.05 as in the authors\' config)' }),
  boundary: param.choice({
    default: 'fallback' as ArcRule,
    choices: ARC_RULES,
    description:
      "arc variant, rule past θ_y > π − m_i: 'always' = cos(θ + m_i) everywhere, exactly the authors' code; 'fallback' (default, " +
      "this toolkit's ArcFace) because in 2-D 'always' pushes far samples away from their class; 'easy', 'none' as for arcface",
  }),
  plus: param.boolean({
    default: false,
    description: 'ElasticFace+: sort the batch\'s draws and hand them out by the target cosine (the authors\' code, see the doc comment)',
  }),
};

/**
 * ElasticFace (Boutros et al., CVPRW 2022), following the authors' code (fdbtrs/ElasticFace):
 * every training sample i draws its own margin m_i ~ N(m, σ) at every step; the target cosine
 * becomes cos(θ_y + m_i) (arc; taken through the sine so the gradient stays finite at cos θ = ±1)
 * or cos θ_y − m_i (cos); logits s·cos; mean cross-entropy. The code applies cos(θ + m_i) for
 * every θ (`boundary: always`); the default departs from it on purpose and uses this toolkit's
 * ArcFace fallback past θ_y > π − m_i, because in 2-D the code's rule pushes such samples away
 * from their class (see `ArcRule`; on the toy problem 'always' left 9-14 % misclassified).
 *
 * ElasticFace+ (`plus`): the draws are sorted ascending and sample i gets sorted[r_i], where
 * r = argsort of the target cosines, descending: the code's `margin[idicate_cosie]` indexes the
 * sorted margins by the sort permutation (a gather). The paper describes giving the samples closest
 * to their class centre the smallest margins (a scatter, sorted[k] to the sample of rank k); the two
 * agree only when the permutation is its own inverse. This follows the code.
 *
 * The draws come from a generator seeded from the run's seeded generator; its four state words
 * are the loss's counters (`rng_0`..`rng_3`), saved in checkpoints. `compute` draws from a copy of
 * that state and changes nothing; `afterStep` moves the state past the batch's N draws, so a
 * resumed run draws exactly what an uninterrupted one does. Evaluation uses m itself.
 */
export class ElasticFaceLoss extends ScaledCosineHead<typeof elasticParams> {
  protected readonly scale: number;

  constructor(params: ParamsOf<typeof elasticParams>, ctx: LossContext) {
    super(elasticfaceLoss, params, ctx);
    this.scale = params.s;
    const seed = ctx.rng ? ctx.rng.nextU32() : 0x5eed;
    this.setRngState(new Rng(seed).getState());
  }

  private rngState(): RngState {
    return [this.counters.rng_0!, this.counters.rng_1!, this.counters.rng_2!, this.counters.rng_3!];
  }

  private setRngState(s: RngState): void {
    s.forEach((v, i) => (this.counters[`rng_${i}`] = v));
  }

  /** The N margins the next training step draws, m + σ·normal, in draw order (changes nothing). */
  nextMargins(n: number): number[] {
    const r = new Rng(this.rngState());
    return Array.from({ length: n }, () => this.params.m + this.params.sigma * r.normal());
  }

  /** Per-sample margins [N, 1] of a training batch with these target cosines. */
  protected margins(cosTarget: tf.Tensor2D): tf.Tensor2D {
    const n = cosTarget.shape[0];
    const draws = this.nextMargins(n);
    if (!this.params.plus) return tf.tensor2d(draws, [n, 1]);
    const sorted = tf.tensor1d(Float32Array.from(draws).sort());
    // sorted[argsort(cos θ_y, descending)], computed as a constant (tfjs cannot differentiate TopK).
    return constantOf((c) => tf.reshape(tf.gather(sorted, tf.topk(tf.reshape(c, [n]), n, true).indices), [n, 1]) as tf.Tensor2D, cosTarget);
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D, c: MarginContext): tf.Tensor2D {
    const m = c.training && cosTarget.shape[0] > 0 ? this.margins(cosTarget) : this.params.m;
    return this.params.variant === 'arc' ? angularMargin(cosTarget, m, this.params.boundary) : (tf.sub(cosTarget, m) as tf.Tensor2D);
  }

  afterStep(embeddings: tf.Tensor2D): void {
    const r = new Rng(this.rngState());
    for (let i = 0; i < embeddings.shape[0]; i++) r.normal();
    this.setRngState(r.getState());
  }
}

export const elasticfaceLoss = defineLoss({
  name: 'elasticface',
  normalized: true,
  figureNote:
    "every sample's margin is drawn afresh from N(0.5, 0.05) at every step, so the class edges are trained at a spread of margins instead of one.",
  displayName: 'ElasticFaceLoss',
  figureFolder: 'ElasticFace',
  description: 'ElasticFace: a margin drawn per sample and step from N(m, σ), Arc or Cos; "+" hands the sorted draws out by target cosine.',
  params: elasticParams,
  displayNameSuffix: (p) => `${p.variant === 'cos' ? '_cos' : ''}${p.plus ? '_plus' : ''}`,
  titleParams: (p) => ({ variant: p.variant, s: p.s, m: p.m, sigma: p.sigma, plus: p.plus }),
  validate(p, ctx) {
    if (p.variant === 'arc' && p.m > Math.PI / 2) return `m = ${p.m} is above π/2 for the arc variant (a margin in radians)`;
    if (p.variant === 'cos' && ctx.embeddingDim === 2) {
      const mMax = cosfaceMaxMargin2d(ctx.numClasses);
      if (p.m > mMax) {
        return (
          `m = ${p.m} is above the CosFace bound for a 2-D embedding, m <= 1 − cos(2π/C) = ${mMax.toFixed(4)} for C = ${ctx.numClasses} ` +
          `classes (the cos variant's margin is a cosine margin); use m <= ${mMax.toFixed(3)}, e.g. 0.1`
        );
      }
    }
    return null;
  },
  create: (params, ctx) => new ElasticFaceLoss(params, ctx),
});
