import * as tf from '@tensorflow/tfjs-core';
import { ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

/** Target probability the lower bound on s is derived for (CosFace paper, eq. 10). */
export const COSFACE_P = 0.9;

/** Largest margin at which C classes still fit on the unit circle of a 2-D embedding. */
export function cosfaceMaxMargin2d(numClasses: number): number {
  return 1 - Math.cos((2 * Math.PI) / numClasses);
}

/** Smallest scale that lets the target class reach probability p: (C−1)/C · ln((C−1)p/(1−p)). */
export function cosfaceMinScale(numClasses: number, p = COSFACE_P): number {
  const c = numClasses;
  return ((c - 1) / c) * Math.log(((c - 1) * p) / (1 - p));
}

const cosfaceParams = {
  s: param.number({
    default: 32,
    gt: 0,
    description: 'scale s; must be >= (C−1)/C·ln((C−1)·0.9/0.1) (≈ 3.95 for C = 10)',
  }),
  m: param.number({
    default: 0.1,
    min: 0,
    description: 'cosine margin m; with a 2-D embedding it must be <= 1 − cos(2π/C) (≈ 0.191 for C = 10)',
  }),
};

/** CosFace / AM-Softmax (Wang et al. 2018): target logit s(cos θ_y − m), others s cos θ_j. */
export class CosFaceLoss extends ScaledCosineHead<typeof cosfaceParams> {
  protected readonly scale: number;
  readonly m: number;

  constructor(params: ParamsOf<typeof cosfaceParams>, ctx: LossContext) {
    super(cosfaceLoss, params, ctx);
    this.scale = params.s;
    this.m = params.m;
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D): tf.Tensor2D {
    return tf.sub(cosTarget, this.m) as tf.Tensor2D;
  }
}

export const cosfaceLoss = defineLoss({
  name: 'cosface',
  normalized: true,
  aliases: ['amsoftmax'],
  displayName: 'CosFaceLoss',
  figureFolder: 'CosFace',
  description: 'CosFace / AM-Softmax: additive cosine margin, target logit s(cos θ_y − m).',
  params: cosfaceParams,
  titleParams: (p) => ({ s: p.s, m: p.m }),
  validate(params, ctx) {
    const C = ctx.numClasses;
    const { m, s } = params;
    if (ctx.embeddingDim === 2) {
      const mMax = cosfaceMaxMargin2d(C);
      if (m > mMax) {
        return (
          `m = ${m} is above the CosFace bound for a 2-D embedding, m <= 1 − cos(2π/C) = ${mMax.toFixed(4)} ` +
          `for C = ${C} classes: with a larger margin the ${C} classes cannot all fit on the circle; use m <= ${mMax.toFixed(3)}`
        );
      }
    }
    const sMin = cosfaceMinScale(C);
    if (s < sMin) {
      return (
        `s = ${s} is below the CosFace bound s >= (C−1)/C·ln((C−1)·p/(1−p)) = ${sMin.toFixed(4)} ` +
        `for C = ${C} classes and p = ${COSFACE_P}: the target class could never reach probability ${COSFACE_P}; use s >= ${Math.ceil(sMin * 100) / 100}`
      );
    }
    return null;
  },
  create: (params, ctx) => new CosFaceLoss(params, ctx),
});
