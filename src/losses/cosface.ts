import * as tf from '@tensorflow/tfjs-core';
import { maxMinAngle, maxMinAngleFormula, sphereName } from './bounds.js';
import { ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

/** Target probability the lower bound on s is derived for (CosFace paper, eq. 10). */
export const COSFACE_P = 0.9;

/**
 * Largest margin at which C classes still fit on the unit sphere of a D-dimensional embedding:
 * 1 − cos θ*(C, D), θ*(C, D) the largest possible smallest angle between C directions
 * (src/losses/bounds.ts): 1 − cos(2π/C) in 2-D (0.191 for C = 10), 0.651 in 3-D for C = 10.
 */
export function cosfaceMaxMargin(numClasses: number, embeddingDim = 2): number {
  return 1 - Math.cos(maxMinAngle(numClasses, embeddingDim));
}

/** The 2-D case of cosfaceMaxMargin: 1 − cos(2π/C). */
export function cosfaceMaxMargin2d(numClasses: number): number {
  return cosfaceMaxMargin(numClasses, 2);
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
    description:
      'cosine margin m; must be <= 1 − cos θ*(C, D), θ* the largest smallest angle of C classes in D dimensions: ' +
      '2π/C in 2-D (m <= 0.191 for C = 10); Fejes Tóth arccos((cot²ω − 1)/2), ω = πC/(6(C−2)) in 3-D (m <= 0.651); ' +
      'π/2 for D+1 < C <= 2D (m <= 1); arccos(−1/(C−1)) for C <= D+1 (m <= C/(C−1))',
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
    const D = ctx.embeddingDim;
    const mMax = cosfaceMaxMargin(C, D);
    if (m > mMax) {
      const theta = D === 2 ? '2π/C' : 'θ*';
      return (
        `m = ${m} is above the CosFace bound for a ${D}-D embedding, m <= 1 − cos(${theta}) = ${mMax.toFixed(4)} ` +
        `for C = ${C} classes${D === 2 ? '' : `, θ* = ${maxMinAngleFormula(C, D)} = ${((maxMinAngle(C, D) * 180) / Math.PI).toFixed(2)}°`}: ` +
        `with a larger margin the ${C} classes cannot all fit on ${sphereName(D)}; use m <= ${mMax.toFixed(3)}`
      );
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
