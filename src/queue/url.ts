/**
 * The address of the queue's Redis: where it comes from (a flag, else FACELOSSES_REDIS_URL, else
 * REDIS_URL), how it becomes BullMQ's connection options, and how it is shown: every line that
 * prints an address prints it through `maskUrl`, with the password replaced by ***.
 *
 *   redis://host:6379/0              plain TCP, database 0
 *   rediss://host:6380               TLS
 *   redis://:password@host:6379      Redis's requirepass
 *   redis://user:password@host:6379  an ACL user
 *   redis://[::1]:6379               an IPv6 host
 */
import type { ConnectionOptions } from 'bullmq';
import { UserError } from '../util/errors.js';

export const URL_ENV = ['FACELOSSES_REDIS_URL', 'REDIS_URL'] as const;

const EXAMPLE = 'e.g. redis://127.0.0.1:6379, or redis://:PASSWORD@host:6379 (better: put it in FACELOSSES_REDIS_URL)';

/** The address to use: the flag's, else the first of FACELOSSES_REDIS_URL, REDIS_URL that is set. */
export function redisUrlFrom(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (given) return given;
  for (const k of URL_ENV) if (env[k]) return env[k]!;
  throw new UserError('no Redis address: set FACELOSSES_REDIS_URL (or REDIS_URL), e.g. redis://:PASSWORD@host:6379/0, or give --queue redis://host:port');
}

/** The address with its password (and nothing else) replaced by ***; text that is not an address is shown without what looks like one. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^@/]*)@/, (_, cred: string) => `//${cred.includes(':') ? cred.replace(/:.*/, ':***') : '***'}@`);
  }
}

/** Masks every redis:// or rediss:// address in a text (an error message from below). */
export function maskUrls(text: string): string {
  return text.replace(/rediss?:\/\/\S+/g, (m) => maskUrl(m));
}

export type RedisConnection = ConnectionOptions & { host: string; port: number; db: number };

/** Parses redis[s]://[user:password@]host:port[/db] into BullMQ's connection options. */
export function parseRedisUrl(url: string): RedisConnection {
  const shown = maskUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`Redis address ${shown}: not an address; give redis://host:port or redis://host:port/db (${EXAMPLE})`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError(`Redis address ${shown}: give a redis:// or rediss:// (TLS) address (${EXAMPLE})`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new UserError(`Redis address ${shown}: the database must be a number, e.g. redis://127.0.0.1:6379/0`);
  const port = u.port ? Number(u.port) : 6379;
  // URL keeps an IPv6 host in brackets ([::1]); the socket wants it without.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return {
    host,
    port,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
    // Commands wait while Redis is away (reconnecting every few seconds) instead of failing.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(250 * times, 3000),
  };
}

/** Whether an error of the Redis client says the password or user was refused. */
export function isAuthError(e: unknown): boolean {
  return /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH.*(fail|not)|NOPERM/i.test((e as Error)?.message ?? String(e));
}

/** A Redis client error as one masked line, saying what it means when that is known. */
export function describeRedisError(e: unknown, url: string): string {
  const msg = maskUrls((e as Error)?.message ?? String(e));
  if (isAuthError(e)) return `Redis at ${maskUrl(url)} refused the credentials (${msg}); check the password (and user) in the address`;
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|Connection is closed/.test(msg)) return `lost the connection to Redis at ${maskUrl(url)} (${msg}); reconnecting`;
  return msg;
}
