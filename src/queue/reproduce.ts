/**
 * `reproduce --queue redis://...`: one BullMQ job per run, under the run's job id (the same work
 * is never added twice, finished work is not redone), followed to the end with progress and an
 * ETA; each finished run is downloaded into its run folder, where `reproduce` draws it as a local
 * run. Ctrl-C leaves the jobs queued: the same command again follows them.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Job, Queue } from 'bullmq';
import type { PlannedTask } from '../batch/plan.js';
import { trainArgs } from '../batch/plan.js';
import type { BatchOverrides } from '../config/overrides.js';
import { formatDuration } from '../util/duration.js';
import type { RunOutcome } from '../batch/plan.js';
import { folderState, removeRunFiles } from '../run/replace.js';
import { readRunInfo } from '../run/run.js';
import { UserError } from '../util/errors.js';
import { codeVersion } from '../version.js';
import type { QueueRunContext, QueueRunner } from './types.js';
import {
  checkReachable,
  clientOf,
  downloadRunFiles,
  JOB_FORMAT,
  parseRedisUrl,
  QUEUE_PREFIX,
  queueNameFor,
  runKey,
  type TrainJobData,
  type TrainJobProgress,
  type TrainJobResult,
  writeRunFiles,
} from './store.js';
import { JOB_ATTEMPTS } from './worker.js';

export interface QueueReproduceOptions {
  url: string;
  overrides: BatchOverrides;
  backend?: string;
  threads?: number;
  /** How often the jobs are looked at (ms). */
  pollMs?: number;
}

export function jobData(t: PlannedTask, profile: string, o: QueueReproduceOptions): TrainJobData {
  const args = trainArgs(t, profile, o.overrides).slice(3); // after: train --config FILE
  return {
    format: JOB_FORMAT,
    stem: t.stem,
    name: t.config.name,
    profile,
    codeVersion: codeVersion(),
    configName: basename(t.file),
    configFile: t.file,
    configText: readFileSync(t.file, 'utf8'),
    args,
    epochs: t.config.train.epochs,
    ...(o.backend && o.backend !== 'auto' ? { backend: o.backend } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
  };
}

const pct = (x?: number) => (x !== undefined ? (100 * x).toFixed(2) + '%' : '?');

export function createQueueRunner(o: QueueReproduceOptions): QueueRunner {
  return {
    run: (tasks, ctx) => runOnQueue(tasks, ctx, o),
  };
}

async function runOnQueue(tasks: PlannedTask[], ctx: QueueRunContext, o: QueueReproduceOptions): Promise<RunOutcome[]> {
  const { log } = ctx;
  const queueName = queueNameFor(codeVersion());
  const queue = new Queue<TrainJobData, TrainJobResult>(queueName, { connection: parseRedisUrl(o.url), prefix: QUEUE_PREFIX });
  let lastError = '';
  queue.on('error', (e) => {
    if (e.message !== lastError) log(`reproduce: lost the connection to Redis (${e.message}); reconnecting`);
    lastError = e.message;
  });
  let interrupted: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await checkReachable(queue, o.url);
    const client = await clientOf(queue);
    const outcomes: RunOutcome[] = [];
    const t0 = performance.now();

    // Enqueue: the job id names the work; adding it again does nothing.
    const addedNow = new Set<string>();
    for (const t of tasks) {
      const existing = await queue.getJob(t.jobId);
      if (existing && ctx.force) {
        const state = await existing.getState();
        if (state === 'active') log(`${t.stem}: running on a worker; --force leaves it running`);
        else {
          await existing.remove();
          await client.del(runKey(queueName, t.jobId));
        }
      }
      const before = await queue.getJob(t.jobId);
      if (!before) {
        await queue.add(t.stem, jobData(t, ctx.profile, o), {
          jobId: t.jobId,
          attempts: JOB_ATTEMPTS,
          backoff: { type: 'exponential', delay: 5000 },
          removeOnComplete: false,
          removeOnFail: false,
        });
        addedNow.add(t.jobId);
      }
    }
    const workers = await queue.getWorkersCount().catch(() => 0);
    log(`reproduce --queue: ${tasks.length} run(s) (profile ${ctx.profile}) on ${queueName} at ${o.url}: ${addedNow.size} added, ${tasks.length - addedNow.size} already there; ${workers} worker(s) connected`);
    if (workers === 0) log(`reproduce --queue: no worker is connected yet; start one on any machine with the same code: npx facelosses worker --queue ${o.url}`);

    // Follow the jobs to the end.
    const open = new Map(tasks.map((t) => [t.jobId, t]));
    const seen = new Map<string, string>();
    const perEpoch: number[] = [];
    let done = 0;
    let noWorkerSince = workers === 0 ? Date.now() : 0;
    const eta = (jobs: Map<string, { epoch: number; epochs: number }>, active: number) => {
      const spe = perEpoch.length ? perEpoch.reduce((a, b) => a + b, 0) / perEpoch.length : undefined;
      if (spe === undefined) return '?';
      let work = 0;
      for (const t of open.values()) {
        const p = jobs.get(t.jobId);
        work += ((p ? p.epochs - p.epoch : t.config.train.epochs) || 0) * spe;
      }
      return formatDuration(work / Math.max(1, active));
    };
    while (open.size && !interrupted) {
      const progress = new Map<string, { epoch: number; epochs: number }>();
      let active = 0;
      let waiting = 0;
      const lines: string[] = [];
      for (const t of [...open.values()]) {
        const job = (await queue.getJob(t.jobId)) as Job<TrainJobData, TrainJobResult> | undefined;
        if (!job) {
          // Removed meanwhile (by hand, or a --force elsewhere): add it again.
          await queue.add(t.stem, jobData(t, ctx.profile, o), { jobId: t.jobId, attempts: JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: false, removeOnFail: false });
          continue;
        }
        const state = await job.getState();
        const p = (typeof job.progress === 'object' ? job.progress : undefined) as unknown as TrainJobProgress | undefined;
        if (p?.epoch) progress.set(t.jobId, { epoch: p.epoch, epochs: p.epochs });
        if (state === 'completed') {
          open.delete(t.jobId);
          done++;
          const stored = await downloadRunFiles(client, runKey(queueName, t.jobId));
          if (!stored?.final) {
            outcomes.push({ stem: t.stem, configFile: t.file, runDir: t.runDir, status: 'failed', message: `job ${t.jobId} is finished but its results are not in Redis; retrain with --force` });
            log(`[${done}/${tasks.length}] ${t.stem}: FAILED: its results are not in Redis (retrain with --force)`);
            continue;
          }
          const st = folderState(t.runDir);
          if (st.kind === 'other') throw new UserError(`${t.runDir} is not a facelosses run folder and holds other files (e.g. ${st.example}); the run of ${t.stem} cannot be downloaded there: choose another --out`);
          if (st.kind === 'run') removeRunFiles(t.runDir, st.info);
          else if (st.kind === 'damaged') removeRunFiles(t.runDir);
          writeRunFiles(t.runDir, stored.files);
          const info = readRunInfo(t.runDir);
          const r = job.returnvalue;
          if (r?.seconds && t.config.train.epochs) perEpoch.push(r.seconds / t.config.train.epochs);
          // Trained while this command followed it, or finished before (then only downloaded).
          const earlier = !addedNow.has(t.jobId) && !seen.has(t.jobId);
          outcomes.push({ stem: t.stem, configFile: t.file, runDir: t.runDir, status: earlier ? 'downloaded' : 'trained', seconds: r?.seconds, validAccuracy: info.validAccuracy });
          log(`[${done}/${tasks.length}] ${t.stem}: ${earlier ? 'finished earlier' : 'done'}${r?.worker ? ` on ${r.worker}` : ''}${r?.seconds ? ` in ${formatDuration(r.seconds)}` : ''}, valid acc ${pct(info.validAccuracy)}, downloaded${open.size ? `; ETA ${eta(progress, active)}` : ''}`);
          continue;
        }
        if (state === 'failed') {
          open.delete(t.jobId);
          done++;
          const why = job.failedReason || 'failed';
          outcomes.push({ stem: t.stem, configFile: t.file, runDir: t.runDir, status: 'failed', message: why });
          log(`[${done}/${tasks.length}] ${t.stem}: FAILED: ${why}${!addedNow.has(t.jobId) && !seen.has(t.jobId) ? ' (an earlier failure; retry with --force)' : ''}`);
          continue;
        }
        if (state === 'active') active++;
        else waiting++;
        const line = state === 'active' && p?.epoch ? `epoch ${p.epoch}/${p.epochs} on ${p.worker}${p.imagesPerSecond ? `, ${Math.round(p.imagesPerSecond)} img/s` : ''}, valid acc ${pct(p.validAccuracy)}` : state;
        if (p?.secondsPerEpoch && seen.get(t.jobId) !== line) perEpoch.push(p.secondsPerEpoch);
        if (seen.get(t.jobId) !== line) lines.push(`${t.stem}: ${line}`);
        seen.set(t.jobId, line);
      }
      if (lines.length) log(`${lines.join('; ')}  [${done}/${tasks.length} done, ${active} running, ${waiting} waiting; ETA ${eta(progress, active)}]`);
      if (open.size && active === 0) {
        if (!noWorkerSince) noWorkerSince = Date.now();
        else if (Date.now() - noWorkerSince > 60_000) {
          const n = await queue.getWorkersCount().catch(() => 0);
          if (n === 0) log(`reproduce --queue: still no worker on ${queueName}; start one with: npx facelosses worker --queue ${o.url} (from the same code: workers of another code version serve another queue)`);
          noWorkerSince = Date.now();
        }
      } else noWorkerSince = 0;
      if (open.size) await new Promise<void>((res) => {
        const timer = setTimeout(res, o.pollMs ?? 1000);
        wake = () => {
          clearTimeout(timer);
          res();
        };
      });
    }
    if (interrupted) {
      throw new UserError(`interrupted after ${done} of ${tasks.length} runs (${formatDuration((performance.now() - t0) / 1000)}); the jobs stay queued and the workers go on: run the same command again to follow them and draw`, interrupted === 'SIGTERM' ? 143 : 130);
    }
    return outcomes;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await queue.close().catch(() => {});
  }
}
