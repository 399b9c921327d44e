/** `facelosses train`: config → run folder with metrics, snapshots and figures. */
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type Overrides, type Profile, type ResolvedConfig, loadConfigFile, scheduleNote } from '../config/config.js';
import { type BackendName, initBackend } from '../backend.js';
import { createProgress } from '../cli/progress.js';
import { loadDataset } from '../data/mnist.js';
import { drawSnapshot, figureNaming, viewsOf } from '../report/figures.js';
import { isRunDir, readRunInfo } from '../run/run.js';
import { writeSeparability } from '../run/separability.js';
import { train, type TrainResult } from '../train/trainer.js';
import { UserError } from '../util/errors.js';

export interface TrainCommandOptions extends Overrides {
  config: string;
  profile?: Profile;
  out?: string;
  backend?: BackendName;
  force?: boolean;
  /** Where PNGs go (default <run>/pics). */
  pics?: string;
  view?: 'raw' | 'unit' | 'both';
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
  quiet?: boolean;
  label?: string;
}

export function defaultRunDir(config: ResolvedConfig): string {
  return join('runs', `${config.name}-${config.profile}`);
}

/** Makes sure `dir` can hold a new run; refuses to clobber an unfinished run without --force. */
export function prepareRunDir(dir: string, force: boolean): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UserError(`output path ${dir} exists and is not a folder`);
    if (isRunDir(dir)) {
      const info = readRunInfo(dir);
      if (info.status !== 'finished' && !force) {
        throw new UserError(`${dir} holds an unfinished run (status: ${info.status}); continue it with --resume ${dir}, or start over with --force`);
      }
      for (const sub of ['run.json', 'metrics.jsonl', 'snapshots', 'pics', 'checkpoint']) rmSync(join(dir, sub), { recursive: true, force: true });
    }
  }
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new UserError(`cannot write to output folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function trainCommand(o: TrainCommandOptions): Promise<TrainResult & { config: ResolvedConfig; files: string[] }> {
  const warnings: string[] = [];
  const config = loadConfigFile(o.config, o.profile ?? 'full', o, (m) => warnings.push(m));
  if (o.view) config.plot.view = o.view;
  if (o.colorBy) config.plot.colorBy = o.colorBy;
  if (o.width) config.plot.width = o.width;
  if (o.height) config.plot.height = o.height;
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  const dataset = loadDataset(config.data); // data errors before anything is written
  const outDir = resolve(o.out ?? defaultRunDir(config));
  prepareRunDir(outDir, Boolean(o.force));
  const backend = await initBackend(o.backend ?? 'auto');
  log(`facelosses: ${config.name} (loss ${config.loss.name}), profile ${config.profile}, backend ${backend.detail}`);
  log(`run folder: ${relative(process.cwd(), outDir) || '.'}`);
  const naming = figureNaming(config);
  const picsDir = o.pics ?? join(outDir, 'pics');
  const files: string[] = [];
  const result = await train({
    config,
    outDir,
    backend: backend.name,
    dataset,
    onEvent: o.quiet ? undefined : createProgress(process.stderr, o.label),
    onSnapshot: async (dir, epoch, snaps) => {
      const out: string[] = [writeSeparability(dir, epoch, snaps)];
      for (const s of snaps) {
        out.push(
          ...(await drawSnapshot(s, naming, scheduleNote(config), {
            picsDir,
            views: viewsOf(config.plot.view),
            colorBy: config.plot.colorBy,
            width: config.plot.width,
            height: config.plot.height,
          })),
        );
      }
      files.push(...out);
      return out;
    },
  });
  return { ...result, config, files };
}
