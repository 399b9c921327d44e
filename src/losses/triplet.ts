import * as tf from '@tensorflow/tfjs-core';
import { SoftmaxPlusAuxLoss } from './auxiliary.js';
import { Centers } from './centers.js';
import { TRIPLET_STRATEGIES, tripletTerm } from './triplet-mining.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const tripletCommon = {
  m: param.number({ default: 0.25, min: 0, description: 'triplet margin m' }),
  strategy: param.choice({
    default: 'batch_hard',
    choices: TRIPLET_STRATEGIES,
    description: 'mining: batch_hard (hardest positive and negative per anchor), batch_all (mean of the active triplets), semi_hard',
  }),
  squared: param.boolean({ default: false, description: 'use squared Euclidean distances' }),
  normalize: param.boolean({ default: false, description: 'mine on x/‖x‖ (display name gets _norm)' }),
};

const tripletParams = {
  m: tripletCommon.m,
  loss_weight: param.number({ default: 0.1, min: 0, description: 'weight λ of the triplet term' }),
  strategy: tripletCommon.strategy,
  squared: tripletCommon.squared,
  normalize: tripletCommon.normalize,
};

const tripletCenterParams = {
  m: tripletCommon.m,
  w_trp: param.number({ default: 0.1, min: 0, description: 'weight of the triplet term' }),
  w_ctr: param.number({ default: 0.1, min: 0, description: 'weight of the center term ½·mean‖f − c_y‖²' }),
  strategy: tripletCommon.strategy,
  squared: tripletCommon.squared,
  normalize: tripletCommon.normalize,
  alpha: param.number({ default: 0.5, min: 0, max: 1, description: 'center learning rate α of the update rule' }),
};

/** Triplet loss (Schroff et al. 2015) mined in the batch, added to softmax: CE(x·W) + λ·L_triplet. */
export class TripletLoss extends SoftmaxPlusAuxLoss<typeof tripletParams> {
  constructor(params: ParamsOf<typeof tripletParams>, ctx: LossContext) {
    super(tripletLoss, params, ctx);
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const p = this.params;
    const term = tripletTerm(this.auxFeatures(embeddings, p.normalize), labels, p.m, p.strategy, p.squared);
    return tf.mul(p.loss_weight, term) as tf.Scalar;
  }
}

/**
 * Triplet + Center: CE(x·W) + w_trp·L_triplet + w_ctr·½·mean‖f − c_y‖², f = x or x/‖x‖; the
 * centers (in the same space as f) move in afterStep by the center-loss rule with rate alpha.
 */
export class TripletCenterLoss extends SoftmaxPlusAuxLoss<typeof tripletCenterParams> {
  readonly centers: Centers;

  constructor(params: ParamsOf<typeof tripletCenterParams>, ctx: LossContext) {
    super(tripletCenterLoss, params, ctx);
    this.centers = new Centers(ctx, params.alpha);
    this.state.centers = this.centers.centers;
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const p = this.params;
    const f = this.auxFeatures(embeddings, p.normalize);
    const trp = tripletTerm(f, labels, p.m, p.strategy, p.squared);
    const ctr = this.centers.term(f, labels);
    return tf.add(tf.mul(p.w_trp, trp), tf.mul(p.w_ctr, ctr)) as tf.Scalar;
  }

  afterStep(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void {
    const f = tf.tidy(() => this.auxFeatures(embeddings, this.params.normalize));
    this.centers.update(f, labels);
    if (f !== embeddings) f.dispose();
  }
}

const normSuffix = (p: { normalize: boolean }): string => (p.normalize ? '_norm' : '');

export const tripletLoss = defineLoss({
  name: 'triplet',
  displayName: 'TripletLoss',
  figureFolder: 'Triplet',
  description: 'Triplet loss mined in each batch, added to softmax; optionally on normalized features.',
  params: tripletParams,
  displayNameSuffix: normSuffix,
  titleParams: (p) => ({ m: p.m, loss_weight: p.loss_weight, strategy: p.strategy }),
  create: (params, ctx) => new TripletLoss(params, ctx),
});

export const tripletCenterLoss = defineLoss({
  name: 'triplet_center',
  displayName: 'Triplet_CenterLoss',
  figureFolder: 'TripletCenter',
  description: 'Triplet loss and center loss together, added to softmax; optionally on normalized features.',
  params: tripletCenterParams,
  displayNameSuffix: normSuffix,
  titleParams: (p) => ({ m: p.m, w_ctr: p.w_ctr, w_trp: p.w_trp, strategy: p.strategy }),
  create: (params, ctx) => new TripletCenterLoss(params, ctx),
});
