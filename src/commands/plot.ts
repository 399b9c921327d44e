/** `facelosses plot`: redraw figures from a run's saved snapshots, without training. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { command, shellPath } from '../util/command-line.js';
import { type RedrawOptions, redrawRun } from '../report/redraw.js';
import { RUN_FILE } from '../run/run.js';
import { listSnapshots } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';

/** The options of `redrawRun`, with the run folder optional. */
export interface PlotCommandOptions extends Omit<RedrawOptions, 'run'> {
  /** The run folder; default: the most recent run under runs/ (see `latestRun`). */
  run?: string;
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
  let run = o.run;
  if (run === undefined) {
    run = latestRun();
    const others = listRuns().length - 1;
    (o.log ?? ((s: string) => process.stderr.write(s + '\n')))(`plotting ${shellPath(run)}, the most recent run${others > 0 ? ` (${others} other${others === 1 ? '' : 's'} in runs/; pick one with --run)` : ''}`);
  }
  return redrawRun({ ...o, run });
}
