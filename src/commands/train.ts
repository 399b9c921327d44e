/** `facelosses train`: config → run folder with metrics, snapshots and figures. */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { type Overrides, type Profile, type ResolvedConfig, DEFAULT_PROFILE, loadConfigFile, scheduleNote } from '../config/config.js';
import { pickOverrides } from '../config/overrides.js';
import { command, restartCommand, shellPath } from '../cli/hint.js';
export { restartCommand };
import { hasCheckpoint } from '../run/checkpoint.js';
import { folderState, removeRunFiles } from '../run/replace.js';
import { type BackendName, initBackend } from '../backend.js';
import { createProgress } from '../cli/progress.js';
import { loadDataset } from '../data/mnist.js';
import { drawRunAnimations, NotTwoDimensional } from '../report/animation.js';
import { drawSnapshot, figureNaming, viewsOf } from '../report/figures.js';
import type { RunInfo } from '../run/run.js';
import { acquireRunLock } from '../run/lock.js';
import { applyResume, checkResumeData, planResume } from '../run/resume.js';
import { writeSeparability } from '../run/separability-files.js';
import { TrainingInterrupted } from '../train/epoch.js';
import type { NanPolicy } from '../train/nan-guard.js';
import { train, type TrainOptions, type TrainResult } from '../train/trainer.js';
import { Interrupted, UserError } from '../util/errors.js';
import { codeVersion } from '../version.js';

export interface TrainCommandOptions extends Overrides {
  /** Required unless `resume` is given. */
  config?: string;
  /** Continue the run in this folder from its checkpoint. */
  resume?: string;
  /** Non-finite loss or gradient: stop (default) or skip that batch's update. */
  nanPolicy?: NanPolicy;
  /** Leave undefined unless given explicitly (a resumed run keeps its own). */
  profile?: Profile;
  out?: string;
  backend?: BackendName;
  force?: boolean;
  /** Where PNGs go (default <run>/pics). */
  pics?: string;
  view?: 'raw' | 'unit' | 'both';
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
  quiet?: boolean;
  /** Draw the animation of the valid features at the end of the run (default true). */
  animation?: boolean;
  label?: string;
  /** CPU threads for training: data-parallel worker threads on wasm (default: the run's own
   *  count when resuming, else the number of cores). */
  threads?: number;
  /** Runs in place of each step's forward and backward pass (see TrainOptions.wrapStep). */
  wrapStep?: TrainOptions['wrapStep'];
}

export function defaultRunDir(config: ResolvedConfig): string {
  return join('runs', `${config.name}-${config.profile}`);
}

const ERRNO_WORDS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file',
  ENOSPC: 'the disk is full',
  ENOENT: 'a part of the path does not exist',
};
const errnoText = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code ? `${code}${ERRNO_WORDS[code] ? ` (${ERRNO_WORDS[code]})` : ''}` : (e as Error).message;
};

/** The nearest folder at or above `p` that exists (or the path of a file blocking it). */
function nearestExisting(p: string): string {
  let d = resolve(p);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

/**
 * Checks, without creating anything, that `dir` is a folder that exists and can be written, or
 * can be created: `what` names the flag in the message.
 */
export function checkWritableFolder(dir: string, what: string): void {
  const at = nearestExisting(dir);
  const shown = shellPath(dir);
  if (!statSync(at).isDirectory()) {
    throw new UserError(at === resolve(dir) ? `${what} ${shown} is a file, not a folder; give a folder (a new one is created)` : `cannot write to ${what} ${shown}: ${shellPath(at)} is a file, not a folder; choose another ${what}`);
  }
  try {
    accessSync(at, constants.W_OK);
  } catch (e) {
    throw new UserError(`cannot write to ${what} ${shown}: ${shellPath(at)}: ${errnoText(e)}; choose another ${what} or make it writable`);
  }
}

/**
 * Why `dir` cannot take a new run without --force (or at all), or undefined when it can. Changes
 * nothing.
 */
export function runDirRefusal(dir: string, force: boolean): string | undefined {
  if (existsSync(dir) && !statSync(dir).isDirectory()) return `output path ${shellPath(dir)} exists and is not a folder; choose another --out`;
  const st = folderState(dir);
  const p = shellPath(dir);
  switch (st.kind) {
    case 'missing':
    case 'empty':
      return undefined;
    case 'other':
      return `${p} is not a facelosses run folder and holds other files (e.g. ${st.example}); a run is written only into a new or empty folder, or over a run: choose another --out, e.g. runs/NAME`;
    case 'damaged':
      return force ? undefined : `${join(p, 'run.json')}: unreadable run file (${st.problem}); start the run over with --force (it removes only the files a run wrote)`;
    case 'run': {
      if (force) return undefined;
      const info = st.info;
      if (info.status === 'finished') {
        const acc = info.validAccuracy !== undefined ? `, valid accuracy ${(100 * info.validAccuracy).toFixed(2)}%` : '';
        return `${p} holds a finished run (${info.config.name}, ${info.profile} profile${acc}); train into another folder with --out, or replace it with --force`;
      }
      if (!hasCheckpoint(dir)) return `${p} holds a run that stopped before its first checkpoint (status: ${info.status}); start it over with --force`;
      return `${p} holds an unfinished run (status: ${info.status}); continue it with --resume (${command('train', '--resume', p)}), or start over with --force`;
    }
  }
}

/**
 * Makes sure `dir` can hold a new run: refuses to replace a run without --force and never uses a
 * folder that holds anything but a run; with --force removes only what the old run wrote. Takes
 * the folder's lock (before anything in it is removed) and returns its release.
 */
export function prepareRunDir(dir: string, force: boolean): () => void {
  let unlock: (() => void) | undefined;
  try {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new UserError(`output path ${shellPath(dir)} exists and is not a folder; choose another --out`);
      unlock = acquireRunLock(dir);
      const refusal = runDirRefusal(dir, force);
      if (refusal) throw new UserError(refusal);
      const st = folderState(dir);
      if (st.kind === 'run') removeRunFiles(dir, st.info);
      else if (st.kind === 'damaged') removeRunFiles(dir);
    }
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new UserError(`cannot write to output folder ${dir}: ${errnoText(e)}; choose another --out`);
    }
    return unlock ?? acquireRunLock(dir);
  } catch (e) {
    unlock?.();
    throw e;
  }
}

/** Figure sizes a run can draw (the config's plot.width and plot.height range). */
export const FIGURE_SIZE = { min: 100, max: 8000 };

export interface TrainCommandResult extends TrainResult {
  config: ResolvedConfig;
  files: string[];
  /** Figures that could not be drawn (the run itself finished; `facelosses plot` redraws them). */
  drawErrors: string[];
}

/**
 * The animation of a finished run's valid features (one per view; none for features that are not
 * 2-D); like a figure, one that cannot be drawn stops nothing: a warning says how to draw it later.
 */
async function animateFinishedRun(runDir: string, picsDir: string, config: ResolvedConfig, log: (s: string) => void): Promise<string[]> {
  const t0 = performance.now();
  try {
    const files = await drawRunAnimations(runDir, { picsDir, views: viewsOf(config.plot.view), colorBy: config.plot.colorBy, width: config.plot.width, height: config.plot.height });
    log(`animation drawn in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return files;
  } catch (e) {
    if (e instanceof NotTwoDimensional) return [];
    const msg = `the animation could not be drawn (${errnoText(e)}); draw it with ${command('animate', '--run', shellPath(runDir))}`;
    process.stderr.write(`warning: ${msg}\n`);
    return [];
  }
}

export async function trainCommand(o: TrainCommandOptions): Promise<TrainCommandResult> {
  const warnings: string[] = [];
  if (o.config === undefined && o.resume === undefined) throw new UserError("required option '-c, --config <file>' not specified (or continue a run with --resume RUN_DIR)");
  const given = pickOverrides(o);
  const plan = o.resume !== undefined ? planResume({ dir: o.resume, config: o.config, profile: o.profile, overrides: given, out: o.out, force: o.force }, (m) => warnings.push(m)) : undefined;
  const config = plan?.config ?? loadConfigFile(o.config!, o.profile ?? DEFAULT_PROFILE, given, (m) => warnings.push(m));
  if (o.view) config.plot.view = o.view;
  if (o.colorBy) config.plot.colorBy = o.colorBy;
  if (o.width) config.plot.width = o.width;
  if (o.height) config.plot.height = o.height;
  // Every output setting is checked before anything is written or trained.
  for (const [k, v] of [['width', config.plot.width], ['height', config.plot.height]] as const) {
    if (!Number.isInteger(v) || v < FIGURE_SIZE.min || v > FIGURE_SIZE.max) {
      throw new UserError(`figure ${k} ${v} (--size, plot.${k}) is outside ${FIGURE_SIZE.min}..${FIGURE_SIZE.max} pixels; use e.g. --size 640x480`);
    }
  }
  const outDir = plan?.dir ?? resolve(o.out ?? defaultRunDir(config));
  const picsDir = resolve(o.pics ?? plan?.info.pics ?? join(outDir, 'pics'));
  if (!plan) {
    const refusal = runDirRefusal(outDir, Boolean(o.force));
    if (refusal) throw new UserError(refusal);
    checkWritableFolder(outDir, '--out');
  }
  checkWritableFolder(picsDir, '--pics');
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  const printWarnings = () => warnings.splice(0).forEach((w) => process.stderr.write(`warning: ${w}\n`));
  printWarnings();
  const dataset = loadDataset(config.data); // data errors before anything is written
  if (plan) checkResumeData(plan, dataset);
  else if (dataset.train.count < config.train.batchSize) {
    throw new UserError(`the training set has ${dataset.train.count} images, fewer than one batch of ${config.train.batchSize} (train.batchSize); use more images or a smaller batch`);
  }
  // A resumed run keeps its engine unless told otherwise (results match exactly only on the same one).
  const runBackend = plan?.checkpoint.backend;
  const backend = await initBackend(o.backend ?? (runBackend === 'wasm' || runBackend === 'cpu' || runBackend === 'webgpu' ? runBackend : 'auto'));
  if (runBackend && runBackend !== backend.name) warnings.push(`the run was trained on ${runBackend} and continues on ${backend.name}; it will not match an uninterrupted run exactly`);
  if (plan && plan.info.codeVersion !== codeVersion()) warnings.push(`the run was started with code version ${plan.info.codeVersion}, this is ${codeVersion()}; it may not match an uninterrupted run exactly`);
  if (backend.name === 'cpu') warnings.push('the cpu backend is plain JavaScript: about 1 image/s on this network, days for one run; use the default engine (--backend auto or wasm)');
  // Training threads: data-parallel workers on wasm (the native engines use their own threads).
  const runThreads = plan?.checkpoint.threads;
  const cores = availableParallelism();
  // More threads than cores is slower and costs memory (each worker holds the network): capped.
  const asked = o.threads !== undefined && o.threads > cores ? cores : o.threads;
  if (asked !== o.threads) {
    warnings.push(`--threads ${o.threads} is more than the ${cores} CPU core${cores === 1 ? '' : 's'} of this machine (slower and more memory, not faster); using ${cores}`);
  }
  const workers = backend.name === 'wasm' ? (asked ?? runThreads ?? cores) : 1;
  const threads = workers > 1 ? workers : backend.threads;
  if (runThreads && threads && runThreads !== threads) {
    warnings.push(`the run was trained with ${runThreads} thread(s) and continues with ${threads}; it will not match an uninterrupted run exactly`);
  }
  printWarnings();
  // One process per run folder: the lock is taken before anything in the folder is replaced.
  let unlock: () => void;
  if (plan) {
    unlock = acquireRunLock(outDir);
    try {
      applyResume(plan);
    } catch (e) {
      unlock();
      throw e;
    }
  } else unlock = prepareRunDir(outDir, Boolean(o.force));
  const schedule = `${config.train.epochs} epoch${config.train.epochs === 1 ? '' : 's'}${config.data.trainLimit ? ` on at most ${config.data.trainLimit.toLocaleString('en-US')} training images` : ''}`;
  const defaulted = !plan && o.profile === undefined ? ' (the default; --profile full trains the config as written)' : '';
  log(`facelosses: ${config.name} (${shellPath(config.source)}, loss ${config.loss.name}), profile ${config.profile}: ${schedule}${defaulted}`);
  log(`backend ${backend.detail}${workers > 1 ? `, ${workers} data-parallel threads` : ''}`);
  printWarnings();
  log(`run folder: ${relative(process.cwd(), outDir) || '.'}${plan ? `, resuming after epoch ${plan.checkpoint.epoch}${plan.checkpoint.position ? ` and ${plan.checkpoint.position.step} steps of epoch ${plan.checkpoint.position.epoch}` : ''}` : ''}`);
  const naming = figureNaming(config);
  const files: string[] = [];
  const drawErrors: string[] = [];
  // Ctrl-C / SIGTERM: finish the current step, save a checkpoint, exit 130 / 143. Twice: at once.
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      process.stderr.write(`\nfacelosses: ${sig} again: stopping now; the last checkpoint is kept\n`);
      process.exit(sig === 'SIGTERM' ? 143 : 130);
    }
    stop.abort(sig);
    process.stderr.write(`\nfacelosses: ${sig}: saving a checkpoint at the end of this step (send it again to stop at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const result = await train({
    config,
    outDir,
    backend: backend.name,
    backendThreads: threads,
    workers,
    dataset,
    resume: plan?.checkpoint,
    runInfo: {
      ...(plan ? plan.info : { overrides: given }),
      pics: picsDir === join(outDir, 'pics') ? undefined : picsDir,
    },
    nanPolicy: o.nanPolicy,
    signal: stop.signal,
    wrapStep: o.wrapStep,
    onEvent: o.quiet ? undefined : createProgress(process.stderr, o.label),
    onSnapshot: async (dir, epoch, snaps) => {
      const out: string[] = [writeSeparability(dir, epoch, snaps)];
      // A figure that cannot be drawn (a full disk, a folder removed) stops neither the run nor
      // its checkpoint: the snapshots are saved, and `facelosses plot` draws them later.
      try {
        for (const s of snaps) {
          out.push(
            ...(await drawSnapshot(s, naming, scheduleNote(config), {
              picsDir,
              views: viewsOf(config.plot.view),
              colorBy: config.plot.colorBy,
              width: config.plot.width,
              height: config.plot.height,
            })),
          );
        }
      } catch (e) {
        const msg = `the figures of epoch ${epoch} could not be drawn (${errnoText(e)}); the snapshots are saved: redraw them with ${command('plot', '--run', shellPath(dir), '--epoch', String(epoch))}`;
        drawErrors.push(msg);
        process.stderr.write(`${o.quiet ? '' : '\n'}warning: ${msg}\n`);
      }
      files.push(...out);
      return out;
    },
  })
    .catch((e: unknown) => {
      if (e instanceof TrainingInterrupted) {
        throw new Interrupted(`${e.message}; continue with: ${command('train', '--resume', shellPath(outDir))}`, e.signal === 'SIGTERM' ? 143 : 130);
      }
      throw e;
    })
    .finally(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      unlock();
    });
  if (o.animation !== false) files.push(...(await animateFinishedRun(outDir, picsDir, config, log)));
  return { ...result, config, files, drawErrors };
}
