/**
 * The outputs of a batch (`facelosses reproduce`), once its runs are done: the figures of every
 * finished run (drawn from saved features when missing), the contact sheet, a check that every
 * PNG decodes, reproduce-<profile>.json next to the runs, and the gallery (docs/gallery.md) with
 * the README's summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadImage } from '@napi-rs/canvas';
import type { BatchPlan, RunOutcome } from '../batch/plan.js';
import { sortByRegistry } from '../batch/plan.js';
import { type Profile, PROFILE_SETTINGS, type ResolvedConfig, loadConfigFile, warmupPhrase } from '../config/config.js';
import { sameConfig } from '../config/identity.js';
import { readableLayout, writeContactSheetPng } from '../plot/contact-sheet.js';
import { isPng, pngSize } from '../plot/png.js';
import { animationPath } from '../run/figure-names.js';
import { isRunDir, readMetrics, readRunInfo, type RunInfo } from '../run/run.js';
import { ensureSeparability } from '../run/separability-files.js';
import { displayPath, writeFileAtomic } from '../util/fsx.js';
import { makeFolder } from '../util/folders.js';
import { type FigureNaming, figureNaming, type View, viewsOf } from './figures.js';
import { redrawRun } from './redraw.js';
import { writeGalleryReport } from './page.js';
import { EXTRA_FIGURES } from './extra-figures.js';
import { expectedFigures, GALLERY_END, GALLERY_START, type GalleryRun, galleryMarkdown, hasGalleryMarkers, replaceGallery, SUMMARY_END, SUMMARY_START, summaryMarkdown } from './gallery.js';

const rel = displayPath;

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

/** The figures a finished run should have in `picsDir`, and whether they are all there. */
export function runFigures(info: RunInfo, picsDir: string) {
  const naming = figureNaming(info.config);
  const views = viewsOf(info.config.plot.view, naming.dim);
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
    await redrawRun({ run: runDir, out: picsDir });
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
    extraFigures: extraFigures(picsDir, figs.naming, info.config.snapshots),
    animations: ALL_VIEWS.map((view) => ({ view, file: animationPath(picsDir, figs.naming, 'valid', view) })).filter((a) => existsSync(a.file)),
    report: existsSync(join(runDir, 'report.html')) ? join(runDir, 'report.html') : undefined,
  };
}

const ALL_VIEWS = ['raw', 'unit', 'pair', 'map'] as const;

/**
 * Figures a run draws besides its snapshot grid that are there: the sub-center figure or the
 * AdaFace margin figure of its last epoch.
 */
export function extraFigures(picsDir: string, naming: FigureNaming, snapshots: number[]): { file: string; caption: string }[] {
  const last = snapshots[snapshots.length - 1];
  if (last === undefined) return [];
  return EXTRA_FIGURES.map((x) => ({ file: x.path(picsDir, naming, last), caption: x.caption(last) })).filter((f) => existsSync(f.file));
}

const readInfo = (dir: string): RunInfo | undefined => {
  try {
    return isRunDir(dir) ? readRunInfo(dir) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The gallery: every config (selected or not) with a finished run of its current resolved config,
 * in registry order; the others, when selected or failed, are listed as missing.
 */
async function galleryRuns(plan: BatchPlan, outcomes: RunOutcome[], pics: string) {
  const gallery: GalleryRun[] = [];
  const missing: { stem: string; message: string }[] = [];
  for (const c of sortByRegistry(plan.all.map((c) => ({ ...c, config: plan.resolved.get(c.stem)?.config })))) {
    const r = plan.resolved.get(c.stem);
    const failed = outcomes.find((x) => x.stem === c.stem && x.status === 'failed');
    if (!r || failed) {
      if (failed || plan.selected.some((s) => s.stem === c.stem)) missing.push({ stem: c.stem, message: failed?.message ?? 'config error' });
      continue;
    }
    const info = readInfo(r.runDir);
    if (!info || info.status !== 'finished' || !sameConfig(info.config, r.config)) {
      missing.push({ stem: c.stem, message: info ? `run in ${rel(r.runDir)} is ${info.status !== 'finished' ? info.status : 'of another config'}` : 'not run yet' });
      continue;
    }
    gallery.push(await loadGalleryRun(r.runDir, pics, c.stem, rel(r.file)));
  }
  return { gallery, missing };
}

/** The contact sheet: every loss's valid figure at its last snapshot; undefined when there is none. */
async function contactSheetOf(gallery: GalleryRun[], pics: string, profile: Profile): Promise<string | undefined> {
  const tiles: Array<{ title: string; png: Uint8Array }> = [];
  for (const g of gallery) {
    const last = g.config.snapshots[g.config.snapshots.length - 1]!;
    // 3-D runs: the sphere from its fixed viewpoint
    const view = g.naming.dim === 3 && g.views.includes('unit') ? 'unit' : g.views[0];
    const f = g.figures.find((x) => x.split === 'valid' && x.epoch === last && x.view === view);
    if (!f || (await checkPng(f.file))) continue; // reported by the output check
    const acc = g.metrics.at(-1)?.validAccuracy;
    const shared = gallery.filter((x) => x.naming.displayName === g.naming.displayName).length > 1;
    tiles.push({ title: `${g.naming.displayName}${shared ? ` (${g.stem})` : ''}: ${acc !== undefined ? (100 * acc).toFixed(2) + '%' : '?'}`, png: readFileSync(f.file) });
  }
  if (!tiles.length) return undefined;
  const file = join(pics, 'contact-sheet.png');
  const title = `facelosses: valid features at the last snapshot (${profile} profile)`;
  const figureWidth = Math.min(...tiles.map((t) => pngSize(Buffer.from(t.png)).width));
  await writeContactSheetPng(file, tiles, { ...readableLayout(tiles.length, figureWidth), title });
  return file;
}

/** Problems with the outputs: PNGs missing or not decoding, two configs drawing the same file. */
async function checkOutputs(gallery: GalleryRun[], files: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const f of files) {
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
  return problems;
}

export interface BatchOutputOptions {
  plan: BatchPlan;
  outcomes: RunOutcome[];
  profile: Profile;
  codeVersion: string;
  outRoot: string;
  pics: string;
  /** The gallery file: a path, false for none, undefined for the default (galleryTarget). */
  readme?: string | false;
  /** --view, as the gallery's command repeats it. */
  view?: string;
}

export interface BatchOutputs {
  gallery: GalleryRun[];
  figures: string[];
  contactSheet?: string;
  /** The gallery file written. */
  readme?: string;
  /** The gallery's report page: every run side by side on one slider. */
  galleryReport?: string;
  problems: string[];
}

/** Draws, checks and writes every output of a batch from its finished runs. */
export async function writeBatchOutputs(o: BatchOutputOptions): Promise<BatchOutputs> {
  const { plan, outcomes, profile, pics } = o;
  const { gallery, missing } = await galleryRuns(plan, outcomes, pics);
  const contactSheet = gallery.length ? await contactSheetOf(gallery, pics, profile) : undefined;
  const figures = gallery.flatMap((g) => g.figures.map((f) => f.file));
  const problems = await checkOutputs(gallery, [...figures, ...(contactSheet ? [contactSheet] : [])]);
  let galleryReport: string | undefined;
  if (gallery.length) {
    try {
      galleryReport = writeGalleryReport(gallery.map((g) => plan.resolved.get(g.stem)!.runDir), join(o.outRoot, `gallery-${profile}.html`)).file;
    } catch (e) {
      problems.push(`the gallery report page could not be written: ${(e as Error).message}`);
    }
  }

  // Summary for machines, next to the runs.
  const summary = {
    format: 'facelosses-reproduce/1',
    profile,
    codeVersion: o.codeVersion,
    pics: rel(pics),
    contactSheet: contactSheet ? rel(contactSheet) : null,
    galleryReport: galleryReport ? rel(galleryReport) : null,
    runs: sortByRegistry(outcomes.map((x) => ({ ...x, config: plan.resolved.get(x.stem)?.config }))).map(({ config: _c, ...x }) => ({ ...x, runDir: x.runDir ? rel(x.runDir) : null })),
    problems,
  };
  writeFileAtomic(join(o.outRoot, `reproduce-${profile}.json`), JSON.stringify(summary, null, 2) + '\n');

  const readme = o.readme === false ? undefined : writeGallery({ ...o, gallery, missing, contactSheet, problems, galleryReport });
  return { gallery, figures, contactSheet, readme, galleryReport, problems };
}

/**
 * The gallery (docs/gallery.md, or the file --readme names) and the README's summary. Returns the
 * gallery file, or undefined when none is written (figures elsewhere than ./pics, or no markers:
 * then a problem says so).
 */
/**
 * Whether the current folder is the facelosses repository (a clone: its package.json names
 * facelosses). Its docs/gallery.md and README.md are the repository's; anywhere else a batch
 * writes a gallery only where --readme says.
 */
export function inRepository(cwd = process.cwd()): boolean {
  try {
    return (JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { name?: unknown }).name === 'facelosses';
  } catch {
    return false;
  }
}

/**
 * The gallery file a batch writes: the file --readme names; none with --no-readme; by default
 * docs/gallery.md, only in the repository (inRepository) with the figures in its ./pics.
 */
export function galleryTarget(readme: string | false | undefined, pics: string): string | undefined {
  if (readme === false) return undefined;
  if (readme) return resolve(readme);
  return inRepository() && pics === resolve('pics') ? resolve('docs', 'gallery.md') : undefined;
}

/** Why the gallery cannot go into `target` (it exists without the gallery markers), or undefined. */
export function galleryRefusal(target: string): string | undefined {
  if (existsSync(target) && !hasGalleryMarkers(readFileSync(target, 'utf8'))) {
    return `${rel(target)} has no gallery markers (${GALLERY_START} ... ${GALLERY_END}); add them where the gallery should go, or give another file with --readme FILE (or --no-readme)`;
  }
  return undefined;
}

function writeGallery(o: BatchOutputOptions & { gallery: GalleryRun[]; missing: { stem: string; message: string }[]; contactSheet?: string; problems: string[]; galleryReport?: string }): string | undefined {
  const { profile, gallery } = o;
  const target = galleryTarget(o.readme, o.pics);
  if (!target) return undefined;
  const cmd = ['npx facelosses reproduce', `--profile ${profile}`];
  if (o.view) cmd.push(`--view ${o.view}`);
  const resolved = [...o.plan.resolved.values()];
  const fullSchedule = describeFullSchedule(resolved.map((r) => r.file));
  const profileDescription0 = profile === 'full' ? 'the schedule each config file gives' : PROFILE_SETTINGS[profile].describe;
  const profileDescription = resolved[0]?.config.customized ? `${profileDescription0} (with command-line overrides)` : profileDescription0;
  const common = { contactSheet: o.contactSheet, command: cmd.join(' '), profile, profileDescription, fullSchedule, missing: o.missing, codeVersion: o.codeVersion, galleryReport: o.galleryReport };
  // A gallery file that does not exist yet is created with its markers; an existing one must have them.
  const text = existsSync(target) ? readFileSync(target, 'utf8') : `# Gallery\n\n${GALLERY_START}\n${GALLERY_END}\n`;
  const refusal = galleryRefusal(target);
  if (refusal) {
    o.problems.push(refusal);
    return undefined;
  }
  const next = replaceGallery(text, galleryMarkdown(gallery, { ...common, readmeDir: dirname(target) }));
  if (next !== text) {
    makeFolder(dirname(target));
    writeFileAtomic(target, next);
  }
  // The README's summary (contact sheet, accuracy table, headline figures), between its own markers.
  // With --readme, only that file; by default the repository's README.md.
  const summaryTarget = [o.readme ? target : resolve('README.md')].find((f) => existsSync(f) && hasGalleryMarkers(readFileSync(f, 'utf8'), SUMMARY_START, SUMMARY_END));
  if (summaryTarget) {
    const st = readFileSync(summaryTarget, 'utf8');
    const sn = replaceGallery(st, summaryMarkdown(gallery, { ...common, readmeDir: dirname(summaryTarget), galleryFile: target }), SUMMARY_START, SUMMARY_END);
    if (sn !== st) writeFileAtomic(summaryTarget, sn);
  }
  return target;
}
