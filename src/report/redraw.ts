/** Redraws a run's figures from its saved snapshots: all of them or none. */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { scheduleNote, type ViewChoice, viewProblem } from '../config/config.js';
import { figureNaming, viewsOf } from '../run/figure-names.js';
import { readRunInfo } from '../run/run.js';
import { listSnapshots, loadSnapshot, type SplitName } from '../run/snapshot.js';
import { shellPath } from '../util/command-line.js';
import { UserError } from '../util/errors.js';
import { writeFilesAllOrNone } from '../util/fsx.js';
import { renderSnapshot } from './figures.js';
import { EXTRA_FIGURES } from './extra-figures.js';

export interface RedrawOptions {
  /** The run folder. */
  run: string;
  /** Only this snapshot epoch, only this split. */
  epoch?: number;
  split?: SplitName;
  /** Where PNGs go (default <run>/pics); the rest default to the run's plot settings. */
  out?: string;
  view?: ViewChoice;
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
}

/** Draws the chosen snapshots of `o.run` and returns the files written. */
export async function redrawRun(o: RedrawOptions): Promise<string[]> {
  // Drawing needs no engine; loss objects (for the figure names) live on tfjs's default engine:
  // no 'install tfjs-node' banner.
  tf.env().set('PROD', true);
  const run = o.run;
  const info = readRunInfo(run);
  const all = listSnapshots(run);
  if (all.length === 0) throw new UserError(`${run} has no saved snapshots yet (they are written at the snapshot epochs: ${info.config.snapshots.join(', ')})`);
  const chosen = all.filter((s) => (o.epoch === undefined || s.epoch === o.epoch) && (o.split === undefined || s.split === o.split));
  if (chosen.length === 0) {
    const epochs = [...new Set(all.map((s) => s.epoch))].join(', ');
    throw new UserError(`${run} has no ${o.split ? o.split + ' ' : ''}snapshot${o.epoch !== undefined ? ` at epoch ${o.epoch}` : ''}; saved epochs: ${epochs}`);
  }
  const naming = figureNaming(info.config);
  if (o.view) {
    const vp = viewProblem(o.view, naming.dim);
    if (vp) throw new UserError(`--view ${o.view}: ${vp}`);
  }
  // Every snapshot is read and every figure drawn in memory first: a corrupt snapshot or a
  // failed write leaves no partial set of figures behind.
  const snaps = chosen.map((s) => loadSnapshot(s.file));
  const figs: Array<{ file: string; png: Buffer }> = [];
  for (const snap of snaps) {
    figs.push(
      ...(await renderSnapshot(snap, naming, scheduleNote(info.config), {
        picsDir: o.out ?? join(run, 'pics'),
        views: viewsOf(o.view ?? info.config.plot.view, naming.dim),
        colorBy: o.colorBy ?? info.config.plot.colorBy,
        width: o.width ?? info.config.plot.width,
        height: o.height ?? info.config.plot.height,
      })),
    );
  }
  // The extra figures (Sub-center ArcFace's sub-centers, AdaFace's margins) over the valid
  // features of the last snapshot, when that snapshot is among the chosen ones.
  if (o.split !== 'train') {
    const config = { ...info.config, plot: { ...info.config.plot, width: o.width ?? info.config.plot.width, height: o.height ?? info.config.plot.height } };
    for (const extra of EXTRA_FIGURES) {
      const fig = await extra.render(run, config, naming, scheduleNote(info.config), o.out ?? join(run, 'pics'));
      if (fig && snaps.some((s) => s.split === 'valid' && s.epoch === fig.epoch)) figs.push(fig);
    }
  }
  try {
    writeFilesAllOrNone(figs.map((f) => ({ file: f.file, data: f.png })));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot write the figures to ${shellPath(o.out ?? join(run, 'pics'))}: ${code ?? (e as Error).message}; none was written: choose another --out`, 2);
  }
  return figs.map((f) => f.file);
}
