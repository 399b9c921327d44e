import * as tf from '@tensorflow/tfjs-core';
import { ARC_RULES, type ArcRule, angularMargin } from './angular.js';
import { classWeights } from './common.js';
import { ScaledCosineHead } from './margin.js';
import { type LossContext, type ParamsOf, defineLoss, param } from './types.js';

const subcenterParams = {
  s: param.number({
    default: 32,
    gt: 0,
    description: 'scale s of the cosine logits (the paper and pytorch-metric-learning use 64 for 512-D faces; 32 as for the ArcFace figure)',
  }),
  m: param.number({
    default: 0.5,
    min: 0,
    max: Math.PI / 2,
    description: 'additive angular margin m on the target class (radians; pytorch-metric-learning takes degrees, 28.6° = 0.5 rad)',
  }),
  boundary: param.choice({
    default: 'fallback' as ArcRule,
    choices: ARC_RULES,
    description:
      "rule past θ_y > π − m: 'always' = cos(θ + m) everywhere, exactly pytorch-metric-learning's SubCenterArcFaceLoss; 'fallback' " +
      "(default, this toolkit's ArcFace: cos θ − m·sin m) because in 2-D 'always' pushes far samples away from their class; 'easy', 'none' as for arcface",
  }),
  k: param.integer({
    default: 3,
    min: 1,
    max: 64,
    description: 'sub-centers per class K; a class\'s cosine is the largest of its K sub-centers\' (K = 1 is ArcFace without the π − m rule)',
  }),
};

/**
 * Sub-center ArcFace (Deng et al., ECCV 2020). W is [embeddingDim, numClasses·K], column c·K + j
 * is sub-center j of class c (pytorch-metric-learning's SubCenterArcFaceLoss layout: its
 * `cosine.view(-1, num_classes, sub_centers)`). The class cosine is the largest sub-center cosine,
 * cos θ_c = max_j x̂·Ŵ_{cK+j}; the target logit is s·cos(θ_y + m), the others s·cos θ_c; mean
 * softmax cross-entropy. With `boundary: always` this is exactly pytorch-metric-learning's
 * formula, cos(θ + m) for every θ, and the two agree in value and gradients (cos(θ + m) is taken
 * through the sine, which keeps the gradient finite at cos θ = ±1 where torch.acos's is not). The
 * default departs from that code on purpose: past θ_y > π − m it uses this toolkit's ArcFace
 * fallback cos θ − m·sin m (insightface's), because in 2-D the code's rule pushes such samples away
 * from their class (see `ArcRule`); the two agree wherever θ_y <= π − m. The paper's later step (dropping non-dominant sub-centers and
 * training on again) is a data-cleaning step outside the loss and is not part of it.
 */
export class SubCenterArcFaceLoss extends ScaledCosineHead<typeof subcenterParams> {
  protected readonly scale: number;
  readonly k: number;

  constructor(params: ParamsOf<typeof subcenterParams>, ctx: LossContext) {
    super(subcenterArcfaceLoss, params, ctx);
    this.scale = params.s;
    this.k = params.k;
  }

  /** W [embeddingDim, numClasses·K] (Glorot normal over that shape). */
  protected override addClassWeights(ctx: LossContext): tf.Variable {
    const w = classWeights({ ...ctx, numClasses: ctx.numClasses * this.params.k });
    this.trainable.W = w;
    return w;
  }

  /** Class cosines [N, numClasses]: the largest of each class's K sub-center cosines. */
  override cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const all = this.columnCosines(embeddings);
      return tf.max(tf.reshape(all, [all.shape[0], this.numClasses, this.k]), 2) as tf.Tensor2D;
    });
  }

  /**
   * The dominant sub-center of each sample (0..K−1) for its labelled class: the one whose cosine
   * is largest. Used by the figures to say which sub-centers hold the class.
   */
  dominantSubCenters(embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
    return tf.tidy(() => {
      const all = tf.reshape(this.columnCosines(embeddings), [embeddings.shape[0], this.numClasses, this.k]);
      const oh = tf.reshape(tf.oneHot(tf.cast(labels, 'int32'), this.numClasses), [embeddings.shape[0], this.numClasses, 1]);
      const own = tf.sum(tf.mul(all, tf.cast(oh, 'float32')), 1); // [N, K]
      return tf.argMax(own, 1) as tf.Tensor1D;
    });
  }

  protected modifyTargetCosine(cosTarget: tf.Tensor2D): tf.Tensor2D {
    return angularMargin(cosTarget, this.params.m, this.params.boundary);
  }
}

export const subcenterArcfaceLoss = defineLoss({
  name: 'subcenter_arcface',
  normalized: true,
  figureNote:
    "its extra figure draws all K = 3 weight directions of every class, the dominant one solid with its share of the class's test images, so one sees which sub-centers hold their class and which are left idle; ArcFace has one direction a class.",
  displayName: 'SubCenterArcFaceLoss',
  figureFolder: 'SubCenterArcFace',
  description:
    'Sub-center ArcFace: K sub-centers a class (W [D, C·K], column c·K + j), class cosine = max over its sub-centers, ' +
    'target logit s·cos(θ_y + m) (pytorch-metric-learning\'s formulas).',
  params: subcenterParams,
  titleParams: (p) => ({ s: p.s, m: p.m, k: p.k }),
  create: (params, ctx) => new SubCenterArcFaceLoss(params, ctx),
});
