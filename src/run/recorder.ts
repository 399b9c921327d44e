/**
 * The record of a run in its folder, written as training goes: run.json (status), metrics.jsonl
 * (one line per epoch), snapshots/ (train and valid features at the snapshot epochs), history/
 * (the feature history, see ./history.ts) and checkpoint/last.json with the run's time so far.
 * The trainer calls it at each event of the run; it knows nothing of how training is done.
 */
import type { ResolvedConfig } from '../config/config.js';
import { codeVersion } from '../version.js';
import { type Checkpoint, CHECKPOINT_FORMAT, checkpointPath, type EpochPosition, captureState, saveCheckpoint, type TrainState } from './checkpoint.js';
import { type HistoryFrame, type HistoryPlan, hasHistory, saveHistoryFrame, writeHistoryMeta } from './history.js';
import { appendMetrics, type EpochMetrics, type RunInfo, writeRunInfo } from './run.js';
import { type Snapshot, saveSnapshot } from './snapshot.js';

export interface RunRecorderOptions {
  runDir: string;
  config: ResolvedConfig;
  /** The engine, and its threads when known (results may differ with another count). */
  backend: string;
  threads?: number;
  /** What each checkpoint saves. */
  state: TrainState;
  /** Fingerprint of the data (see dataFingerprint). */
  data: string;
  /** The checkpoint the run continues from. */
  resume?: Checkpoint;
  /** Fields kept in run.json (a resumed run's startedAt, the overrides it was started with). */
  runInfo?: Partial<RunInfo>;
  /** The feature history to record (none when undefined). */
  history?: HistoryPlan;
  /** Called after each snapshot is saved; draws figures and returns their files. */
  onSnapshot?: (runDir: string, epoch: number, snaps: Snapshot[]) => Promise<string[]> | string[];
}

export class RunRecorder {
  /** Metrics of every completed epoch, this run's and those before its checkpoint. */
  readonly metrics: EpochMetrics[];
  /** Where the checkpoint on disk stands ('epoch 3'), or undefined when none was written. */
  lastGood: string | undefined;
  private readonly info: RunInfo;
  private readonly t0: number;
  private readonly frameSteps: ReadonlySet<number>;

  constructor(private readonly o: RunRecorderOptions) {
    const ck = o.resume;
    this.metrics = ck ? ck.metrics.map((m) => ({ ...m })) : [];
    this.lastGood = ck ? (ck.position ? `epoch ${ck.epoch}, then ${ck.position.step} steps of epoch ${ck.position.epoch}` : `epoch ${ck.epoch}`) : undefined;
    const now = new Date().toISOString();
    this.info = {
      ...o.runInfo,
      format: 'facelosses-run/1',
      config: o.config,
      profile: o.config.profile,
      backend: o.backend,
      codeVersion: codeVersion(),
      startedAt: o.runInfo?.startedAt ?? now,
      status: 'running',
      embeddingDim: o.config.model.embeddingDim,
    };
    delete this.info.finishedAt;
    delete this.info.message;
    if (ck) this.info.resumedAt = [...(this.info.resumedAt ?? []), now];
    this.t0 = performance.now() - 1000 * (ck?.elapsedSeconds ?? 0);
    this.frameSteps = new Set(o.history?.steps ?? []);
  }

  /** Seconds of training so far, over every process that trained the run. */
  elapsedSeconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** The run starts (or continues): run.json says 'running'. */
  start(): void {
    writeRunInfo(this.o.runDir, this.info);
    if (this.o.history && !hasHistory(this.o.runDir)) writeHistoryMeta(this.o.runDir, this.o.history);
  }

  /** Whether the history takes a frame after `step` optimisation steps. */
  frameDue(step: number): boolean {
    return this.frameSteps.has(step);
  }

  /** Saves a frame of the feature history (taken in `seconds`); returns the file. */
  frame(f: HistoryFrame, seconds?: number): string {
    return saveHistoryFrame(this.o.runDir, this.o.history!, f, seconds);
  }

  /**
   * Saves the state after `epoch` completed epochs (0: before training), or inside the next one
   * at `position`. Returns the file.
   */
  async checkpoint(epoch: number, position?: EpochPosition): Promise<string> {
    const state = await captureState(this.o.state);
    const file = saveCheckpoint(this.o.runDir, {
      format: CHECKPOINT_FORMAT,
      savedAt: new Date().toISOString(),
      backend: this.o.backend,
      threads: this.o.threads,
      epoch,
      position,
      ...state,
      metrics: this.metrics,
      elapsedSeconds: this.elapsedSeconds(),
      data: this.o.data,
    });
    if (!position) this.lastGood = epoch === 0 ? 'epoch 0, before training' : `epoch ${epoch}`;
    return file;
  }

  /** An epoch ended: its line goes to metrics.jsonl. */
  epochEnd(m: EpochMetrics): void {
    appendMetrics(this.o.runDir, m);
    this.metrics.push(m);
  }

  /**
   * Saves an epoch's snapshots and has them drawn; returns the files written. When drawing
   * fails, the epoch (trained and saved all the same) is checkpointed before the error goes on.
   */
  async snapshot(epoch: number, snaps: Snapshot[]): Promise<string[]> {
    const files = snaps.map((s) => saveSnapshot(this.o.runDir, s));
    if (this.o.onSnapshot) {
      try {
        files.push(...(await this.o.onSnapshot(this.o.runDir, epoch, snaps)));
      } catch (e) {
        await this.checkpoint(epoch);
        throw e;
      }
    }
    return files;
  }

  /** The run finished: run.json says so, with the final valid accuracy. */
  finish(): void {
    const last = this.metrics[this.metrics.length - 1]!;
    writeRunInfo(this.o.runDir, { ...this.info, status: 'finished', finishedAt: new Date().toISOString(), validAccuracy: last.validAccuracy });
  }

  /**
   * The run stopped on `e` (interrupted or failed): run.json says so. Returns the error to report:
   * a file-system error (a full disk, a folder gone read-only) says what survives and how to go on.
   */
  fail(e: unknown, interrupted: boolean): unknown {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      const dir = this.o.runDir;
      const kept = this.lastGood ? `the last good checkpoint (${this.lastGood}) stays in ${checkpointPath(dir)}; fix the cause and continue with --resume ${dir}` : 'no checkpoint was written';
      e = new Error(`could not write the run folder (${(e as Error).message}); ${kept}`);
    }
    try {
      writeRunInfo(this.o.runDir, { ...this.info, status: interrupted ? 'interrupted' : 'failed', message: (e as Error).message });
    } catch {
      // A full disk must not hide the error that stopped the run.
    }
    return e;
  }
}
