/**
 * How a config's 2-D (or 3-D) features move in the first training steps: every `--every` steps,
 * the batch's loss and accuracy, the mean feature norm, and R, the length of the mean unit feature
 * (1: every feature points the same way; near 0: spread over the circle), with the loss's scalar
 * state (AdaCos's s, CurricularFace's t). Trains as `train` does (same seed, shuffling, Adam, learning
 * rate and warm-up of the first epoch), on one thread, without writing anything.
 *
 *   node --import tsx scripts/first-steps.ts --config configs/curricularface.yaml --seed 1 --steps 300
 *   node --import tsx scripts/first-steps.ts --config configs/curricularface.yaml --param s=32 --param warmupSteps=0
 *
 * `--param name=value` replaces one of the loss's parameters (checked as in a config).
 *
 * docs/modern-losses.md uses it to show where the adaptive heads' 2-D runs get stuck.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend.js';
import { loadConfigFile } from '../src/config/config.js';
import { batches, gatherImages, gatherLabels, loadDataset, shuffledIndices } from '../src/data/mnist.js';
import { getLossDefinition, resolveParams } from '../src/losses/registry.js';
import { buildExperiment } from '../src/train/experiment.js';
import { stepDecayLr, warmupFactor } from '../src/train/optimizer.js';
import { trainStep } from '../src/train/step.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    seed: { type: 'string' },
    steps: { type: 'string', default: '300' },
    every: { type: 'string', default: '25' },
    profile: { type: 'string', default: 'quick' },
    param: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.config) {
  console.error('usage: node --import tsx scripts/first-steps.ts --config <file> [--seed N] [--steps 300] [--every 25] [--profile quick]');
  process.exit(2);
}
await initBackend('wasm', { threads: 1 });

const seed = values.seed === undefined ? undefined : Number(values.seed);
const config = loadConfigFile(values.config, values.profile as 'quick', seed === undefined ? {} : { seed });
for (const kv of values.param ?? []) {
  const i = kv.indexOf('=');
  if (i < 1) throw new Error(`--param ${kv}: expected name=value`);
  const v = kv.slice(i + 1);
  config.loss.params[kv.slice(0, i)] = v === 'true' || v === 'false' || !Number.isNaN(Number(v)) ? JSON.parse(v) : v;
}
config.loss.params = resolveParams(getLossDefinition(config.loss.name), config.loss.params, { numClasses: 10, embeddingDim: config.model.embeddingDim });
const data = loadDataset(config.data);
const exp = buildExperiment(config, data.numClasses);
const { batchSize } = config.train;
const steps = Number(values.steps);
const every = Number(values.every);
const stepsPerEpoch = Math.floor(data.train.count / batchSize);

console.log(`${config.name}, loss ${config.loss.name} ${JSON.stringify(config.loss.params)}, seed ${config.train.seed}, lr ${config.train.lr}`);
console.log('| step | loss | batch accuracy | mean ‖x‖ | R (mean unit feature) | loss state |');
console.log('|---:|---:|---:|---:|---:|---|');
let step = 0;
for (let epoch = 1; step < steps; epoch++) {
  const lr0 = stepDecayLr(config.train.lr, epoch, config.train.lrStepEpochs, config.train.lrGamma);
  for (const idx of batches(shuffledIndices(data.train.count, exp.rng), batchSize, true)) {
    if (step >= steps) break;
    exp.optimizer.lr = lr0 * warmupFactor(config.train.warmupEpochs, epoch, step % stepsPerEpoch, stepsPerEpoch);
    const x = tf.tensor4d(gatherImages(data.train, idx), [idx.length, data.train.height, data.train.width, 1]);
    const y = tf.tensor1d(gatherLabels(data.train, idx), 'int32');
    const r = trainStep(exp.net, exp.loss, exp.optimizer, exp.vars, x, y);
    step += 1;
    if (step === 1 || step % every === 0) {
      const [loss, acc, norm, R] = tf.tidy(() => {
        const e = r.embeddings;
        const n = tf.norm(e, 2, 1);
        const unit = tf.div(e, tf.add(tf.expandDims(n, 1), 1e-12));
        const logits = r.logits ?? exp.loss.predict?.(e);
        const a = logits ? tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')) : tf.scalar(Number.NaN);
        return [r.loss, a, tf.mean(n), tf.norm(tf.mean(unit, 0))].map((t) => t.dataSync()[0]!);
      });
      const state = Object.entries(exp.loss.stateVariables())
        .filter(([, v]) => v.size === 1)
        .map(([k, v]) => `${k} ${v.dataSync()[0]!.toFixed(3)}`)
        .join(', ');
      console.log(`| ${step} | ${loss!.toFixed(3)} | ${(100 * acc!).toFixed(1)} % | ${norm!.toFixed(2)} | ${R!.toFixed(3)} | ${state} |`);
    }
    tf.dispose([x, y, r.loss, r.embeddings, ...(r.logits ? [r.logits] : [])]);
  }
}
exp.dispose();
