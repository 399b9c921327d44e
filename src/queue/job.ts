/**
 * One queued run: the job's data as `reproduce --queue` writes it, and the check a worker makes of
 * every field before it touches the disk. A worker trusts nothing it reads from Redis: whoever can
 * write to the queue's Redis can put any data there, so a job that does not pass `checkJob` fails
 * at once (BullMQ's UnrecoverableError, with the reason) and nothing of it is written anywhere.
 *
 * - the job id and the run name match SAFE_NAME (one plain folder name each), the config's stem
 *   SAFE_STEM (a plain name, at most one folder deep, as configs/3d/ gives);
 * - the config file's name is a plain base name ending in .yaml or .yml;
 * - the overrides are structured data (never command-line arguments), each checked by the row of
 *   the table the CLI uses (src/config/overrides.ts) and the config schema's entry for its key;
 *   the data folder is a worker's own (`facelosses worker --data-dir`), never a job's;
 * - the engine is a named one and the training threads a whole number, at most the worker's cores.
 */
import { availableParallelism } from 'node:os';
import { type BackendName, BACKEND_NAMES } from '../backend.js';
import { type BatchOverrides, OVERRIDES, flagName } from '../config/overrides.js';
import { PROFILES, type Profile, VIEW_CHOICES, type ViewChoice } from '../config/config.js';
import { CONFIG_SCHEMA, checkValue, type ValueSpec } from '../config/schema.js';

export const JOB_FORMAT = 'facelosses-job/2';

/** A job id, config stem or run name: letters, digits, '.', '_', '-', starting with a letter or digit, at most 128. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** A config stem: a plain name, or one plain folder name and a plain name (configs/3d/arcface.yaml is 3d/arcface). Used in messages only, never in a path. */
export const SAFE_STEM = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CONFIG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,122}\.ya?ml$/;
/** The largest config text a job may carry. */
export const MAX_CONFIG_BYTES = 256 * 1024;
/** No machine has more cores than this; a job asking for more is refused outright. */
export const MAX_THREADS = 1024;

export type QueueView = ViewChoice;
/** The engines a job may name ('auto' is resolved before enqueueing: every worker must train alike). */
export type JobBackend = Exclude<BackendName, 'auto'>;

/** The data of one job: everything a worker needs to run a plain `facelosses train`. */
export interface TrainJobData {
  format: typeof JOB_FORMAT;
  stem: string;
  name: string;
  profile: Profile;
  codeVersion: string;
  /** The config file's base name (its stem names the run when the config has no `name:`). */
  configName: string;
  /** Where the config came from on the machine that enqueued it (for messages only). */
  configFile: string;
  /** The YAML text of the config. */
  configText: string;
  /** The overrides of the batch (src/config/overrides.ts), the data folder excepted. */
  overrides: BatchOverrides;
  view: QueueView;
  width: number;
  height: number;
  /** The engine and training threads: part of the job, so that every worker trains it as one machine would. */
  backend: JobBackend;
  threads: number;
}

/** What a job reports as its progress. */
export interface TrainJobProgress {
  epoch: number;
  epochs: number;
  imagesPerSecond?: number;
  secondsPerEpoch?: number;
  validAccuracy?: number;
  worker: string;
  /** The epoch this worker started from (0: from scratch). */
  fromEpoch: number;
  /** Set when a worker handed the job back for a problem of its own machine: what it was, and how many times so far. */
  handedBack?: string;
  handBacks?: number;
}

export interface TrainJobResult {
  validAccuracy?: number;
  seconds?: number;
  worker: string;
  /** Set when the run finished but its figures could not be drawn on the worker (they are drawn where the run is downloaded). */
  note?: string;
}

/** A job that failed the check: its reason, said once, final. */
export class BadJob extends Error {}

/** A problem of the machine that took the job, not of the job (another worker may do it). */
export class MachineProblem extends Error {}

function specAt(path: string): ValueSpec {
  const [a, b] = path.split('.') as [string, string | undefined];
  const s = CONFIG_SCHEMA[a]!;
  return (b === undefined ? s : (s as Record<string, ValueSpec>)[b]!) as ValueSpec;
}

const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** Checks the overrides of a job by the table the CLI uses; returns them as a fresh object. */
export function checkOverrides(raw: unknown): BatchOverrides {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadJob(`overrides must be a mapping, got ${show(raw)}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const row = OVERRIDES.find((r) => r.key === k);
    if (!row || !row.batch) throw new BadJob(`overrides: '${k.slice(0, 40)}' is not an override a batch takes (${OVERRIDES.filter((r) => r.batch && r.value !== 'path').map((r) => r.key).join(', ')})`);
    if (row.value === 'path') throw new BadJob(`overrides: ${flagName(row)} is not taken from a job; each worker uses its own data folder (facelosses worker --data-dir)`);
    const p = checkValue(flagName(row), specAt(row.path), v);
    if (p) throw new BadJob(`overrides: ${p}`);
    out[k] = Array.isArray(v) ? [...v] : v;
  }
  return out as BatchOverrides;
}

function name(what: string, v: unknown): string {
  if (typeof v !== 'string' || !SAFE_NAME.test(v)) throw new BadJob(`${what} ${show(v)} is not a plain name (letters, digits, '.', '_', '-', starting with a letter or digit, at most 128)`);
  return v;
}

function stemName(v: unknown): string {
  if (typeof v !== 'string' || !SAFE_STEM.test(v)) throw new BadJob(`config stem ${show(v)} is not a plain name, or a folder and a plain name (letters, digits, '.', '_', '-', each starting with a letter or digit)`);
  return v;
}

function figureSide(what: 'width' | 'height', v: unknown): number {
  const p = checkValue(what, specAt(`plot.${what}`), v);
  if (p) throw new BadJob(p);
  return v as number;
}

/**
 * Every field of a job, checked (BadJob with the reason when one is wrong). `cores`: the worker's;
 * a job wanting more threads than that is a MachineProblem (a larger machine may take it).
 */
export function checkJob(id: unknown, data: unknown, codeVersion: string, cores = availableParallelism()): TrainJobData & { id: string } {
  const jobId = name('job id', id);
  if (typeof data !== 'object' || data === null) throw new BadJob('the job has no data');
  const d = data as Record<string, unknown>;
  if (d.format !== JOB_FORMAT) throw new BadJob(`unknown job format ${show(d.format)} (this worker reads ${JOB_FORMAT})`);
  if (d.codeVersion !== codeVersion) throw new BadJob(`the job is for code version ${show(d.codeVersion)}, this worker runs ${codeVersion}`);
  if (typeof d.configName !== 'string' || !CONFIG_NAME.test(d.configName)) throw new BadJob(`config name ${show(d.configName)} is not a plain file name ending in .yaml`);
  if (typeof d.configText !== 'string' || Buffer.byteLength(d.configText) > MAX_CONFIG_BYTES) throw new BadJob(`the config text must be a string of at most ${MAX_CONFIG_BYTES / 1024} KiB`);
  if (typeof d.profile !== 'string' || !(PROFILES as readonly string[]).includes(d.profile)) throw new BadJob(`profile ${show(d.profile)} is not one of ${PROFILES.join(', ')}`);
  if (!(VIEW_CHOICES as readonly unknown[]).includes(d.view)) throw new BadJob(`view ${show(d.view)} is not one of ${VIEW_CHOICES.join(', ')}`);
  if (typeof d.backend !== 'string' || d.backend === 'auto' || !(BACKEND_NAMES as readonly string[]).includes(d.backend)) throw new BadJob(`engine ${show(d.backend)} is not one of ${BACKEND_NAMES.filter((b) => b !== 'auto').join(', ')}`);
  if (typeof d.threads !== 'number' || !Number.isInteger(d.threads) || d.threads < 1 || d.threads > MAX_THREADS) throw new BadJob(`threads ${show(d.threads)} is not a whole number from 1 to ${MAX_THREADS}`);
  const job: TrainJobData & { id: string } = {
    id: jobId,
    format: JOB_FORMAT,
    stem: stemName(d.stem),
    name: name('run name', d.name),
    profile: d.profile as Profile,
    codeVersion,
    configName: d.configName,
    configFile: typeof d.configFile === 'string' ? d.configFile.slice(0, 300) : d.configName,
    configText: d.configText,
    overrides: checkOverrides(d.overrides),
    view: d.view as ViewChoice,
    width: figureSide('width', d.width),
    height: figureSide('height', d.height),
    backend: d.backend as JobBackend,
    threads: d.threads,
  };
  if (job.threads > cores) throw new MachineProblem(`the job trains on ${job.threads} threads and this machine has ${cores} cores`);
  return job;
}

/** The arguments of the `facelosses train` that starts a job's run: built from checked fields only. */
export function freshTrainArgs(job: TrainJobData, paths: { config: string; runDir: string; pics: string; dataDir?: string }): string[] {
  const args = ['train', '--config', paths.config, '--profile', job.profile, '--view', job.view, '--size', `${job.width}x${job.height}`];
  for (const r of OVERRIDES) {
    const v = (job.overrides as Record<string, unknown>)[r.key];
    if (v !== undefined && r.value !== 'path') args.push(flagName(r), Array.isArray(v) ? v.join(',') : String(v));
  }
  if (paths.dataDir) args.push('--data-dir', paths.dataDir);
  args.push('--out', paths.runDir, '--pics', paths.pics, '--force', '--quiet', '--backend', job.backend, '--threads', String(job.threads));
  return args;
}

/** The arguments of the `facelosses train --resume` that continues it (the run keeps its engine and threads). */
export function resumeTrainArgs(paths: { runDir: string; pics: string; dataDir?: string }): string[] {
  return ['train', '--resume', paths.runDir, '--pics', paths.pics, '--quiet', ...(paths.dataDir ? ['--data-dir', paths.dataDir] : [])];
}

/** How long finished jobs and stored run files are kept: FACELOSSES_QUEUE_KEEP (e.g. 7d, 12h, 90m, 3600s; default 7d). */
export function keepSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const t = env.FACELOSSES_QUEUE_KEEP?.trim();
  if (!t) return 7 * 86_400;
  const m = /^(\d+)\s*([smhd]?)$/.exec(t);
  if (!m || Number(m[1]) < 1) throw new Error(`FACELOSSES_QUEUE_KEEP must be a duration such as 7d, 12h, 90m or 3600s, got '${t}'`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}
