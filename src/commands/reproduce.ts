/**
 * `facelosses reproduce`: every config of configs/ trained under one profile, in parallel worker
 * processes (each `facelosses train` process has its own backend instance), then every figure in
 * pics/, a contact sheet, the separability numbers and the README gallery.
 *
 * Batches pick up where they stopped: a run whose folder already holds a finished run of the same
 * config (src/config/identity.ts) and code version, with its figures, is skipped; an unfinished
 * one is resumed (started over when `train --resume` refuses it).
 *
 * The parts: what to do with each config (src/batch/plan.ts, pure), the local process pool
 * (src/batch/pool.ts) or a queue (src/queue/), and the outputs (src/report/batch.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../backend.js';
import { type BatchPlan, findRunDirs, matchCollected, planBatch, type PlanEntry, planEntries, type PlannedTask, refusals, type RunOutcome, sortByRegistry, splitTasks } from '../batch/plan.js';
import { runPool } from '../batch/pool.js';
import { type BatchOverrides, PACKAGE_CONFIGS, type Profile, type ViewChoice } from '../config/config.js';
import { pickOverrides } from '../config/overrides.js';
import type { QueueRunner } from '../queue/types.js';
import { galleryRefusal, galleryTarget, runFigures, writeBatchOutputs } from '../report/batch.js';
import { displayPath } from '../util/fsx.js';
import type { GalleryRun } from '../report/gallery.js';
import { readRunInfo } from '../run/run.js';
import { formatDuration } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { codeVersion } from '../version.js';
import { checkWritableFolder } from './outputs.js';
import { plotCommand } from './plot.js';

export { batchView, listConfigs, sameConfig, type RunOutcome, type RunStatus } from '../batch/plan.js';
export { checkPng, describeFullSchedule, loadGalleryRun } from '../report/batch.js';
export { displayPath } from '../util/fsx.js';

export interface ReproduceOptions extends BatchOverrides {
  profile?: Profile;
  /** Config file stems to run (default: all). */
  only?: string[];
  jobs?: number;
  force?: boolean;
  /** Folder that receives one run folder per config: <out>/<name>-<profile>. Default runs/. */
  out?: string;
  /** Folder for the figures: <pics>/<Folder>/<file>.png and contact-sheet.png. Default pics/. */
  pics?: string;
  view?: ViewChoice;
  backend?: BackendName;
  /**
   * Gallery file to regenerate: a path, false for none; by default docs/gallery.md and the
   * README's summary, only in the facelosses repository with the figures in its pics/ folder
   * (src/report/batch.ts galleryTarget).
   */
  readme?: string | false;
  /** Folder with the configs, a glob over file names, or one file (default configs/ of the current folder, else the package's). */
  configsDir?: string;
  /** Draw from the finished run folders found under this folder (runs gathered from elsewhere); nothing is trained. */
  collect?: string;
  /** Train on the workers of a queue instead of local processes (see src/queue/). */
  queue?: QueueRunner;
  width?: number;
  height?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface ReproduceResult {
  outcomes: RunOutcome[];
  gallery: GalleryRun[];
  figures: string[];
  contactSheet?: string;
  readme?: string;
  /** The gallery's report page (<out>/gallery-<profile>.html): every run on one slider. */
  galleryReport?: string;
  /** Problems found when checking the outputs (missing or unreadable figures). */
  problems: string[];
  ok: boolean;
}

/** The reproduce options the batch plan takes as they are (selection, overrides, figure settings). */
function planInputs(o: ReproduceOptions) {
  const { only, force, view, width, height } = o;
  return { only, force, view, width, height, ...pickOverrides(o, 'batch') };
}

/** The plan of a batch for these options (src/batch/plan.ts). */
function planFor(o: ReproduceOptions, log: (line: string) => void): { plan: BatchPlan; profile: Profile; pics: string; outRoot: string; version: string } {
  const profile: Profile = o.profile ?? 'quick';
  const pics = resolve(o.pics ?? 'pics');
  const outRoot = resolve(o.out ?? 'runs');
  const version = codeVersion();
  const plan = planBatch({
    profile,
    configsDir: resolve(o.configsDir ?? (existsSync('configs') ? 'configs' : PACKAGE_CONFIGS)),
    outRoot,
    ...planInputs(o),
    codeVersion: version,
    log,
    figuresPresent: (info) => runFigures(info, pics).present,
  });
  return { plan, profile, pics, outRoot, version };
}

const stderrLog = (s: string) => process.stderr.write(s + '\n');
const pct = (x?: number) => (x !== undefined ? (100 * x).toFixed(2) + '%' : '?');

/** `reproduce --plan`: every selected config with its job id and the plain `train` that does it; nothing is run. */
export async function reproducePlan(o: ReproduceOptions = {}): Promise<PlanEntry[]> {
  tf.env().set('PROD', true);
  const log = o.log ?? stderrLog;
  const { plan, profile } = planFor(o, log);
  const refused = refusals(plan.tasks);
  if (refused) log(`warning: ${refused}`);
  return planEntries(plan, profile, o);
}

/**
 * --collect DIR: each config's run is the folder under DIR that holds a finished run of it (a
 * config without one is missing, never taken from --out); nothing is trained.
 */
function collectRuns(plan: BatchPlan, dir: string, profile: Profile, log: (line: string) => void): RunOutcome[] {
  if (!existsSync(dir)) throw new UserError(`--collect ${displayPath(dir)}: no such folder`);
  const found = matchCollected(findRunDirs(dir), plan.resolved.values());
  for (const r of plan.resolved.values()) r.runDir = found.get(r.stem) ?? join(dir, `${r.config.name}-${profile}`);
  log(`reproduce --collect: ${found.size} of ${plan.resolved.size} config(s) have a finished run under ${displayPath(dir)}`);
  return plan.tasks.flatMap((t) => {
    const runDir = found.get(t.stem);
    return runDir ? [{ stem: t.stem, configFile: displayPath(t.file), runDir, status: 'collected' as const, validAccuracy: readRunInfo(runDir).validAccuracy }] : [];
  });
}

/** The runs that need no training: up to date, or redrawn from their saved features. */
async function finishReady(tasks: PlannedTask[], pics: string, log: (line: string) => void): Promise<RunOutcome[]> {
  const outcomes: RunOutcome[] = [];
  for (const t of tasks) {
    const info = readRunInfo(t.runDir);
    if (t.action === 'redraw') await plotCommand({ run: t.runDir, out: pics });
    // No time: nothing was trained now (the table's time is this batch's work).
    outcomes.push({ stem: t.stem, configFile: displayPath(t.file), runDir: t.runDir, status: t.action === 'skip' ? 'up to date' : 'redrawn', validAccuracy: info.validAccuracy });
    log(`${t.stem}: ${t.action === 'skip' ? 'up to date' : 'figures redrawn from saved features'} (valid acc ${pct(info.validAccuracy)}), ${displayPath(t.runDir)}`);
  }
  return outcomes;
}

/**
 * Everything that would stop a batch, checked before the first run trains: a run of another
 * config in a run folder, and every output location (--out with the batch report, --pics, the
 * gallery file).
 */
function checkBeforeWork(o: ReproduceOptions, plan: BatchPlan, pics: string, outRoot: string): void {
  if (o.collect === undefined) {
    const refused = refusals(plan.tasks);
    if (refused) throw new UserError(refused);
  }
  checkWritableFolder(outRoot, '--out');
  checkWritableFolder(pics, '--pics');
  const gallery = galleryTarget(o.readme, pics);
  if (gallery) {
    const refusal = galleryRefusal(gallery);
    if (refusal) throw new UserError(refusal);
    checkWritableFolder(dirname(gallery), '--readme');
  }
}

export async function reproduceCommand(o: ReproduceOptions = {}): Promise<ReproduceResult> {
  // This process only names figures (loss objects on tfjs's default backend) and draws: no
  // 'install tfjs-node' banner.
  tf.env().set('PROD', true);
  const log = o.log ?? stderrLog;
  const { plan, profile, pics, outRoot, version } = planFor(o, log);
  checkBeforeWork(o, plan, pics, outRoot);
  const outcomes: RunOutcome[] = [];
  for (const f of plan.failures) {
    outcomes.push({ stem: f.stem, configFile: displayPath(f.file), runDir: '', status: 'failed', message: f.message });
    log(`${f.stem}: FAILED before training: ${f.message}`);
  }
  if (o.collect !== undefined) outcomes.push(...collectRuns(plan, resolve(o.collect), profile, log));
  // Up-to-date runs first (no work), then redraws (no training), then training in parallel.
  const { ready, toTrain } = splitTasks(o.collect !== undefined ? [] : plan.tasks);
  outcomes.push(...(await finishReady(ready, pics, log)));
  if (toTrain.length && o.queue) outcomes.push(...(await o.queue.run(toTrain, { profile, pics, force: Boolean(o.force), log })));
  else if (toTrain.length) outcomes.push(...(await runPool(toTrain, { ...pickOverrides(o, 'batch'), jobs: o.jobs, profile, pics, backend: o.backend, width: o.width, height: o.height, upToDate: ready.length, log })));

  const out = await writeBatchOutputs({ plan, outcomes, profile, codeVersion: version, outRoot, pics, readme: o.readme, view: o.view });
  const failed = outcomes.filter((x) => x.status === 'failed');
  return { outcomes, ...out, ok: failed.length === 0 && out.problems.length === 0 };
}

/** The accuracy table for the terminal. */
export function formatOutcomes(r: ReproduceResult): string {
  const rows = sortByRegistry(r.outcomes.map((x) => ({ ...x, config: r.gallery.find((g) => g.stem === x.stem)?.config })));
  const w = Math.max(6, ...rows.map((x) => x.stem.length));
  const lines = [`${'config'.padEnd(w)}  ${'status'.padEnd(10)}  valid acc   time`];
  for (const x of rows) {
    lines.push(`${x.stem.padEnd(w)}  ${x.status.padEnd(10)}  ${(x.validAccuracy !== undefined ? (100 * x.validAccuracy).toFixed(2) + '%' : '-').padStart(9)}  ${x.seconds !== undefined ? formatDuration(x.seconds) : '-'}${x.message ? `  ${x.message}` : ''}`);
  }
  return lines.join('\n');
}
