/**
 * What the queue shares through Redis besides BullMQ's own keys: the queue's name (one queue per
 * code version: a worker only takes work whose results its code reproduces), and the files of each
 * run (its checkpoint after every epoch, its results at the end), so that the machines need no
 * shared file system.
 *
 * The files of a run live in one hash, each file gzipped under its path in the run folder, with
 * the epoch they stand at. The hash is bounded: an upload that would take it past the size cap is
 * refused, and it expires `keepSeconds` after its last upload (src/queue/job.ts). Everything read
 * back is checked: paths stay inside the run folder, sizes stay under the cap.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type ConnectionOptions, RedisConnection } from 'bullmq';
import { UserError } from '../util/errors.js';
import { describeRedisError, isAuthError, maskUrl, maskUrls, parseRedisUrl } from './url.js';

export const QUEUE_PREFIX = 'bull';

/** The largest a run's stored files may be, gzipped (FACELOSSES_QUEUE_MAX_RUN_MB, default 256). */
export function maxRunBytes(env: NodeJS.ProcessEnv = process.env): number {
  const t = env.FACELOSSES_QUEUE_MAX_RUN_MB?.trim();
  const mb = t ? Number(t) : 256;
  if (!Number.isFinite(mb) || mb <= 0) throw new Error(`FACELOSSES_QUEUE_MAX_RUN_MB must be a positive number of MiB, got '${t}'`);
  return Math.floor(mb * 1024 * 1024);
}

/** The few commands used here, of the ioredis client BullMQ connects with. */
export interface RedisClient {
  eval(script: string, numKeys: number, ...args: (string | Buffer | number)[]): Promise<unknown>;
  hgetallBuffer(key: string): Promise<Record<string, Buffer>>;
  ping(): Promise<string>;
  del(...keys: string[]): Promise<number>;
  exists(...keys: string[]): Promise<number>;
  ttl(key: string): Promise<number>;
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

/** BullMQ's lock of an active job: present while a live worker holds it. */
export function lockKey(queueName: string, jobId: string): string {
  return `${QUEUE_PREFIX}:${queueName}:${jobId}:lock`;
}

/** The epoch (and fraction) of the state a hash holds; uploads never go back to an earlier one. */
const EPOCH_FIELD = '_epoch';
/** Set once the hash holds the finished run. */
const FINAL_FIELD = '_final';
/** The bytes of the stored files. */
const BYTES_FIELD = '_bytes';

// ARGV: epoch, final (1/0), keep seconds, max bytes, then path/content pairs.
// Returns 1 stored, 0 refused (behind what is stored, or after the final state), -1 over the cap.
const UPLOAD = `
local cur = tonumber(redis.call('HGET', KEYS[1], '${EPOCH_FIELD}') or '-1')
if redis.call('HEXISTS', KEYS[1], '${FINAL_FIELD}') == 1 and ARGV[2] ~= '1' then return 0 end
if tonumber(ARGV[1]) < cur then return 0 end
local bytes = tonumber(redis.call('HGET', KEYS[1], '${BYTES_FIELD}') or '0')
for i = 5, #ARGV, 2 do bytes = bytes + string.len(ARGV[i + 1]) - redis.call('HSTRLEN', KEYS[1], ARGV[i]) end
if bytes > tonumber(ARGV[4]) then return -1 end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '${EPOCH_FIELD}', ARGV[1], '${BYTES_FIELD}', bytes)
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], '${FINAL_FIELD}', '1') end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

// Removes a run's unfinished state (a run started over); a finished one stays.
const RESET = `
if redis.call('HEXISTS', KEYS[1], '${FINAL_FIELD}') == 1 then return 0 end
redis.call('DEL', KEYS[1])
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

export const digest = (b: Buffer) => createHash('sha1').update(b).digest('hex');

export interface UploadOptions {
  final?: boolean;
  keepSeconds: number;
  maxBytes?: number;
}

/** An upload refused because the run's files would pass the size cap. */
export class RunTooLarge extends Error {}

/**
 * Stores files under the run's key when `epoch` is not behind what is stored (two workers on one
 * job after a lost lock cannot put an older state over a newer one). Returns whether it stored;
 * throws RunTooLarge past the cap.
 */
export async function uploadRunFiles(client: RedisClient, key: string, files: Map<string, Buffer>, epoch: number, o: UploadOptions): Promise<boolean> {
  const max = o.maxBytes ?? maxRunBytes();
  const args: (string | Buffer)[] = [String(epoch), o.final ? '1' : '0', String(Math.max(1, Math.round(o.keepSeconds))), String(max)];
  for (const [k, v] of files) args.push(k, gzipSync(v));
  const r = await client.eval(UPLOAD, 1, key, ...args);
  if (r === -1) throw new RunTooLarge(`the run's files would take more than ${(max / 1024 / 1024).toFixed(0)} MiB in Redis (FACELOSSES_QUEUE_MAX_RUN_MB)`);
  return r === 1;
}

/** Removes a run's unfinished stored state (before the run is started over); false when it is finished. */
export async function resetRunFiles(client: RedisClient, key: string): Promise<boolean> {
  return (await client.eval(RESET, 1, key)) === 1;
}

export interface StoredRun {
  files: Map<string, Buffer>;
  epoch: number;
  final: boolean;
}

/** The stored files of a run, unpacked and checked (size under the cap); undefined when none are stored. */
export async function downloadRunFiles(client: RedisClient, key: string, maxBytes = maxRunBytes()): Promise<StoredRun | undefined> {
  const h = (await client.hgetallBuffer(key)) as Record<string, Buffer>;
  const keys = Object.keys(h);
  if (!keys.length) return undefined;
  const files = new Map<string, Buffer>();
  let total = 0;
  for (const k of keys) {
    if (k.startsWith('_')) continue;
    let data: Buffer;
    try {
      data = gunzipSync(h[k]!, { maxOutputLength: Math.max(1, maxBytes - total) });
    } catch (e) {
      throw new Error(`the stored file ${JSON.stringify(k.slice(0, 80))} of ${key} cannot be unpacked (${(e as Error).message})`);
    }
    total += data.length;
    files.set(k, data);
  }
  return { files, epoch: Number(h[EPOCH_FIELD]?.toString() ?? '-1'), final: h[FINAL_FIELD] !== undefined };
}

/** Writes downloaded files into a folder; refuses names that would leave it. */
export function writeRunFiles(dir: string, files: Map<string, Buffer>): void {
  for (const rel of files.keys()) {
    const n = normalize(rel);
    if (!rel || rel.includes('\0') || isAbsolute(n) || n.startsWith('..') || n.split(sep).includes('..')) throw new Error(`refusing a stored file outside the run folder: ${JSON.stringify(rel.slice(0, 80))}`);
  }
  for (const [rel, data] of files) {
    const p = join(dir, normalize(rel));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
  }
}

/**
 * Connects once to Redis and waits for its first answer, before any queue or worker connects:
 * a refused password is an authentication error, no answer a message that says what to do.
 * Nothing here prints the password.
 */
export async function probeRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const conn = new RedisConnection({ ...parseRedisUrl(url), retryStrategy: () => null } as ConnectionOptions, { skipVersionCheck: true });
  let firstError: unknown;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    // Kept to the end: a late error of the closed connection goes nowhere.
    conn.on('error', (e: unknown) => {
      firstError ??= e;
      if (isAuthError(e)) rej(new UserError(describeRedisError(e, url)));
    });
    timer = setTimeout(() => rej(firstError && isAuthError(firstError) ? new UserError(describeRedisError(firstError, url)) : new UserError(`cannot reach Redis at ${maskUrl(url)} within ${timeoutMs / 1000} s${firstError ? ` (${describeRedisError(firstError, url)})` : ''}; start one (docs/queue.md shows a safe setup) or check the address`)), timeoutMs);
  });
  const answer = conn.client
    .then((c) => (c as unknown as RedisClient).ping())
    .catch((e: unknown) => {
      const err = isAuthError(firstError) ? firstError : e;
      throw new UserError(isAuthError(err) ? describeRedisError(err, url) : `cannot reach Redis at ${maskUrl(url)} (${maskUrls((err as Error)?.message ?? String(err))}); start one (docs/queue.md shows a safe setup) or check the address`);
    });
  // The one that loses the race may still fail: nobody waits for it.
  answer.catch(() => {});
  timeout.catch(() => {});
  try {
    await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
    // The connection's own start settles first (closed before, its failure would be reported after the close to no one).
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([conn.client.then(() => {}, () => {}), new Promise<void>((res) => (wait = setTimeout(res, 2000)))]);
    clearTimeout(wait);
    await conn.close(true).catch(() => {});
  }
}
