/**
 * The queue with a real Redis on loopback: workers and `reproduce --queue` give the
 * same runs and figures as a local `reproduce`; a duplicate enqueue trains nothing; a failing
 * config ends failed with its message while the others finish; a worker SIGKILLed mid-run is
 * replaced by another that continues from the stored checkpoint, with the final metrics and
 * weights of an uninterrupted run; Redis restarting mid-run does not stop the work.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { jobIdOf } from '../src/batch/plan.js';
import { loadConfigFile } from '../src/config/config.js';
import { clientOf, downloadRunFiles, parseRedisUrl, QUEUE_PREFIX, queueNameFor, runKey } from '../src/queue/store.js';
import { codeVersion } from '../src/version.js';
import { BIN, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const TINY = ['--profile', 'ci', '--epochs', '2', '--train-limit', '256', '--valid-limit', '100', '--size', '200x150', '--backend', 'wasm'];

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d.toString()));
  child.stderr!.on('data', (d) => (err += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return { child, out: () => out, err: () => err, exited };
}

async function stopWorker(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  await p.exited;
  clearTimeout(t);
}

const worker = (redis: TestRedis, dir: string, extra: string[] = []) => start(['worker', '--queue', redis.url, '--lock-ms', '3000', '--work-dir', dir, ...extra]);

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms: number, logs: () => string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; logs:\n${logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** metrics.jsonl without the timings (which differ between any two runs). */
function metricsOf(runDir: string) {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { imagesPerSecond: _a, seconds: _b, elapsedSeconds: _c, ...m } = JSON.parse(l) as Record<string, unknown>;
      return m;
    });
}
const weightsOf = (runDir: string) => (JSON.parse(readFileSync(join(runDir, 'checkpoint', 'last.json'), 'utf8')) as { weights: unknown }).weights;

function pngs(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (readdirSync(d, { withFileTypes: true }).find((e) => e.name === n)!.isDirectory()) walk(p, `${rel}${n}/`);
      else if (n.endsWith('.png') && n !== 'contact-sheet.png') out.set(rel + n, readFileSync(p));
    }
  };
  walk(dir, '');
  return out;
}

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.dispose();
});

test('two workers and reproduce --queue: the runs and figures of a local reproduce; a failing config fails with its message; a second enqueue trains nothing', async () => {
  const dir = tempDir();
  const configs = join(dir, 'configs');
  mkdirSync(configs);
  const base = 'loss:\n  name: softmax\n  params:\n    bias: BIAS\n';
  writeFileSync(join(configs, 'softmax.yaml'), `name: softmax\n${base.replace('BIAS', 'false')}`);
  writeFileSync(join(configs, 'softmax_bias.yaml'), `name: softmax_bias\n${base.replace('BIAS', 'true')}`);
  writeFileSync(join(configs, 'broken.yaml'), `name: broken\n${base.replace('BIAS', 'false')}data:\n  dir: ${join(dir, 'nodata')}\n`);
  const w1 = worker(redis, join(dir, 'w1'));
  const w2 = worker(redis, join(dir, 'w2'));
  const logs = () => `--- worker 1\n${w1.err()}\n--- worker 2\n${w2.err()}`;
  try {
    const common = [...TINY, '--configs', configs, '--no-readme'];
    const t0 = Date.now();
    const q = start(['reproduce', ...common, '--queue', redis.url, '--threads', '1', '--out', join(dir, 'q', 'runs'), '--pics', join(dir, 'q', 'pics')]);
    const code = await q.exited;
    const queueSeconds = (Date.now() - t0) / 1000;
    assert.equal(code, 1, `reproduce --queue:\n${q.err()}\n${logs()}`);
    assert.match(q.err(), /broken: FAILED: .*data folder not found/);
    assert.match(q.err(), /\[\d\/3\] softmax: done on \S+ in \S+, valid acc \d+\.\d\d%, downloaded/);
    assert.match(q.err(), /\[\d\/3\] softmax_bias: done on/);
    assert.match(q.err(), /ETA/);
    assert.match(q.out(), /softmax_bias\s+trained/);
    assert.ok(existsSync(join(dir, 'q', 'pics', 'contact-sheet.png')));
    // Each worker took work (two runs and the broken one between them).
    assert.match(w1.err(), /job /);
    assert.match(w2.err(), /job /);

    // The same batch locally (3 processes on 2 cores: 1 thread each, as --threads 1 on the queue).
    const local = await runCli(['reproduce', ...common, '--jobs', '3', '--out', join(dir, 'l', 'runs'), '--pics', join(dir, 'l', 'pics')]);
    assert.equal(local.code, 1, local.stderr);
    for (const name of ['softmax', 'softmax_bias']) {
      const qr = join(dir, 'q', 'runs', `${name}-ci`);
      const lr = join(dir, 'l', 'runs', `${name}-ci`);
      assert.deepEqual(metricsOf(qr), metricsOf(lr), `${name}: metrics`);
      assert.deepEqual(weightsOf(qr), weightsOf(lr), `${name}: weights`);
    }
    const qp = pngs(join(dir, 'q', 'pics'));
    const lp = pngs(join(dir, 'l', 'pics'));
    assert.deepEqual([...qp.keys()], [...lp.keys()]);
    assert.equal(qp.size, 8, 'two configs, two splits, two snapshots');
    for (const [k, v] of qp) assert.ok(v.equals(lp.get(k)!), `figure ${k} differs`);

    // The same command again, into another folder: nothing is trained, the results are downloaded.
    const again = start(['reproduce', ...common, '--queue', redis.url, '--threads', '1', '--out', join(dir, 'q2', 'runs'), '--pics', join(dir, 'q2', 'pics')]);
    assert.equal(await again.exited, 1, again.err());
    assert.match(again.err(), /0 added, 3 already there/);
    assert.match(again.err(), /softmax: finished earlier/);
    assert.match(again.err(), /broken: FAILED: .*data folder not found.*retry with --force/);
    assert.deepEqual(metricsOf(join(dir, 'q2', 'runs', 'softmax-ci')), metricsOf(join(dir, 'q', 'runs', 'softmax-ci')));
    for (const name of ['softmax', 'softmax_bias']) {
      const trained = (logs().match(new RegExp(`\\n\\S+ ${name}: job \\S+ finished in`, 'g')) ?? []).length;
      assert.equal(trained, 1, `${name} trained ${trained} times:\n${logs()}`);
    }
    // The broken config was tried once: its own failure is not retried.
    assert.equal((logs().match(/broken: job \S+ failed/g) ?? []).length, 1, logs());
    process.stderr.write(`# queue batch: ${queueSeconds.toFixed(1)} s\n`);
  } finally {
    await Promise.all([stopWorker(w1), stopWorker(w2)]);
  }
});

test('a worker SIGKILLed mid-run: another continues from the stored checkpoint and the result equals an uninterrupted run; Redis restarting mid-run is survived', async () => {
  const dir = tempDir();
  const configs = join(dir, 'configs');
  mkdirSync(configs);
  writeFileSync(join(configs, 'solo.yaml'), 'name: solo\nloss:\n  name: softmax\n');
  const longer = ['--profile', 'ci', '--epochs', '6', '--train-limit', '2048', '--valid-limit', '100', '--size', '200x150', '--backend', 'wasm'];
  // The uninterrupted run, by a plain train with the job's settings (alongside the queue's).
  const plain = start(['train', '--config', join(configs, 'solo.yaml'), ...longer, '--view', 'raw', '--threads', '1', '--out', join(dir, 'plain'), '--quiet']);

  const version = codeVersion();
  const config = loadConfigFile(join(configs, 'solo.yaml'), 'ci', { epochs: 6, trainLimit: 2048, validLimit: 100 });
  config.plot.width = 200;
  config.plot.height = 150;
  const jobId = jobIdOf(config, 'ci', version);
  const queue = new Queue(queueNameFor(version), { connection: parseRedisUrl(redis.url), prefix: QUEUE_PREFIX });
  queue.on('error', () => {});
  const a = worker(redis, join(dir, 'a'));
  let b: Proc | undefined;
  const q = start(['reproduce', ...longer, '--configs', configs, '--no-readme', '--queue', redis.url, '--threads', '1', '--out', join(dir, 'q', 'runs'), '--pics', join(dir, 'q', 'pics')]);
  const logs = () => `--- reproduce\n${q.err()}\n--- worker a\n${a.err()}\n--- worker b\n${b?.err() ?? ''}`;
  try {
    const client = await clientOf(queue);
    const storedEpoch = async () => (await downloadRunFiles(client, runKey(queueNameFor(version), jobId)))?.epoch ?? -1;
    // Kill worker a once a checkpoint is stored, before the run ends.
    const killedAt = await until('a stored checkpoint', async () => ((await storedEpoch()) >= 1 ? storedEpoch() : undefined), 600_000, logs);
    a.child.kill('SIGKILL');
    await a.exited;
    assert.ok(killedAt < 6, `the run had finished (epoch ${killedAt}) before the kill`);
    // Redis goes away and comes back while the job waits for its lock to expire.
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    b = worker(redis, join(dir, 'b'));
    const code = await q.exited;
    assert.equal(code, 0, logs());
    assert.match(b.err(), /continuing after epoch [1-5]\b/, logs());
    assert.match(q.err(), /lost the connection to Redis/, logs());
    assert.equal(await plain.exited, 0, plain.err());
    const run = join(dir, 'q', 'runs', 'solo-ci');
    assert.deepEqual(metricsOf(run), metricsOf(join(dir, 'plain')));
    assert.deepEqual(weightsOf(run), weightsOf(join(dir, 'plain')));
    const info = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as { resumedAt?: string[] };
    assert.ok((info.resumedAt?.length ?? 0) >= 1, 'resumed');
  } finally {
    a.child.kill('SIGKILL');
    q.child.kill('SIGKILL');
    plain.child.kill('SIGKILL');
    if (b) await stopWorker(b);
    await queue.close();
  }
});
