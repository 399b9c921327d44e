/** The shape of an experiment config and the value of every key a config leaves out. */
import type { LossParams } from '../losses/types.js';

export interface Config {
  /** Run name; the default output folder is runs/<name>-<profile>. */
  name: string;
  description: string;
  loss: { name: string; params: LossParams };
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
  plot: { width: number; height: number; colorBy: 'predicted' | 'true'; view: 'raw' | 'unit' | 'both' };
  /**
   * The feature history in the run folder (docs/history-and-animations.md): frames at the start
   * of training, then at the end of at most `epochFrames` evenly spaced epochs (0: no history).
   * Absent from the run.json of runs written before it existed.
   */
  history: { epochFrames: number };
  /** Per-profile overrides (deep-merged over the built-in profile), e.g. profiles.quick.train.epochs. */
  profiles: Record<string, unknown>;
}

export const DEFAULTS: Omit<Config, 'name' | 'description' | 'loss'> = {
  data: { dir: null, trainLimit: null, validLimit: null },
  train: { epochs: 500, batchSize: 128, lr: 0.001, weightDecay: 0.0001, lrStepEpochs: 50, lrGamma: 0.7, warmupEpochs: 0, seed: 1 },
  snapshots: [100, 300, 500],
  plot: { width: 640, height: 480, colorBy: 'predicted', view: 'raw' },
  history: { epochFrames: 100 },
  profiles: {},
};
