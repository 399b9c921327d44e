import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';

/** One hyperparameter of a loss: its type, default, allowed range and meaning. */
export interface ParamSpec {
  type: 'number' | 'integer' | 'boolean' | 'string' | 'number[]';
  default: unknown;
  description: string;
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  /** Exclusive lower bound for numbers (e.g. a scale that must be > 0). */
  gt?: number;
  /** Allowed values for strings. */
  choices?: readonly string[];
  /** May be null (e.g. focal alpha). */
  nullable?: boolean;
}

export type ParamSchema = Record<string, ParamSpec>;
export type LossParams = Record<string, unknown>;

export interface LossContext {
  numClasses: number;
  embeddingDim: number;
  /** Random generator for weight initialisation (seeded by the trainer; optional for library users). */
  rng?: Rng;
}

export interface LossOutput {
  /** Scalar loss averaged over the batch (the auxiliary term already weighted and added). */
  loss: tf.Scalar;
  /** Class scores [N, C] used for prediction/accuracy, when the loss has a classifier. */
  logits?: tf.Tensor2D;
}

export interface ComputeOptions {
  /** True inside a training step. Evaluation passes false; nothing that evolves with training
   *  (annealing, centers) may change when it is false. Defaults to true. */
  training?: boolean;
}

/**
 * A loss of the collection. `compute` is pure with respect to the loss's own state: it reads
 * variables and counters but changes none, so it is safe inside tf.grad / optimizer.minimize.
 * State that moves with training moves only in `afterStep`, which the trainer (or the user's own
 * loop) calls once after each optimizer step.
 */
export interface Loss {
  /** Registry name, e.g. 'arcface'. */
  readonly name: string;
  /** Display name used in figure file names, e.g. 'ArcFaceLoss'. */
  readonly displayName: string;
  /** Resolved hyperparameters (defaults filled in). */
  readonly params: Readonly<LossParams>;
  readonly numClasses: number;
  readonly embeddingDim: number;

  /** Trainable variables by name (optimised together with the network, weight decay applies). */
  trainableVariables(): Record<string, tf.Variable>;
  /** Non-trainable state by name (e.g. centers), saved in checkpoints. */
  stateVariables(): Record<string, tf.Variable>;
  /** Scalar counters (e.g. the annealing iteration), saved in checkpoints. */
  getCounters(): Record<string, number>;
  setCounters(c: Record<string, number>): void;

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D, opts?: ComputeOptions): LossOutput;
  /** Class scores for prediction without computing the loss (no margin applied). */
  predict?(embeddings: tf.Tensor2D): tf.Tensor2D;
  /** Called once after each optimizer step with the batch's embeddings and labels (training only). */
  afterStep?(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void;

  /** Key/value pairs for figure titles and file names, e.g. { s: 32, m: 0.5 }. */
  titleParams(): Record<string, unknown>;
  dispose(): void;
}

export interface LossDefinition {
  name: string;
  /** Other names accepted for the same loss (e.g. 'amsoftmax' for 'cosface'). */
  aliases?: string[];
  displayName: string;
  /** Folder under pics/ for the figures, e.g. 'ArcFace'. */
  figureFolder?: string;
  description: string;
  /** True for heads whose geometry lives on the unit circle (figures default to raw + unit views). */
  normalized?: boolean;
  params: ParamSchema;
  /** Extra cross-parameter validation; return an error message or null. Warnings via `warn`. */
  validate?(params: LossParams, ctx: LossContext, warn: (msg: string) => void): string | null;
  create(params: LossParams, ctx: LossContext): Loss;
}
