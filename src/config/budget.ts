/**
 * What a schedule costs in time, from its optimisation steps and a measured cost per image. The
 * quick profile promises budgets (the README's first command under 2 minutes, no config over 8,
 * `reproduce --profile quick` of every config within 2 hours); this is how they are checked
 * without a timed test: count the work a resolved config asks for and price it.
 */
import type { ResolvedConfig } from './config.js';

/** Images in MNIST's training and test sets: what a null limit means. */
export const MNIST_TRAIN = 60000;
export const MNIST_TEST = 10000;

export interface MeasuredCost {
  /** Training images per second (forward, backward and Adam) with the default engine. */
  trainImagesPerSecond: number;
  /** Evaluation images per second (forward only). */
  evalImagesPerSecond: number;
  /** Start-up, data loading, figures and the final report, once per run. */
  fixedSeconds: number;
}

/**
 * Measured on the 2-core development machine with the default engine (wasm, 2 data-parallel worker
 * threads): `npm run bench` trains at about 2,700 images/s, a full-data epoch with its evaluation
 * takes about 22-24 s (docs/quick-profile.md), and start-up plus drawing the figures about 10 s.
 */
export const DEV_MACHINE_COST: MeasuredCost = { trainImagesPerSecond: 2700, evalImagesPerSecond: 8000, fixedSeconds: 10 };

export interface WorkEstimate {
  steps: number;
  trainImages: number;
  evalImages: number;
  seconds: number;
}

/** The optimisation steps and images of a resolved config, and their price in seconds. */
export function estimateRun(c: Pick<ResolvedConfig, 'data' | 'train'>, cost: MeasuredCost = DEV_MACHINE_COST): WorkEstimate {
  const train = Math.min(c.data.trainLimit ?? MNIST_TRAIN, MNIST_TRAIN);
  const valid = Math.min(c.data.validLimit ?? MNIST_TEST, MNIST_TEST);
  const stepsPerEpoch = Math.floor(train / c.train.batchSize); // the last partial batch is dropped
  const steps = stepsPerEpoch * c.train.epochs;
  const trainImages = steps * c.train.batchSize;
  const evalImages = valid * c.train.epochs; // one evaluation pass per epoch
  const seconds = cost.fixedSeconds + trainImages / cost.trainImagesPerSecond + evalImages / cost.evalImagesPerSecond;
  return { steps, trainImages, evalImages, seconds };
}
