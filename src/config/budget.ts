/**
 * What a schedule costs in time, from its optimisation steps and a measured cost per image. The
 * quick profile promises budgets (the README's first command under 2 minutes, no config over 8,
 * `reproduce --profile quick` of every config within 2.5 hours); this is how they are checked
 * without a timed test: count the work a resolved config asks for and price it.
 */
import { MNIST_TEST_COUNT as MNIST_TEST, MNIST_TRAIN_COUNT as MNIST_TRAIN } from '../data/mnist.js';
import type { ResolvedConfig } from './config.js';

export interface MeasuredCost {
  /** Training images per second (forward, backward and Adam) with the default engine. */
  trainImagesPerSecond: number;
  /** Evaluation images per second (forward only). */
  evalImagesPerSecond: number;
  /** Start-up, data loading, figures and the final report, once per run. */
  fixedSeconds: number;
}

/**
 * The cost of a run on the 2-core development machine with the default engine (wasm, 2
 * data-parallel worker threads), nothing else running: `npx facelosses train --config
 * configs/softmax.yaml --profile quick` (5 epochs) trained at about 2,800 images/s, evaluated the
 * 10,000 test images at about 7,000 images/s, and took about 4 s to start and finish
 * (docs/notes/2026-12-06-quick-profile.md, "Budgets"). A constant: the budgets check the configs'
 * step counts, not the speed of the code.
 */
export const DEV_MACHINE_COST: MeasuredCost = { trainImagesPerSecond: 2800, evalImagesPerSecond: 7000, fixedSeconds: 4 };

/**
 * The budgets the quick profile is held to at that speed: 2 minutes for the first command (priced
 * at 118 s, the median of the five runs above, which took 109-128 s), 8 for any config (the longest,
 * NormFace, Circle and MagFace with 20 epochs each, 7.7 min) and 2.5 hours for all of them: the 26
 * configs of the 2-D gallery at about 119 min and the six of configs/3d/ at about 20.
 */
export const QUICK_BUDGET = { firstCommandSeconds: 120, perConfigSeconds: 8 * 60, allConfigsSeconds: 2.5 * 3600 };

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
