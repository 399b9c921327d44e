/**
 * What an output folder holds before `facelosses train` writes a run into it, and how a run is
 * replaced (--force) without touching anything a run did not write: only run.json,
 * metrics.jsonl, the snapshot, separability, history and checkpoint files, the run's own figures,
 * animations and report page are removed, and a folder only when that leaves it empty. A folder
 * that holds other files and is not a run folder is never used.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { animationPath, figureNaming, figurePath } from './figure-names.js';
import { LOCK_FILE } from './lock.js';
import { CHECKPOINT_DIR } from './checkpoint.js';
import { HISTORY_DIR, HISTORY_FILE } from './history.js';
import { METRICS_FILE, REPORT_FILE, RUN_FILE, type RunInfo } from './run.js';
import { SNAPSHOT_DIR } from './snapshot.js';

export type FolderState =
  | { kind: 'missing' }
  | { kind: 'empty' }
  | { kind: 'run'; info: RunInfo }
  /** run.json of a facelosses run that cannot be read (cut by a full disk, edited). */
  | { kind: 'damaged'; problem: string }
  /** Holds files and is not a run folder; `example` names one of them. */
  | { kind: 'other'; example: string };

export function folderState(dir: string): FolderState {
  if (!existsSync(dir)) return { kind: 'missing' };
  const runFile = join(dir, RUN_FILE);
  if (existsSync(runFile)) {
    let text = '';
    try {
      text = readFileSync(runFile, 'utf8');
      const info = JSON.parse(text) as RunInfo;
      if (info?.format === 'facelosses-run/1' && typeof info.config === 'object' && info.config !== null) return { kind: 'run', info };
      if (typeof info?.format !== 'string' || !info.format.startsWith('facelosses-run/')) return { kind: 'other', example: RUN_FILE };
      return { kind: 'damaged', problem: `unknown format ${JSON.stringify(info.format)}` };
    } catch (e) {
      if (text.includes('"facelosses-run/')) return { kind: 'damaged', problem: (e as Error).message };
      return { kind: 'other', example: RUN_FILE };
    }
  }
  const entries = readdirSync(dir).filter((f) => f !== LOCK_FILE);
  return entries.length ? { kind: 'other', example: entries.sort()[0]! } : { kind: 'empty' };
}

const TMP = (name: string) => new RegExp(`^\\.${name.replace(/\./g, '\\.')}\\.\\d+\\.tmp$`);
const HIST_FILE = /^\.?frame-\d+\.bin(\.\d+\.tmp)?$/;
const SNAP_FILE = /^\.?(train|valid|separability)-epoch-(\d+)\.json(\.\d+\.tmp)?$/;

function rmEmptyDir(d: string): void {
  try {
    rmdirSync(d); // fails when anything is left in it, which then stays
  } catch {
    /* not empty or gone */
  }
}

/**
 * Removes the files a facelosses run wrote in `dir` (see the file comment) and returns them.
 * `info` names the run's figures; without it (damaged run.json) figures are recognised by the
 * reference naming and the snapshot epochs found in the folder.
 */
export function removeRunFiles(dir: string, info?: RunInfo): string[] {
  const removed: string[] = [];
  const rm = (f: string) => {
    if (existsSync(f)) {
      rmSync(f, { force: true });
      removed.push(f);
    }
  };
  const epochs = new Set<number>(info?.config.snapshots ?? []);
  const snapDir = join(dir, SNAPSHOT_DIR);
  if (existsSync(snapDir) && statSync(snapDir).isDirectory()) {
    for (const f of readdirSync(snapDir)) {
      const m = SNAP_FILE.exec(f);
      if (!m) continue;
      epochs.add(Number(m[2]));
      rm(join(snapDir, f));
    }
    rmEmptyDir(snapDir);
  }
  const histDir = join(dir, HISTORY_DIR);
  if (existsSync(histDir) && statSync(histDir).isDirectory()) {
    for (const f of readdirSync(histDir)) if (HIST_FILE.test(f) || f === HISTORY_FILE || TMP(HISTORY_FILE).test(f)) rm(join(histDir, f));
    rmEmptyDir(histDir);
  }
  const ckDir = join(dir, CHECKPOINT_DIR);
  if (existsSync(ckDir) && statSync(ckDir).isDirectory()) {
    for (const f of readdirSync(ckDir)) if (f === 'last.json' || TMP('last.json').test(f)) rm(join(ckDir, f));
    rmEmptyDir(ckDir);
  }
  // Figures: in the run's pics folder (the default <run>/pics, or where the run drew them).
  const picsDirs = [join(dir, 'pics'), ...(info?.pics ? [info.pics] : [])];
  let naming: ReturnType<typeof figureNaming> | undefined;
  try {
    naming = info ? figureNaming(info.config) : undefined;
  } catch {
    naming = undefined; // a loss this version does not know: fall back to the naming pattern
  }
  for (const pics of picsDirs) {
    if (!existsSync(pics) || !statSync(pics).isDirectory()) continue;
    if (naming) {
      for (const e of epochs) for (const split of ['train', 'valid'] as const) for (const view of ['raw', 'unit'] as const) rm(figurePath(pics, naming, split, e, view));
      for (const split of ['train', 'valid'] as const) for (const view of ['raw', 'unit', 'pair', 'map'] as const) rm(animationPath(pics, naming, split, view));
      rmEmptyDir(join(pics, naming.folder));
    } else if (pics === join(dir, 'pics')) {
      const fig = /-(train|valid)_(.*, )?epoch=(\d+)(_unit)?\.png$/;
      for (const sub of readdirSync(pics, { withFileTypes: true })) {
        if (!sub.isDirectory()) continue;
        for (const f of readdirSync(join(pics, sub.name))) {
          const m = fig.exec(f);
          if (m && epochs.has(Number(m[3]))) rm(join(pics, sub.name, f));
        }
        rmEmptyDir(join(pics, sub.name));
      }
    }
    rmEmptyDir(pics);
  }
  for (const f of readdirSync(dir)) if (TMP(RUN_FILE).test(f) || TMP(METRICS_FILE).test(f) || TMP(REPORT_FILE).test(f)) rm(join(dir, f));
  rm(join(dir, REPORT_FILE));
  rm(join(dir, METRICS_FILE));
  rm(join(dir, RUN_FILE)); // last: until here the folder is still recognised as a run
  return removed;
}
