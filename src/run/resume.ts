/**
 * `facelosses train --resume RUN_DIR`: checks that the folder is a run that can continue (not
 * finished, has a checkpoint, same config and data), then puts the folder back to the state of
 * its checkpoint (metrics.jsonl rebuilt, snapshots and history frames of later steps removed). Nothing is changed
 * before every check has passed.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Overrides, type Profile, type ResolvedConfig, loadConfigFile } from '../config/config.js';
import { configDifference } from '../config/identity.js';
import { applyOverrides, overrideArgs, pickOverrides } from '../config/overrides.js';
import type { Dataset } from '../data/mnist.js';
import { UserError } from '../util/errors.js';
import { DEFAULT_PROFILE } from '../config/profiles.js';
import { command, shellPath } from '../util/command-line.js';
import { type Checkpoint, dataFingerprint, hasCheckpoint, loadCheckpoint } from './checkpoint.js';
import { type RunInfo, readRunInfo, writeMetrics } from './run.js';
import { checkpointStep, historyStepsPerEpoch, truncateHistory } from './history.js';
import { SNAPSHOT_DIR } from './snapshot.js';

export interface ResumeRequest {
  /** The run folder given to --resume. */
  dir: string;
  /** A config file given alongside; it must resolve to the run's config. */
  config?: string;
  /** A profile given explicitly on the command line. */
  profile?: Profile;
  /** Overrides given on the command line (they must agree with the run's, except those marked 'may differ' in src/config/overrides.ts). */
  overrides?: Overrides;
  out?: string;
  force?: boolean;
}

export interface ResumePlan {
  dir: string;
  info: RunInfo;
  config: ResolvedConfig;
  checkpoint: Checkpoint;
}

const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));

export function planResume(r: ResumeRequest, warn: (m: string) => void = () => {}): ResumePlan {
  if (r.force) throw new UserError('--resume continues a run and --force starts one over; use one or the other');
  const dir = resolve(r.dir);
  if (r.out !== undefined && resolve(r.out) !== dir) throw new UserError(`--out ${r.out} differs from --resume ${r.dir}; a resumed run stays in its own folder (drop --out)`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`--resume ${r.dir}: no such folder`);
  const info = readRunInfo(dir);
  if (info.status === 'finished') {
    throw new UserError(`${r.dir}: the run already finished (${info.config.train.epochs} epochs); nothing to resume; to train it again: ${restartCommand(dir, info)}`);
  }
  let checkpoint: Checkpoint;
  const over = () => restartCommand(dir, info);
  if (!hasCheckpoint(dir)) {
    throw new UserError(`${r.dir} has no checkpoint (checkpoint/last.json): the run stopped before training started, so there is nothing to continue; start it over with: ${over()}`);
  }
  try {
    checkpoint = loadCheckpoint(dir);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${e.message}; the run cannot continue from it: start it over with: ${over()}`, e.exitCode);
    throw e;
  }
  const ov = pickOverrides(r.overrides ?? {});
  let candidate: ResolvedConfig;
  let source: string;
  if (r.config !== undefined) {
    candidate = loadConfigFile(r.config, r.profile ?? (info.profile as Profile), { ...(info.overrides ?? {}), ...ov }, warn);
    source = r.config;
  } else {
    candidate = applyOverrides(info.config, ov, 'must agree');
    if (r.profile !== undefined) candidate.profile = r.profile;
    source = 'the command line';
  }
  const d = configDifference(info.config, candidate, 'training');
  if (d) {
    throw new UserError(
      `${source} differs from the config of the run in ${r.dir} at ${d.key} (run: ${show(d.a)}, now: ${show(d.b)}); a resumed run keeps its config: drop the change, or start over with --force`,
    );
  }
  // What may differ (where the data lie) is taken from the command line.
  const config = applyOverrides(info.config, ov, 'may differ');
  return { dir, info, config, checkpoint };
}

/** Refuses data that differ from the data the checkpoint was trained on. */
export function checkResumeData(plan: ResumePlan, data: Dataset): void {
  if (plan.checkpoint.data && plan.checkpoint.data !== dataFingerprint(data)) {
    throw new UserError(`the data in ${data.dir} (${data.train.count} train, ${data.valid.count} test images) differ from the data the run in ${plan.dir} was trained on; point --data-dir at the original data`);
  }
}

/** Puts the run folder back to its checkpoint: metrics.jsonl from the checkpoint's epochs, and no
 *  snapshots or history frames after it (they are written again when those steps are trained again). */
export function applyResume(plan: ResumePlan): void {
  writeMetrics(plan.dir, plan.checkpoint.metrics);
  const spe = historyStepsPerEpoch(plan.dir);
  if (spe !== undefined) truncateHistory(plan.dir, checkpointStep(spe, plan.checkpoint.epoch, plan.checkpoint.position));
  const snapDir = join(plan.dir, SNAPSHOT_DIR);
  if (!existsSync(snapDir)) return;
  for (const f of readdirSync(snapDir)) {
    const m = /epoch-(\d+)\.json$/.exec(f);
    if (m && Number(m[1]) > plan.checkpoint.epoch) rmSync(join(snapDir, f), { force: true });
  }
}

/** The command that starts the run in `dir` over, from what its run.json recorded. */
export function restartCommand(dir: string, info?: RunInfo): string {
  const args = ['train', '--config', info ? shellPath(info.config.source) : '<config>'];
  if (info && info.profile !== DEFAULT_PROFILE) args.push('--profile', info.profile);
  args.push(...overrideArgs(pickOverrides(info?.overrides ?? {}), (p) => shellPath(p)));
  args.push('--out', shellPath(dir), '--force');
  return command(...args);
}

