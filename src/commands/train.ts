/** `facelosses train`: config → run folder with metrics, snapshots and figures. */
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { type Overrides, type Profile, type ResolvedConfig, loadConfigFile, scheduleNote } from '../config/config.js';
import { type BackendName, initBackend } from '../backend.js';
import { createProgress } from '../cli/progress.js';
import { loadDataset } from '../data/mnist.js';
import { drawSnapshot, figureNaming, viewsOf } from '../report/figures.js';
import { isRunDir, readRunInfo } from '../run/run.js';
import { acquireRunLock } from '../run/lock.js';
import { applyResume, checkResumeData, planResume } from '../run/resume.js';
import { writeSeparability } from '../run/separability.js';
import { type NanPolicy, train, TrainingInterrupted, type TrainResult } from '../train/trainer.js';
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
  label?: string;
  /** CPU threads for training: data-parallel worker threads on wasm (default: the run's own
   *  count when resuming, else the number of cores). */
  threads?: number;
}

export function defaultRunDir(config: ResolvedConfig): string {
  return join('runs', `${config.name}-${config.profile}`);
}

/**
 * Makes sure `dir` can hold a new run; refuses to clobber an unfinished run without --force.
 * Takes the folder's lock (before anything in it is removed) and returns its release.
 */
export function prepareRunDir(dir: string, force: boolean): () => void {
  let unlock: (() => void) | undefined;
  try {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new UserError(`output path ${dir} exists and is not a folder`);
      unlock = acquireRunLock(dir);
      if (isRunDir(dir)) {
        const info = readRunInfo(dir);
        if (info.status !== 'finished' && !force) {
          throw new UserError(`${dir} holds an unfinished run (status: ${info.status}); continue it with --resume ${dir}, or start over with --force`);
        }
        for (const sub of ['run.json', 'metrics.jsonl', 'snapshots', 'pics', 'checkpoint']) rmSync(join(dir, sub), { recursive: true, force: true });
      }
    }
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new UserError(`cannot write to output folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return unlock ?? acquireRunLock(dir);
  } catch (e) {
    unlock?.();
    throw e;
  }
}

export async function trainCommand(o: TrainCommandOptions): Promise<TrainResult & { config: ResolvedConfig; files: string[] }> {
  const warnings: string[] = [];
  if (o.config === undefined && o.resume === undefined) throw new UserError("required option '-c, --config <file>' not specified (or continue a run with --resume RUN_DIR)");
  const given: Overrides = { epochs: o.epochs, snapshots: o.snapshots, trainLimit: o.trainLimit, validLimit: o.validLimit, seed: o.seed, dataDir: o.dataDir };
  const plan = o.resume !== undefined ? planResume({ dir: o.resume, config: o.config, profile: o.profile, overrides: given, out: o.out, force: o.force }, (m) => warnings.push(m)) : undefined;
  const config = plan?.config ?? loadConfigFile(o.config!, o.profile ?? 'full', o, (m) => warnings.push(m));
  if (o.view) config.plot.view = o.view;
  if (o.colorBy) config.plot.colorBy = o.colorBy;
  if (o.width) config.plot.width = o.width;
  if (o.height) config.plot.height = o.height;
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
  const outDir = plan?.dir ?? resolve(o.out ?? defaultRunDir(config));
  // A resumed run keeps its engine unless told otherwise (results match exactly only on the same one).
  const runBackend = plan?.checkpoint.backend;
  const backend = await initBackend(o.backend ?? (runBackend === 'wasm' || runBackend === 'cpu' ? runBackend : 'auto'));
  if (runBackend && runBackend !== backend.name) warnings.push(`the run was trained on ${runBackend} and continues on ${backend.name}; it will not match an uninterrupted run exactly`);
  if (plan && plan.info.codeVersion !== codeVersion()) warnings.push(`the run was started with code version ${plan.info.codeVersion}, this is ${codeVersion()}; it may not match an uninterrupted run exactly`);
  // Training threads: data-parallel workers on wasm (the native engines use their own threads).
  const runThreads = plan?.checkpoint.threads;
  const workers = backend.name === 'wasm' ? (o.threads ?? runThreads ?? availableParallelism()) : 1;
  const threads = workers > 1 ? workers : backend.threads;
  if (runThreads && threads && runThreads !== threads) {
    warnings.push(`the run was trained with ${runThreads} thread(s) and continues with ${threads}; it will not match an uninterrupted run exactly`);
  }
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
  log(`facelosses: ${config.name} (loss ${config.loss.name}), profile ${config.profile}, backend ${backend.detail}${workers > 1 ? `, ${workers} data-parallel threads` : ''}`);
  printWarnings();
  log(`run folder: ${relative(process.cwd(), outDir) || '.'}${plan ? `, resuming after epoch ${plan.checkpoint.epoch}${plan.checkpoint.position ? ` and ${plan.checkpoint.position.step} steps of epoch ${plan.checkpoint.position.epoch}` : ''}` : ''}`);
  const naming = figureNaming(config);
  const picsDir = resolve(o.pics ?? plan?.info.pics ?? join(outDir, 'pics'));
  const files: string[] = [];
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
      ...(plan ? plan.info : { overrides: Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) }),
      pics: picsDir === join(outDir, 'pics') ? undefined : picsDir,
    },
    nanPolicy: o.nanPolicy,
    signal: stop.signal,
    onEvent: o.quiet ? undefined : createProgress(process.stderr, o.label),
    onSnapshot: async (dir, epoch, snaps) => {
      const out: string[] = [writeSeparability(dir, epoch, snaps)];
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
      files.push(...out);
      return out;
    },
  })
    .catch((e: unknown) => {
      if (e instanceof TrainingInterrupted) {
        throw new Interrupted(`${e.message}; continue with: facelosses train --resume ${relative(process.cwd(), outDir) || '.'}`, e.signal === 'SIGTERM' ? 143 : 130);
      }
      throw e;
    })
    .finally(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      unlock();
    });
  return { ...result, config, files };
}
