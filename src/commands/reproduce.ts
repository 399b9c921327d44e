/**
 * `facelosses reproduce`: every config of configs/ trained under one profile, in parallel worker
 * processes (each `facelosses train` process has its own backend instance), then every figure in
 * pics/, a contact sheet, the separability numbers and the README gallery.
 *
 * Batches pick up where they stopped: a run whose folder already holds a finished run of the same
 * resolved config and code version, with its figures, is skipped; an unfinished one is resumed
 * when `train --resume` exists, else started over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadImage } from '@napi-rs/canvas';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../backend.js';
import { type BatchOverrides, type Profile, PROFILE_SETTINGS, type ResolvedConfig, loadConfigFile, warmupPhrase } from '../config/config.js';
import { overrideArgs, pickOverrides } from '../config/overrides.js';
import type { QueueRunner } from '../queue/types.js';
import { formatDuration } from '../util/duration.js';
import { findRunDirs, matchCollected, planBatch, type PlanEntry, planEntries, type PlannedTask, sameConfig, sortByRegistry } from '../batch/plan.js';
import { isPng, pngSize, writeContactSheetPng } from '../plot/scatter.js';
import { figureNaming, type View, viewsOf } from '../report/figures.js';
import { expectedFigures, GALLERY_END, GALLERY_START, type GalleryRun, galleryMarkdown, hasGalleryMarkers, replaceGallery, SUMMARY_END, SUMMARY_START, summaryMarkdown } from '../report/gallery.js';
import { isRunDir, readMetrics, readRunInfo, type RunInfo } from '../run/run.js';
import { ensureSeparability } from '../run/separability.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { codeVersion } from '../version.js';
import { plotCommand } from './plot.js';

const BIN = fileURLToPath(new URL('../../bin/facelosses.js', import.meta.url));
const PACKAGE_CONFIGS = fileURLToPath(new URL('../../configs', import.meta.url));

/**
 * Losses whose information is all in the angle: reproduce draws them both raw and on the unit
 * circle unless the config or --view says otherwise.
 */

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
  view?: 'raw' | 'unit' | 'both';
  backend?: BackendName;
  /**
   * README to regenerate: a path, false for none; by default README.md of the current folder,
   * only when the figures go to its pics/ folder.
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

export interface ReproduceResult {
  outcomes: RunOutcome[];
  gallery: GalleryRun[];
  figures: string[];
  contactSheet?: string;
  readme?: string;
  /** Problems found when checking the outputs (missing or unreadable figures). */
  problems: string[];
  ok: boolean;
}

export { batchView, listConfigs, sameConfig } from '../batch/plan.js';

/** Checks that a file is a PNG that decodes; returns a problem or null. */
export async function checkPng(file: string): Promise<string | null> {
  if (!existsSync(file)) return `missing: ${file}`;
  const buf = readFileSync(file);
  if (!isPng(buf)) return `not a PNG: ${file}`;
  try {
    const { width, height } = pngSize(buf);
    if (width < 1 || height < 1) return `empty PNG: ${file}`;
    const img = await loadImage(buf);
    if (img.width !== width || img.height !== height) return `PNG does not decode to its size: ${file}`;
  } catch (e) {
    return `unreadable PNG ${file}: ${(e as Error).message}`;
  }
  return null;
}

let trainHelp: string | undefined;
/** `facelosses train --help`, to find optional features (--resume, --threads) of this version. */
function trainHelpText(): string {
  if (trainHelp === undefined) {
    const r = spawnSync(process.execPath, [BIN, 'train', '--help'], { encoding: 'utf8', timeout: 60_000 });
    trainHelp = r.stdout ?? '';
  }
  return trainHelp;
}
const trainHas = (flag: string) => new RegExp(`(^|\\s)${flag}[\\s,=]`, 'm').test(trainHelpText());

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

/** The reference schedule of the configs in words; values that differ between configs are listed. */
export function describeFullSchedule(files: string[]): string | undefined {
  const cfgs: ResolvedConfig[] = [];
  for (const f of files) {
    try {
      cfgs.push(loadConfigFile(f, 'full'));
    } catch {
      // reported elsewhere
    }
  }
  if (!cfgs.length) return undefined;
  const vals = (get: (c: ResolvedConfig) => string | number) => [...new Set(cfgs.map(get))].join(' or ');
  const data = cfgs.every((c) => c.data.trainLimit === null && c.data.validLimit === null) ? 'all of MNIST' : 'the data each config names';
  return `${vals((c) => c.train.epochs)} epochs on ${data}, batch ${vals((c) => c.train.batchSize)}, Adam lr ${vals((c) => c.train.lr)}${vals((c) => warmupPhrase(c.train))} decayed ×${vals((c) => c.train.lrGamma)} every ${vals((c) => c.train.lrStepEpochs)} epochs, snapshots at epochs ${vals((c) => c.snapshots.join(', '))}`;
}

/** A path relative to the current folder when inside it, else absolute. */
export function displayPath(p: string): string {
  return rel(p);
}

function rel(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
}

/** The figures a finished run should have in `picsDir`, and whether they are all there. */
function runFigures(info: RunInfo, picsDir: string) {
  const naming = figureNaming(info.config);
  const views = viewsOf(info.config.plot.view) as View[];
  const figures = expectedFigures(picsDir, info.config, naming, views);
  return { naming, views, figures, present: figures.every((f) => existsSync(f.file)) };
}

/**
 * A finished run folder as the gallery shows it: its figures in `picsDir` (drawn from the saved
 * features when missing), metrics and separability (computed when missing).
 */
export async function loadGalleryRun(runDir: string, picsDir: string, stem: string, configFile: string): Promise<GalleryRun> {
  const info = readRunInfo(runDir);
  let figs = runFigures(info, picsDir);
  if (!figs.present) {
    await plotCommand({ run: runDir, out: picsDir });
    figs = runFigures(info, picsDir);
  }
  return {
    stem,
    configFile,
    config: info.config,
    naming: figs.naming,
    views: figs.views,
    figures: figs.figures,
    metrics: readMetrics(runDir),
    separability: ensureSeparability(runDir),
    backend: info.backend,
  };
}

function childArgs(t: PlannedTask, o: ReproduceOptions, pics: string, threads: number | undefined, resume: boolean): string[] {
  const args = resume ? ['train', '--resume', t.runDir] : ['train', '--config', t.file, '--profile', t.config.profile, '--out', t.runDir, '--force', '--view', t.view];
  args.push('--pics', pics, '--quiet');
  if (o.backend) args.push('--backend', o.backend);
  if (threads !== undefined) args.push('--threads', String(threads));
  if (!resume) {
    args.push(...overrideArgs(pickOverrides(o, 'batch')));
    if (o.width !== undefined || o.height !== undefined) args.push('--size', `${o.width ?? t.config.plot.width}x${o.height ?? t.config.plot.height}`);
  }
  return args;
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** How long a worker may linger after its run.json says finished before it is ended. */
const EXIT_GRACE_MS = 30_000;

function runChild(args: string[], children: Set<ReturnType<typeof spawn>>, runDir: string): Promise<ChildResult> {
  return new Promise((resolveP) => {
    // Own process group: a Ctrl-C reaches the workers once, forwarded by the batch (a second
    // SIGINT would make them stop without saving their checkpoint).
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    children.add(child);
    // A worker that has written its finished run but does not exit (a thread pool kept alive) is
    // ended after a grace period; its run counts by what run.json says.
    let finishedAt = 0;
    const spawnedAt = Date.now() - 1000;
    const watch = setInterval(() => {
      try {
        const info = !finishedAt && isRunDir(runDir) ? readRunInfo(runDir) : undefined;
        if (info?.status === 'finished' && Date.parse(info.finishedAt ?? '') >= spawnedAt) finishedAt = Date.now();
      } catch {
        // run.json being replaced: look again next time
      }
      if (finishedAt && Date.now() - finishedAt > EXIT_GRACE_MS) child.kill('SIGKILL');
    }, 2000);
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-20_000);
    });
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
    });
    child.on('close', (code, signal) => {
      clearInterval(watch);
      children.delete(child);
      resolveP({ code: finishedAt && signal === 'SIGKILL' ? 0 : code, signal, stderr });
    });
  });
}

/** The reproduce options the batch plan takes as they are (selection, overrides, figure settings). */
function planInputs(o: ReproduceOptions) {
  const { only, force, view, width, height } = o;
  return { only, force, view, width, height, ...pickOverrides(o, 'batch') };
}

/** `reproduce --plan`: every selected config with its job id and the plain `train` that does it; nothing is run. */
export async function reproducePlan(o: ReproduceOptions = {}): Promise<PlanEntry[]> {
  tf.env().set('PROD', true);
  const profile: Profile = o.profile ?? 'quick';
  const pics = resolve(o.pics ?? 'pics');
  const plan = planBatch({
    profile,
    configsDir: resolve(o.configsDir ?? (existsSync('configs') ? 'configs' : PACKAGE_CONFIGS)),
    outRoot: resolve(o.out ?? 'runs'),
    ...planInputs(o),
    codeVersion: codeVersion(),
    log: o.log ?? ((s: string) => process.stderr.write(s + '\n')),
    figuresPresent: (info) => runFigures(info, pics).present,
    canResume: () => true,
  });
  return planEntries(plan, profile, o);
}

/** The finished run folders under `dir` (--collect), matched to the resolved configs by content. */
function collectRuns(dir: string): (runs: Iterable<import('../batch/plan.js').PlannedRun>) => Map<string, string> {
  if (!existsSync(dir)) throw new UserError(`--collect ${rel(dir)}: no such folder`);
  const dirs = findRunDirs(dir);
  return (runs) => matchCollected(dirs, runs);
}

export async function reproduceCommand(o: ReproduceOptions = {}): Promise<ReproduceResult> {
  // This process only names figures (loss objects on tfjs's default backend) and draws: no
  // 'install tfjs-node' banner.
  tf.env().set('PROD', true);
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const profile: Profile = o.profile ?? 'quick';
  const configsDir = resolve(o.configsDir ?? (existsSync('configs') ? 'configs' : PACKAGE_CONFIGS));
  const outRoot = resolve(o.out ?? 'runs');
  const pics = resolve(o.pics ?? 'pics');
  const jobs = Math.max(1, o.jobs ?? availableParallelism());
  const version = codeVersion();

  // What to do with each config (src/batch/plan.ts). --collect: each config's run is wherever a
  // finished run of it lies under the folder, and nothing is trained.
  const collected = o.collect !== undefined ? collectRuns(resolve(o.collect)) : undefined;
  const plan = planBatch({
    profile,
    configsDir,
    outRoot,
    ...planInputs(o),
    codeVersion: version,
    log,
    figuresPresent: (info) => runFigures(info, pics).present,
    canResume: () => trainHas('--resume'),
  });
  const { all, selected, resolved } = plan;
  const outcomes: RunOutcome[] = [];
  for (const f of plan.failures) {
    outcomes.push({ stem: f.stem, configFile: rel(f.file), runDir: '', status: 'failed', message: f.message });
    log(`${f.stem}: FAILED before training: ${f.message}`);
  }
  let tasks = plan.tasks;
  if (collected) {
    const found = collected(resolved.values());
    // A config without a finished run there is missing (never taken from --out).
    for (const r of resolved.values()) r.runDir = found.get(r.stem) ?? join(resolve(o.collect!), `${r.config.name}-${profile}`);
    for (const t of tasks) {
      const dir = found.get(t.stem);
      if (dir) outcomes.push({ stem: t.stem, configFile: rel(t.file), runDir: dir, status: 'collected', validAccuracy: readRunInfo(dir).validAccuracy });
    }
    log(`reproduce --collect: ${found.size} of ${resolved.size} config(s) have a finished run under ${rel(resolve(o.collect!))}`);
    tasks = [];
  }

  // Up-to-date runs first (no work), then redraws (no training), then training in parallel.
  for (const t of tasks.filter((t) => t.action === 'skip' || t.action === 'redraw')) {
    const info = readRunInfo(t.runDir);
    if (t.action === 'redraw') await plotCommand({ run: t.runDir, out: pics });
    const secs = readMetrics(t.runDir).at(-1)?.elapsedSeconds;
    outcomes.push({ stem: t.stem, configFile: rel(t.file), runDir: t.runDir, status: t.action === 'skip' ? 'up to date' : 'redrawn', validAccuracy: info.validAccuracy, seconds: typeof secs === 'number' ? secs : undefined });
    log(`${t.stem}: ${t.action === 'skip' ? 'up to date' : 'figures redrawn from saved features'} (valid acc ${info.validAccuracy !== undefined ? (100 * info.validAccuracy).toFixed(2) + '%' : '?'}), ${rel(t.runDir)}`);
  }

  const queue = tasks.filter((t) => t.action === 'train' || t.action === 'resume');
  const total = queue.length;
  if (total > 0 && o.queue) {
    outcomes.push(...(await o.queue.run(queue, { profile, pics, force: Boolean(o.force), log })));
  } else if (total > 0) {
    const workers = Math.min(jobs, total);
    const cores = availableParallelism();
    const threads = trainHas('--threads') && (o.backend ?? 'auto') !== 'cpu' ? Math.max(1, Math.floor(cores / workers)) : undefined;
    log(`reproduce: ${total} run${total === 1 ? '' : 's'} to train (profile ${profile}), ${workers} worker process${workers === 1 ? '' : 'es'}${threads ? ` x ${threads} thread(s)` : ''}; ${tasks.length - total} up to date`);
    const children = new Set<ReturnType<typeof spawn>>();
    let interrupted = false;
    let signalled: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted = true;
      signalled = sig;
      for (const ch of children) ch.kill(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const t0 = performance.now();
    const started = new Map<PlannedTask, number>();
    const durations: number[] = [];
    let done = 0;
    let next = 0;
    const eta = () => {
      if (!durations.length) return '?';
      const avg = durations.reduce((a, b) => a + b, 0) / durations.length;
      const now = performance.now();
      let work = (total - next) * avg;
      let longest = 0;
      for (const s of started.values()) {
        const left = Math.max(0, avg - (now - s) / 1000);
        work += left;
        longest = Math.max(longest, left);
      }
      return formatDuration(Math.max(longest, work / workers));
    };
    const worker = async () => {
      while (!interrupted && next < queue.length) {
        const t = queue[next++]!;
        started.set(t, performance.now());
        let resume = t.action === 'resume';
        let r = await runChild(childArgs(t, o, pics, threads, resume), children, t.runDir);
        if (resume && r.code !== 0 && !interrupted) {
          log(`${t.stem}: resume failed (${lastLine(r.stderr) || `exit ${r.code}`}); starting over`);
          resume = false;
          r = await runChild(childArgs(t, o, pics, threads, false), children, t.runDir);
        }
        const seconds = (performance.now() - started.get(t)!) / 1000;
        started.delete(t);
        done++;
        const base = { stem: t.stem, configFile: rel(t.file), runDir: t.runDir, seconds };
        let info: RunInfo | undefined;
        try {
          info = isRunDir(t.runDir) ? readRunInfo(t.runDir) : undefined;
        } catch {
          info = undefined;
        }
        if (r.code === 0 && info?.status === 'finished') {
          durations.push(seconds);
          outcomes.push({ ...base, status: resume ? 'resumed' : 'trained', validAccuracy: info.validAccuracy });
          log(`[${done}/${total}] ${t.stem}: ${resume ? 'resumed and finished' : 'done'} in ${formatDuration(seconds)}, valid acc ${info.validAccuracy !== undefined ? (100 * info.validAccuracy).toFixed(2) + '%' : '?'}${done < total ? `; ETA ${eta()}` : ''}`);
        } else {
          const why = lastLine(r.stderr) || (r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`);
          outcomes.push({ ...base, status: 'failed', message: why });
          log(`[${done}/${total}] ${t.stem}: ${interrupted ? 'interrupted' : 'FAILED'} after ${formatDuration(seconds)}: ${why}${done < total ? `; ETA ${eta()}` : ''}`);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (interrupted) throw new UserError(`interrupted after ${done} of ${total} runs (${formatDuration((performance.now() - t0) / 1000)}); run the same command again to pick up where it stopped`, signalled === 'SIGTERM' ? 143 : 130);
  }

  // Gallery: every config (selected or not) with a finished run of the current resolved config.
  const problems: string[] = [];
  const gallery: GalleryRun[] = [];
  const missing: { stem: string; message: string }[] = [];
  for (const c of sortByRegistry(all.map((c) => ({ ...c, config: resolved.get(c.stem)?.config })))) {
    const r = resolved.get(c.stem);
    const failed = outcomes.find((x) => x.stem === c.stem && x.status === 'failed');
    if (!r || failed) {
      if (failed || selected.includes(c)) missing.push({ stem: c.stem, message: failed?.message ?? 'config error' });
      continue;
    }
    let info: RunInfo | undefined;
    try {
      info = isRunDir(r.runDir) ? readRunInfo(r.runDir) : undefined;
    } catch {
      info = undefined;
    }
    if (!info || info.status !== 'finished' || !sameConfig(info.config, r.config)) {
      missing.push({ stem: c.stem, message: info ? `run in ${rel(r.runDir)} is ${info.status !== 'finished' ? info.status : 'of another config'}` : 'not run yet' });
      continue;
    }
    gallery.push(await loadGalleryRun(r.runDir, pics, c.stem, rel(r.file)));
  }

  // Contact sheet: every loss's valid figure at its last snapshot.
  let contactSheet: string | undefined;
  if (gallery.length) {
    const tiles = [];
    for (const g of gallery) {
      const last = g.config.snapshots[g.config.snapshots.length - 1]!;
      const f = g.figures.find((x) => x.split === 'valid' && x.epoch === last && x.view === g.views[0]);
      if (!f || (await checkPng(f.file))) continue; // reported by the output check below
      const acc = g.metrics.at(-1)?.validAccuracy;
      const shared = gallery.filter((x) => x.naming.displayName === g.naming.displayName).length > 1;
      tiles.push({ title: `${g.naming.displayName}${shared ? ` (${g.stem})` : ''}: ${acc !== undefined ? (100 * acc).toFixed(2) + '%' : '?'}`, png: readFileSync(f.file) });
    }
    if (tiles.length) {
      contactSheet = join(pics, 'contact-sheet.png');
      const title = `facelosses: valid features at the last snapshot (${profile} profile)`;
      await writeContactSheetPng(contactSheet, tiles, { columns: Math.min(5, tiles.length), tileWidth: 320, title });
    }
  }

  // Check every output.
  const figures = gallery.flatMap((g) => g.figures.map((f) => f.file));
  for (const f of [...figures, ...(contactSheet ? [contactSheet] : [])]) {
    const p = await checkPng(f);
    if (p) problems.push(p);
  }
  const seen = new Map<string, string>();
  for (const g of gallery) {
    for (const f of g.figures) {
      const other = seen.get(f.file);
      if (other && other !== g.stem) problems.push(`configs ${other} and ${g.stem} draw the same file ${rel(f.file)}`);
      seen.set(f.file, g.stem);
    }
  }

  // Summary for machines, next to the runs.
  const summary = {
    format: 'facelosses-reproduce/1',
    profile,
    codeVersion: version,
    pics: rel(pics),
    contactSheet: contactSheet ? rel(contactSheet) : null,
    runs: sortByRegistry(outcomes.map((x) => ({ ...x, config: resolved.get(x.stem)?.config }))).map(({ config: _c, ...x }) => ({ ...x, runDir: x.runDir ? rel(x.runDir) : null })),
    problems,
  };
  writeFileAtomic(join(outRoot, `reproduce-${profile}.json`), JSON.stringify(summary, null, 2) + '\n');

  // The gallery (docs/gallery.md, or the file --readme names) and the README's summary.
  let readme: string | undefined;
  const defaultGallery = resolve('docs', 'gallery.md');
  const defaultReadme = resolve('README.md');
  if (o.readme !== false) {
    const target = o.readme ? resolve(o.readme) : pics === resolve('pics') ? defaultGallery : undefined;
    if (target) {
      const cmd = ['npx facelosses reproduce', `--profile ${profile}`];
      if (o.view) cmd.push(`--view ${o.view}`);
      const ref = resolved.values().next().value;
      const fullSchedule = describeFullSchedule([...resolved.values()].map((r) => r.file));
      const profileDescription0 = profile === 'full' ? 'the schedule each config file gives' : PROFILE_SETTINGS[profile].describe;
      const profileDescription = ref?.config.customized ? `${profileDescription0} (with command-line overrides)` : profileDescription0;
      const common = { contactSheet, command: cmd.join(' '), profile, profileDescription, fullSchedule, missing, codeVersion: version };
      // A gallery file that does not exist yet is created with its markers; an existing one must have them.
      const text = existsSync(target) ? readFileSync(target, 'utf8') : `# Gallery\n\n${GALLERY_START}\n${GALLERY_END}\n`;
      if (!hasGalleryMarkers(text)) {
        problems.push(`${rel(target)} has no gallery markers (${GALLERY_START} ... ${GALLERY_END}); add them where the gallery should go`);
      } else {
        const md = galleryMarkdown(gallery, { ...common, readmeDir: dirname(target) });
        const next = replaceGallery(text, md);
        if (next !== text) {
          mkdirSync(dirname(target), { recursive: true });
          writeFileAtomic(target, next);
        }
        readme = target;
        // The README's summary (contact sheet, accuracy table, headline figures), between its own markers.
        // With --readme, only that file; by default README.md of the current folder.
        const summaryTarget = [o.readme ? target : defaultReadme].find((f) => existsSync(f) && hasGalleryMarkers(readFileSync(f, 'utf8'), SUMMARY_START, SUMMARY_END));
        if (summaryTarget) {
          const st = readFileSync(summaryTarget, 'utf8');
          const sm = summaryMarkdown(gallery, { ...common, readmeDir: dirname(summaryTarget), galleryFile: target });
          const sn = replaceGallery(st, sm, SUMMARY_START, SUMMARY_END);
          if (sn !== st) writeFileAtomic(summaryTarget, sn);
        }
      }
    }
  }

  const failed = outcomes.filter((x) => x.status === 'failed');
  return { outcomes, gallery, figures, contactSheet, readme, problems, ok: failed.length === 0 && problems.length === 0 };
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
