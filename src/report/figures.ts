/**
 * From saved snapshots to PNG files named like the reference figures (src/run/figure-names.ts).
 * A run that is not the full reference schedule says its profile in every title.
 */
import { type ResolvedConfig, type ViewChoice, scheduleNote } from '../config/config.js';
import { renderScatterPng } from '../plot/scatter.js';
import { renderSpherePng } from '../plot/sphere.js';
import { formatTitleParams } from '../plot/title.js';
import { writeFilesAllOrNone } from '../util/fsx.js';
import { type FigureNaming, figurePath, type View } from '../run/figure-names.js';
import type { Snapshot, SplitName } from '../run/snapshot.js';

export { type FigureNaming, figureNaming, figurePath, type View, viewsOf } from '../run/figure-names.js';

export interface FigureOptions {
  /** Folder that receives <Folder>/<file>.png. */
  picsDir: string;
  views?: View[];
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
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
