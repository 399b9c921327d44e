import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-gradients.js';
import { Rng } from '../rng.js';
import { type ComputeOptions, type Loss, type LossContext, type LossDefinition, type LossOutput, type ParamSchema, type ParamsOf, lossDisplayName } from './types.js';

/** Xavier/Glorot normal initial values for a [rows, cols] matrix. */
export function glorotNormal(rows: number, cols: number, rng?: Rng): Float32Array {
  const r = rng ?? new Rng(0);
  return r.normalArray(rows * cols, Math.sqrt(2 / (rows + cols)));
}

/** Class-weight matrix W of layout [embeddingDim, numClasses] (column j is W_j). */
export function classWeights(ctx: LossContext, name = 'W'): tf.Variable {
  const { embeddingDim: d, numClasses: c } = ctx;
  return tf.tidy(() => tf.variable(tf.tensor2d(glorotNormal(d, c, ctx.rng), [d, c]), true, uniqueName(name)));
}

let counter = 0;
/** tfjs variable names must be unique in the engine; keep the readable part first. */
export function uniqueName(name: string): string {
  counter += 1;
  return `${name}_${counter}`;
}

/** Mean softmax cross-entropy of logits [N, C] against integer labels [N]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), 1)));
  });
}

/** Row-wise L2 normalisation with an epsilon, safe at x = 0 (gives 0, gradient finite). */
export function l2Normalize(x: tf.Tensor2D, axis = 1, eps = 1e-12): tf.Tensor2D {
  return tf.tidy(() => {
    const sq = tf.sum(tf.square(x), axis, true);
    return tf.mul(x, tf.rsqrt(tf.maximum(sq, eps))) as tf.Tensor2D;
  });
}

/** Epsilon inside square roots of norms and distances: sqrt(s + EPS) has a finite derivative at 0. */
export const SQRT_EPS = 1e-12;

/**
 * Identity in the forward pass, zero gradient in the backward pass (tfjs has no stopGradient).
 * Used for quantities the formulas take "without gradient": ψ's k, Circle loss's α_p and α_n,
 * the masks that select triplets.
 */
export const stopGradient = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as <T extends tf.Tensor>(x: T) => T;

/** 0/1 float mask of a > b, without gradient (tfjs registers none for Greater/Less/LogicalAnd). */
export function greaterMask(a: tf.Tensor, b: tf.Tensor | number): tf.Tensor {
  return tf.tidy(() => stopGradient(tf.step(tf.sub(a, b))));
}

/** Row norms [N, 1] of x [N, D], as sqrt(Σ x² + ε): finite gradient (zero) at x = 0. */
export function rowNorm(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), SQRT_EPS)) as tf.Tensor2D);
}

/** Column norms [1, C] of W [D, C]. */
export function colNorm(w: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.sqrt(tf.add(tf.sum(tf.square(w), 0, true), SQRT_EPS)) as tf.Tensor2D);
}

/** One-hot float matrix [N, C] of integer labels. */
export function oneHotFloat(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(labels, 'int32'), numClasses), 'float32') as tf.Tensor2D);
}

/**
 * Shared bookkeeping of every loss: name, display name and title parameters (from its
 * definition), typed parameters, named trainable and state variables, scalar counters, disposal.
 * Subclasses register variables in `trainable` / `state` and counters in `counters`, and
 * implement `compute`.
 */
export abstract class BaseLoss<S extends ParamSchema = ParamSchema> implements Loss {
  readonly name: string;
  readonly displayName: string;
  readonly numClasses: number;
  readonly embeddingDim: number;
  protected readonly trainable: Record<string, tf.Variable> = {};
  protected readonly state: Record<string, tf.Variable> = {};
  protected readonly counters: Record<string, number> = {};

  constructor(
    protected readonly definition: LossDefinition<S>,
    readonly params: ParamsOf<S>,
    ctx: LossContext,
  ) {
    this.name = definition.name;
    this.displayName = lossDisplayName(definition, params);
    this.numClasses = ctx.numClasses;
    this.embeddingDim = ctx.embeddingDim;
  }

  /** Creates the class weights W [embeddingDim, numClasses] (Glorot normal) as the trainable 'W'. */
  protected addClassWeights(ctx: LossContext): tf.Variable {
    const w = classWeights(ctx);
    this.trainable.W = w;
    return w;
  }

  /** W as rows [numClasses, embeddingDim]; undefined when W has more than one column a class
   *  (Sub-center ArcFace: its own figure draws every sub-center). */
  classWeightRows(): tf.Tensor2D | undefined {
    const w = this.trainable.W;
    return w && w.shape[1] === this.numClasses ? tf.tidy(() => tf.transpose(w) as tf.Tensor2D) : undefined;
  }

  trainableVariables(): Record<string, tf.Variable> {
    return { ...this.trainable };
  }
  stateVariables(): Record<string, tf.Variable> {
    return { ...this.state };
  }
  getCounters(): Record<string, number> {
    return { ...this.counters };
  }
  /** Sets known counters (e.g. from a checkpoint); an unknown name or a bad value throws. */
  setCounters(c: Record<string, number>): void {
    for (const [k, v] of Object.entries(c)) {
      if (!(k in this.counters)) {
        throw new Error(`loss '${this.name}' has no counter '${k}'; its counters are: ${Object.keys(this.counters).join(', ') || 'none'}`);
      }
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new Error(`loss '${this.name}': counter '${k}' must be a finite number >= 0, got ${String(v)}`);
      }
      this.counters[k] = v;
    }
  }

  abstract compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, opts?: ComputeOptions): LossOutput;

  titleParams(): Record<string, unknown> {
    return this.definition.titleParams(this.params);
  }

  dispose(): void {
    for (const v of [...Object.values(this.trainable), ...Object.values(this.state)]) {
      if (!v.isDisposed) v.dispose();
    }
  }
}
