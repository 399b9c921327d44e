/**
 * What a schedule costs in time, from its optimisation steps and a measured cost per image. The
 * quick profile promises budgets (the README's first command under 2 minutes, no config over 8,
 * `reproduce --profile quick` of every config within 2 hours); this is how they are checked
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
 * Measured on the 2-core development machine with the default engine (wasm, 2 data-parallel worker
 * threads), nothing else training (session 5, after the Winograd F(4x4) and evaluation-on-workers
 * changes): `npx facelosses train --config configs/softmax.yaml --profile quick` (5 epochs) took
 * 2 min 10 s, 2 min 22 s and 2 min 38 s in three runs within an hour (the machine's speed drifts;
 * `npm run bench` gave 2,389 and, 8 minutes later, 1,764 images/s). The middle run: 2,310 images/s
 * in training, 27.4 s per epoch of which about 1.4 s evaluate the 10,000 test images, and 5 s to
 * start and draw (docs/quick-profile.md, "Budgets").
 */
export const DEV_MACHINE_COST: MeasuredCost = { trainImagesPerSecond: 2300, evalImagesPerSecond: 7000, fixedSeconds: 6 };

/**
 * The budgets the quick profile is held to at that speed. The targets are 2 minutes for the first
 * command, 8 for any config and 2 hours for all of them; the last holds, the first two not yet: the
 * first command takes 2.2-2.9 minutes, NormFace's 20 epochs about 9 and L2-Softmax's 18 about 8.3
 * (docs/quick-profile.md).
 */
export const QUICK_BUDGET = { firstCommandSeconds: 2.5 * 60, perConfigSeconds: 10 * 60, allConfigsSeconds: 2 * 3600 };

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
