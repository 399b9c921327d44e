/** The run folder: run.json (config, profile, backend, status), metrics.jsonl, snapshots/, pics/. */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { makeFolder } from '../util/folders.js';
import { join } from 'node:path';
import type { Overrides, ResolvedConfig } from '../config/config.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';

export interface RunInfo {
  format: 'facelosses-run/1';
  config: ResolvedConfig;
  profile: string;
  backend: string;
  codeVersion: string;
  startedAt: string;
  finishedAt?: string;
  status: 'running' | 'finished' | 'failed' | 'interrupted';
  /** Final valid accuracy, when finished. */
  validAccuracy?: number;
  message?: string;
  /** The command-line overrides the run was started with (to compare a config given with --resume). */
  overrides?: Overrides;
  /** Where the figures go, when not <run>/pics (a resumed run keeps drawing there). */
  pics?: string;
  /** When the run was continued from a checkpoint, each time. */
  resumedAt?: string[];
  /**
   * The feature dimension D (config.model.embeddingDim): every snapshot holds count×D features.
   * What a drawing of the run (figures, animation frames, a page) reads first: 2 draws the
   * circle (src/plot/scatter.ts), 3 the sphere (src/plot/sphere.ts: drawSphere, drawHammer).
   */
  embeddingDim?: number;
}

/** The feature dimension of a run (2 for a run recorded before the dimension was written). */
export function runEmbeddingDim(info: Pick<RunInfo, 'embeddingDim' | 'config'>): number {
  return info.embeddingDim ?? info.config?.model?.embeddingDim ?? 2;
}

export interface EpochMetrics {
  epoch: number;
  lr: number;
  loss: number;
  trainAccuracy: number;
  validLoss: number;
  validAccuracy: number;
  imagesPerSecond: number;
  seconds: number;
  [k: string]: unknown;
}

export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';
/** The run's report page (src/report/page.ts). */
export const REPORT_FILE = 'report.html';

export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, RUN_FILE));
}

export function readRunInfo(dir: string): RunInfo {
  const file = join(dir, RUN_FILE);
  if (!existsSync(file)) throw new UserError(`${dir} is not a facelosses run folder (no ${RUN_FILE}); give a folder written by facelosses train, e.g. runs/softmax-quick`);
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as RunInfo;
    if (info.format !== 'facelosses-run/1') throw new Error(`unknown format ${JSON.stringify(info.format)}`);
    // A run recorded before configs had a model section has 2-D features.
    if (info.config && typeof info.config === 'object' && !info.config.model) info.config.model = { embeddingDim: 2 };
    return info;
  } catch (e) {
    throw new UserError(`${file}: unreadable run file (${(e as Error).message}); the run cannot be continued or redrawn: start it over with --force (it removes only the files a run wrote)`);
  }
}

export function writeRunInfo(dir: string, info: RunInfo): void {
  writeFileAtomic(join(dir, RUN_FILE), JSON.stringify(info, null, 2) + '\n');
}

export function appendMetrics(dir: string, m: EpochMetrics): void {
  makeFolder(dir);
  appendFileSync(join(dir, METRICS_FILE), JSON.stringify(m) + '\n');
}

/** Replaces metrics.jsonl by these epochs (a resumed run drops lines written after its checkpoint). */
export function writeMetrics(dir: string, all: EpochMetrics[]): void {
  writeFileAtomic(join(dir, METRICS_FILE), all.map((m) => JSON.stringify(m) + '\n').join(''));
}

export function readMetrics(dir: string): EpochMetrics[] {
  const file = join(dir, METRICS_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as EpochMetrics];
      } catch {
        return []; // a line cut by a kill
      }
    });
}
