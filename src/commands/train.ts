/** `facelosses train`: config → run folder with metrics, snapshots and figures. */
import { join, relative, resolve } from 'node:path';
import type { BackendInfo, BackendName } from '../backend.js';
import { type Overrides, type Profile, type ResolvedConfig, type ViewChoice, DEFAULT_PROFILE, loadConfigFile, scheduleNote, viewProblem } from '../config/config.js';
import { pickOverrides } from '../config/overrides.js';
import { type Dataset, loadDataset } from '../data/mnist.js';
import { drawRunAnimations } from '../report/animation.js';
import { REPORT_FILE, writeRunReport } from '../report/page.js';
import { snapshotFigures } from '../report/snapshot-figures.js';
import { EXTRA_FIGURES } from '../report/extra-figures.js';
import { figureNaming, type View, viewsOf } from '../run/figure-names.js';
import { checkWritableFolder, errnoText, prepareRunDir, runDirRefusal } from '../run/folder.js';
import { acquireRunLock } from '../run/lock.js';
import { applyResume, checkResumeData, planResume, type ResumePlan } from '../run/resume.js';
import { chooseBackend, chooseThreads, type TrainingThreads, warnIfSlow } from '../train/engine-choice.js';
import { TrainingInterrupted } from '../train/epoch.js';
import type { NanPolicy } from '../train/nan-guard.js';
import { train, type TrainOptions, type TrainResult } from '../train/trainer.js';
import { command, shellPath } from '../util/command-line.js';
import { Interrupted, UserError } from '../util/errors.js';
import { writeFilesAllOrNone } from '../util/fsx.js';
import { stopOnSignals } from '../util/signals.js';
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
  view?: ViewChoice;
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
  /** No progress lines, warnings only. */
  quiet?: boolean;
  /** Draw the animation of the valid features at the end of the run (default true). */
  animation?: boolean;
  /** Write the run's report page, <run>/report.html (default true). */
  report?: boolean;
  /** Receives every training event (the CLI draws its progress bar from them). */
  onEvent?: TrainOptions['onEvent'] & { interrupt?: () => void };
  /** Where the start-up lines go (default: stderr, none when `quiet`). */
  log?: (line: string) => void;
  /** Where warnings go (default: stderr as `warning: ...`); `during` is true once training has
   *  started (a figure that could not be drawn), when a progress line may be on the screen. */
  warn?: (message: string, during: boolean) => void;
  /** CPU threads for training: data-parallel worker threads on wasm (default: the run's own
   *  count when resuming, else the number of cores). */
  threads?: number;
  /** Runs in place of each step's forward and backward pass, to instrument a step or inject a
   *  fault (docs/library.md, "Training in a program"; TrainOptions.wrapStep). */
  wrapStep?: TrainOptions['wrapStep'];
}

export function defaultRunDir(config: ResolvedConfig): string {
  return join('runs', `${config.name}-${config.profile}`);
}

/** Figure sizes a run can draw (the config's plot.width and plot.height range). */
export const FIGURE_SIZE = { min: 100, max: 8000 };

export interface TrainCommandResult extends TrainResult {
  config: ResolvedConfig;
  files: string[];
  /** Figures that could not be drawn (the run itself finished; `facelosses plot` redraws them). */
  drawErrors: string[];
}

/** What a train is about to do, decided before anything is written. */
export interface TrainRunPlan {
  config: ResolvedConfig;
  /** The run to continue (--resume), else undefined. */
  resume?: ResumePlan;
  /** The overrides given on the command line. */
  overrides: Overrides;
  outDir: string;
  picsDir: string;
}

/**
 * Resolves the config (or the resumed run's), the plot settings and the folders, and checks every
 * output setting before anything is written or trained. Notes go to `warn`.
 */
export function planTrainRun(o: TrainCommandOptions, warn: (m: string) => void): TrainRunPlan {
  if (o.config === undefined && o.resume === undefined) throw new UserError("required option '-c, --config <file>' not specified (or continue a run with --resume RUN_DIR)");
  const overrides = pickOverrides(o);
  const resume = o.resume !== undefined ? planResume({ dir: o.resume, config: o.config, profile: o.profile, overrides, out: o.out, force: o.force }, warn) : undefined;
  const config = resume?.config ?? loadConfigFile(o.config!, o.profile ?? DEFAULT_PROFILE, overrides, warn);
  if (o.view) {
    const vp = viewProblem(o.view, config.model.embeddingDim);
    if (vp) throw new UserError(`--view ${o.view}: ${vp}`);
    config.plot.view = o.view;
  }
  if (o.colorBy) config.plot.colorBy = o.colorBy;
  if (o.width) config.plot.width = o.width;
  if (o.height) config.plot.height = o.height;
  for (const [k, v] of [['width', config.plot.width], ['height', config.plot.height]] as const) {
    if (!Number.isInteger(v) || v < FIGURE_SIZE.min || v > FIGURE_SIZE.max) {
      throw new UserError(`figure ${k} ${v} (--size, plot.${k}) is outside ${FIGURE_SIZE.min}..${FIGURE_SIZE.max} pixels; use e.g. --size 640x480`);
    }
  }
  const outDir = resume?.dir ?? resolve(o.out ?? defaultRunDir(config));
  const picsDir = resolve(o.pics ?? resume?.info.pics ?? join(outDir, 'pics'));
  if (!resume) {
    const refusal = runDirRefusal(outDir, Boolean(o.force));
    if (refusal) throw new UserError(refusal);
    checkWritableFolder(outDir, '--out');
  }
  checkWritableFolder(picsDir, '--pics');
  return { config, resume, overrides, outDir, picsDir };
}

/** The data, read and checked against the run before anything is written. */
export function loadTrainingData(p: TrainRunPlan): Dataset {
  const dataset = loadDataset(p.config.data);
  if (p.resume) checkResumeData(p.resume, dataset);
  else if (dataset.train.count < p.config.train.batchSize) {
    throw new UserError(`the training set has ${dataset.train.count} images, fewer than one batch of ${p.config.train.batchSize} (train.batchSize); use more images or a smaller batch`);
  }
  return dataset;
}

/**
 * Takes the run folder: its lock (one process per run folder, taken before anything in it is
 * replaced), then puts a resumed run back to its checkpoint, or clears the folder for a new run.
 * Returns the lock's release.
 */
export function claimRunFolder(p: TrainRunPlan, force: boolean): () => void {
  if (!p.resume) return prepareRunDir(p.outDir, force);
  const unlock = acquireRunLock(p.outDir);
  try {
    applyResume(p.resume);
  } catch (e) {
    unlock();
    throw e;
  }
  return unlock;
}

/** The first lines of a train: what runs, on which engine, into which folder. */
export function startLines(p: TrainRunPlan, backend: BackendInfo, workers: number, profileDefaulted: boolean): string[] {
  const { config, resume } = p;
  const schedule = `${config.train.epochs} epoch${config.train.epochs === 1 ? '' : 's'}${config.data.trainLimit ? ` on at most ${config.data.trainLimit.toLocaleString('en-US')} training images` : ''}`;
  const defaulted = !resume && profileDefaulted ? ' (the default; --profile full trains the config as written)' : '';
  const position = resume?.checkpoint.position;
  return [
    `facelosses: ${config.name} (${shellPath(config.source)}, loss ${config.loss.name}), profile ${config.profile}: ${schedule}${defaulted}`,
    `backend ${backend.detail}${workers > 1 ? `, ${workers} data-parallel threads` : ''}`,
    `run folder: ${relative(process.cwd(), p.outDir) || '.'}${resume ? `, resuming after epoch ${resume.checkpoint.epoch}${position ? ` and ${position.step} steps of epoch ${position.epoch}` : ''}` : ''}`,
  ];
}

/**
 * `facelosses train`: plans the run (config, resume, folders), reads the data, starts the engine,
 * takes the run folder, then trains, drawing the figures at each snapshot epoch. Ctrl-C or SIGTERM
 * finishes the current step, saves a checkpoint and ends in Interrupted (exit 130 or 143).
 */
export async function trainCommand(o: TrainCommandOptions): Promise<TrainCommandResult> {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const say = o.warn ?? ((m: string, during: boolean) => process.stderr.write(`${during && !o.quiet ? '\n' : ''}warning: ${m}\n`));
  const printWarnings = () => warnings.splice(0).forEach((w) => say(w, false));
  const log = o.log ?? ((s: string) => (o.quiet ? undefined : process.stderr.write(s + '\n')));
  const plan = planTrainRun(o, warn);
  printWarnings();
  const dataset = loadTrainingData(plan);
  const { config, resume, outDir, picsDir } = plan;
  const backend = await chooseBackend(o.backend, resume?.checkpoint, warn);
  if (resume && resume.info.codeVersion !== codeVersion()) warn(`the run was started with code version ${resume.info.codeVersion}, this is ${codeVersion()}; it may not match an uninterrupted run exactly`);
  warnIfSlow(backend, warn);
  const { workers, threads }: TrainingThreads = chooseThreads(backend, o.threads, resume?.checkpoint, warn);
  printWarnings();
  const unlock = claimRunFolder(plan, Boolean(o.force));
  startLines(plan, backend, workers, o.profile === undefined).forEach(log);
  const figures = snapshotFigures(config, picsDir, (msg) => say(msg, true));
  const stop = stopOnSignals('saving a checkpoint at the end of this step', 'the last checkpoint is kept', o.onEvent?.interrupt && (() => o.onEvent!.interrupt!()));
  const result = await train({
    config,
    outDir,
    backend: backend.name,
    backendThreads: threads,
    workers,
    dataset,
    resume: resume?.checkpoint,
    runInfo: {
      ...(resume ? resume.info : { overrides: plan.overrides }),
      pics: picsDir === join(outDir, 'pics') ? undefined : picsDir,
    },
    nanPolicy: o.nanPolicy,
    signal: stop.signal,
    wrapStep: o.wrapStep,
    onEvent: o.onEvent,
    onSnapshot: figures.onSnapshot,
  })
    .catch((e: unknown) => {
      if (e instanceof TrainingInterrupted) {
        throw new Interrupted(`${e.message}; continue with: ${command('train', '--resume', shellPath(outDir))}`, e.signal === 'SIGTERM' ? 143 : 130);
      }
      throw e;
    })
    .finally(() => {
      stop.dispose();
      unlock();
    });
  const files = figures.files;
  const drawErrors = figures.drawErrors;
  files.push(...(await finishingFigures(config, outDir, picsDir, drawErrors, say)));
  if (o.animation !== false) files.push(...(await animateFinishedRun(outDir, picsDir, config, log, say)));
  // The run's report page; one that cannot be written stops nothing (`facelosses report` writes it later).
  if (o.report !== false) {
    try {
      files.push(writeRunReport(outDir, join(outDir, REPORT_FILE)).file);
    } catch (e) {
      say(`the report page could not be written (${errnoText(e)}); write it with ${command('report', '--run', shellPath(outDir))}`, false);
    }
  }
  return { ...result, config, files, drawErrors };
}

/**
 * The figures drawn once a run has finished (src/report/extra-figures.ts): a classifier with
 * several weight columns a class (Sub-center ArcFace) gets every sub-center over the last valid
 * features; AdaFace gets the last valid features coloured by the norm's margin ẑ.
 */
async function finishingFigures(config: ResolvedConfig, outDir: string, picsDir: string, drawErrors: string[], say: (m: string, during: boolean) => void): Promise<string[]> {
  const files: string[] = [];
  for (const extra of EXTRA_FIGURES) {
    try {
      const fig = await extra.render(outDir, config, figureNaming(config), scheduleNote(config), picsDir);
      if (!fig) continue;
      writeFilesAllOrNone([{ file: fig.file, data: fig.png }]);
      files.push(fig.file);
    } catch (e) {
      const msg = `${extra.what} could not be drawn (${errnoText(e)}); redraw it with ${command('plot', '--run', shellPath(outDir))}`;
      drawErrors.push(msg);
      say(msg, false);
    }
  }
  return files;
}

/**
 * The animation of a finished run's valid features (one per view); like a figure, one that cannot
 * be drawn stops nothing: a warning says how to draw it later.
 */
async function animateFinishedRun(runDir: string, picsDir: string, config: ResolvedConfig, log: (s: string) => void, say: (m: string, during: boolean) => void): Promise<string[]> {
  // 2-D: one animation per view drawn (raw, unit); 3-D: the two opposite views of the sphere; none beyond 3-D.
  const dim = config.model.embeddingDim;
  if (dim !== 2 && dim !== 3) return [];
  const views: View[] = dim === 3 ? ['pair'] : viewsOf(config.plot.view).filter((v) => v === 'raw' || v === 'unit');
  const t0 = performance.now();
  try {
    const files = await drawRunAnimations(runDir, { picsDir, views, colorBy: config.plot.colorBy, width: config.plot.width, height: config.plot.height });
    log(`animation drawn in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return files;
  } catch (e) {
    const msg = `the animation could not be drawn (${errnoText(e)}); draw it with ${command('animate', '--run', shellPath(runDir))}`;
    say(msg, false);
    return [];
  }
}
