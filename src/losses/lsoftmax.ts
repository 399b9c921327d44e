/**
 * The multiplicative angular margin family: L-Softmax (Liu et al. 2016) and A-Softmax /
 * SphereFace (Liu et al. 2017). Both replace the target cos θ_y by
 *
 *   ψ(θ) = (−1)^k cos(mθ) − 2k,  θ ∈ [kπ/m, (k+1)π/m],  k = floor(m·θ/π) (no gradient),
 *
 * with cos(mθ) expanded from cos θ by the Chebyshev recurrence (no acos in the gradient path),
 * and anneal it: target = (β·cos θ_y + ψ(θ_y))/(1 + β), β = max(β_min, base·(1 + γ·it)^(−power)).
 * The iteration counter `iteration` advances in afterStep only (one training step), never in
 * compute, so evaluation does not decay β.
 */
import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from './common.js';
import { MarginHeadLoss, type MarginContext } from './margin.js';
import { type LossContext, type LossDefinition, type NumberParamSpec, type ParamsOf, defineLoss, param } from './types.js';

/** Chebyshev polynomial T_m(c) = cos(m·acos c), by T_{n+1} = 2c·T_n − T_{n−1}. */
export function chebyshev(c: tf.Tensor, m: number): tf.Tensor {
  return tf.tidy(() => {
    if (m === 0) return tf.onesLike(c);
    let prev: tf.Tensor = tf.onesLike(c);
    let cur: tf.Tensor = c;
    for (let n = 1; n < m; n++) {
      const next = tf.sub(tf.mul(tf.mul(c, 2), cur), prev);
      prev = cur;
      cur = next;
    }
    return tf.clone(cur);
  });
}

/**
 * ψ(θ) of L-Softmax / A-Softmax from c = cos θ (any shape), for an integer margin m ≥ 1.
 * Monotonically decreasing on θ ∈ [0, π], from 1 at θ = 0 to 1 − 2m at θ = π.
 */
export function psi(cos: tf.Tensor, m: number): tf.Tensor {
  return tf.tidy(() => {
    const c = tf.clipByValue(cos, -1, 1);
    const theta = tf.acos(stopGradient(c));
    const k = stopGradient(tf.minimum(tf.floor(tf.div(tf.mul(theta, m), Math.PI)), m - 1));
    const sign = tf.sub(1, tf.mul(2, tf.mod(k, 2)));
    return tf.sub(tf.mul(sign, chebyshev(c, m)), tf.mul(2, k));
  });
}

/** Number version of ψ for plain-arithmetic checks and plots: θ in radians. */
export function psiOfAngle(theta: number, m: number): number {
  const k = Math.min(Math.floor((m * theta) / Math.PI), m - 1);
  return (k % 2 === 0 ? 1 : -1) * Math.cos(m * theta) - 2 * k;
}

export interface AnnealingSchedule {
  base: number;
  gamma: number;
  power: number;
  min: number;
}

/** β (or λ) after `iteration` training steps: max(min, base·(1 + γ·iteration)^(−power)). */
export function annealingWeight(s: AnnealingSchedule, iteration: number): number {
  return Math.max(s.min, s.base * Math.pow(1 + s.gamma * iteration, -s.power));
}

/** The parameters L-Softmax and SphereFace share (each adds its own floor, beta_min or lambda_min). */
type ScheduleSchema = ReturnType<typeof scheduleParams>;

abstract class AngularMarginLoss<S extends ScheduleSchema> extends MarginHeadLoss<S> {
  readonly m: number;
  protected readonly schedule: AnnealingSchedule;

  /** `min` is the annealing floor (params.beta_min or params.lambda_min). */
  constructor(definition: LossDefinition<S>, params: ParamsOf<S>, ctx: LossContext, min: number) {
    super(definition, params, ctx);
    this.m = params.m;
    this.schedule = { base: params.base, gamma: params.gamma, power: params.power, min };
    this.counters.iteration = 0;
  }

  /** Training steps taken so far (drives the annealing). */
  get iteration(): number {
    return this.counters.iteration!;
  }

  /** The current annealing weight (β for L-Softmax, λ for SphereFace). */
  annealing(): number {
    return annealingWeight(this.schedule, this.iteration);
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D, _c: MarginContext): tf.Tensor2D {
    const b = this.annealing();
    return tf.div(tf.add(tf.mul(cosTarget, b), psi(cosTarget, this.m)), 1 + b) as tf.Tensor2D;
  }

  /** One training step happened: advance the annealing counter (the batch itself is not needed). */
  afterStep(_embeddings?: tf.Tensor2D, _labels?: tf.Tensor1D): void {
    this.counters.iteration! += 1;
  }
}

/** L-Softmax: target logit ‖W_y‖‖x‖ψ(θ_y), others W_j·x (unnormalized weights). */
export class LSoftmaxLoss extends AngularMarginLoss<typeof lsoftmaxParams> {
  constructor(params: ParamsOf<typeof lsoftmaxParams>, ctx: LossContext) {
    super(lsoftmaxLoss, params, ctx, params.beta_min);
  }
  protected scaleLogits(cos: tf.Tensor2D, c: Pick<MarginContext, 'xNorm' | 'wNorm'>): tf.Tensor2D {
    return tf.mul(tf.mul(cos, c.xNorm), c.wNorm) as tf.Tensor2D;
  }
}

/** A-Softmax / SphereFace: ‖W_j‖ = 1, target logit ‖x‖ψ(θ_y), others ‖x‖cos θ_j. */
export class SphereFaceLoss extends AngularMarginLoss<typeof spherefaceParams> {
  constructor(params: ParamsOf<typeof spherefaceParams>, ctx: LossContext) {
    super(spherefaceLoss, params, ctx, params.lambda_min);
  }
  protected scaleLogits(cos: tf.Tensor2D, c: Pick<MarginContext, 'xNorm' | 'wNorm'>): tf.Tensor2D {
    return tf.mul(cos, c.xNorm) as tf.Tensor2D;
  }
}

function scheduleParams(d: { base: number; gamma: number; power: number }, symbol: string) {
  return {
    m: param.integer({ default: 3, min: 1, max: 8, description: 'multiplicative angular margin m (1 = no margin)' }),
    base: param.number({ default: d.base, min: 0, description: `annealing: ${symbol} starts at base` }),
    gamma: param.number({ default: d.gamma, min: 0, description: `annealing: ${symbol} = base·(1 + gamma·iteration)^(−power)` }),
    power: param.number({ default: d.power, min: 0, description: 'annealing exponent' }),
  };
}

/** The annealing floor parameter (beta_min or lambda_min). */
function scheduleMin(min: number, symbol: string, minKey: string): NumberParamSpec {
  return param.number({ default: min, min: 0, description: `annealing: ${symbol} never goes below ${minKey}` });
}

const lsoftmaxParams = {
  ...scheduleParams({ base: 1000, gamma: 2.5e-5, power: 35 }, 'β'),
  beta_min: scheduleMin(0, 'β', 'beta_min'),
};

const spherefaceParams = {
  ...scheduleParams({ base: 1000, gamma: 0.12, power: 1 }, 'λ'),
  lambda_min: scheduleMin(5, 'λ', 'lambda_min'),
};

export const lsoftmaxLoss = defineLoss({
  name: 'lsoftmax',
  displayName: 'L-SoftmaxLoss',
  figureFolder: 'LSoftmax',
  description: 'L-Softmax: multiplicative angular margin ψ(θ) on the target logit ‖W_y‖‖x‖, annealed (MNIST schedule).',
  params: lsoftmaxParams,
  titleParams: (p) => ({ m: p.m }),
  create: (params, ctx) => new LSoftmaxLoss(params, ctx),
});

export const spherefaceLoss = defineLoss({
  name: 'sphereface',
  normalized: true,
  aliases: ['asoftmax'],
  displayName: 'SphereFaceLoss',
  figureFolder: 'SphereFace',
  description: 'A-Softmax / SphereFace: ‖W‖ = 1, target logit ‖x‖ψ(θ_y), annealed (published schedule).',
  params: spherefaceParams,
  titleParams: (p) => ({ m: p.m }),
  create: (params, ctx) => new SphereFaceLoss(params, ctx),
});
