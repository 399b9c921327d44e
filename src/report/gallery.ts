/**
 * The README gallery: markdown generated from finished run folders (figures, hyperparameters,
 * final accuracy and the separability numbers of every snapshot), and the replacement of the
 * part of README.md between the gallery markers. Pure text: nothing here trains or draws.
 */
import { relative, sep } from 'node:path';
import { type ResolvedConfig, warmupPhrase } from '../config/config.js';
import type { Separability } from '../metrics/separability.js';
import type { EpochMetrics } from '../run/run.js';
import type { SeparabilityFile } from '../run/separability-files.js';
import type { SplitName } from '../run/snapshot.js';
import { findLoss } from '../losses/registry.js';
import { figurePath, type FigureNaming, type View } from './figures.js';
import { formatDuration } from '../util/duration.js';

export const GALLERY_START = '<!-- gallery:start -->';
export const GALLERY_END = '<!-- gallery:end -->';
/** The README's short summary (contact sheet, accuracy table, headline figures) sits between these. */
export const SUMMARY_START = '<!-- summary:start -->';
export const SUMMARY_END = '<!-- summary:end -->';
/** The configs whose last valid figure the README shows, one per headline loss family. */
export const HEADLINE_CONFIGS = ['softmax', 'center', 'ringloss_r24', 'sphereface', 'cosface', 'arcface'] as const;

export interface ExpectedFigure {
  epoch: number;
  split: SplitName;
  view: View;
  file: string;
}

/** Every PNG a run draws into `picsDir`: snapshot epochs × splits × views. */
export function expectedFigures(picsDir: string, config: Pick<ResolvedConfig, 'snapshots'>, naming: FigureNaming, views: readonly View[]): ExpectedFigure[] {
  const out: ExpectedFigure[] = [];
  for (const epoch of config.snapshots) {
    for (const split of ['train', 'valid'] as const) {
      for (const view of views) out.push({ epoch, split, view, file: figurePath(picsDir, naming, split, epoch, view) });
    }
  }
  return out;
}

/** One finished run, as the gallery shows it. */
export interface GalleryRun {
  /** Config file stem, e.g. 'softmax'. */
  stem: string;
  /** The config file as the reader should see it, e.g. 'configs/softmax.yaml'. */
  configFile: string;
  /** The resolved config the run was trained with (from run.json). */
  config: ResolvedConfig;
  naming: FigureNaming;
  views: View[];
  figures: ExpectedFigure[];
  metrics: EpochMetrics[];
  separability: Map<number, SeparabilityFile>;
  backend?: string;
  /** Figures beyond the snapshot grid (e.g. Sub-center ArcFace's sub-centers), with a caption. */
  extraFigures?: { file: string; caption: string }[];
  /** The run's animations of its valid features that are there, one per view. */
  animations?: { file: string; view: View }[];
  /** The run's report page (`<run>/report.html`), when there is one. */
  report?: string;
}

export interface GalleryOptions {
  /** Folder of the README the links are relative to. */
  readmeDir: string;
  /** The contact sheet PNG, shown at the top, when there is one. */
  contactSheet?: string;
  /** The command that regenerates the gallery, e.g. 'npx facelosses reproduce --profile quick'. */
  command: string;
  /** The profile's schedule in words (PROFILE_SETTINGS[p].describe, or the reference schedule). */
  profileDescription: string;
  profile: string;
  /** The reference schedule in words, for the sentence that says what full runs use. */
  fullSchedule?: string;
  /** Configs that have no finished run, with the reason. */
  missing?: { stem: string; message: string }[];
  codeVersion?: string;
  /** The page with every run of the gallery on one slider (`<out>/gallery-<profile>.html`). */
  galleryReport?: string;
}

/** A relative link for markdown/HTML: forward slashes, spaces and link-breaking characters escaped. */
export function linkPath(fromDir: string, file: string): string {
  return relative(fromDir, file)
    .split(sep)
    .join('/')
    .replace(/%/g, '%25')
    .replace(/ /g, '%20')
    .replace(/\(/g, '%28')
    .replace(/\)/g, '%29')
    .replace(/#/g, '%23')
    .replace(/\?/g, '%3F')
    .replace(/"/g, '%22');
}

const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(2)}%`);
const degs = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(1)}°`);
function num(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2);
  return x.toPrecision(3).replace(/\.?0+$/, (m) => (m.includes('.') ? '' : m));
}
const normCell = (s: Separability | undefined) => (s ? `${num(s.normMean)} ± ${num(s.normStd)}` : '–');
const escapeCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function formatDurationShort(seconds: number | undefined): string {
  return seconds === undefined || !Number.isFinite(seconds) ? '–' : formatDuration(seconds);
}

/** The final epoch's metrics line, if any. */
export function finalMetrics(run: Pick<GalleryRun, 'metrics'>): EpochMetrics | undefined {
  return run.metrics[run.metrics.length - 1];
}

function lastValidSeparability(run: GalleryRun): Separability | undefined {
  const epochs = [...run.separability.keys()].sort((a, b) => a - b);
  for (let i = epochs.length - 1; i >= 0; i--) {
    const v = run.separability.get(epochs[i]!)?.valid;
    if (v) return v;
  }
  return undefined;
}

function paramList(params: Record<string, unknown>): string {
  const e = Object.entries(params);
  return e.length ? e.map(([k, v]) => `\`${k}=${JSON.stringify(v)}\``).join(', ') : 'none';
}

function scheduleLine(c: ResolvedConfig): string {
  const t = c.train;
  const data = [c.data.trainLimit ? `the first ${c.data.trainLimit.toLocaleString('en-US')} training images` : 'all training images', c.data.validLimit ? `the first ${c.data.validLimit.toLocaleString('en-US')} test images` : 'all test images'];
  return `${t.epochs} epochs on ${data.join(' and ')}, batch ${t.batchSize}, Adam lr ${t.lr} (weight decay ${t.weightDecay})${warmupPhrase(t)}, ×${t.lrGamma} every ${t.lrStepEpochs} epochs, seed ${t.seed}`;
}

/**
 * The markdown table of final valid accuracy (and separability at the last snapshot) per loss.
 * No training time: a batch trains its runs side by side, so a run's time says more about the
 * batch than about the loss.
 */
export function accuracyTable(runs: readonly GalleryRun[]): string {
  const lines = [
    '| loss | config | valid accuracy (final epoch) | nearest class mean, cosine | intra-class spread | smallest angle between class means | ‖feature‖ mean ± std |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of runs) {
    const m = finalMetrics(r);
    const s = lastValidSeparability(r);
    lines.push(
      `| ${escapeCell(r.naming.displayName)} | \`${escapeCell(r.configFile)}\` | ${pct(m?.validAccuracy)}${m ? ` (epoch ${m.epoch})` : ''} | ${pct(s?.nearestMeanCosineAccuracy)} | ${degs(s?.intraClassAngularSpread)} | ${degs(s?.minInterClassAngle)} | ${normCell(s)} |`,
    );
  }
  return lines.join('\n');
}

/** Column heads of the 3-D views. */
const SPHERE_VIEW_HEADS: Record<View, string> = { raw: 'raw 3-D', unit: 'sphere', pair: 'two opposite views', map: 'equal-area map' };

function figureTable(run: GalleryRun, readmeDir: string): string {
  const cols: { split: SplitName; view: View }[] = [];
  const sphere = run.naming.dim === 3;
  // 3-D: the test images in every view (the training images' figures lie next to them)
  for (const view of run.views) for (const split of sphere ? (['valid'] as const) : (['train', 'valid'] as const)) cols.push({ split, view });
  const width = cols.length >= 4 ? 200 : 320;
  const head = cols.map((c) =>
    sphere ? `${c.split}, ${SPHERE_VIEW_HEADS[c.view]}` : `${c.split}${run.views.length > 1 || c.view !== 'raw' ? (c.view === 'unit' ? ' (unit circle)' : ' (raw)') : ''}`,
  );
  const lines = [`| epoch | ${head.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const epoch of run.config.snapshots) {
    const cells = cols.map((c) => {
      const f = run.figures.find((x) => x.epoch === epoch && x.split === c.split && x.view === c.view);
      if (!f) return '–';
      const link = linkPath(readmeDir, f.file);
      return `<a href="${link}"><img src="${link}" width="${width}" alt="${run.naming.displayName} ${c.split} epoch ${epoch}${c.view === 'raw' ? '' : ' ' + c.view}"></a>`;
    });
    lines.push(`| ${epoch} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function separabilityTable(run: GalleryRun): string {
  const lines = [
    '| epoch | split | classifier accuracy | nearest class mean, cosine | intra-class spread | smallest angle between class means | ‖feature‖ mean ± std |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const epoch of [...run.separability.keys()].sort((a, b) => a - b)) {
    const f = run.separability.get(epoch)!;
    for (const split of ['train', 'valid'] as const) {
      const s = f[split];
      if (!s) continue;
      lines.push(`| ${epoch} | ${split} | ${pct(s.classifierAccuracy)} | ${pct(s.nearestMeanCosineAccuracy)} | ${degs(s.intraClassAngularSpread)} | ${degs(s.minInterClassAngle)} | ${normCell(s)} |`);
    }
  }
  return lines.join('\n');
}

/** The gallery section (without the markers). */
export function galleryMarkdown(runs: readonly GalleryRun[], o: GalleryOptions): string {
  const out: string[] = [];
  out.push('## Gallery', '');
  out.push(
    `Generated by \`${o.command}\`${o.codeVersion ? ` (code version ${o.codeVersion})` : ''}: every figure below comes from the **${o.profile}** profile, ${o.profileDescription}.` +
      (o.profile === 'full'
        ? ' This is the reference schedule of the original figures.'
        : ` Full runs (\`--profile full\`) use the reference schedule${o.fullSchedule ? ` (${o.fullSchedule})` : ''}; the shapes sharpen with the longer schedule.`),
    '',
    'Points are coloured by predicted class; the digit sits at each class mean. Metrics: *nearest class mean, cosine* is the accuracy of predicting the class whose mean direction is closest in angle; *intra-class spread* is the mean angle between a feature and its class mean direction, averaged over classes; *smallest angle* is between the two closest class mean directions.',
    '',
  );
  if (o.contactSheet) out.push(`<a href="${linkPath(o.readmeDir, o.contactSheet)}"><img src="${linkPath(o.readmeDir, o.contactSheet)}" alt="every loss's valid features at the last snapshot"></a>`, '');
  const watch = watchSentence(runs, o);
  if (watch) out.push(watch, '');
  // 2-D runs first; the runs with 3-D features (configs/3d/) in a section of their own
  const flat = runs.filter((r) => r.naming.dim === 2);
  const sphere = runs.filter((r) => r.naming.dim !== 2);
  out.push('### Valid accuracy per loss', '', accuracyTable(flat), '');
  if (o.missing?.length) {
    out.push(`Not in this gallery (no finished run): ${o.missing.map((m) => `\`${m.stem}\` (${escapeCell(m.message)})`).join('; ')}.`, '');
  }
  runSections(out, flat, o);
  if (sphere.length) {
    out.push('## Gallery: 3-D features on the sphere', '');
    out.push(
      'The same network with a 3-D last layer (`model: { embeddingDim: 3 }`, configs in `configs/3d/`): the hypersphere the margin losses are designed for. ' +
        'Per snapshot the test images in four views: the raw features in a 3-D projection with their norms per class; the unit sphere from a fixed viewpoint (the back hemisphere faded); two opposite views; a Hammer equal-area map of all directions. ' +
        'Diamonds mark the class weight directions. Angles are measured in 3-D. See docs/3d.md.',
      '',
    );
    out.push('### Valid accuracy per loss, 3-D', '', accuracyTable(sphere), '');
    runSections(out, sphere, o);
  }
  return out.join('\n').replace(/\n+$/, '\n');
}

/** Where the animations and report pages are, for the gallery's introduction. */
function watchSentence(runs: readonly GalleryRun[], o: GalleryOptions): string {
  const parts: string[] = [];
  if (runs.some((r) => r.animations?.length)) {
    parts.push("Each loss's section links the animation of its valid features forming (a GIF next to its figures)");
  }
  if (runs.some((r) => r.report) || o.galleryReport) {
    const gallery = o.galleryReport ? `[${linkPath(o.readmeDir, o.galleryReport)}](${linkPath(o.readmeDir, o.galleryReport)})` : undefined;
    parts.push(
      (parts.length ? 'and its report page' : "Each loss's section links its report page") +
        ' (slider, digit under the cursor, curves; docs/report.md)' +
        (gallery ? `; every loss side by side on one slider: ${gallery}` : '') +
        '. The report pages are written next to the run folders by the command above; they are made, not kept in the repository (a few MB each)',
    );
  }
  return parts.length ? parts.join(' ') + '.' : '';
}

/** The line of a run's section that links its animations and report page. */
function watchLine(r: GalleryRun, readmeDir: string): string | undefined {
  const links: string[] = [];
  const viewName = (v: View) => (r.naming.dim === 3 ? SPHERE_VIEW_HEADS[v] : v === 'unit' ? 'unit circle' : 'raw');
  const many = (r.animations?.length ?? 0) > 1;
  for (const a of r.animations ?? []) links.push(`[animation${many || r.naming.dim === 3 ? ` (${viewName(a.view)})` : ''}](${linkPath(readmeDir, a.file)})`);
  if (r.report) links.push(`[report page](${linkPath(readmeDir, r.report)})`);
  return links.length ? `- watch it form: ${links.join(' · ')}` : undefined;
}

function runSections(out: string[], runs: readonly GalleryRun[], o: GalleryOptions): void {
  let adaptiveIntro = false;
  for (const r of runs) {
    const m = finalMetrics(r);
    const note = findLoss(r.config.loss.name)?.figureNote;
    if (note && !adaptiveIntro) {
      adaptiveIntro = true;
      const adaptive = runs.filter((x) => findLoss(x.config.loss.name)?.figureNote);
      out.push('### Adaptive margins and scales (2019–2022)', '');
      out.push(
        'Sub-center ArcFace, AdaCos, CurricularFace, AdaFace and ElasticFace change ArcFace\'s margin or scale during training. What each picture shows that ArcFace\'s does not:',
        '',
      );
      for (const x of adaptive) out.push(`- **${x.naming.displayName}**: ${findLoss(x.config.loss.name)!.figureNote}`);
      out.push('');
    }
    out.push(`### ${r.naming.displayName} — \`${r.configFile}\``, '');
    if (note) out.push(`*${note}*`, '');
    if (r.config.description) out.push(`${r.config.description}.`.replace(/\.\.$/, '.'), '');
    out.push(`- loss \`${r.config.loss.name}\`, hyperparameters: ${paramList(r.config.loss.params)}`);
    out.push(`- schedule: ${scheduleLine(r.config)}`);
    const watch = watchLine(r, o.readmeDir);
    if (watch) out.push(watch);
    out.push(`- valid accuracy at the final epoch: **${pct(m?.validAccuracy)}**${m ? ` (epoch ${m.epoch}, ${formatDurationShort(typeof m.elapsedSeconds === 'number' ? m.elapsedSeconds : undefined)}${r.backend ? ` on ${r.backend}` : ''})` : ''}`, '');
    out.push(figureTable(r, o.readmeDir), '');
    for (const f of r.extraFigures ?? []) {
      const link = linkPath(o.readmeDir, f.file);
      out.push(`<a href="${link}"><img src="${link}" width="480" alt="${escapeCell(f.caption)}"></a>`, '', f.caption, '');
    }
    if (r.separability.size) out.push(separabilityTable(r), '');
  }
}

/**
 * Replaces what lies between the markers `start` and `end` (the gallery's by default) with `body`;
 * everything outside them is kept byte for byte. Throws when the markers are missing, repeated or
 * out of order.
 */
export function replaceGallery(readme: string, body: string, start = GALLERY_START, end = GALLERY_END): string {
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < 0) throw new Error(`the file has no markers ${start} ... ${end}`);
  if (readme.indexOf(start, a + 1) >= 0 || readme.indexOf(end, b + 1) >= 0) throw new Error(`the file has more than one pair of markers ${start} ... ${end}`);
  if (b < a) throw new Error(`the file's ${end} comes before ${start}`);
  const inner = body.endsWith('\n') ? body : body + '\n';
  return readme.slice(0, a + start.length) + '\n' + inner + readme.slice(b);
}

export function hasGalleryMarkers(readme: string, start = GALLERY_START, end = GALLERY_END): boolean {
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  return a >= 0 && b > a;
}

/**
 * The README's summary of a gallery: the contact sheet, the accuracy table, the last valid figure
 * of each headline loss, and a link to the whole gallery. It names no code version, so the README
 * changes only when the numbers or figures do.
 */
export function summaryMarkdown(runs: readonly GalleryRun[], o: GalleryOptions & { galleryFile: string }): string {
  const out: string[] = [];
  const galleryLink = linkPath(o.readmeDir, o.galleryFile);
  out.push(
    `Made by \`${o.command}\` (the **${o.profile}** profile: ${o.profileDescription}). Every figure, with its hyperparameters, schedule and separability at each snapshot, is in [${galleryLink}](${galleryLink}).`,
    '',
  );
  if (o.contactSheet) out.push(`<a href="${linkPath(o.readmeDir, o.contactSheet)}"><img src="${linkPath(o.readmeDir, o.contactSheet)}" alt="every loss's valid features at the last snapshot"></a>`, '');
  const heads = HEADLINE_CONFIGS.map((stem) => runs.find((r) => r.stem === stem)).filter((r): r is GalleryRun => r !== undefined);
  const cells = heads.flatMap((r) => {
    const last = r.config.snapshots[r.config.snapshots.length - 1];
    const f = r.figures.find((x) => x.epoch === last && x.split === 'valid' && x.view === 'raw') ?? r.figures.find((x) => x.epoch === last && x.split === 'valid');
    if (!f) return [];
    const link = linkPath(o.readmeDir, f.file);
    return [{ name: r.naming.displayName, html: `<a href="${link}"><img src="${link}" width="260" alt="${r.naming.displayName} valid epoch ${last}"></a>` }];
  });
  if (cells.length) {
    const rows: string[] = [];
    for (let i = 0; i < cells.length; i += 3) {
      const row = cells.slice(i, i + 3);
      rows.push(`| ${row.map((c) => c.name).join(' | ')} |`, `|${row.map(() => '---').join('|')}|`, `| ${row.map((c) => c.html).join(' | ')} |`, '');
    }
    out.push(...rows);
  }
  out.push('Valid accuracy per loss:', '', accuracyTable(runs), '');
  if (o.missing?.length) out.push(`Not in this gallery (no finished run): ${o.missing.map((m) => `\`${m.stem}\` (${escapeCell(m.message)})`).join('; ')}.`, '');
  return out.join('\n').replace(/\n+$/, '\n');
}
