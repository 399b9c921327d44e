import * as tf from '@tensorflow/tfjs-core';
import { Centers, SoftmaxPlusAuxLoss, TRIPLET_STRATEGIES, tripletTerm, type TripletStrategy } from './auxiliary.js';
import type { LossContext, LossDefinition, LossParams } from './types.js';

/** Triplet loss (Schroff et al. 2015) mined in the batch, added to softmax: CE(x·W) + λ·L_triplet. */
export class TripletLoss extends SoftmaxPlusAuxLoss {
  readonly name = 'triplet';

  constructor(params: Readonly<LossParams>, ctx: LossContext) {
    super(params, ctx, params.normalize ? 'TripletLoss_norm' : 'TripletLoss');
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const p = this.params;
    const term = tripletTerm(this.auxFeatures(embeddings), labels, p.m as number, p.strategy as TripletStrategy, p.squared as boolean);
    return tf.mul(p.loss_weight as number, term) as tf.Scalar;
  }

  titleParams(): Record<string, unknown> {
    return { m: this.params.m, loss_weight: this.params.loss_weight, strategy: this.params.strategy };
  }
}

/**
 * Triplet + Center: CE(x·W) + w_trp·L_triplet + w_ctr·½·mean‖f − c_y‖², f = x or x/‖x‖; the
 * centers (in the same space as f) move in afterStep by the center-loss rule with rate alpha.
 */
export class TripletCenterLoss extends SoftmaxPlusAuxLoss {
  readonly name = 'triplet_center';
  readonly centers: Centers;

  constructor(params: Readonly<LossParams>, ctx: LossContext) {
    super(params, ctx, params.normalize ? 'Triplet_CenterLoss_norm' : 'Triplet_CenterLoss');
    this.centers = new Centers(ctx, params.alpha as number);
    this.state.centers = this.centers.centers;
  }

  protected auxiliary(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const p = this.params;
    const f = this.auxFeatures(embeddings);
    const trp = tripletTerm(f, labels, p.m as number, p.strategy as TripletStrategy, p.squared as boolean);
    const ctr = this.centers.term(f, labels);
    return tf.add(tf.mul(p.w_trp as number, trp), tf.mul(p.w_ctr as number, ctr)) as tf.Scalar;
  }

  afterStep(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void {
    const f = tf.tidy(() => this.auxFeatures(embeddings));
    this.centers.update(f, labels);
    if (f !== embeddings) f.dispose();
  }

  titleParams(): Record<string, unknown> {
    const p = this.params;
    return { m: p.m, w_ctr: p.w_ctr, w_trp: p.w_trp, strategy: p.strategy };
  }
}

const tripletCommon = {
  m: { type: 'number', default: 0.25, min: 0, description: 'triplet margin m' },
  strategy: {
    type: 'string',
    default: 'batch_hard',
    choices: TRIPLET_STRATEGIES,
    description: 'mining: batch_hard (hardest positive and negative per anchor), batch_all (mean of the active triplets), semi_hard',
  },
  squared: { type: 'boolean', default: false, description: 'use squared Euclidean distances' },
  normalize: { type: 'boolean', default: false, description: 'mine on x/‖x‖ (display name gets _norm)' },
} as const;

export const tripletLoss: LossDefinition = {
  name: 'triplet',
  displayName: 'TripletLoss',
  figureFolder: 'Triplet',
  description: 'Triplet loss mined in each batch, added to softmax; optionally on normalized features.',
  params: {
    m: tripletCommon.m,
    loss_weight: { type: 'number', default: 0.1, min: 0, description: 'weight λ of the triplet term' },
    strategy: tripletCommon.strategy,
    squared: tripletCommon.squared,
    normalize: tripletCommon.normalize,
  },
  create: (params, ctx) => new TripletLoss(params, ctx),
};

export const tripletCenterLoss: LossDefinition = {
  name: 'triplet_center',
  displayName: 'Triplet_CenterLoss',
  figureFolder: 'TripletCenter',
  description: 'Triplet loss and center loss together, added to softmax; optionally on normalized features.',
  params: {
    m: tripletCommon.m,
    w_trp: { type: 'number', default: 0.1, min: 0, description: 'weight of the triplet term' },
    w_ctr: { type: 'number', default: 0.1, min: 0, description: 'weight of the center term ½·mean‖f − c_y‖²' },
    strategy: tripletCommon.strategy,
    squared: tripletCommon.squared,
    normalize: tripletCommon.normalize,
    alpha: { type: 'number', default: 0.5, min: 0, max: 1, description: 'center learning rate α of the update rule' },
  },
  create: (params, ctx) => new TripletCenterLoss(params, ctx),
};
