/**
 * From saved snapshots to PNG files named like the reference figures:
 *   <pics>/<Folder>/<DisplayName>-<split>_<params, epoch=N>.png
 * e.g. pics/L2Softmax/L2-SoftmaxLoss-valid_alpha=1.0, trainable=True, epoch=300.png.
 * A run that is not the full reference schedule says its profile in every title.
 */
import { join } from 'node:path';
import { type ResolvedConfig, scheduleNote } from '../config/config.js';
import { getLossDefinition } from '../losses/registry.js';
import { lossDisplayName } from '../losses/types.js';
import { renderScatterPng } from '../plot/scatter.js';
import { formatTitleParams } from '../plot/title.js';
import { writeFilesAllOrNone } from '../util/fsx.js';
import type { Snapshot, SplitName } from '../run/snapshot.js';

export type View = 'raw' | 'unit';

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
}

/** Names a loss's figures from its config, through its definition alone (no loss, no tensors). */
export function figureNaming(config: ResolvedConfig): FigureNaming {
  const def = getLossDefinition(config.loss.name);
  const params = config.loss.params;
  const integerKeys = Object.entries(def.params)
    .filter(([, p]) => p.type === 'integer')
    .map(([k]) => k);
  return { folder: def.figureFolder ?? def.displayName, displayName: lossDisplayName(def, params), titleParams: def.titleParams(params), integerKeys };
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
    ...(ctx.view === 'unit' ? ['on the unit circle'] : []),
    ...(schedule ? [schedule] : []),
  ].join(', ');
  return `${head}\n${base}`;
}

export function figurePath(picsDir: string, naming: FigureNaming, split: SplitName, epoch: number, view: View = 'raw'): string {
  const stem = `${naming.displayName}-${split}_${formatTitleParams(naming.titleParams, epoch, { integerKeys: naming.integerKeys })}`;
  return join(picsDir, naming.folder, `${stem}${view === 'unit' ? '_unit' : ''}.png`);
}

/** The PNGs of one snapshot, in memory: nothing is written. */
export async function renderSnapshot(snap: Snapshot, naming: FigureNaming, schedule: string, opts: FigureOptions): Promise<Array<{ file: string; png: Buffer }>> {
  const out: Array<{ file: string; png: Buffer }> = [];
  for (const view of opts.views ?? ['raw']) {
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

export function viewsOf(v: 'raw' | 'unit' | 'both'): View[] {
  return v === 'both' ? ['raw', 'unit'] : [v];
}
