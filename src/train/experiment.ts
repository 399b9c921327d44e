/** An experiment: the reference network, a loss of the registry and Adam, built from a config, seeded. */
import type * as tf from '@tensorflow/tfjs-core';
import type { ResolvedConfig } from '../config/config.js';
import { getLossDefinition } from '../losses/registry.js';
import type { Loss } from '../losses/types.js';
import { createFeatureNet, type FeatureNet } from '../model/net.js';
import { Rng } from '../rng.js';
import { Adam } from './optimizer.js';
import { trainableVariables } from './step.js';

export interface Experiment {
  net: FeatureNet;
  loss: Loss;
  optimizer: Adam;
  vars: Record<string, tf.Variable>;
  /** Shuffling. */
  rng: Rng;
  /** Initialisation; handed to the loss, which may keep drawing from it. */
  initRng: Rng;
  dispose(): void;
}

/** Builds network, loss and optimizer from a config, seeded. */
export function buildExperiment(config: ResolvedConfig, numClasses: number): Experiment {
  const rng = new Rng(config.train.seed);
  const initRng = new Rng(config.train.seed + 0x5eed);
  const net = createFeatureNet(initRng, config.model.embeddingDim);
  const def = getLossDefinition(config.loss.name);
  const loss = def.create(config.loss.params, { numClasses, embeddingDim: config.model.embeddingDim, rng: initRng });
  const vars = trainableVariables(net, loss);
  const optimizer = new Adam(vars, { lr: config.train.lr, weightDecay: config.train.weightDecay });
  return {
    net,
    loss,
    optimizer,
    vars,
    rng,
    initRng,
    dispose() {
      optimizer.dispose();
      loss.dispose();
      net.dispose();
    },
  };
}
