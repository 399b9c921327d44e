/**
 * The local process pool of a batch (`facelosses reproduce`): each run of the plan is a plain
 * `facelosses train` in a child process of its own (its own engine instance), `jobs` at a time.
 * A Ctrl-C or SIGTERM is forwarded to the children once (they save a checkpoint and stop); a run
 * whose resume is refused is started over (the child-process rules: src/batch/child.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { isRunDir, readRunInfo, type RunInfo } from '../run/run.js';
import { UserError } from '../util/errors.js';
import { displayPath } from '../util/fsx.js';
import { formatDuration } from '../util/duration.js';
import { failureText, resumeRefused, runTrainChild } from './child.js';
import { type ChildArgsOptions, childArgs, type PlannedTask, poolThreads, type RunOutcome } from './plan.js';

const rel = displayPath;

const accuracy = (info?: RunInfo) => (info?.validAccuracy !== undefined ? (100 * info.validAccuracy).toFixed(2) + '%' : '?');

export interface PoolOptions extends Omit<ChildArgsOptions, 'threads' | 'resume'> {
  /** Worker processes (default: the number of cores). */
  jobs?: number;
  profile: string;
  /** The runs up to date (for the first line only). */
  upToDate: number;
  log: (line: string) => void;
}

/**
 * Trains the tasks (action 'train' or 'resume') in child processes and returns one outcome per
 * task. Stopped by a signal, it throws a UserError with exit code 130 (SIGINT) or 143 (SIGTERM).
 */
export async function runPool(queue: PlannedTask[], o: PoolOptions): Promise<RunOutcome[]> {
  const { log } = o;
  const total = queue.length;
  const outcomes: RunOutcome[] = [];
  if (total === 0) return outcomes;
  const cores = availableParallelism();
  const workers = Math.min(Math.max(1, o.jobs ?? cores), total);
  const threads = poolThreads(cores, workers, o.backend);
  log(`reproduce: ${total} run${total === 1 ? '' : 's'} to train (profile ${o.profile}), ${workers} worker process${workers === 1 ? '' : 'es'}${threads ? ` x ${threads} thread(s)` : ''}; ${o.upToDate} up to date`);
  const children = new Set<ChildProcess>();
  let interrupted = false;
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = true;
    signalled = sig;
    for (const ch of children) ch.kill(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const t0 = performance.now();
  const started = new Map<PlannedTask, number>();
  const durations: number[] = [];
  let done = 0;
  let next = 0;
  const eta = () => {
    if (!durations.length) return '?';
    const avg = durations.reduce((a, b) => a + b, 0) / durations.length;
    const now = performance.now();
    let work = (total - next) * avg;
    let longest = 0;
    for (const s of started.values()) {
      const left = Math.max(0, avg - (now - s) / 1000);
      work += left;
      longest = Math.max(longest, left);
    }
    return formatDuration(Math.max(longest, work / workers));
  };
  const worker = async () => {
    while (!interrupted && next < queue.length) {
      const t = queue[next++]!;
      started.set(t, performance.now());
      let resume = t.action === 'resume';
      let r = await runTrainChild(childArgs(t, { ...o, threads, resume }), { runDir: t.runDir, children });
      if (resume && resumeRefused(r) && !interrupted) {
        log(`${t.stem}: resume refused (${failureText(r)}); starting over`);
        resume = false;
        r = await runTrainChild(childArgs(t, { ...o, threads, resume }), { runDir: t.runDir, children });
      }
      const seconds = (performance.now() - started.get(t)!) / 1000;
      started.delete(t);
      done++;
      const base = { stem: t.stem, configFile: rel(t.file), runDir: t.runDir, seconds };
      let info: RunInfo | undefined;
      try {
        info = isRunDir(t.runDir) ? readRunInfo(t.runDir) : undefined;
      } catch {
        info = undefined;
      }
      if (r.code === 0 && info?.status === 'finished') {
        durations.push(seconds);
        outcomes.push({ ...base, status: resume ? 'resumed' : 'trained', validAccuracy: info.validAccuracy });
        log(`[${done}/${total}] ${t.stem}: ${resume ? 'resumed and finished' : 'done'} in ${formatDuration(seconds)}, valid acc ${accuracy(info)}${done < total ? `; ETA ${eta()}` : ''}`);
      } else {
        const why = failureText(r);
        outcomes.push({ ...base, status: 'failed', message: why });
        log(`[${done}/${total}] ${t.stem}: ${interrupted ? 'interrupted' : 'FAILED'} after ${formatDuration(seconds)}: ${why}${done < total ? `; ETA ${eta()}` : ''}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted) throw new UserError(`interrupted after ${done} of ${total} runs (${formatDuration((performance.now() - t0) / 1000)}); run the same command again to pick up where it stopped`, signalled === 'SIGTERM' ? 143 : 130);
  return outcomes;
}
