/** `facelosses animate`: an animated GIF of a run's features forming, from its history (or snapshots). */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { shellPath } from '../util/command-line.js';
import { animationPath, renderAnimation } from '../report/animation.js';
import { figureNaming } from '../report/figures.js';
import { readRunInfo } from '../run/run.js';
import type { SplitName } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { latestRun } from './plot.js';

export interface AnimateCommandOptions {
  /** The run folder; default: the most recent run under runs/. */
  run?: string;
  split?: SplitName;
  view?: 'raw' | 'unit';
  /** The GIF to write (default <run pics>/<Folder>/<DisplayName>-<split>-animation[_unit].gif). */
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
  const run = o.run ?? latestRun();
  if (o.run === undefined) log(`animating ${shellPath(run)}, the most recent run (pick another with --run)`);
  if (!existsSync(run) || !statSync(run).isDirectory()) throw new UserError(`--run ${run}: no such folder`);
  const info = readRunInfo(run);
  const split = o.split ?? 'valid';
  const view = o.view ?? 'raw';
  const file = o.out ?? animationPath(info.pics ?? join(run, 'pics'), figureNaming(info.config), split, view);
  if (existsSync(file) && statSync(file).isDirectory()) throw new UserError(`--out ${shellPath(file)} is a folder; give the GIF file to write, e.g. ${join(shellPath(file), 'animation.gif')}`);
  let last = 0;
  const a = await renderAnimation(run, {
    split,
    view,
    fps: o.fps,
    pauseSeconds: o.pauseSeconds,
    colorBy: o.colorBy,
    width: o.width,
    height: o.height,
    onFrame: (done, total) => {
      if (total >= 20 && (done === total || performance.now() - last > 2000)) {
        last = performance.now();
        log(`frame ${done}/${total}`);
      }
    },
  });
  if (a.source === 'snapshots') log(`${shellPath(run)} has no history/ (it was trained before runs recorded one): the animation shows its ${a.frames} snapshot epoch(s) only`);
  try {
    writeFileAtomic(file, a.gif);
  } catch (e) {
    throw new UserError(`cannot write ${shellPath(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; choose another --out`);
  }
  return { file, frames: a.frames, bytes: a.gif.byteLength, source: a.source };
}
