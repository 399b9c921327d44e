/**
 * One `facelosses train` in a child process: the local pool (src/batch/pool.ts) and the queue
 * worker (src/queue/worker.ts) both run their runs through here, so both read a child the same way:
 *
 * - the child has its own process group, so a Ctrl-C of the terminal reaches it once, forwarded
 *   by the parent (a second SIGINT would make it stop without saving its checkpoint);
 * - the last 20,000 characters of its stderr are kept for the failure message;
 * - a child that has written its finished run.json but does not exit (a thread pool kept alive)
 *   is ended after a grace period, and its run counts by what run.json says;
 * - a resume is refused with exit code 2 (a usage or input error: the run cannot be continued);
 *   any other failure of `train --resume` is the run's own and is not started over.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRunDir, readRunInfo } from '../run/run.js';

const BIN = fileURLToPath(new URL('../../bin/facelosses.js', import.meta.url));

/** How long a child may linger after its run.json says finished before it is ended. */
export const EXIT_GRACE_MS = 30_000;
const STDERR_TAIL = 20_000;

export interface ChildResult {
  /** The exit code (0 for a finished run whose child was ended after the grace period). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of its stderr. */
  stderr: string;
}

export interface TrainChildOptions {
  /** The run folder the child writes (watched for a finished run.json). */
  runDir: string;
  /** The running children, for forwarding a signal (the child is in it while it runs). */
  children: Set<ChildProcess>;
  env?: NodeJS.ProcessEnv;
  graceMs?: number;
}

/** The last non-empty line of a text (a child's one-line error). */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

/** Why a child failed, in one line. */
export function failureText(r: ChildResult): string {
  return lastLine(r.stderr) || (r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`);
}

/** Whether `train --resume` refused to continue the run (then the run is started over). */
export function resumeRefused(r: ChildResult): boolean {
  return r.code === 2;
}

/** Runs `facelosses <args>` (a train) in a child process and resolves when it has ended. */
export function runTrainChild(args: string[], o: TrainChildOptions): Promise<ChildResult> {
  const grace = o.graceMs ?? EXIT_GRACE_MS;
  return new Promise((resolveP) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: o.env ?? process.env });
    o.children.add(child);
    let finishedAt = 0;
    const spawnedAt = Date.now() - 1000;
    const watch = setInterval(() => {
      try {
        const info = !finishedAt && isRunDir(o.runDir) ? readRunInfo(o.runDir) : undefined;
        if (info?.status === 'finished' && Date.parse(info.finishedAt ?? '') >= spawnedAt) finishedAt = Date.now();
      } catch {
        // run.json being replaced: look again next time
      }
      if (finishedAt && Date.now() - finishedAt > grace) child.kill('SIGKILL');
    }, 2000);
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_TAIL);
    });
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
    });
    child.on('close', (code, signal) => {
      clearInterval(watch);
      o.children.delete(child);
      resolveP({ code: finishedAt && signal === 'SIGKILL' ? 0 : code, signal, stderr });
    });
  });
}
