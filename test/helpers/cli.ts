import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export const BIN = fileURLToPath(new URL('../../bin/facelosses.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let running = false;

/**
 * Runs the CLI in this process, as `facelosses <args>` from `cwd` with CI=true, and returns its
 * exit code and what it printed. Calls must not overlap (they share the working folder and the
 * standard streams); the test runner runs the tests of one file one after another.
 */
export async function runCli(args: string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  if (running) throw new Error('runCli: calls must not overlap');
  running = true;
  const out: string[] = [];
  const err: string[] = [];
  const writes = { out: process.stdout.write, err: process.stderr.write };
  // Only text is captured: the test runner's own reports to its parent are not the CLI's.
  const capture = (into: string[], original: typeof process.stdout.write) =>
    function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
      into.push(chunk);
      const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
      if (cb) queueMicrotask(cb);
      return true;
    } as typeof process.stdout.write;
  const cwd = process.cwd();
  const ci = process.env.CI;
  process.env.CI = 'true';
  process.stdout.write = capture(out, writes.out);
  process.stderr.write = capture(err, writes.err);
  try {
    if (opts.cwd) process.chdir(opts.cwd);
    const code = await main([process.execPath, BIN, ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
    process.chdir(cwd);
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
    running = false;
  }
}

/** Runs bin/facelosses.js as its own process: for what only a process shows (its exit, signals). */
export function spawnCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 240_000,
    env: { ...process.env, CI: 'true' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
