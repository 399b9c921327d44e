import * as tf from '@tensorflow/tfjs-core';
import { SQRT_EPS, rowNorm, stopGradient, uniqueName } from './common.js';
import { cosfaceMaxMargin2d } from './cosface.js';
import { type MarginContext, ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

/** The authors' ε: cosines clamped to [−1 + ε, 1 − ε], angles to [ε, π − ε], std + ε. */
export const ADAFACE_EPS = 1e-3;
/** Starting values of the running norm statistics in the authors' code (batch_mean 20, batch_std 100). */
export const ADAFACE_INIT_MEAN = 20;
export const ADAFACE_INIT_STD = 100;

/**
 * The arithmetic of ẑ, written once for tensors (the loss) and plain numbers (the figures that
 * colour each image by its ẑ), so the two cannot drift apart.
 */
interface QualityArith<T> {
  clip(x: T, lo: number, hi: number): T;
  sub(a: T, b: T): T;
  div(a: T, b: T): T;
  /** k·x */
  scale(k: number, x: T): T;
  /** x + k */
  shift(x: T, k: number): T;
}

const tensorArith: QualityArith<tf.Tensor> = {
  clip: (x, lo, hi) => tf.clipByValue(x, lo, hi),
  sub: (a, b) => tf.sub(a, b),
  div: (a, b) => tf.div(a, b),
  scale: (k, x) => tf.mul(k, x),
  shift: (x, k) => tf.add(x, k),
};

const numberArith: QualityArith<number> = {
  clip: (x, lo, hi) => Math.min(hi, Math.max(lo, x)),
  sub: (a, b) => a - b,
  div: (a, b) => a / b,
  scale: (k, x) => k * x,
  shift: (x, k) => x + k,
};

/** The norm AdaFace reads the quality from: ‖z‖ clipped to [0.001, 100]. */
function safeNormOf<T>(a: QualityArith<T>, norm: T): T {
  return a.clip(norm, 0.001, 100);
}

/** ẑ = clip(h·(n − μ)/(σ + ε), −1, 1) of a safe norm n. */
function qualityOf<T>(a: QualityArith<T>, safeNorm: T, mean: T, std: T, h: number): T {
  return a.clip(a.scale(h, a.div(a.sub(safeNorm, mean), a.shift(std, ADAFACE_EPS))), -1, 1);
}

/**
 * ẑ of a feature with norm ‖z‖ under the statistics μ (norm_mean) and σ (norm_std), in plain
 * numbers: what the loss computes at evaluation (the kept statistics), by the same arithmetic.
 * −1: ArcFace's margin cos(θ + m) (low norm, hard); 0: CosFace's cos θ − m; 1: cos(θ − m) − 2m.
 */
export function adafaceQuality(norm: number, normMean: number, normStd: number, h: number): number {
  return qualityOf(numberArith, safeNormOf(numberArith, norm), normMean, normStd, h);
}

/** ẑ of one feature vector, its norm taken as the loss takes it (rowNorm: sqrt(Σ x² + ε)). */
export function adafaceFeatureQuality(feature: ArrayLike<number>, normMean: number, normStd: number, h: number): number {
  let sq = 0;
  for (let j = 0; j < feature.length; j++) sq += feature[j]! * feature[j]!;
  return adafaceQuality(Math.sqrt(sq + SQRT_EPS), normMean, normStd, h);
}

const adafaceParams = {
  s: param.number({ default: 32, gt: 0, description: 'scale s (the paper uses 64 for 512-D faces; 32 as for the ArcFace figure)' }),
  m: param.number({
    default: 0.08,
    min: 0,
    max: Math.PI / 2,
    description:
      'margin m (the paper: 0.4). A high-norm sample (ẑ = 1) gets the cosine margin 2m, so in 2-D 2m must stay below 1 − cos(2π/C) ' +
      '(≈ 0.191 for C = 10), CosFace\'s bound: 0.08 (with 0.4 every class collapses onto one direction)',
  }),
  h: param.number({ default: 0.333, gt: 0, description: 'concentration h: ẑ = clip(h·(‖z‖ − μ)/(σ + ε), −1, 1); 0.333 as in the paper' }),
  t_alpha: param.number({
    default: 0.01,
    gt: 0,
    max: 1,
    description: 'momentum of the running norm mean μ and std σ (0.01 as in the authors\' training scripts)',
  }),
};

/**
 * AdaFace (Kim et al., CVPR 2022), following the authors' code (mk-minchul/AdaFace, head.py):
 * - quality proxy: the feature norm ‖z‖ clipped to [0.001, 100], without gradient; running
 *   μ ← α·mean + (1 − α)·μ and σ ← α·std + (1 − α)·σ over the batch (std with N − 1, as torch),
 *   starting at 20 and 100; ẑ = clip(h·(‖z‖ − μ)/(σ + ε), −1, 1). As in the code a training batch
 *   uses the statistics already moved by itself; the state variables `norm_mean` and `norm_std`
 *   move in `afterStep` (from the step's embeddings, exactly the same values);
 * - margin on the target only: g_angle = −m·ẑ, g_add = m·ẑ + m; target cosine
 *   cos(clip(θ_y + g_angle, ε, π − ε)) − g_add, θ_y = acos(clip(cos θ_y, −1 + ε, 1 − ε)); all
 *   cosines clamped to [−1 + ε, 1 − ε]. So a low-norm (hard) sample, ẑ = −1, gets ArcFace's
 *   cos(θ + m); ẑ = 0 gets CosFace's cos θ − m; a high-norm (easy) one, ẑ = 1, gets cos(θ − m) − 2m.
 * Logits s·(those cosines); accuracy and `predict` use s·cos θ. Evaluation uses the kept statistics.
 */
export class AdaFaceLoss extends ScaledCosineHead<typeof adafaceParams> {
  protected readonly scale: number;
  /** Running mean μ of the feature norms (scalar state variable, checkpointed). */
  readonly normMean: tf.Variable;
  /** Running std σ of the feature norms (scalar state variable, checkpointed). */
  readonly normStd: tf.Variable;

  constructor(params: ParamsOf<typeof adafaceParams>, ctx: LossContext) {
    super(adafaceLoss, params, ctx);
    this.scale = params.s;
    this.normMean = tf.variable(tf.scalar(ADAFACE_INIT_MEAN), false, uniqueName('adaface_mean'));
    this.normStd = tf.variable(tf.scalar(ADAFACE_INIT_STD), false, uniqueName('adaface_std'));
    this.state.norm_mean = this.normMean;
    this.state.norm_std = this.normStd;
  }

  /** The norms ‖z‖ [N, 1] clipped to [0.001, 100], without gradient. */
  safeNorms(xNorm: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => stopGradient(safeNormOf(tensorArith, xNorm)) as tf.Tensor2D);
  }

  /** μ and σ after a batch with these safe norms [N, 1]. */
  nextStats(norms: tf.Tensor2D): { mean: tf.Scalar; std: tf.Scalar } {
    return tf.tidy(() => {
      const a = this.params.t_alpha;
      const n = norms.shape[0];
      const mu = tf.mean(norms);
      const std = n > 1 ? tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(norms, mu))), n - 1)) : tf.scalar(0);
      return {
        mean: tf.add(tf.mul(a, mu), tf.mul(1 - a, this.normMean)) as tf.Scalar,
        std: tf.add(tf.mul(a, std), tf.mul(1 - a, this.normStd)) as tf.Scalar,
      };
    });
  }

  /** ẑ [N, 1] from the norms, with the batch's statistics (training) or the kept ones. */
  quality(xNorm: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const norms = this.safeNorms(xNorm);
      const { mean, std } = training && norms.shape[0] > 0 ? this.nextStats(norms) : { mean: this.normMean, std: this.normStd };
      return qualityOf<tf.Tensor>(tensorArith, norms, mean, std, this.params.h) as tf.Tensor2D;
    });
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D, c: MarginContext): tf.Tensor2D {
    const { m } = this.params;
    const z = this.quality(c.xNorm, c.training);
    const theta = tf.acos(tf.clipByValue(cosTarget, -1 + ADAFACE_EPS, 1 - ADAFACE_EPS));
    const gAngle = tf.mul(-m, z);
    const gAdd = tf.add(tf.mul(m, z), m);
    const thetaM = tf.clipByValue(tf.add(theta, gAngle), ADAFACE_EPS, Math.PI - ADAFACE_EPS);
    return tf.sub(tf.cos(thetaM), gAdd) as tf.Tensor2D;
  }

  protected override modifyOtherCosines(cos: tf.Tensor2D): tf.Tensor2D {
    return tf.clipByValue(cos, -1 + ADAFACE_EPS, 1 - ADAFACE_EPS) as tf.Tensor2D;
  }

  afterStep(embeddings: tf.Tensor2D): void {
    if (embeddings.shape[0] === 0) return;
    const next = tf.tidy(() => {
      const norms = this.safeNorms(rowNorm(embeddings));
      const { mean, std } = this.nextStats(norms);
      return [mean, std];
    });
    this.normMean.assign(next[0]!);
    this.normStd.assign(next[1]!);
    tf.dispose(next);
  }
}

export const adafaceLoss = defineLoss({
  name: 'adaface',
  normalized: true,
  figureNote:
    "the margin depends on the feature norm: digits with a low norm (the hard ones) are trained with ArcFace's angular margin and those with a high norm with cos(θ − m) − 2m; " +
    'its extra figure colours every test image by ẑ, blue (low norm) through grey to red (high norm), and gives the accuracy on either side of ẑ = 0.',
  displayName: 'AdaFaceLoss',
  figureFolder: 'AdaFace',
  description:
    'AdaFace: the feature norm, normalised by running batch statistics, moves the margin from ArcFace\'s angular one (low norm) through CosFace\'s to cos(θ − m) − 2m (high norm).',
  params: adafaceParams,
  titleParams: (p) => ({ s: p.s, m: p.m, h: p.h }),
  validate(p, ctx) {
    if (ctx.embeddingDim === 2) {
      const bound = cosfaceMaxMargin2d(ctx.numClasses);
      if (2 * p.m > bound) {
        return (
          `m = ${p.m} is above the AdaFace bound for a 2-D embedding: a high-norm sample gets the cosine margin 2m, which must be <= ` +
          `1 − cos(2π/C) = ${bound.toFixed(4)} for C = ${ctx.numClasses} classes; use m <= ${(Math.floor((bound / 2) * 1000) / 1000).toFixed(3)}, e.g. 0.08`
        );
      }
    }
    return null;
  },
  create: (params, ctx) => new AdaFaceLoss(params, ctx),
});
