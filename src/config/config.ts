/**
 * Experiment configs: YAML files in configs/, validated key by key. Every error a user can cause
 * names the file and the dotted key, says what is wrong and what would be right.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { LossConfigError, getLossDefinition, resolveParams } from '../losses/registry.js';
import { type Config, DEFAULTS } from './defaults.js';
import { type Profile, PROFILES, PROFILE_SETTINGS } from './profiles.js';
import type { LossParams } from '../losses/types.js';
import { type Overrides, applyOverrides, customizes } from './overrides.js';
import { CONFIG_SCHEMA, ConfigError, checkValue, isValueSpec, showValue, type ValueSpec } from './schema.js';

export { type Config, DEFAULTS } from './defaults.js';
export { DEFAULT_PROFILE, PROFILES, PROFILE_SETTINGS, type Profile, type ProfileSettings } from './profiles.js';
export { SPHERE_ONLY_VIEWS, VIEW_CHOICES, type ViewChoice, viewProblem } from './defaults.js';
import { viewProblem } from './defaults.js';
export { ConfigError, showValue } from './schema.js';

/**
 * What a run's name may be (a config's `name:`, else its file name without .yaml): it names the
 * run folder, so one plain file name, the same on every system.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** The rule of SAFE_NAME in words, for messages. */
export const NAME_RULE = "ASCII letters a-z and A-Z, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters";

function checkField(where: string, key: string, spec: ValueSpec, v: unknown): void {
  const p = checkValue(key, spec, v);
  if (p) throw new ConfigError(`${where}: ${p}`);
  if (key === 'name' && !SAFE_NAME.test(v as string)) {
    throw new ConfigError(`${where}: name must be a plain file name: ${NAME_RULE}; got ${showValue(v)} (it names the run folder runs/<name>-<profile>)`);
  }
}

/** Checks that `raw` has only known keys of the right types; throws ConfigError naming `where` and the key. */
export function validateShape(raw: unknown, where: string, requireCore: boolean): void {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const got = raw === null || raw === undefined ? 'an empty document' : Array.isArray(raw) ? 'a list (lines starting with "- ")' : `a single ${typeof raw} ${showValue(raw)}`;
    throw new ConfigError(`${where}: a config must be a YAML mapping (key: value lines, e.g. "loss: { name: softmax }"), got ${got}`);
  }
  const obj = raw as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    const spec = CONFIG_SCHEMA[key];
    if (!spec) throw new ConfigError(`${where}: unknown key '${key}'; known keys: ${Object.keys(CONFIG_SCHEMA).join(', ')}`);
    if (isValueSpec(spec)) {
      checkField(where, key, spec, value);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(`${where}: ${key} must be a mapping with keys ${Object.keys(spec).join(', ')}, got ${showValue(value)}`);
    }
    for (const [sub, v] of Object.entries(value as Record<string, unknown>)) {
      const fs = spec[sub];
      if (!fs) throw new ConfigError(`${where}: unknown key '${key}.${sub}'; known keys of ${key}: ${Object.keys(spec).join(', ')}`);
      checkField(where, `${key}.${sub}`, fs, v);
    }
  }
  if (requireCore) {
    const loss = obj.loss as Record<string, unknown> | undefined;
    if (!loss || typeof loss.name !== 'string') throw new ConfigError(`${where}: loss.name is required (e.g. loss: { name: softmax })`);
  }
}

function deepMerge<T>(base: T, over: unknown): T {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return (over === undefined ? base : over) as T;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
  return out as T;
}

export type { BatchOverrides, Overrides } from './overrides.js';

export interface ResolvedConfig extends Config {
  profile: Profile;
  /** True when command-line overrides changed the profile's schedule or data. */
  customized: boolean;
  /** Where it came from, for messages. */
  source: string;
}

/** Snapshot epochs written in a config must lie within its epochs (a later one would never be drawn). */
function checkSnapshotsWithin(cfg: Config, where: string, key: string): void {
  const E = cfg.train.epochs;
  const i = cfg.snapshots.findIndex((s) => s > E);
  if (i >= 0) {
    throw new ConfigError(`${where}: ${key}[${i}] is epoch ${cfg.snapshots[i]}, beyond train.epochs (${E}); it would never be drawn: use epochs 1..${E}, or raise train.epochs`);
  }
}

/** Scales the reference schedule down for a profile, keeping its shape. */
function applyProfile(cfg: Config, profile: Profile, where: string): Config {
  if (profile === 'full') {
    return deepMerge(cfg, cfg.profiles.full ?? {});
  }
  const p = PROFILE_SETTINGS[profile];
  const extra = cfg.profiles[profile];
  if (extra !== undefined) validateShape(extra, `${where} (profiles.${profile})`, false);
  const ex = (extra ?? {}) as { train?: Partial<Config['train']>; snapshots?: number[] };
  const epochs = ex.train?.epochs ?? p.epochs;
  const lrStepEpochs = p.lrStepEpochs ?? Math.max(1, Math.round(epochs * (p.lrStepFraction ?? 1)));
  const full = cfg.train.epochs;
  const scale = epochs / full;
  const snaps = [...new Set(cfg.snapshots.filter((s) => s <= full).map((s) => Math.max(1, Math.round(s * scale))))];
  let out: Config = {
    ...cfg,
    data: { ...cfg.data, trainLimit: cfg.data.trainLimit ?? p.trainLimit, validLimit: cfg.data.validLimit ?? p.validLimit },
    train: {
      ...cfg.train,
      epochs,
      lr: cfg.train.lr * p.lrScale,
      lrStepEpochs,
      lrGamma: p.lrGamma ?? cfg.train.lrGamma,
      warmupEpochs: p.warmupEpochs,
    },
    snapshots: snaps.length ? snaps : [epochs],
  };
  if (extra !== undefined) out = deepMerge(out, extra);
  if (ex.snapshots !== undefined) checkSnapshotsWithin(out, where, `profiles.${profile}.snapshots`);
  return out;
}

/** Validates a parsed config object, applies the profile and overrides, and checks the loss params. */
export function resolveConfig(raw: unknown, where: string, profile: Profile = 'full', ov: Overrides = {}, warn: (m: string) => void = () => {}): ResolvedConfig {
  validateShape(raw, where, true);
  const obj = raw as Record<string, unknown> & { loss: { name: string; params?: LossParams } };
  const profiles = (obj.profiles ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(profiles)) {
    if (!(PROFILES as readonly string[]).includes(k)) throw new ConfigError(`${where}: unknown profile 'profiles.${k}'; profiles are ${PROFILES.join(', ')}`);
  }
  const fallbackName = where.endsWith('.yaml') || where.endsWith('.yml') ? basename(where).replace(/\.ya?ml$/, '') : obj.loss.name;
  if (obj.name === undefined && !SAFE_NAME.test(fallbackName)) {
    throw new ConfigError(`${where}: the file name ${JSON.stringify(fallbackName)} names the run (the config has no name:) and must be a plain file name: ${NAME_RULE}; rename the file or add e.g. name: ${fallbackName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'my-run'}`);
  }
  let cfg: Config = deepMerge(
    { ...DEFAULTS, name: fallbackName, description: '', loss: { name: obj.loss.name, params: {} } } as Config,
    obj,
  );
  cfg.loss = { name: obj.loss.name, params: { ...(obj.loss.params ?? {}) } };
  if (obj.snapshots !== undefined) checkSnapshotsWithin(cfg, where, 'snapshots');
  // The command-line overrides (src/config/overrides.ts) over the profile. applyOverrides works on
  // a copy: nothing below writes into DEFAULTS (deepMerge shares the objects a config does not set).
  const customized = customizes(ov);
  const profiled = applyProfile(cfg, profile, where);
  cfg = applyOverrides(profiled, ov);

  const E = cfg.train.epochs;
  if (ov.snapshots !== undefined) {
    const bad = cfg.snapshots.find((s) => s < 1 || s > E);
    if (bad !== undefined) throw new ConfigError(`--snapshots: epoch ${bad} is outside 1..${E} (the run has ${E} epochs)`);
  } else if (E !== profiled.train.epochs) {
    // --epochs without --snapshots: the profile's snapshots at the same fractions of the new length,
    // so that the last epoch is always drawn (a longer run kept only the old, earlier ones)
    const P = profiled.train.epochs;
    cfg.snapshots = [...new Set(profiled.snapshots.map((s) => Math.min(E, Math.max(1, Math.round((s * E) / P)))))].sort((a, b) => a - b);
    if (!cfg.snapshots.includes(E)) cfg.snapshots.push(E);
  } else {
    cfg.snapshots = cfg.snapshots.filter((s) => s <= E);
    if (cfg.snapshots.length === 0) cfg.snapshots = [E];
  }

  const vp = viewProblem(cfg.plot.view, cfg.model.embeddingDim);
  if (vp) throw new ConfigError(`${where}: plot.view: ${vp}`);
  try {
    const def = getLossDefinition(cfg.loss.name);
    cfg.loss.params = resolveParams(def, cfg.loss.params, { numClasses: 10, embeddingDim: cfg.model.embeddingDim }, warn);
    cfg.loss.name = def.name;
  } catch (e) {
    // The key once: "x.yaml: loss.params.m must be <= π/2 ...", not "loss.params.m: loss.params.m must ...".
    if (e instanceof LossConfigError) throw new ConfigError(`${where}: ${e.key && !e.message.startsWith(e.key) ? e.key + ': ' : ''}${e.message}`);
    throw e;
  }
  return { ...cfg, profile, customized, source: where };
}


/** The configs that ship with the package (configs/ next to src/ or dist/). */
export const PACKAGE_CONFIGS = fileURLToPath(new URL('../../configs', import.meta.url));

/** Config stems in a folder, sorted; [] when there is none. */
export function configStems(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => f.replace(/\.ya?ml$/, ''))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Where `--config X` points: the file X when it exists; else, for a bare name or a path that
 * does not exist (`arcface`, `arcface.yaml`, `configs/arcface.yaml` outside a clone), the config
 * of that stem in ./configs, then among the packaged configs. Throws a ConfigError listing the
 * names that exist.
 */
export function findConfigFile(file: string): { file: string; packaged: boolean } {
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) {
      const stems = configStems(file);
      throw new ConfigError(`${file} is a folder, not a config file; give one YAML file${stems.length ? `, e.g. --config ${join(file, stems[0] + '.yaml')}` : ''}`);
    }
    return { file, packaged: false };
  }
  // configs/3d/arcface.yaml outside a clone: the packaged configs' subfolder of that name
  const sub = /(?:^|[\\/])configs[\\/]([^\\/]+[\\/][^\\/]+\.ya?ml)$/.exec(file);
  if (sub) {
    const f = join(PACKAGE_CONFIGS, sub[1]!);
    if (existsSync(f) && statSync(f).isFile()) return { file: f, packaged: true };
  }
  const stem = basename(file).replace(/\.ya?ml$/, '');
  // Only a bare name, or a path into a configs/ folder (the README's configs/arcface.yaml run
  // outside a clone), falls back to the packaged configs: a mistyped path of one's own does not.
  const byName = dirname(file) === '.' || basename(dirname(file)) === 'configs';
  for (const dir of byName ? ['configs', PACKAGE_CONFIGS] : []) {
    for (const ext of ['.yaml', '.yml']) {
      const f = join(dir, stem + ext);
      if (existsSync(f) && statSync(f).isFile()) return { file: f, packaged: true };
    }
  }
  const names = [...new Set([...configStems('configs'), ...configStems(PACKAGE_CONFIGS)])].sort();
  throw new ConfigError(`config file not found: ${file}; ${names.length ? `packaged configs (give one by name, e.g. --config ${names.includes('softmax') ? 'softmax' : names[0]}): ${names.join(', ')}` : 'give the path of a YAML config'}`);
}

export function loadConfigFile(file: string, profile: Profile = 'full', ov: Overrides = {}, warn?: (m: string) => void): ResolvedConfig {
  const found = findConfigFile(file);
  if (found.file !== file) file = relative(process.cwd(), found.file).startsWith('..') ? found.file : relative(process.cwd(), found.file);
  let raw: unknown;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check its permissions`);
  }
  try {
    const doc = YAML.parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      const pos = e.linePos?.[0];
      const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      const line = pos ? text.split(/\r?\n/)[pos.line - 1]?.trim() : undefined;
      throw new ConfigError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: malformed YAML: ${what}${line ? ` (in the line ${JSON.stringify(line)})` : ''}; fix the YAML syntax there`);
    }
    raw = doc.toJS();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${file}: malformed YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return resolveConfig(raw, file, profile, ov, warn);
}

/** " after a N-epoch linear warm-up" when the schedule has one, else "" (for schedule descriptions). */
export function warmupPhrase(train: Pick<Config['train'], 'warmupEpochs'>): string {
  return train.warmupEpochs > 0 ? ` after a ${train.warmupEpochs}-epoch linear warm-up` : '';
}

/** How a figure title names the schedule: '' for the reference schedule, else e.g. 'quick profile'. */
export function scheduleNote(c: Pick<ResolvedConfig, 'profile' | 'customized'>): string {
  if (c.profile === 'full' && !c.customized) return '';
  return `${c.profile === 'full' ? 'custom' : c.profile} profile${c.customized && c.profile !== 'full' ? ', custom' : ''}`;
}
