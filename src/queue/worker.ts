/**
 * `facelosses worker`: takes runs from the queue and trains each as a plain `facelosses train` in a
 * child process (the training never blocks this process's event loop, which renews BullMQ's job
 * lock). After every epoch the run's checkpoint goes to Redis; at the end its results do. A job
 * whose worker died is taken again by another worker (BullMQ's stalled-job check) and continues
 * from the last stored checkpoint with `train --resume`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import { checkpointPath } from '../run/checkpoint.js';
import { isRunDir, readMetrics, readRunInfo } from '../run/run.js';
import { codeVersion } from '../version.js';
import {
  checkReachable,
  clientOf,
  downloadRunFiles,
  fileEpoch,
  JOB_FORMAT,
  parseRedisUrl,
  QUEUE_PREFIX,
  queueNameFor,
  readRunFiles,
  runKey,
  type TrainJobData,
  type TrainJobProgress,
  type TrainJobResult,
  uploadRunFiles,
  writeRunFiles,
} from './store.js';

const BIN = fileURLToPath(new URL('../../bin/facelosses.js', import.meta.url));

export interface WorkerOptions {
  url: string;
  concurrency?: number;
  /** Training threads of a job that does not fix them (default: the cores shared by the concurrent runs). */
  threads?: number;
  /** Where runs are trained (default: a new folder under the system's temporary folder). */
  workDir?: string;
  /** BullMQ's job lock in ms (default 30 s): a dead worker's job is taken again after about this long. */
  lockMs?: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  name: string;
  queueName: string;
  /** Stops taking jobs; running trainings save a checkpoint, which is uploaded, and their jobs go back to the queue. */
  close(): Promise<void>;
  /** Resolves when the worker has stopped. */
  closed: Promise<void>;
}

/** Crashes that are not the run's own fault (a killed child, a lost upload) are tried again. */
export const JOB_ATTEMPTS = 3;
/** How many times a job may lose its worker (SIGKILL, a machine gone) before it fails. */
export const MAX_STALLED = 5;

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const connection = parseRedisUrl(o.url);
  const version = codeVersion();
  const queueName = queueNameFor(version);
  const concurrency = Math.max(1, o.concurrency ?? 1);
  const name = `${hostname()}:${process.pid}`;
  const workDir = o.workDir ?? join(tmpdir(), `facelosses-worker-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  const children = new Set<ChildProcess>();
  let stopping = false;
  const lockDuration = o.lockMs ?? 30_000;

  const processor = async (job: Job<TrainJobData, TrainJobResult>, token?: string): Promise<TrainJobResult> => {
    const d = job.data;
    if (d.format !== JOB_FORMAT) throw new UnrecoverableError(`unknown job format ${JSON.stringify(d.format)}`);
    const client = await clientOf(worker);
    const key = runKey(queueName, job.id!);
    const jobDir = join(workDir, job.id!);
    rmSync(jobDir, { recursive: true, force: true });
    const runDir = join(jobDir, 'run');
    const configFile = join(jobDir, 'config', d.configName);
    mkdirSync(join(jobDir, 'config'), { recursive: true });
    writeFileSync(configFile, d.configText);

    // Continue from the last stored state, if any.
    const stored = await downloadRunFiles(client, key);
    const uploaded = new Set<string>();
    let fromEpoch = 0;
    if (stored?.files.has('checkpoint/last.json')) {
      mkdirSync(runDir, { recursive: true });
      writeRunFiles(runDir, stored.files);
      for (const k of stored.files.keys()) uploaded.add(k);
      fromEpoch = Math.floor(stored.epoch);
    }
    if (stored?.final && isRunDir(runDir) && readRunInfo(runDir).status === 'finished') {
      log(`${d.stem}: job ${job.id}: the finished run is already stored`);
      rmSync(jobDir, { recursive: true, force: true });
      return { validAccuracy: readRunInfo(runDir).validAccuracy, worker: name };
    }
    const threads = d.threads ?? o.threads ?? Math.max(1, Math.floor(availableParallelism() / concurrency));
    const freshArgs = ['train', '--config', configFile, ...d.args, '--out', runDir, '--force', '--quiet', '--threads', String(threads), ...(d.backend ? ['--backend', d.backend] : [])];
    // A resumed run keeps its own engine and threads (results match an uninterrupted run only so).
    const resumeArgs = ['train', '--resume', runDir, '--quiet'];
    const t0 = performance.now();
    let resume = fromEpoch > 0 || stored?.files.has('checkpoint/last.json') === true;
    log(`${d.stem}: job ${job.id} (attempt ${job.attemptsMade + 1}), ${resume ? `continuing after epoch ${fromEpoch}` : 'from scratch'}`);

    let lastUpload = 0;
    let lastEpoch = -1;
    const sync = async () => {
      // Progress: the epochs in metrics.jsonl.
      const m = readMetrics(runDir);
      const last = m.at(-1);
      if (last && last.epoch !== lastEpoch) {
        lastEpoch = last.epoch;
        const mine = m.filter((x) => x.epoch > fromEpoch);
        const p: TrainJobProgress = {
          epoch: last.epoch,
          epochs: d.epochs,
          imagesPerSecond: last.imagesPerSecond,
          secondsPerEpoch: mine.length ? mine.reduce((a, x) => a + x.seconds, 0) / mine.length : undefined,
          validAccuracy: last.validAccuracy,
          worker: name,
          fromEpoch,
        };
        await job.updateProgress(p as unknown as Record<string, unknown>);
      }
      // The checkpoint, written last in an epoch: with the snapshots up to its epoch.
      const ck = checkpointPath(runDir);
      if (!existsSync(ck)) return;
      const mtime = statSync(ck).mtimeMs;
      if (mtime === lastUpload) return;
      const text = readFileSync(ck);
      let epoch: number;
      try {
        const c = JSON.parse(text.toString('utf8')) as { epoch: number; position?: { step: number } };
        epoch = c.epoch + (c.position ? 0.5 : 0);
      } catch {
        return; // being replaced: next time
      }
      const files = readRunFiles(runDir, (rel) => {
        if (rel === 'checkpoint/last.json' || rel === 'metrics.jsonl') return false;
        const e = fileEpoch(rel);
        return e === undefined ? rel === 'run.json' : e <= epoch && !uploaded.has(rel);
      });
      files.set('checkpoint/last.json', text);
      await uploadRunFiles(client, key, files, epoch);
      for (const k of files.keys()) uploaded.add(k);
      lastUpload = mtime;
    };

    const runOnce = (args: string[]) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => {
        // FACELOSSES_EXIT_WITH_PARENT: the child ends itself when this worker dies (SIGKILL).
        const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, FACELOSSES_EXIT_WITH_PARENT: String(process.pid) } });
        children.add(child);
        let stderr = '';
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (s: string) => (stderr = (stderr + s).slice(-20_000)));
        child.on('error', (e) => (stderr += `\n${e.message}`));
        child.on('close', (code, signal) => {
          children.delete(child);
          res({ code, signal, stderr });
        });
      });

    let syncing: Promise<void> = Promise.resolve();
    let syncError: Error | undefined;
    const timer = setInterval(() => {
      syncing = syncing.then(sync).catch((e: Error) => {
        syncError = e;
      });
    }, 1000);
    let r;
    try {
      r = await runOnce(resume ? resumeArgs : freshArgs);
      if (resume && r.code === 2 && !stopping) {
        log(`${d.stem}: resume refused (${lastLine(r.stderr)}); starting over`);
        resume = false;
        fromEpoch = 0;
        r = await runOnce(freshArgs);
      }
    } finally {
      clearInterval(timer);
      await syncing;
    }
    await sync(); // the last checkpoint and progress
    if (syncError) log(`${d.stem}: warning: an upload failed (${syncError.message}); the next one carries the same files`);

    const info = isRunDir(runDir) ? readRunInfo(runDir) : undefined;
    if (r.code === 0 && info?.status === 'finished') {
      // The results: everything but the figures.
      await uploadRunFiles(client, key, readRunFiles(runDir), d.epochs, true);
      const seconds = (performance.now() - t0) / 1000;
      log(`${d.stem}: job ${job.id} finished in ${seconds.toFixed(1)} s, valid acc ${info.validAccuracy !== undefined ? (100 * info.validAccuracy).toFixed(2) + '%' : '?'}`);
      rmSync(jobDir, { recursive: true, force: true });
      return { validAccuracy: info.validAccuracy, seconds, worker: name };
    }
    if (stopping && (r.code === 130 || r.code === 143 || r.signal)) {
      // This worker is stopping: the checkpoint is stored; the job goes back to the queue at once.
      log(`${d.stem}: job ${job.id} handed back to the queue (checkpoint stored)`);
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    const why = lastLine(r.stderr) || (r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`);
    log(`${d.stem}: job ${job.id} failed: ${why}`);
    // exit 1 (NaN, divergence) or 2 (a bad config, missing data): the run's own; trying again
    // would fail the same way. A child killed by a signal (out of memory) may do better next time.
    if (r.code === 1 || r.code === 2) throw new UnrecoverableError(why);
    throw new Error(why);
  };

  const worker: Worker<TrainJobData, TrainJobResult> = new Worker<TrainJobData, TrainJobResult>(queueName, processor, {
    connection,
    prefix: QUEUE_PREFIX,
    concurrency,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: MAX_STALLED,
    name,
    autorun: false,
  });
  let lastError = '';
  worker.on('error', (e) => {
    const msg = e.message;
    if (msg !== lastError) log(`worker: ${/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|Connection is closed/.test(msg) ? `lost the connection to Redis (${msg}); reconnecting` : msg}`);
    lastError = msg;
  });
  worker.on('ready', () => {
    if (lastError) log('worker: connected to Redis again');
    lastError = '';
  });
  try {
    await checkReachable(worker, o.url);
  } catch (e) {
    await worker.close(true).catch(() => {});
    throw e;
  }
  log(`facelosses worker ${name}: queue ${queueName} at ${o.url}, ${concurrency} run(s) at a time, work folder ${workDir}`);
  // A work folder of our own goes with the worker (a run that failed leaves its folder there until then).
  const closed = worker.run().finally(() => {
    if (!o.workDir) rmSync(workDir, { recursive: true, force: true });
  });
  return {
    name,
    queueName,
    closed: closed.then(() => undefined),
    close: async () => {
      if (stopping) return;
      stopping = true;
      for (const ch of children) ch.kill('SIGINT');
      await worker.close();
    },
  };
}
