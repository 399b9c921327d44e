/**
 * What the queue shares through Redis besides BullMQ's own keys: the connection from a
 * redis://host:port/db address, the queue's name (one queue per code version: a worker only takes
 * work whose results its code reproduces), and the files of each run (its checkpoint after every
 * epoch, its results at the end), so that the machines need no shared file system.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { UserError } from '../util/errors.js';

export const JOB_FORMAT = 'facelosses-job/1';

/** The data of one job: everything a worker needs to run a plain `facelosses train`. */
export interface TrainJobData {
  format: typeof JOB_FORMAT;
  stem: string;
  name: string;
  profile: string;
  codeVersion: string;
  /** The config file's name (its stem names the run when the config has no `name:`). */
  configName: string;
  /** Where the config came from on the machine that enqueued it (for messages). */
  configFile: string;
  /** The YAML text of the config. */
  configText: string;
  /** train's arguments after --config FILE (profile, view, size, overrides). */
  args: string[];
  epochs: number;
  backend?: string;
  /** Training threads (fixed for the job so that every worker trains it the same way). */
  threads?: number;
}

/** What a job reports as its progress. */
export interface TrainJobProgress {
  epoch: number;
  epochs: number;
  imagesPerSecond?: number;
  secondsPerEpoch?: number;
  validAccuracy?: number;
  worker: string;
  /** The epoch this worker started from (0: from scratch). */
  fromEpoch: number;
}

export interface TrainJobResult {
  validAccuracy?: number;
  seconds?: number;
  worker: string;
}

/** Parses redis://[user:password@]host:port[/db] into BullMQ's connection options. */
export function parseRedisUrl(url: string): ConnectionOptions & { host: string; port: number; db: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--queue ${url}: not an address; give redis://host:port or redis://host:port/db, e.g. redis://127.0.0.1:6379`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError(`--queue ${url}: give a redis:// address, e.g. redis://127.0.0.1:6379`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new UserError(`--queue ${url}: the database must be a number, e.g. redis://127.0.0.1:6379/0`);
  const port = u.port ? Number(u.port) : 6379;
  return {
    host: u.hostname || '127.0.0.1',
    port,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // Commands wait while Redis is away (reconnecting every few seconds) instead of failing.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(250 * times, 3000),
  };
}

export const QUEUE_PREFIX = 'bull';

/** The few commands used here, of the ioredis client BullMQ connects with. */
export interface RedisClient {
  eval(script: string, numKeys: number, ...args: (string | Buffer | number)[]): Promise<unknown>;
  hgetallBuffer(key: string): Promise<Record<string, Buffer>>;
  ping(): Promise<string>;
  del(...keys: string[]): Promise<number>;
}

/** The ioredis client of a BullMQ Queue or Worker. */
export async function clientOf(x: { client: Promise<unknown> }): Promise<RedisClient> {
  return (await x.client) as RedisClient;
}

/** One queue per code version (BullMQ forbids ':' in names). */
export function queueNameFor(codeVersion: string): string {
  return `facelosses-${codeVersion}`.replace(/:/g, '_');
}

export function runKey(queueName: string, jobId: string): string {
  return `${QUEUE_PREFIX}:${queueName}:files:${jobId}`;
}

/** The epoch (and fraction) of the state a hash holds; uploads never go back to an earlier one. */
const EPOCH_FIELD = '_epoch';
/** Set once the hash holds the finished run. */
const FINAL_FIELD = '_final';

const UPLOAD = `
local cur = tonumber(redis.call('HGET', KEYS[1], '${EPOCH_FIELD}') or '-1')
if redis.call('HEXISTS', KEYS[1], '${FINAL_FIELD}') == 1 and ARGV[2] ~= '1' then return 0 end
if tonumber(ARGV[1]) < cur then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '${EPOCH_FIELD}', ARGV[1])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], '${FINAL_FIELD}', '1') end
return 1`;

/** The files of a run folder worth sharing: not the figures (drawn where they are wanted), not the lock. */
export function readRunFiles(runDir: string, keep: (rel: string) => boolean = () => true): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string, prefix: string) => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const rel = prefix ? `${prefix}/${n}` : n;
      const p = join(d, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (rel !== 'pics') walk(p, rel);
      } else if (n !== '.lock' && !n.includes('.tmp') && keep(rel)) {
        try {
          out.set(rel, readFileSync(p));
        } catch {
          // replaced meanwhile: the next upload has it
        }
      }
    }
  };
  walk(runDir, '');
  return out;
}

/** The epoch of a snapshot or separability file name, or undefined. */
export function fileEpoch(rel: string): number | undefined {
  const m = /epoch-(\d+)\.json$/.exec(rel);
  return m ? Number(m[1]) : undefined;
}

/**
 * Stores files under the run's key when `epoch` is not behind what is stored (two workers on one
 * job after a lost lock cannot put an older state over a newer one). Returns whether it stored.
 */
export async function uploadRunFiles(client: RedisClient, key: string, files: Map<string, Buffer>, epoch: number, final = false): Promise<boolean> {
  const args: (string | Buffer)[] = [String(epoch), final ? '1' : '0'];
  for (const [k, v] of files) args.push(k, v);
  const r = await client.eval(UPLOAD, 1, key, ...args);
  return r === 1;
}

export interface StoredRun {
  files: Map<string, Buffer>;
  epoch: number;
  final: boolean;
}

export async function downloadRunFiles(client: RedisClient, key: string): Promise<StoredRun | undefined> {
  const h = (await client.hgetallBuffer(key)) as Record<string, Buffer>;
  const keys = Object.keys(h);
  if (!keys.length) return undefined;
  const files = new Map<string, Buffer>();
  for (const k of keys) if (!k.startsWith('_')) files.set(k, h[k]!);
  return { files, epoch: Number(h[EPOCH_FIELD]?.toString() ?? '-1'), final: h[FINAL_FIELD] !== undefined };
}

/** Writes downloaded files into a folder; refuses names that would leave it. */
export function writeRunFiles(dir: string, files: Map<string, Buffer>): void {
  for (const [rel, data] of files) {
    const n = normalize(rel);
    if (isAbsolute(n) || n.startsWith('..') || n.split(sep).includes('..')) throw new Error(`refusing a stored file outside the run folder: ${rel}`);
    const p = join(dir, n);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
  }
}

/** Waits for the first answer of Redis, with a message that says what to do when none comes. */
export async function checkReachable(x: { client: Promise<unknown> }, url: string, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new UserError(`cannot reach Redis at ${url} within ${timeoutMs / 1000} s; start one (e.g. redis-server --port 6379 --appendonly yes) or check the address`)), timeoutMs);
  });
  try {
    await Promise.race([clientOf(x).then((c) => c.ping()), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
