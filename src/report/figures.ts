/**
 * From saved snapshots to PNG files named like the reference figures:
 *   <pics>/<Folder>/<DisplayName>-<split>_<params, epoch=N>.png
 * e.g. pics/L2Softmax/L2-SoftmaxLoss-valid_alpha=1.0, trainable=True, epoch=300.png.
 * A run that is not the full reference schedule says its profile in every title.
 */
import { join } from 'node:path';
import { type ResolvedConfig, type ViewChoice, scheduleNote } from '../config/config.js';
import { getLossDefinition } from '../losses/registry.js';
import { lossDisplayName } from '../losses/types.js';
import { renderScatterPng } from '../plot/scatter.js';
import { renderSpherePng } from '../plot/sphere.js';
import { formatTitleParams } from '../plot/title.js';
import { writeFilesAllOrNone } from '../util/fsx.js';
import type { Snapshot, SplitName } from '../run/snapshot.js';

/** One figure of a snapshot: raw or unit (2-D and 3-D), pair or map (3-D). */
export type View = 'raw' | 'unit' | 'pair' | 'map';

export interface FigureOptions {
  /** Folder that receives <Folder>/<file>.png. */
  picsDir: string;
  views?: View[];
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
}

export interface FigureNaming {
  folder: string;
  displayName: string;
  titleParams: Record<string, unknown>;
  /** Parameters printed as integers (m=3, not m=3.0), from the loss's schema. */
  integerKeys: string[];
  /** The feature dimension (model.embeddingDim): 3-D figures say 3d in their file names. */
  dim: number;
}

/** Names a loss's figures from its config, through its definition alone (no loss, no tensors). */
export function figureNaming(config: ResolvedConfig): FigureNaming {
  const def = getLossDefinition(config.loss.name);
  const params = config.loss.params;
  const integerKeys = Object.entries(def.params)
    .filter(([, p]) => p.type === 'integer')
    .map(([k]) => k);
  return { folder: def.figureFolder ?? def.displayName, displayName: lossDisplayName(def, params), titleParams: def.titleParams(params), integerKeys, dim: config.model.embeddingDim };
}

/** What a figure shows besides the loss's parameters: the split, the colouring and the view. */
export interface FigureContext {
  split: SplitName;
  colorBy?: 'predicted' | 'true';
  view?: View;
}

/**
 * Two lines: the loss, the split, the colour mode (and the view and schedule when not the
 * reference's), then the parameters as the reference figures print them (`alpha=1.0, epoch=100`).
 * Without `ctx`, only the second line with the schedule.
 */
export function figureTitle(naming: FigureNaming, epoch: number, schedule: string, ctx?: FigureContext): string {
  const base = formatTitleParams(naming.titleParams, epoch, { integerKeys: naming.integerKeys });
  if (!ctx) return schedule ? `${base} (${schedule})` : base;
  const head = [
    naming.displayName,
    ctx.split === 'valid' ? 'valid (test images)' : 'train',
    `coloured by ${ctx.colorBy === 'true' ? 'true' : 'predicted'} class`,
    ...viewPhrase(naming.dim, ctx.view),
    ...(schedule ? [schedule] : []),
  ].join(', ');
  return `${head}\n${base}`;
}

/** The title's words for a view: '3-D features on the unit sphere, two opposite views', ... */
function viewPhrase(dim: number, view: View | undefined): string[] {
  if (dim === 2) return view === 'unit' ? ['on the unit circle'] : [];
  const d = `${dim}-D features`;
  if (view === 'unit') return [`${d} on the unit sphere`];
  if (view === 'pair') return [`${d} on the unit sphere, two opposite views`];
  if (view === 'map') return [`${d} on the unit sphere, equal-area map`];
  return [`raw ${d}`];
}

/**
 * <Folder>/<stem>[_unit].png for 2-D; <stem>_3d[_unit|_pair|_map].png for 3-D features, the same
 * stem as the 2-D figure of the same loss and parameters.
 */
export function figurePath(picsDir: string, naming: FigureNaming, split: SplitName, epoch: number, view: View = 'raw'): string {
  const stem = `${naming.displayName}-${split}_${formatTitleParams(naming.titleParams, epoch, { integerKeys: naming.integerKeys })}`;
  const dim = naming.dim === 2 ? '' : `_${naming.dim}d`;
  return join(picsDir, naming.folder, `${stem}${dim}${view === 'raw' ? '' : '_' + view}.png`);
}

/** The PNGs of one snapshot, in memory: nothing is written. */
export async function renderSnapshot(snap: Snapshot, naming: FigureNaming, schedule: string, opts: FigureOptions): Promise<Array<{ file: string; png: Buffer }>> {
  const out: Array<{ file: string; png: Buffer }> = [];
  if (snap.embeddingDim !== 2 && snap.embeddingDim !== 3) return out; // no figures beyond 3-D
  for (const view of opts.views ?? ['raw']) {
    const title = figureTitle(naming, snap.epoch, schedule, { split: snap.split, colorBy: opts.colorBy, view });
    const file = figurePath(opts.picsDir, naming, snap.split, snap.epoch, view);
    if (snap.embeddingDim === 3) {
      const png = await renderSpherePng(
        {
          points: snap.features,
          colorLabels: opts.colorBy === 'true' ? snap.labels : snap.predicted,
          labelLabels: snap.labels,
          numClasses: snap.numClasses,
          title,
          width: opts.width,
          height: opts.height,
          classDirections: snap.classWeights,
        },
        view,
      );
      out.push({ file, png });
      continue;
    }
    if (view === 'pair' || view === 'map') continue; // 3-D views
    const png = await renderScatterPng({
      points: snap.features,
      colorLabels: opts.colorBy === 'true' ? snap.labels : snap.predicted,
      numClasses: snap.numClasses,
      title: figureTitle(naming, snap.epoch, schedule, { split: snap.split, colorBy: opts.colorBy, view }),
      width: opts.width,
      height: opts.height,
      view,
    });
    out.push({ file: figurePath(opts.picsDir, naming, snap.split, snap.epoch, view), png });
  }
  return out;
}

/** Draws one snapshot's figures: all of them or none. */
export async function drawSnapshot(snap: Snapshot, naming: FigureNaming, schedule: string, opts: FigureOptions): Promise<string[]> {
  const figs = await renderSnapshot(snap, naming, schedule, opts);
  writeFilesAllOrNone(figs.map((f) => ({ file: f.file, data: f.png })));
  return figs.map((f) => f.file);
}

/**
 * The figures a view choice draws for features of dimension `dim`: every view of 3-D features
 * for 'all'; the 3-D-only views drop out for 2-D (train and plot refuse them first); none beyond 3-D.
 */
export function viewsOf(v: ViewChoice, dim = 2): View[] {
  if (dim > 3) return [];
  const views: View[] = v === 'both' ? ['raw', 'unit'] : v === 'all' ? ['raw', 'unit', 'pair', 'map'] : [v];
  return dim === 3 ? views : views.filter((x) => x === 'raw' || x === 'unit');
}
