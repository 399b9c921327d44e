/** What the keys of a config must be, checked with the value checker of src/util/values.ts. */
import { UserError } from '../util/errors.js';
import type { ValueSpec } from '../util/values.js';
export { checkValue, showBound, showValue, type ValueSpec } from '../util/values.js';

/** A config (or a config value given on the command line) that cannot be used. */
export class ConfigError extends UserError {}

/** What the keys of a config must be: a spec per key, or per key of a section (train.lr). */
export const CONFIG_SCHEMA: Record<string, Record<string, ValueSpec> | ValueSpec> = {
  name: { type: 'string', nonEmpty: true },
  description: { type: 'string', nonEmpty: true },
  loss: { name: { type: 'string', nonEmpty: true }, params: { type: 'mapping' } },
  model: { embeddingDim: { type: 'integer', min: 2, max: 512 } },
  data: { dir: { type: 'string', nullable: true }, trainLimit: { type: 'integer', nullable: true, min: 1 }, validLimit: { type: 'integer', nullable: true, min: 1 } },
  train: {
    epochs: { type: 'integer', min: 1 },
    batchSize: { type: 'integer', min: 2, max: 4096 },
    lr: { type: 'number', gt: 0, max: 10 },
    weightDecay: { type: 'number', min: 0, max: 1 },
    lrStepEpochs: { type: 'integer', min: 1 },
    lrGamma: { type: 'number', gt: 0, max: 1 },
    warmupEpochs: { type: 'number', min: 0, max: 1000 },
    seed: { type: 'integer', min: 0 },
  },
  snapshots: { type: 'integer[]', nonEmpty: true, min: 1, example: '[100, 300, 500]' },
  plot: {
    width: { type: 'integer', min: 100, max: 8000 },
    height: { type: 'integer', min: 100, max: 8000 },
    colorBy: { type: 'string', choices: ['predicted', 'true'] },
    view: { type: 'string', choices: ['raw', 'unit', 'both', 'pair', 'map', 'all'] },
  },
  history: { epochFrames: { type: 'integer', min: 0 } },
  profiles: { type: 'mapping' },
};

/** Whether a schema entry is one value's spec (else a section of them). */
export function isValueSpec(x: ValueSpec | Record<string, ValueSpec>): x is ValueSpec {
  return typeof (x as ValueSpec).type === 'string';
}
