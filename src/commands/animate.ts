/**
 * `facelosses animate`: an animated GIF of a run's features forming, from its history (or
 * snapshots); several runs side by side on one clock with several --run.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { shellPath } from '../util/command-line.js';
import { animationPath, animationView, renderAnimation, renderGridAnimation } from '../report/animation.js';
import { figureNaming, type View } from '../report/figures.js';
import { readRunInfo, runEmbeddingDim } from '../run/run.js';
import type { SplitName } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { latestRun } from './plot.js';

export interface AnimateCommandOptions {
  /** The run folder; default: the most recent run under runs/. Several: side by side (--out required). */
  run?: string | string[];
  /** Columns of the side-by-side grid (several runs). */
  columns?: number;
  split?: SplitName;
  /** 2-D features: raw (default) or unit; 3-D: pair (default), unit or map. */
  view?: View;
  /** The GIF to write (default <run pics>/<Folder>/<DisplayName>-<split>-animation[_3d][_<view>].gif). */
  out?: string;
  fps?: number;
  pauseSeconds?: number;
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
  /** Progress and notes (default: stderr). */
  log?: (line: string) => void;
}

export interface AnimateResult {
  file: string;
  frames: number;
  bytes: number;
  source: 'history' | 'snapshots';
}

export async function animateCommand(o: AnimateCommandOptions): Promise<AnimateResult> {
  // Only drawing: loss definitions (for the names) live on tfjs's default engine, no banner.
  tf.env().set('PROD', true);
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  if (Array.isArray(o.run) && o.run.length > 1) return animateGrid(o.run, o, log);
  const run = (Array.isArray(o.run) ? o.run[0] : o.run) ?? latestRun();
  if (o.run === undefined) log(`animating ${shellPath(run)}, the most recent run (pick another with --run)`);
  if (!existsSync(run) || !statSync(run).isDirectory()) throw new UserError(`--run ${run}: no such folder`);
  const info = readRunInfo(run);
  const split = o.split ?? 'valid';
  const dim = runEmbeddingDim(info);
  const view = animationView(dim, o.view, shellPath(run));
  const file = o.out ?? animationPath(info.pics ?? join(run, 'pics'), { ...figureNaming(info.config), dim }, split, view);
  checkOut(file);
  const a = await renderAnimation(run, {
    split,
    view,
    fps: o.fps,
    pauseSeconds: o.pauseSeconds,
    colorBy: o.colorBy,
    width: o.width,
    height: o.height,
    onFrame: progress(log),
  });
  if (a.source === 'snapshots') log(`${shellPath(run)} has no history/ (it was trained before runs recorded one): the animation shows its ${a.frames} snapshot epoch(s) only`);
  write(file, a.gif);
  return { file, frames: a.frames, bytes: a.gif.byteLength, source: a.source };
}

/** A progress line every 2 s for animations of 20 frames or more. */
function progress(log: (s: string) => void) {
  let last = 0;
  return (done: number, total: number) => {
    if (total >= 20 && (done === total || performance.now() - last > 2000)) {
      last = performance.now();
      log(`frame ${done}/${total}`);
    }
  };
}

function checkOut(file: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) throw new UserError(`--out ${shellPath(file)} is a folder; give the GIF file to write, e.g. ${join(shellPath(file), 'animation.gif')}`);
}

function write(file: string, gif: Uint8Array): void {
  try {
    writeFileAtomic(file, gif);
  } catch (e) {
    throw new UserError(`cannot write ${shellPath(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; choose another --out`);
  }
}

async function animateGrid(runs: string[], o: AnimateCommandOptions, log: (s: string) => void): Promise<AnimateResult> {
  if (o.out === undefined) throw new UserError(`${runs.length} runs are drawn side by side into one GIF: give its file with --out, e.g. --out pics/forming.gif`);
  checkOut(o.out);
  for (const r of runs) if (!existsSync(r) || !statSync(r).isDirectory()) throw new UserError(`--run ${r}: no such folder`);
  const a = await renderGridAnimation(runs, { split: o.split, view: o.view, fps: o.fps, pauseSeconds: o.pauseSeconds, colorBy: o.colorBy, width: o.width, height: o.height, columns: o.columns, onFrame: progress(log) });
  write(o.out, a.gif);
  return { file: o.out, frames: a.frames, bytes: a.gif.byteLength, source: a.source };
}
