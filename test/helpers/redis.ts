/**
 * A real Redis for the queue tests: Debian's redis-server on a free loopback port, with a password
 * (requirepass) and its own temporary folder (append-only file, so a restart keeps the queue),
 * stopped by the test. Missing redis-server fails the test with what to install: never a silent skip.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  /** The address with the password: redis://:PASSWORD@127.0.0.1:PORT/0. */
  url: string;
  password: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM; it writes its append-only file). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

export function redisServerPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p) {
    throw new Error('redis-server is not installed: the queue tests need a real Redis. Install it with `apt-get install -y redis-server` (Debian/Ubuntu; .ci/run does this), or put a redis-server on PATH');
  }
  return p;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

function ping(port: number, password: string): Promise<boolean> {
  return new Promise((res) => {
    const c = createConnection({ host: '127.0.0.1', port });
    let data = '';
    c.on('connect', () => c.write(`AUTH ${password}\r\nPING\r\n`));
    c.on('data', (d) => {
      data += d.toString();
      if (data.split('\r\n').length > 2) {
        c.destroy();
        res(data.includes('+PONG'));
      }
    });
    c.on('error', () => res(false));
    setTimeout(() => {
      c.destroy();
      res(false);
    }, 1000);
  });
}

export async function startRedis(): Promise<TestRedis> {
  const bin = redisServerPath();
  const port = await freePort();
  const password = `pw-${randomBytes(9).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'facelosses-redis-'));
  let proc: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--requirepass', password, '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (log = (log + d.toString()).slice(-4000)));
    proc.stderr!.on('data', (d) => (log = (log + d.toString()).slice(-4000)));
    const t0 = Date.now();
    while (!(await ping(port, password))) {
      if (proc.exitCode !== null || Date.now() - t0 > 15_000) throw new Error(`redis-server did not start on port ${port}: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (p.exitCode === null) p.kill('SIGKILL');
  };
  await start();
  return {
    url: `redis://:${password}@127.0.0.1:${port}/0`,
    password,
    port,
    dir,
    start,
    stop,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
