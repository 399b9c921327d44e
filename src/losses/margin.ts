/**
 * The one pipeline behind every margin head (NormFace, CosFace, ArcFace, MagFace, Circle,
 * L-Softmax, SphereFace):
 *
 *   cosines cos θ_j = x̂·Ŵ_j  →  change the target cosine (and, for Circle, the others)
 *   →  scale to logits  →  softmax cross-entropy  (+ an optional extra term, e.g. MagFace's g(a)).
 *
 * A margin loss supplies only its own step by overriding `modifyTargetCosine` (and, where needed,
 * `modifyOtherCosines`, `scaleLogits`, `extraLoss`). The logits returned for accuracy and by
 * `predict` are the plain ones: `scaleLogits` applied to the unmodified cosines.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BaseLoss, colNorm, crossEntropy, l2Normalize, oneHotFloat, rowNorm } from './common.js';
import type { ComputeOptions, LossContext, LossDefinition, LossOutput, ParamSchema, ParamsOf } from './types.js';

/** What a margin step may look at, besides the cosines. All tensors live in the compute's tidy. */
export interface MarginContext {
  labels: tf.Tensor1D;
  /** One-hot labels [N, C], float. */
  oneHot: tf.Tensor2D;
  /** ‖x‖ per row [N, 1] (sqrt(Σx² + ε)). */
  xNorm: tf.Tensor2D;
  /** ‖W_j‖ per class [1, C] (sqrt(Σ + ε)); the raw weights, before any normalisation. */
  wNorm: tf.Tensor2D;
  training: boolean;
}

export abstract class MarginHeadLoss<S extends ParamSchema = ParamSchema> extends BaseLoss<S> {
  /** Class weights [embeddingDim, numClasses], Glorot normal. Read or assign freely. */
  readonly W: tf.Variable;

  constructor(definition: LossDefinition<S>, params: ParamsOf<S>, ctx: LossContext) {
    super(definition, params, ctx);
    this.W = this.addClassWeights(ctx);
  }

  /** The new target cosine [N, 1] from the target cosine cos θ_y [N, 1]. */
  protected abstract modifyTargetCosine(cosTarget: tf.Tensor2D, c: MarginContext): tf.Tensor2D;

  /** The non-target cosines [N, C] (the target column is replaced afterwards). Default: unchanged. */
  protected modifyOtherCosines(cos: tf.Tensor2D, _c: MarginContext): tf.Tensor2D {
    return cos;
  }

  /** Cosines [N, C] → logits [N, C]. */
  protected abstract scaleLogits(cos: tf.Tensor2D, c: Pick<MarginContext, 'xNorm' | 'wNorm'>): tf.Tensor2D;

  /** An extra scalar added to the cross-entropy (MagFace's regulariser). Default: none. */
  protected extraLoss(_c: MarginContext): tf.Scalar | null {
    return null;
  }

  /** The cosine [N, columns] between each embedding and each column of W, clipped to [-1, 1]; 0 at x = 0. */
  columnCosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const xh = l2Normalize(embeddings, 1);
      const wh = l2Normalize(this.W as tf.Tensor2D, 0);
      return tf.clipByValue(tf.matMul(xh, wh), -1, 1) as tf.Tensor2D;
    });
  }

  /** cos θ [N, C] between each embedding and each class (one column of W a class here). */
  cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    return this.columnCosines(embeddings);
  }

  predict(embeddings: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() =>
      this.scaleLogits(this.cosines(embeddings), { xNorm: rowNorm(embeddings), wNorm: colNorm(this.W as tf.Tensor2D) }),
    );
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, opts: ComputeOptions = {}): LossOutput {
    return tf.tidy(() => {
      const c: MarginContext = {
        labels,
        oneHot: oneHotFloat(labels, this.numClasses),
        xNorm: rowNorm(embeddings),
        wNorm: colNorm(this.W as tf.Tensor2D),
        training: opts.training ?? true,
      };
      const cos = this.cosines(embeddings);
      const cosTarget = tf.sum(tf.mul(cos, c.oneHot), 1, true) as tf.Tensor2D;
      const target = this.modifyTargetCosine(cosTarget, c);
      const others = this.modifyOtherCosines(cos, c);
      const modified = tf.add(tf.mul(others, tf.sub(1, c.oneHot)), tf.mul(target, c.oneHot)) as tf.Tensor2D;
      let loss = crossEntropy(this.scaleLogits(modified, c), labels);
      const extra = this.extraLoss(c);
      if (extra) loss = tf.add(loss, extra) as tf.Scalar;
      const logits = this.scaleLogits(cos, c);
      return { loss, logits };
    });
  }
}

/** Heads whose logits are a fixed scale times the cosine: s·cos θ_j. */
export abstract class ScaledCosineHead<S extends ParamSchema = ParamSchema> extends MarginHeadLoss<S> {
  protected abstract readonly scale: number;
  protected scaleLogits(cos: tf.Tensor2D): tf.Tensor2D {
    return tf.mul(cos, this.scale) as tf.Tensor2D;
  }
}
