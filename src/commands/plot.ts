/** `facelosses plot`: redraw figures from a run's saved snapshots, without training. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { command, shellPath } from '../cli/hint.js';
import { renderSnapshot, figureNaming, viewsOf } from '../report/figures.js';
import { renderSubCenterFigure } from '../report/subcenters.js';
import { scheduleNote } from '../config/config.js';
import { RUN_FILE, readRunInfo } from '../run/run.js';
import { listSnapshots, loadSnapshot, type SplitName } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';
import { writeFilesAllOrNone } from '../util/fsx.js';

export interface PlotCommandOptions {
  /** The run folder; default: the most recent run under runs/ (see `latestRun`). */
  run?: string;
  epoch?: number;
  split?: SplitName;
  out?: string;
  view?: 'raw' | 'unit' | 'both';
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
  /** Where to say which run was chosen when `run` is not given (default: stderr). */
  log?: (line: string) => void;
}

/**
 * The run folders directly under `root` (default runs/), most recently changed first (by the
 * time of their run.json).
 */
export function listRuns(root = 'runs'): Array<{ dir: string; mtimeMs: number }> {
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  const out: Array<{ dir: string; mtimeMs: number }> = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const f = join(root, e.name, RUN_FILE);
    if (existsSync(f)) out.push({ dir: join(root, e.name), mtimeMs: statSync(f).mtimeMs });
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs || a.dir.localeCompare(b.dir));
}

/** The run `plot` draws when no --run is given: the most recent one with snapshots. */
export function latestRun(root = 'runs'): string {
  const runs = listRuns(root);
  if (runs.length === 0) {
    throw new UserError(`no --run given and no run folders in ${shellPath(root)}; train one first (${command('train', '--config', 'softmax')}) or give --run DIR`);
  }
  const withSnaps = runs.filter((r) => listSnapshots(r.dir).length > 0);
  if (withSnaps.length === 0) {
    throw new UserError(`no --run given and none of the runs in ${shellPath(root)} has saved snapshots yet (${runs.map((r) => shellPath(r.dir)).join(', ')}); wait for a snapshot epoch, or give --run DIR`);
  }
  return withSnaps[0]!.dir;
}

export async function plotCommand(o: PlotCommandOptions): Promise<string[]> {
  // This process only draws; loss objects (for the figure names) live on tfjs's default engine:
  // no 'install tfjs-node' banner.
  tf.env().set('PROD', true);
  let run = o.run;
  if (run === undefined) {
    run = latestRun();
    const others = listRuns().length - 1;
    (o.log ?? ((s: string) => process.stderr.write(s + '\n')))(`plotting ${shellPath(run)}, the most recent run${others > 0 ? ` (${others} other${others === 1 ? '' : 's'} in runs/; pick one with --run)` : ''}`);
  }
  const info = readRunInfo(run);
  const all = listSnapshots(run);
  if (all.length === 0) throw new UserError(`${run} has no saved snapshots yet (they are written at the snapshot epochs: ${info.config.snapshots.join(', ')})`);
  const chosen = all.filter((s) => (o.epoch === undefined || s.epoch === o.epoch) && (o.split === undefined || s.split === o.split));
  if (chosen.length === 0) {
    const epochs = [...new Set(all.map((s) => s.epoch))].join(', ');
    throw new UserError(`${run} has no ${o.split ? o.split + ' ' : ''}snapshot${o.epoch !== undefined ? ` at epoch ${o.epoch}` : ''}; saved epochs: ${epochs}`);
  }
  const naming = figureNaming(info.config);
  // Every snapshot is read and every figure drawn in memory first: a corrupt snapshot or a
  // failed write leaves no partial set of figures behind.
  const snaps = chosen.map((s) => loadSnapshot(s.file));
  const figs: Array<{ file: string; png: Buffer }> = [];
  for (const snap of snaps) {
    figs.push(
      ...(await renderSnapshot(snap, naming, scheduleNote(info.config), {
        picsDir: o.out ?? join(run, 'pics'),
        views: viewsOf(o.view ?? info.config.plot.view),
        colorBy: o.colorBy ?? info.config.plot.colorBy,
        width: o.width ?? info.config.plot.width,
        height: o.height ?? info.config.plot.height,
      })),
    );
  }
  if (o.split !== 'train') {
    const sub = await renderSubCenterFigure(run, info.config, naming, scheduleNote(info.config), o.out ?? join(run, 'pics'));
    if (sub && snaps.some((s) => s.split === 'valid' && s.epoch === sub.summary.epoch)) figs.push(sub);
  }
  try {
    writeFilesAllOrNone(figs.map((f) => ({ file: f.file, data: f.png })));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot write the figures to ${shellPath(o.out ?? join(run, 'pics'))}: ${code ?? (e as Error).message}; none was written: choose another --out`, 2);
  }
  return figs.map((f) => f.file);
}
