/**
 * The plan of a batch (`facelosses reproduce`): which configs, resolved under which profile, into
 * which run folder, under which job id, and what to do with each (train, resume, skip, redraw).
 * The same plan drives the local batch, the queue (`reproduce --queue`), a CI matrix
 * (`reproduce --plan`) and the drawing of runs gathered from elsewhere (`reproduce --collect`).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Profile, type ResolvedConfig, type ViewChoice, loadConfigFile } from '../config/config.js';
import { configDifference, configHash, firstDifference, sameConfig } from '../config/identity.js';
import { type BatchOverrides, overrideArgs, pickOverrides } from '../config/overrides.js';
import { getLossDefinition, lossNames } from '../losses/registry.js';
import { isRunDir, readRunInfo, type RunInfo } from '../run/run.js';
import { UserError } from '../util/errors.js';
import { displayPath } from '../util/fsx.js';

export type { ViewChoice } from '../config/config.js';
/** 'refuse': the folder holds a run of another config, which a batch never replaces without --force. */
export type PlanAction = 'train' | 'resume' | 'skip' | 'redraw' | 'refuse';

export { sameConfig } from '../config/identity.js';

/**
 * The id of the work a run is: its name and profile, and a hash of the config's identity
 * (src/config/identity.ts), the profile and the code version. The same work always has the same id; any
 * change that can change the result changes it. Safe as a BullMQ job id (no ':', not a number).
 */
export function jobIdOf(config: ResolvedConfig, profile: string, codeVersion: string): string {
  return `${config.name}-${profile}-${configHash(config, 'run', { profile, codeVersion })}`;
}

/** The view a config is drawn with in a batch: --view, else the config's own, else both for normalized losses. */
export function batchView(config: ResolvedConfig, flag?: ViewChoice): ViewChoice {
  if (flag) return flag;
  if (config.plot.view !== 'raw') return config.plot.view;
  return getLossDefinition(config.loss.name).normalized ? 'both' : 'raw';
}

const GLOB_CHARS = /[*?[]/;

function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The config files of a folder and of its subfolders one level down (configs/3d/arcface.yaml,
 * stem '3d/arcface'), or of a glob over file names (`sweep/lr-*.yaml`; wildcards only in the last
 * part), or one file, by stem and sorted by stem.
 */
export function listConfigs(spec: string): { stem: string; file: string }[] {
  let files: string[];
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    const yaml = (dir: string, prefix: string) =>
      readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
        .map((e) => ({ stem: prefix + e.name.replace(/\.ya?ml$/, ''), file: join(dir, e.name) }));
    const top = yaml(spec, '');
    const nested = readdirSync(spec, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .flatMap((e) => yaml(join(spec, e.name), `${e.name}/`));
    return [...top, ...nested].sort((a, b) => a.stem.localeCompare(b.stem));
  } else if (GLOB_CHARS.test(spec)) {
    const dir = dirname(spec);
    if (GLOB_CHARS.test(dir)) throw new UserError(`--configs ${spec}: wildcards are allowed only in the file name, e.g. sweep/lr-*.yaml`);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`configs folder not found: ${dir} (from --configs ${spec})`);
    const re = globRegExp(basename(spec));
    files = readdirSync(dir)
      .filter((f) => re.test(f) && /\.ya?ml$/.test(f))
      .map((f) => join(dir, f));
    if (!files.length) throw new UserError(`--configs ${spec}: no config file (*.yaml) matches`);
  } else if (existsSync(spec) && /\.ya?ml$/.test(spec)) {
    files = [spec];
  } else {
    throw new UserError(`configs folder not found: ${spec}`);
  }
  return files.map((file) => ({ stem: basename(file).replace(/\.ya?ml$/, ''), file })).sort((a, b) => a.stem.localeCompare(b.stem));
}

export function sortByRegistry<T extends { stem: string; config?: ResolvedConfig }>(items: T[]): T[] {
  const order = lossNames();
  const rank = (t: T) => {
    const i = t.config ? order.indexOf(t.config.loss.name) : -1;
    return i < 0 ? order.length : i;
  };
  return [...items].sort((a, b) => rank(a) - rank(b) || a.stem.localeCompare(b.stem));
}

/**
 * What a batch does with one config, from what its run folder holds. Pure: `info` is the run
 * folder's run.json (undefined when there is none or it is unreadable).
 */
export function decideAction(s: { force?: boolean; info?: RunInfo; config: ResolvedConfig; codeVersion: string; figuresPresent: boolean; canResume: boolean }): PlanAction {
  const { info } = s;
  if (s.force || !info) return 'train';
  const same = sameConfig(info.config, s.config);
  // A run of another config (finished or not) is the user's: only --force replaces it.
  if (!same) return 'refuse';
  if (same && info.codeVersion === s.codeVersion && info.status === 'finished') return s.figuresPresent ? 'skip' : 'redraw';
  // An unfinished run of the same config continues from its checkpoint (train --resume checks
  // that the checkpoint fits; if it refuses, the run starts over).
  if (same && (info.status === 'running' || info.status === 'interrupted') && s.canResume) return 'resume';
  return 'train';
}

export interface PlannedRun {
  stem: string;
  file: string;
  config: ResolvedConfig;
  view: ViewChoice;
  runDir: string;
  jobId: string;
}

export interface PlannedTask extends PlannedRun {
  action: PlanAction;
  /** Why, for 'refuse'. */
  message?: string;
}

/** Why a batch does not replace the run of another config in `runDir` (action 'refuse'). */
export function refusalMessage(runDir: string, info: RunInfo, config: ResolvedConfig): string {
  // The schedule first (the usual difference: --epochs, another profile's settings), then the rest.
  const d = firstDifference(info.config.train, config.train, 'train') ?? configDifference(info.config, config);
  const diff = d ? `: ${d.key} is ${JSON.stringify(d.a)} there, ${JSON.stringify(d.b)} in the plan` : '';
  return `${rel(runDir)} holds ${info.status === 'finished' ? 'a finished' : `an unfinished (${info.status})`} run of another config${diff}; a batch never replaces it: retrain it with --force, or choose another --out`;
}

export interface BatchPlanOptions extends BatchOverrides {
  profile: Profile;
  configsDir: string;
  outRoot: string;
  only?: string[];
  force?: boolean;
  view?: ViewChoice;
  width?: number;
  height?: number;
  codeVersion: string;
  log: (line: string) => void;
  /** Whether the figures of a finished run are all in the pics folder. */
  figuresPresent: (info: RunInfo) => boolean;
  /** Whether an unfinished run may be resumed (default: yes; `train --resume` refuses one whose checkpoint does not fit, and the batch then starts it over). */
  canResume?: () => boolean;
  /** Where the run of a config is (default <outRoot>/<name>-<profile>). */
  runDirOf?: (config: ResolvedConfig) => string;
}

export interface BatchPlan {
  all: { stem: string; file: string }[];
  selected: { stem: string; file: string }[];
  /** Every config that resolved (selected or not: the gallery shows their finished runs too). */
  resolved: Map<string, PlannedRun>;
  /** The selected configs that resolved, with what to do. */
  tasks: PlannedTask[];
  /** Selected configs that did not resolve. */
  failures: { stem: string; file: string; message: string }[];
}

const rel = displayPath;

export function planBatch(o: BatchPlanOptions): BatchPlan {
  const overrides = pickOverrides(o, 'batch');
  const all = listConfigs(o.configsDir);
  if (all.length === 0) throw new UserError(`no configs (*.yaml) in ${o.configsDir}`);
  const stems = new Map<string, string>();
  for (const c of all) {
    const other = stems.get(c.stem);
    if (other) throw new UserError(`${rel(other)} and ${rel(c.file)} have the same name '${c.stem}'; rename one`);
    stems.set(c.stem, c.file);
  }
  let selected = all;
  if (o.only !== undefined && o.only.length === 0) throw new UserError(`--only: no config named; give file stems, e.g. --only ${all.slice(0, 2).map((c) => c.stem).join(',')} (leave --only out for all ${all.length})`);
  if (o.only?.length) {
    const unknown = o.only.filter((s) => !all.some((c) => c.stem === s));
    if (unknown.length) throw new UserError(`--only: no config named ${unknown.map((u) => `'${u}'`).join(', ')} in ${rel(o.configsDir)}; configs: ${all.map((c) => c.stem).join(', ')}`);
    selected = all.filter((c) => o.only!.includes(c.stem));
  }
  const resolved = new Map<string, PlannedRun>();
  const tasks: PlannedTask[] = [];
  const failures: BatchPlan['failures'] = [];
  const dirs = new Map<string, string>();
  for (const c of all) {
    const isSelected = selected.includes(c);
    let config: ResolvedConfig;
    try {
      config = loadConfigFile(c.file, o.profile, overrides, (m) => isSelected && o.log(`warning: ${c.stem}: ${m}`));
    } catch (e) {
      if (isSelected) failures.push({ stem: c.stem, file: c.file, message: (e as Error).message });
      continue;
    }
    const view = batchView(config, o.view);
    config.plot.view = view;
    if (o.width) config.plot.width = o.width;
    if (o.height) config.plot.height = o.height;
    const runDir = o.runDirOf ? o.runDirOf(config) : join(o.outRoot, `${config.name}-${o.profile}`);
    const clash = dirs.get(runDir);
    if (clash) throw new UserError(`configs ${clash} and ${c.stem} share the name '${config.name}', so their runs would share ${rel(runDir)}; give one a different 'name:'`);
    dirs.set(runDir, c.stem);
    const run: PlannedRun = { stem: c.stem, file: c.file, config, view, runDir, jobId: jobIdOf(config, o.profile, o.codeVersion) };
    resolved.set(c.stem, run);
    if (!isSelected) continue;
    let info: RunInfo | undefined;
    if (!o.force && isRunDir(runDir)) {
      try {
        info = readRunInfo(runDir);
      } catch {
        info = undefined;
      }
    }
    const action = decideAction({ force: o.force, info, config, codeVersion: o.codeVersion, figuresPresent: info ? o.figuresPresent(info) : false, canResume: info ? (o.canResume?.() ?? true) : false });
    tasks.push({ ...run, action, ...(action === 'refuse' && info ? { message: refusalMessage(runDir, info, config) } : {}) });
  }
  return { all, selected, resolved, tasks, failures };
}

/** What became of one config in a batch. */
export type RunStatus = 'trained' | 'resumed' | 'up to date' | 'redrawn' | 'downloaded' | 'collected' | 'failed';

export interface RunOutcome {
  stem: string;
  configFile: string;
  runDir: string;
  status: RunStatus;
  seconds?: number;
  validAccuracy?: number;
  message?: string;
}

/**
 * The tasks of a plan by what they need: nothing or a redraw from saved features (no training;
 * done first, in plan order), or training (new or resumed).
 */
export function splitTasks(tasks: PlannedTask[]): { ready: PlannedTask[]; toTrain: PlannedTask[] } {
  return { ready: tasks.filter((t) => t.action === 'skip' || t.action === 'redraw'), toTrain: tasks.filter((t) => t.action === 'train' || t.action === 'resume') };
}

/** The tasks a batch refuses (a run of another config in its folder), as one message; undefined when none. */
export function refusals(tasks: PlannedTask[]): string | undefined {
  const r = tasks.filter((t) => t.action === 'refuse');
  if (!r.length) return undefined;
  return r.length === 1 ? r[0]!.message : `${r.length} run folders hold runs of another config; a batch never replaces them: retrain them with --force, or choose another --out:\n  ${r.map((t) => t.message!.replace(/; a batch never.*$/, '')).join('\n  ')}`;
}

/** Training threads of each of `workers` local runs sharing `cores` (undefined: the engine's own, for the cpu backend). */
export function poolThreads(cores: number, workers: number, backend?: string): number | undefined {
  return (backend ?? 'auto') !== 'cpu' ? Math.max(1, Math.floor(cores / Math.max(1, workers))) : undefined;
}

export interface ChildArgsOptions extends BatchOverrides {
  /** Where the figures go. */
  pics: string;
  backend?: string;
  threads?: number;
  /** Continue the run from its checkpoint (its config, overrides and figure settings are its own). */
  resume: boolean;
  /** --size, when given to reproduce. */
  width?: number;
  height?: number;
}

/** The arguments of the `facelosses train` that does a planned task locally: a new run, or `--resume` of the one in its folder. */
export function childArgs(t: PlannedTask, o: ChildArgsOptions): string[] {
  const args = o.resume ? ['train', '--resume', t.runDir] : ['train', '--config', t.file, '--profile', t.config.profile, '--out', t.runDir, '--force', '--view', t.view];
  args.push('--pics', o.pics, '--quiet');
  if (o.backend) args.push('--backend', o.backend);
  if (o.threads !== undefined) args.push('--threads', String(o.threads));
  if (!o.resume) {
    args.push(...overrideArgs(pickOverrides(o, 'batch')));
    if (o.width !== undefined || o.height !== undefined) args.push('--size', `${o.width ?? t.config.plot.width}x${o.height ?? t.config.plot.height}`);
  }
  return args;
}

/** One entry of `reproduce --plan`. */
export interface PlanEntry {
  name: string;
  stem: string;
  /** The config file, relative to the current folder when inside it. */
  file: string;
  profile: string;
  jobId: string;
  /** What a local `reproduce` would do with it now. */
  action: PlanAction | 'failed';
  /** The run folder's name under --out (a CI artifact of this name holds the run folder). */
  dir: string;
  view: ViewChoice;
  /** `--size` as given to train. */
  size: string;
  /** The arguments of the plain `facelosses train` that does this run into <out>/<dir>. */
  train: string[];
  config?: ResolvedConfig;
  message?: string;
}

/** The arguments of a plain `facelosses train` for a planned run (no --out, --pics, --backend). */
export function trainArgs(r: PlannedRun, profile: string, o: BatchOverrides): string[] {
  return ['train', '--config', rel(r.file), '--profile', profile, '--view', r.view, '--size', `${r.config.plot.width}x${r.config.plot.height}`, ...overrideArgs(pickOverrides(o, 'batch'))];
}

export function planEntries(plan: BatchPlan, profile: string, o: BatchOverrides): PlanEntry[] {
  const entries: PlanEntry[] = [];
  for (const t of plan.tasks) {
    entries.push({
      name: t.config.name,
      stem: t.stem,
      file: rel(t.file),
      profile,
      jobId: t.jobId,
      action: t.action,
      dir: basename(t.runDir),
      view: t.view,
      size: `${t.config.plot.width}x${t.config.plot.height}`,
      train: trainArgs(t, profile, o),
      config: { ...t.config, source: rel(t.config.source) },
      ...(t.message ? { message: t.message } : {}),
    });
  }
  for (const f of plan.failures) {
    entries.push({ name: f.stem, stem: f.stem, file: rel(f.file), profile, jobId: '', action: 'failed', dir: '', view: 'raw', size: '', train: [], message: f.message });
  }
  return sortByRegistry(entries);
}

/** Run folders under `dir` (itself, and folders up to `depth` levels below). */
export function findRunDirs(dir: string, depth = 3): string[] {
  const out: string[] = [];
  const walk = (d: string, left: number) => {
    if (isRunDir(d)) {
      out.push(d);
      return;
    }
    if (left === 0) return;
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        if (statSync(p).isDirectory()) walk(p, left - 1);
      } catch {
        // gone meanwhile
      }
    }
  };
  walk(resolve(dir), depth);
  return out;
}

/**
 * For `reproduce --collect DIR`: the run folder under DIR that holds the finished run of each
 * resolved config (by content, whatever the folder is called); a config without one is absent.
 */
export function matchCollected(runDirs: string[], runs: Iterable<PlannedRun>): Map<string, string> {
  const infos: { dir: string; info: RunInfo }[] = [];
  for (const dir of runDirs) {
    try {
      const info = readRunInfo(dir);
      if (info.status === 'finished') infos.push({ dir, info });
    } catch {
      // not a readable run: not collected
    }
  }
  const found = new Map<string, string>();
  for (const r of runs) {
    const m = infos.find((x) => sameConfig(x.info.config, r.config)) ?? infos.find((x) => basename(x.dir) === basename(r.runDir) && x.info.config.name === r.config.name);
    if (m) found.set(r.stem, m.dir);
  }
  return found;
}
