/** The shape of an experiment config and the value of every key a config leaves out. */
import type { LossParams } from '../losses/types.js';

export interface Config {
  /** Run name; the default output folder is runs/<name>-<profile>. */
  name: string;
  description: string;
  loss: { name: string; params: LossParams };
  /** The network: embeddingDim is the feature dimension D (2: the circle; 3: the sphere; any D >= 2). */
  model: { embeddingDim: number };
  data: { dir: string | null; trainLimit: number | null; validLimit: number | null };
  train: {
    epochs: number;
    batchSize: number;
    lr: number;
    weightDecay: number;
    /** Multiply the learning rate by lrGamma every lrStepEpochs epochs. */
    lrStepEpochs: number;
    lrGamma: number;
    /** Linear learning-rate warm-up over the first warmupEpochs epochs (per step; 0 = none). */
    warmupEpochs: number;
    seed: number;
  };
  /** Epochs at which train and valid features are saved and drawn. */
  snapshots: number[];
  plot: { width: number; height: number; colorBy: 'predicted' | 'true'; view: ViewChoice };
  /**
   * The feature history in the run folder (docs/history-and-animations.md): frames at the start
   * of training, then at the end of at most `epochFrames` evenly spaced epochs (0: no history).
   * Absent from the run.json of runs written before it existed.
   */
  history: { epochFrames: number };
  /** Per-profile overrides (deep-merged over the built-in profile), e.g. profiles.quick.train.epochs. */
  profiles: Record<string, unknown>;
}

/**
 * Which figures a run draws. raw: the features as they are; unit: on the unit circle (2-D) or the
 * unit sphere seen from a fixed viewpoint (3-D); both: raw and unit. 3-D only: pair (two opposite
 * views of the sphere), map (an equal-area map of all directions). all: every view of the dimension.
 */
export const VIEW_CHOICES = ['raw', 'unit', 'both', 'pair', 'map', 'all'] as const;
export type ViewChoice = (typeof VIEW_CHOICES)[number];
/** The views that exist only for 3-D features. */
export const SPHERE_ONLY_VIEWS: readonly ViewChoice[] = ['pair', 'map'];

/** Why `view` cannot draw features of dimension `dim` (null when it can), for an error message. */
export function viewProblem(view: ViewChoice, dim: number): string | null {
  if (SPHERE_ONLY_VIEWS.includes(view) && dim !== 3) return `the ${view} view draws 3-D features on the sphere; this run's features are ${dim}-D (use raw, unit, both or all)`;
  return null;
}

export const DEFAULTS: Omit<Config, 'name' | 'description' | 'loss'> = {
  model: { embeddingDim: 2 },
  data: { dir: null, trainLimit: null, validLimit: null },
  train: { epochs: 500, batchSize: 128, lr: 0.001, weightDecay: 0.0001, lrStepEpochs: 50, lrGamma: 0.7, warmupEpochs: 0, seed: 1 },
  snapshots: [100, 300, 500],
  plot: { width: 640, height: 480, colorBy: 'predicted', view: 'raw' },
  history: { epochFrames: 100 },
  profiles: {},
};
