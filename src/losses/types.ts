import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';

/**
 * One hyperparameter of a loss: its type, default, allowed range and meaning. This is the
 * general (untyped) shape, as `facelosses losses --json` prints it; the losses declare theirs
 * with `param.*` below, whose `default` carries the value's type. A given value is checked by
 * checkValue (src/util/values.ts), the checker of the config keys too.
 */
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

/** A number (or integer) parameter. */
export interface NumberParamSpec extends ParamSpec {
  type: 'number' | 'integer';
  default: number;
}
/** A true/false parameter. */
export interface BooleanParamSpec extends ParamSpec {
  type: 'boolean';
  default: boolean;
}
/** A parameter that takes one of `choices`. */
export interface ChoiceParamSpec<C extends string = string> extends ParamSpec {
  type: 'string';
  default: C;
  choices: readonly C[];
}
/** A list of numbers, or null when `nullable`. */
export interface NumberListParamSpec<V extends number[] | null = number[] | null> extends ParamSpec {
  type: 'number[]';
  default: V;
}

type Described<T> = Omit<T, 'type'>;

/**
 * Typed parameter declarations. Each returns the spec with `type` first, then the given fields in
 * their order (the order `facelosses losses --json` prints).
 *
 *   s: param.number({ default: 32, gt: 0, description: 'scale s' })         // params.s: number
 *   boundary: param.choice({ default: 'easy', choices: ['easy', 'none'], ... }) // 'easy' | 'none'
 */
export const param = {
  number: (spec: Described<NumberParamSpec>): NumberParamSpec => ({ type: 'number', ...spec }),
  integer: (spec: Described<NumberParamSpec>): NumberParamSpec => ({ type: 'integer', ...spec }),
  boolean: (spec: Described<BooleanParamSpec>): BooleanParamSpec => ({ type: 'boolean', ...spec }),
  choice: <C extends string>(spec: Described<ChoiceParamSpec<C>>): ChoiceParamSpec<C> => ({ type: 'string', ...spec }),
  /** A list of numbers, or null (nullable: true). */
  nullableNumbers: (spec: Described<NumberListParamSpec<number[] | null>> & { nullable: true }): NumberListParamSpec<number[] | null> => ({
    type: 'number[]',
    ...spec,
  }),
};

export type ParamSchema = Record<string, ParamSpec>;
/** Parameters of a loss whose schema is not known statically (e.g. read from a config file). */
export type LossParams = Record<string, unknown>;
/** The resolved parameters of a schema: every key, with the type of its default. */
export type ParamsOf<S extends ParamSchema> = { readonly [K in keyof S]: S[K]['default'] };

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
  /** The class weight vectors W_j as rows [numClasses, embeddingDim], for losses with a
   *  classifier (figures mark their directions); undefined for the pair and triplet losses. */
  classWeightRows?(): tf.Tensor2D | undefined;
  /** Class scores for prediction without computing the loss (no margin applied). */
  predict?(embeddings: tf.Tensor2D): tf.Tensor2D;
  /** Called once after each optimizer step with the batch's embeddings and labels (training only). */
  afterStep?(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void;

  /** Key/value pairs for figure titles and file names, e.g. { s: 32, m: 0.5 }. */
  titleParams(): Record<string, unknown>;
  dispose(): void;
}

/**
 * A loss of the collection, typed by its parameter schema `S`: names, parameters with types and
 * defaults, the figure title parameters and the factory. `titleParams` and `displayNameSuffix`
 * need no tensors, so figures are named without building the loss. Declare one with
 * `defineLoss`; `LossDefinition` without an argument is the untyped view the registry lists.
 */
export interface LossDefinition<S extends ParamSchema = ParamSchema> {
  name: string;
  /** Other names accepted for the same loss (e.g. 'amsoftmax' for 'cosface'). */
  aliases?: string[];
  /** Display name used in figure file names, e.g. 'ArcFaceLoss'. */
  displayName: string;
  /** Folder under pics/ for the figures, e.g. 'ArcFace'. */
  figureFolder?: string;
  description: string;
  /**
   * One sentence for the gallery: what this loss's figure shows that ArcFace's does not (the
   * adaptive heads; the gallery groups the losses that have one into their own section).
   */
  figureNote?: string;
  /** True for heads whose geometry lives on the unit circle (figures default to raw + unit views). */
  normalized?: boolean;
  params: S;
  /** Appended to displayName for these parameters, e.g. '_norm' (TripletLoss_norm). Default: none. */
  displayNameSuffix?(params: ParamsOf<S>): string;
  /** Key/value pairs for figure titles and file names, e.g. { s: 32, m: 0.5 }, in the printed order. */
  titleParams(params: ParamsOf<S>): Record<string, unknown>;
  /** Extra cross-parameter validation; return an error message or null. Warnings via `warn`. */
  validate?(params: ParamsOf<S>, ctx: LossContext, warn: (msg: string) => void): string | null;
  /** Builds the loss from resolved parameters (see resolveParams). */
  create(params: ParamsOf<S>, ctx: LossContext): Loss;
}

/** Declares a loss: checks the definition against its own schema and keeps its parameter types. */
export function defineLoss<S extends ParamSchema>(def: LossDefinition<S>): LossDefinition<S> {
  return def;
}

/** The display name of a loss with these parameters, e.g. 'SoftmaxLoss_bias' (no tensors built). */
export function lossDisplayName<S extends ParamSchema>(def: LossDefinition<S>, params: ParamsOf<S>): string {
  return def.displayName + (def.displayNameSuffix?.(params) ?? '');
}
