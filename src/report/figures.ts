/**
 * From saved snapshots to PNG files named like the reference figures:
 *   <pics>/<Folder>/<DisplayName>-<split>_<params, epoch=N>.png
 * e.g. pics/L2Softmax/L2-SoftmaxLoss-valid_alpha=1.0, trainable=True, epoch=300.png.
 * A run that is not the full reference schedule says its profile in every title.
 */
import { join } from 'node:path';
import { type ResolvedConfig, scheduleNote } from '../config/config.js';
import { getLossDefinition } from '../losses/registry.js';
import { formatTitleParams, writeScatterPng } from '../plot/scatter.js';
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

/** Names a loss's figures from its config (the loss object is not needed). */
export function figureNaming(config: ResolvedConfig): FigureNaming {
  const def = getLossDefinition(config.loss.name);
  const loss = def.create(config.loss.params, { numClasses: 10, embeddingDim: 2 });
  try {
    const integerKeys = Object.entries(def.params)
      .filter(([, p]) => p.type === 'integer')
      .map(([k]) => k);
    return { folder: def.figureFolder ?? def.displayName, displayName: loss.displayName, titleParams: loss.titleParams(), integerKeys };
  } finally {
    loss.dispose();
  }
}

export function figureTitle(naming: FigureNaming, epoch: number, schedule: string): string {
  const base = formatTitleParams(naming.titleParams, epoch, { integerKeys: naming.integerKeys });
  return schedule ? `${base} (${schedule})` : base;
}

export function figurePath(picsDir: string, naming: FigureNaming, split: SplitName, epoch: number, view: View = 'raw'): string {
  const stem = `${naming.displayName}-${split}_${formatTitleParams(naming.titleParams, epoch, { integerKeys: naming.integerKeys })}`;
  return join(picsDir, naming.folder, `${stem}${view === 'unit' ? '_unit' : ''}.png`);
}

export async function drawSnapshot(snap: Snapshot, naming: FigureNaming, schedule: string, opts: FigureOptions): Promise<string[]> {
  const files: string[] = [];
  for (const view of opts.views ?? ['raw']) {
    const file = figurePath(opts.picsDir, naming, snap.split, snap.epoch, view);
    await writeScatterPng(file, {
      points: snap.features,
      colorLabels: opts.colorBy === 'true' ? snap.labels : snap.predicted,
      numClasses: snap.numClasses,
      title: figureTitle(naming, snap.epoch, schedule),
      width: opts.width,
      height: opts.height,
      view,
    });
    files.push(file);
  }
  return files;
}

export function viewsOf(v: 'raw' | 'unit' | 'both'): View[] {
  return v === 'both' ? ['raw', 'unit'] : [v];
}
