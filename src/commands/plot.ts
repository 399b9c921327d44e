/** `facelosses plot`: redraw figures from a run's saved snapshots, without training. */
import { join } from 'node:path';
import { drawSnapshot, figureNaming, viewsOf } from '../report/figures.js';
import { scheduleNote } from '../config/config.js';
import { readRunInfo } from '../run/run.js';
import { listSnapshots, loadSnapshot, type SplitName } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';

export interface PlotCommandOptions {
  run: string;
  epoch?: number;
  split?: SplitName;
  out?: string;
  view?: 'raw' | 'unit' | 'both';
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
}

export async function plotCommand(o: PlotCommandOptions): Promise<string[]> {
  const info = readRunInfo(o.run);
  const all = listSnapshots(o.run);
  if (all.length === 0) throw new UserError(`${o.run} has no saved snapshots yet (they are written at the snapshot epochs: ${info.config.snapshots.join(', ')})`);
  const chosen = all.filter((s) => (o.epoch === undefined || s.epoch === o.epoch) && (o.split === undefined || s.split === o.split));
  if (chosen.length === 0) {
    const epochs = [...new Set(all.map((s) => s.epoch))].join(', ');
    throw new UserError(`${o.run} has no ${o.split ? o.split + ' ' : ''}snapshot${o.epoch !== undefined ? ` at epoch ${o.epoch}` : ''}; saved epochs: ${epochs}`);
  }
  const naming = figureNaming(info.config);
  const files: string[] = [];
  for (const s of chosen) {
    files.push(
      ...(await drawSnapshot(loadSnapshot(s.file), naming, scheduleNote(info.config), {
        picsDir: o.out ?? join(o.run, 'pics'),
        views: viewsOf(o.view ?? info.config.plot.view),
        colorBy: o.colorBy ?? info.config.plot.colorBy,
        width: o.width ?? info.config.plot.width,
        height: o.height ?? info.config.plot.height,
      })),
    );
  }
  return files;
}
