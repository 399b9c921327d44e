/**
 * `reproduce --queue`: one BullMQ job per run, under the run's job id (the same work is never added
 * twice, finished work is not redone), followed to the end with progress and an ETA; each finished
 * run is downloaded into its run folder, where `reproduce` draws it as a local run. Ctrl-C leaves
 * the jobs queued: the same command again follows them.
 *
 * A job carries its engine and training threads, chosen here as a local `reproduce` of the same
 * runs on this machine would choose them (src/batch/plan.ts, poolThreads), so every worker trains
 * it as this machine would have.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { type Job, type JobsOptions, Queue } from 'bullmq';
import { type PlannedTask, poolThreads, type RunOutcome } from '../batch/plan.js';
import { type BatchOverrides, pickOverrides } from '../config/overrides.js';
import { folderState, removeRunFiles } from '../run/replace.js';
import { readRunInfo } from '../run/run.js';
import { formatDuration } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { codeVersion } from '../version.js';
import { JOB_FORMAT, type JobBackend, keepSeconds, type TrainJobData, type TrainJobProgress, type TrainJobResult } from './job.js';
import { clientOf, downloadRunFiles, lockKey, probeRedis, QUEUE_PREFIX, queueNameFor, type RedisClient, runKey, writeRunFiles } from './store.js';
import type { QueueRunContext, QueueRunner } from './types.js';
import { describeRedisError, maskUrl, parseRedisUrl, redisUrlFrom } from './url.js';
import { JOB_ATTEMPTS } from './worker.js';

export interface QueueReproduceOptions {
  /** The Redis address (default: FACELOSSES_REDIS_URL, else REDIS_URL). */
  url?: string;
  overrides: BatchOverrides;
  backend?: string;
  threads?: number;
  /** How often the jobs are looked at (ms). */
  pollMs?: number;
}

/** The engine and threads of every job of a batch: those of a local `reproduce` of the same runs here. */
export function jobEngine(tasks: number, o: Pick<QueueReproduceOptions, 'backend' | 'threads'>, cores = availableParallelism()): { backend: JobBackend; threads: number } {
  // 'auto' picks a GPU on some machines and not on others: a job names one engine, wasm unless told.
  const backend = (o.backend && o.backend !== 'auto' ? o.backend : 'wasm') as JobBackend;
  const threads = o.threads ?? poolThreads(cores, Math.min(cores, Math.max(1, tasks)), backend) ?? 1;
  return { backend, threads };
}

export function jobData(t: PlannedTask, profile: string, o: QueueReproduceOptions, engine: { backend: JobBackend; threads: number }): TrainJobData {
  const { dataDir: _local, ...overrides } = pickOverrides(o.overrides, 'batch');
  return {
    format: JOB_FORMAT,
    stem: t.stem,
    name: t.config.name,
    profile: profile as TrainJobData['profile'],
    codeVersion: codeVersion(),
    configName: basename(t.file),
    configFile: t.file,
    configText: readFileSync(t.file, 'utf8'),
    overrides,
    view: t.view,
    width: t.config.plot.width,
    height: t.config.plot.height,
    ...engine,
  };
}

/** How long BullMQ keeps a finished job (the run files expire after the same time, src/queue/worker.ts). */
export function jobOptions(jobId: string): JobsOptions {
  const age = keepSeconds();
  return { jobId, attempts: JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: { age }, removeOnFail: { age } };
}

const pct = (x?: number) => (x !== undefined ? (100 * x).toFixed(2) + '%' : '?');

export function createQueueRunner(o: QueueReproduceOptions): QueueRunner {
  if (o.overrides.dataDir !== undefined) throw new UserError('--data-dir does not go with --queue: each worker reads its own MNIST folder (facelosses worker --data-dir DIR)');
  const url = redisUrlFrom(o.url);
  parseRedisUrl(url); // a bad address is a usage error before anything is planned
  return { run: (tasks, ctx) => runOnQueue(tasks, ctx, { ...o, url }) };
}

/** A queue of this code version, with its connection watched (lost and found again, masked). */
function openQueue(url: string, log: (line: string) => void): Queue<TrainJobData, TrainJobResult> {
  const queue = new Queue<TrainJobData, TrainJobResult>(queueNameFor(codeVersion()), { connection: parseRedisUrl(url), prefix: QUEUE_PREFIX });
  let lastError = '';
  queue.on('error', (e) => {
    const msg = describeRedisError(e, url);
    if (msg !== lastError) log(`reproduce: ${msg}`);
    lastError = msg;
  });
  return queue;
}

/** Adds the jobs not in the queue yet (removing those --force redoes); returns the ids added now. */
async function enqueue(queue: Queue<TrainJobData, TrainJobResult>, client: RedisClient, tasks: PlannedTask[], ctx: QueueRunContext, data: (t: PlannedTask) => TrainJobData): Promise<Set<string>> {
  const addedNow = new Set<string>();
  for (const t of tasks) {
    const existing = await queue.getJob(t.jobId);
    if (existing && ctx.force) {
      if ((await existing.getState()) === 'active') ctx.log(`${t.stem}: running on a worker; --force leaves it running`);
      else {
        await existing.remove();
        await client.del(runKey(queue.name, t.jobId));
      }
    }
    if (!(await queue.getJob(t.jobId))) {
      await queue.add(t.stem, data(t), jobOptions(t.jobId));
      addedNow.add(t.jobId);
    }
  }
  return addedNow;
}

/** Follows the jobs of a batch to their end: progress lines, the ETA, downloads, failures, jobs no worker holds. */
class Follower {
  readonly outcomes: RunOutcome[] = [];
  readonly open: Map<string, PlannedTask>;
  done = 0;
  private readonly seen = new Map<string, string>();
  private readonly perEpoch: number[] = [];
  private readonly stalledSaid = new Set<string>();
  private progress = new Map<string, { epoch: number; epochs: number }>();
  active = 0;
  private waiting = 0;

  constructor(
    private readonly queue: Queue<TrainJobData, TrainJobResult>,
    private readonly client: RedisClient,
    private readonly tasks: PlannedTask[],
    private readonly ctx: QueueRunContext,
    private readonly addedNow: Set<string>,
    private readonly data: (t: PlannedTask) => TrainJobData,
    private readonly url: string,
  ) {
    this.open = new Map(tasks.map((t) => [t.jobId, t]));
  }

  private eta(): string {
    const spe = this.perEpoch.length ? this.perEpoch.reduce((a, b) => a + b, 0) / this.perEpoch.length : undefined;
    if (spe === undefined) return '?';
    let work = 0;
    for (const t of this.open.values()) {
      const p = this.progress.get(t.jobId);
      work += ((p ? p.epochs - p.epoch : t.config.train.epochs) || 0) * spe;
    }
    return formatDuration(work / Math.max(1, this.active));
  }

  private earlier(jobId: string): boolean {
    return !this.addedNow.has(jobId) && !this.seen.has(jobId);
  }

  /** One look at every open job; returns the progress line, if any changed. */
  async poll(): Promise<void> {
    this.progress = new Map();
    this.active = 0;
    this.waiting = 0;
    const lines: string[] = [];
    for (const t of [...this.open.values()]) {
      const line = await this.look(t);
      if (line) lines.push(`${t.stem}: ${line}`);
    }
    if (lines.length) this.ctx.log(`${lines.join('; ')}  [${this.done}/${this.tasks.length} done, ${this.active} running, ${this.waiting} waiting; ETA ${this.eta()}]`);
  }

  private async look(t: PlannedTask): Promise<string | undefined> {
    const job = (await this.queue.getJob(t.jobId)) as Job<TrainJobData, TrainJobResult> | undefined;
    if (!job) {
      // Removed meanwhile (by hand, expired, or a --force elsewhere): add it again.
      await this.queue.add(t.stem, this.data(t), jobOptions(t.jobId));
      return undefined;
    }
    const state = await job.getState();
    const p = (typeof job.progress === 'object' ? job.progress : undefined) as unknown as TrainJobProgress | undefined;
    if (p?.epoch) this.progress.set(t.jobId, { epoch: p.epoch, epochs: p.epochs });
    // A job read just before it completed has no return value yet: read it again.
    if (state === 'completed') return void (await this.completed(t, ((await this.queue.getJob(t.jobId)) as typeof job | undefined) ?? job));
    if (state === 'failed') return void this.failed(t, job);
    if (state === 'active') {
      this.active++;
      await this.checkHeld(t, job);
    } else this.waiting++;
    const line =
      state === 'active' && p?.epoch
        ? `epoch ${p.epoch}/${p.epochs} on ${p.worker}${p.imagesPerSecond ? `, ${Math.round(p.imagesPerSecond)} img/s` : ''}, valid acc ${pct(p.validAccuracy)}`
        : state !== 'active' && p?.handedBack
          ? `${state} (handed back by ${p.worker}: ${p.handedBack})`
          : state;
    if (p?.secondsPerEpoch && this.seen.get(t.jobId) !== line) this.perEpoch.push(p.secondsPerEpoch);
    const changed = this.seen.get(t.jobId) !== line;
    this.seen.set(t.jobId, line);
    return changed ? line : undefined;
  }

  /** An active job whose lock has expired: its worker is gone, and no live worker holds it. */
  private async checkHeld(t: PlannedTask, job: Job<TrainJobData, TrainJobResult>): Promise<void> {
    // A job that finished between the two looks has released its lock too: only a job still active counts.
    const held = (await this.client.exists(lockKey(this.queue.name, t.jobId))) === 1 || (await job.getState()) !== 'active';
    if (held) {
      this.stalledSaid.delete(t.jobId);
      return;
    }
    if (this.stalledSaid.has(t.jobId)) return;
    this.stalledSaid.add(t.jobId);
    const workers = await this.queue.getWorkersCount().catch(() => 0);
    this.ctx.log(
      `${t.stem}: no live worker holds job ${t.jobId} (its worker stopped or lost Redis); ${workers ? `one of the ${workers} connected worker(s) takes it again from its last stored checkpoint` : `start a worker to continue it from its last stored checkpoint: npx facelosses worker (with FACELOSSES_REDIS_URL=${maskUrl(this.url)})`}`,
    );
  }

  private async completed(t: PlannedTask, job: Job<TrainJobData, TrainJobResult>): Promise<void> {
    const { ctx, tasks } = this;
    this.open.delete(t.jobId);
    this.done++;
    const stored = await downloadRunFiles(this.client, runKey(this.queue.name, t.jobId));
    if (!stored?.final) {
      this.outcomes.push({ stem: t.stem, configFile: t.file, runDir: t.runDir, status: 'failed', message: `job ${t.jobId} is finished but its results are not in Redis (expired or removed); retrain with --force` });
      ctx.log(`[${this.done}/${tasks.length}] ${t.stem}: FAILED: its results are not in Redis (retrain with --force)`);
      return;
    }
    downloadInto(t, stored.files);
    const info = readRunInfo(t.runDir);
    const r = job.returnvalue;
    if (r?.seconds && t.config.train.epochs) this.perEpoch.push(r.seconds / t.config.train.epochs);
    // Trained while this command followed it, or finished before (then only downloaded).
    const earlier = this.earlier(t.jobId);
    this.outcomes.push({ stem: t.stem, configFile: t.file, runDir: t.runDir, status: earlier ? 'downloaded' : 'trained', seconds: r?.seconds, validAccuracy: info.validAccuracy });
    ctx.log(`[${this.done}/${tasks.length}] ${t.stem}: ${earlier ? 'finished earlier' : 'done'}${r?.worker ? ` on ${r.worker}` : ''}${r?.seconds ? ` in ${formatDuration(r.seconds)}` : ''}, valid acc ${pct(info.validAccuracy)}, downloaded${r?.note ? ` (${r.note})` : ''}${this.open.size ? `; ETA ${this.eta()}` : ''}`);
  }

  private failed(t: PlannedTask, job: Job<TrainJobData, TrainJobResult>): void {
    this.open.delete(t.jobId);
    this.done++;
    const why = job.failedReason || 'failed';
    this.outcomes.push({ stem: t.stem, configFile: t.file, runDir: t.runDir, status: 'failed', message: why });
    this.ctx.log(`[${this.done}/${this.tasks.length}] ${t.stem}: FAILED: ${why}${this.earlier(t.jobId) ? ' (an earlier failure; retry with --force)' : ''}`);
  }
}

/** Replaces what the run folder holds (a run, a damaged run, nothing) with the downloaded run. */
function downloadInto(t: PlannedTask, files: Map<string, Buffer>): void {
  const st = folderState(t.runDir);
  if (st.kind === 'other') throw new UserError(`${t.runDir} is not a facelosses run folder and holds other files (e.g. ${st.example}); the run of ${t.stem} cannot be downloaded there: choose another --out`);
  if (st.kind === 'run') removeRunFiles(t.runDir, st.info);
  else if (st.kind === 'damaged') removeRunFiles(t.runDir);
  writeRunFiles(t.runDir, files);
}

async function runOnQueue(tasks: PlannedTask[], ctx: QueueRunContext, o: QueueReproduceOptions & { url: string }): Promise<RunOutcome[]> {
  const { log } = ctx;
  await probeRedis(o.url);
  const queue = openQueue(o.url, log);
  let interrupted: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const client = await clientOf(queue);
    const t0 = performance.now();
    const engine = jobEngine(tasks.length, o);
    const data = (t: PlannedTask) => jobData(t, ctx.profile, o, engine);
    const addedNow = await enqueue(queue, client, tasks, ctx, data);
    const workers = await queue.getWorkersCount().catch(() => 0);
    const shown = maskUrl(o.url);
    log(`reproduce --queue: ${tasks.length} run(s) (profile ${ctx.profile}, ${engine.backend} x ${engine.threads} thread(s)) on ${queue.name} at ${shown}: ${addedNow.size} added, ${tasks.length - addedNow.size} already there; ${workers} worker(s) connected`);
    if (workers === 0) log(`reproduce --queue: no worker is connected yet; start one on any machine with the same code: FACELOSSES_REDIS_URL=${shown} npx facelosses worker`);

    const f = new Follower(queue, client, tasks, ctx, addedNow, data, o.url);
    let noWorkerSince = workers === 0 ? Date.now() : 0;
    while (f.open.size && !interrupted) {
      await f.poll();
      if (f.open.size && f.active === 0) {
        if (!noWorkerSince) noWorkerSince = Date.now();
        else if (Date.now() - noWorkerSince > 60_000) {
          const n = await queue.getWorkersCount().catch(() => 0);
          if (n === 0) log(`reproduce --queue: still no worker on ${queue.name}; start one with: FACELOSSES_REDIS_URL=${shown} npx facelosses worker (from the same code: workers of another code version serve another queue)`);
          noWorkerSince = Date.now();
        }
      } else noWorkerSince = 0;
      if (f.open.size)
        await new Promise<void>((res) => {
          const timer = setTimeout(res, o.pollMs ?? 1000);
          wake = () => {
            clearTimeout(timer);
            res();
          };
        });
    }
    if (interrupted) {
      throw new UserError(`interrupted after ${f.done} of ${tasks.length} runs (${formatDuration((performance.now() - t0) / 1000)}); the jobs stay queued and the workers go on: run the same command again to follow them and draw`, interrupted === 'SIGTERM' ? 143 : 130);
    }
    return f.outcomes;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await queue.close().catch(() => {});
  }
}
