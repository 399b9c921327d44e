/**
 * One training process per run folder: `<run>/.lock` holds the owner's pid, host and start time.
 * A second `facelosses train` (or `--resume`) on the same folder is refused while the owner is
 * alive; a lock left by a process that died (SIGKILL, power loss) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export const LOCK_FILE = '.lock';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process that its parent has not reaped yet (a zombie) holds nothing any more.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** A holder that was just killed may take a moment to exit: waits up to `ms` for it. */
function aliveAfterWaiting(pid: number, ms = LOCK_WAIT_MS): boolean {
  const until = Date.now() + ms;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (alive(pid)) {
    if (Date.now() >= until) return true;
    Atomics.wait(cell, 0, 0, 50);
  }
  return false;
}

/** How long a second process waits for a lock holder that is exiting. */
export const LOCK_WAIT_MS = 2000;

function readLock(file: string): LockInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    return typeof v.pid === 'number' ? { pid: v.pid, host: String(v.host ?? ''), started: String(v.started ?? '') } : undefined;
  } catch {
    return undefined; // unreadable or half written: treated as stale
  }
}

/**
 * Takes the lock of run folder `dir` (which must exist) and returns the function that releases
 * it; the lock is also released when the process exits. Throws a UserError (exit 2) when another
 * live process holds it.
 */
export function acquireRunLock(dir: string): () => void {
  const file = join(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new UserError(`cannot write to output folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const other = readLock(file);
      const sameHost = other !== undefined && other.host === me.host;
      if (other && other.pid !== me.pid && (!sameHost || aliveAfterWaiting(other.pid))) {
        throw new UserError(
          `${dir} is in use by another facelosses process (pid ${other.pid}${sameHost ? '' : ` on ${other.host}`}, since ${other.started}); ` +
            `wait for it or stop it${sameHost ? '' : `, or delete ${file} if that process is gone`}`,
        );
      }
      rmSync(file, { force: true }); // stale: its owner is gone
      continue;
    }
    writeSync(fd, JSON.stringify(me) + '\n');
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      const cur = readLock(file);
      if (cur && cur.pid === me.pid && cur.host === me.host) rmSync(file, { force: true });
    };
    process.on('exit', release);
    return release;
  }
  throw new UserError(`could not lock ${dir}: another process keeps taking ${file}`);
}
