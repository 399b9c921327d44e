/**
 * The queue with a real Redis on loopback that asks for a password (one redis-server for the whole
 * file): workers and `reproduce --queue` give the same runs and figures as a local `reproduce`
 * with the same defaults; a duplicate enqueue trains nothing; hostile jobs put straight into Redis
 * are refused with nothing written outside the worker's folder; the password appears in no output;
 * a worker without its data folder hands jobs back instead of failing them; a run whose figures
 * failed is still uploaded; a refused resume starts over and stores from epoch 1; run files
 * expire; a worker SIGKILLed mid-run is replaced by another that continues from the stored
 * checkpoint (reproduce says no live worker holds the job meanwhile), with the final metrics and
 * weights of an uninterrupted run; Redis restarting mid-run does not stop the work.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Job, Queue } from 'bullmq';
import { jobIdOf, planBatch } from '../src/batch/plan.js';
import { loadConfigFile, PACKAGE_CONFIGS } from '../src/config/config.js';
import { checkJob, freshTrainArgs, JOB_FORMAT, type TrainJobData } from '../src/queue/job.js';
import { createQueueRunner, jobData, jobEngine, jobOptions } from '../src/queue/reproduce.js';
import { clientOf, downloadRunFiles, QUEUE_PREFIX, queueNameFor, runKey, uploadRunFiles } from '../src/queue/store.js';
import { maskUrl, parseRedisUrl, redisUrlFrom } from '../src/queue/url.js';
import { startWorker } from '../src/queue/worker.js';
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

function start(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true', ...env } });
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

/** A worker process that reads the address (with its password) from the environment. */
const worker = (redis: TestRedis, dir: string, extra: string[] = []) => start(['worker', '--lock-ms', '3000', '--work-dir', dir, ...extra], { FACELOSSES_REDIS_URL: redis.url });

/** The password is in no output. */
function noPassword(text: string, where: string): void {
  assert.ok(!text.includes(redis.password), `${where} printed the password:\n${text}`);
}

/** The same Redis, another database (a queue of its own for one test). */
const dbUrl = (n: number) => redis.url.replace(/\/0$/, `/${n}`);

function queueOn(url: string): Queue<TrainJobData> {
  const q = new Queue<TrainJobData>(queueNameFor(codeVersion()), { connection: parseRedisUrl(url), prefix: QUEUE_PREFIX });
  q.on('error', () => {});
  return q;
}

/** A job as `reproduce --queue` writes it: a tiny ci run of a config text. */
function tinyJob(stem: string, configText: string, extra: Partial<TrainJobData> = {}): TrainJobData {
  return {
    format: JOB_FORMAT,
    stem,
    name: stem,
    profile: 'ci',
    codeVersion: codeVersion(),
    configName: `${stem}.yaml`,
    configFile: `configs/${stem}.yaml`,
    configText,
    overrides: { epochs: 1, trainLimit: 128, validLimit: 50 },
    view: 'raw',
    width: 200,
    height: 150,
    backend: 'wasm',
    threads: 1,
    ...extra,
  };
}

/** The CLI run to its end with extra environment variables. */
function runWith(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, CI: 'true', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function stateOf(q: Queue, id: string): Promise<string> {
  const j = await q.getJob(id);
  return j ? j.getState() : 'missing';
}

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

test('addresses: from FACELOSSES_REDIS_URL or REDIS_URL, masked wherever shown; rediss://, user:pass@ and IPv6 hosts parse; a wrong password is an authentication error that prints no password', async () => {
  assert.equal(redisUrlFrom(undefined, { REDIS_URL: 'redis://b:6379', FACELOSSES_REDIS_URL: 'redis://a:6379' }), 'redis://a:6379');
  assert.equal(redisUrlFrom(undefined, { REDIS_URL: 'redis://b:6379' }), 'redis://b:6379');
  assert.equal(redisUrlFrom('redis://c:1', { REDIS_URL: 'redis://b:6379' }), 'redis://c:1');
  assert.throws(() => redisUrlFrom(undefined, {}), /no Redis address: set FACELOSSES_REDIS_URL \(or REDIS_URL\), e\.g\. redis:\/\/:PASSWORD@host:6379\/0, or give --queue/);
  assert.equal(maskUrl('redis://:s3cret@host:6379/0'), 'redis://:***@host:6379/0');
  assert.equal(maskUrl('rediss://alice:s3cret@host:6380'), 'rediss://alice:***@host:6380');
  assert.equal(maskUrl('redis://[::1]:6379'), 'redis://[::1]:6379');
  assert.equal(maskUrl('not a url://u:s3cret@x'), 'not a url://u:***@x');
  const v6 = parseRedisUrl('redis://alice:p%40ss@[::1]:6380/2') as unknown as Record<string, unknown>;
  assert.deepEqual([v6.host, v6.port, v6.db, v6.username, v6.password, v6.tls], ['::1', 6380, 2, 'alice', 'p@ss', undefined]);
  assert.deepEqual((parseRedisUrl('rediss://h:6380') as unknown as Record<string, unknown>).tls, { servername: 'h' });
  assert.throws(() => parseRedisUrl('http://:s3cret@h'), (e: Error) => /give a redis:\/\/ or rediss:\/\//.test(e.message) && !e.message.includes('s3cret'));

  const wrong = redis.url.replace(redis.password, `${redis.password}-wrong`);
  const w = runWith(['worker'], { FACELOSSES_REDIS_URL: wrong });
  assert.equal(w.code, 2, w.stderr);
  assert.match(w.stderr, /Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 refused the credentials \(WRONGPASS/);
  assert.doesNotMatch(w.stderr, /cannot reach/);
  noPassword(w.stdout + w.stderr, 'worker');
  // reproduce --queue's runner, in this process: the same error, and its lines masked.
  const lines: string[] = [];
  await assert.rejects(
    createQueueRunner({ url: wrong, overrides: {} }).run([], { profile: 'ci', pics: tempDir(), force: false, log: (l) => lines.push(l) }),
    (e: Error) => /^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 refused the credentials/.test(e.message) && !e.message.includes(redis.password),
  );
  noPassword(lines.join('\n'), 'reproduce');
});

test('every packaged config, planned as reproduce --queue plans it, passes the worker\'s check; the train it becomes has only the job\'s checked fields', () => {
  const version = codeVersion();
  const plan = planBatch({ profile: 'quick', configsDir: PACKAGE_CONFIGS, outRoot: join(tempDir(), 'runs'), epochs: 3, snapshots: [1, 3], codeVersion: version, log: () => {}, figuresPresent: () => false });
  assert.ok(plan.tasks.length >= 15, 'the packaged configs');
  const engine = jobEngine(plan.tasks.length, {}, 2);
  assert.deepEqual(engine, { backend: 'wasm', threads: 1 }, 'a local reproduce of these runs on 2 cores: wasm, 1 thread each');
  assert.deepEqual(jobEngine(1, { backend: 'auto' }, 8), { backend: 'wasm', threads: 8 });
  assert.deepEqual(jobEngine(3, { threads: 2 }, 8), { backend: 'wasm', threads: 2 });
  for (const t of plan.tasks) {
    const data = jobData(t, 'quick', { overrides: { epochs: 3, snapshots: [1, 3] } }, engine);
    const job = checkJob(t.jobId, JSON.parse(JSON.stringify(data)), version, 2);
    assert.deepEqual(job.overrides, { epochs: 3, snapshots: [1, 3] });
    const args = freshTrainArgs(job, { config: '/w/c.yaml', runDir: '/w/run', pics: '/w/pics' });
    assert.deepEqual(args.slice(0, 3), ['train', '--config', '/w/c.yaml']);
    assert.deepEqual(args.filter((a) => a.startsWith('--')).sort(), ['--backend', '--config', '--epochs', '--force', '--out', '--pics', '--profile', '--quiet', '--size', '--snapshots', '--threads', '--view']);
  }
  assert.throws(() => createQueueRunner({ url: 'redis://127.0.0.1:1', overrides: { dataDir: '/data' } }), /--data-dir does not go with --queue: each worker reads its own MNIST folder/);
  assert.throws(() => checkJob('ok', { ...tinyJob('s', 'loss: { name: softmax }\n'), threads: 4 }, version, 2), /the job trains on 4 threads and this machine has 2 cores/);
});

test('hostile jobs put straight into Redis are refused at once, for good, and write nothing outside the worker folder', async () => {
  const sandbox = tempDir();
  const work = join(sandbox, 'work');
  const victim = join(sandbox, 'victim');
  mkdirSync(victim);
  writeFileSync(join(victim, 'keep.txt'), 'still here');
  const url = dbUrl(1);
  const lines: string[] = [];
  const w = await startWorker({ url, workDir: work, lockMs: 3000, log: (l) => lines.push(l) });
  const queue = queueOn(url);
  const softmax = 'name: s\nloss:\n  name: softmax\n';
  const hostile: [string, TrainJobData | Record<string, unknown>, RegExp][] = [
    ['../victim', tinyJob('s', softmax), /job id "\.\.\/victim" is not a plain name/],
    ['climb-config', tinyJob('s', softmax, { configName: '../../../escape.yaml' }), /config name "\.\.\/\.\.\/\.\.\/escape\.yaml" is not a plain file name/],
    ['climb-stem', tinyJob('s', softmax, { stem: '../../s' }), /config stem "\.\.\/\.\.\/s" is not a plain name/],
    ['extra-pics', tinyJob('s', softmax, { overrides: { pics: join(sandbox, 'pics') } as never }), /overrides: 'pics' is not an override a batch takes/],
    ['extra-config', tinyJob('s', softmax, { overrides: { config: '/etc/passwd' } as never }), /overrides: 'config' is not an override/],
    ['extra-data-dir', tinyJob('s', softmax, { overrides: { dataDir: join(sandbox, 'data') } }), /--data-dir is not taken from a job/],
    ['smuggled-flag', tinyJob('s', softmax, { overrides: { epochs: `1 --pics ${join(sandbox, 'pics')}` as never } }), /overrides: --epochs must be a whole number/],
    ['raw-args', { ...tinyJob('s', softmax), format: 'facelosses-job/1', args: ['--pics', join(sandbox, 'pics'), '--out', join(sandbox, 'out')] }, /unknown job format "facelosses-job\/1"/],
    ['many-threads', tinyJob('s', softmax, { threads: 100_000 }), /threads 100000 is not a whole number from 1 to/],
    ['bad-engine', tinyJob('s', softmax, { backend: 'auto' as never }), /engine "auto" is not one of/],
    ['bad-config', tinyJob('s', 'loss:\n  name: no-such-loss\n'), /refused by the worker: s: .*no-such-loss/],
  ];
  try {
    for (const [id, data] of hostile) await queue.add('hostile', data as TrainJobData, jobOptions(id));
    for (const [id, , reason] of hostile) {
      await until(`job ${id} failed`, async () => (await stateOf(queue, id)) === 'failed' || undefined, 30_000, () => lines.join('\n'));
      const job = (await queue.getJob(id)) as Job;
      assert.match(job.failedReason, /^refused by the worker: /, id);
      assert.match(job.failedReason, reason, id);
      assert.equal(job.attemptsMade, 1, `${id}: final at once, not retried`);
    }
  } finally {
    await w.close();
    await w.closed;
    await queue.obliterate({ force: true });
    await queue.close();
  }
  assert.deepEqual(readdirSync(sandbox).sort(), ['victim', 'work'], 'nothing written next to the work folder');
  assert.deepEqual(readdirSync(work), [], 'nothing left in the work folder');
  assert.equal(readFileSync(join(victim, 'keep.txt'), 'utf8'), 'still here');
  assert.ok(!lines.join('\n').includes(redis.password));
});

test('machine problems hand the job back (a worker without its data folder fails nothing for good); figures failing after training still upload the run; a refused resume starts over and stores from epoch 1; run files expire', async () => {
  const sandbox = tempDir();
  const url = dbUrl(2);
  process.env.FACELOSSES_QUEUE_KEEP = '3s';
  const linesA: string[] = [];
  const linesB: string[] = [];
  const logs = () => `--- worker A\n${linesA.join('\n')}\n--- worker B\n${linesB.join('\n')}`;
  const queue = queueOn(url);
  const client = await clientOf(queue);
  const key = (id: string) => runKey(queueNameFor(codeVersion()), id);
  const a = await startWorker({ url, workDir: join(sandbox, 'a'), dataDir: join(sandbox, 'no-mnist-here'), lockMs: 3000, backoffMs: 120_000, log: (l) => linesA.push(l) });
  let b: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    const softmax = 'name: solo\nloss:\n  name: softmax\n';
    await queue.add('solo', tinyJob('solo', softmax), jobOptions('solo-1'));
    await until('worker A handing the job back', () => linesA.some((l) => /handed back/.test(l)) || undefined, 30_000, logs);
    const handed = (await queue.getJob('solo-1')) as Job;
    assert.match(await handed.getState(), /^(delayed|waiting)$/, 'the job is waiting for another worker, not failed');
    assert.match(String((handed.progress as { handedBack?: string }).handedBack), /the data folder .*no-mnist-here is missing on this machine/);
    assert.match(linesA.join('\n'), /worker: pausing 120 s after a problem of this machine/);

    // A stored state that `train --resume` refuses, at epoch 9 of a 1-epoch job.
    await uploadRunFiles(client, key('refused-1'), new Map([['run.json', Buffer.from('{}')], ['checkpoint/last.json', Buffer.from('{"epoch": 9}')]]), 9, { keepSeconds: 60 });
    await queue.add('refused', tinyJob('refused', 'name: refused\nloss:\n  name: softmax\n'), jobOptions('refused-1'));

    // Worker B can train, but cannot draw: its figure folder for Softmax is a file.
    const bDir = join(sandbox, 'b');
    mkdirSync(join(bDir, 'pics'), { recursive: true });
    writeFileSync(join(bDir, 'pics', 'Softmax'), 'a file where the figure folder goes');
    b = await startWorker({ url, workDir: bDir, lockMs: 3000, log: (l) => linesB.push(l) });
    // Each job as it completes (its files expire 3 s after their last upload).
    const completed = (id: string) =>
      until(`${id} completed`, async () => {
        const seen = await queue.getJob(id);
        if (!seen || (await seen.getState()) !== 'completed') return undefined;
        // Read again: a job fetched just before it completed has no return value yet.
        const job = (await queue.getJob(id))!;
        return { job, stored: await downloadRunFiles(client, key(id)), ttl: await client.ttl(key(id)) };
      }, 180_000, logs);
    const [soloDone, refusedDone] = await Promise.all([completed('solo-1'), completed('refused-1')]);

    const solo = soloDone.job;
    assert.match(String(solo.returnvalue.note), /the figures could not be drawn on .*; they are drawn where the run is downloaded/);
    const stored = soloDone.stored;
    assert.equal(stored?.final, true, 'the finished run is stored');
    assert.equal(JSON.parse(stored!.files.get('run.json')!.toString()).status, 'finished');
    assert.ok(stored!.files.has('snapshots/train-epoch-0001.json'));

    assert.match(linesB.join('\n'), /refused: resume refused \(.*unreadable run file.*\); the stored state is removed and the run starts over/);
    const refused = refusedDone.stored;
    assert.equal(refused?.final, true, logs());
    assert.equal(refused!.epoch, 1);
    assert.equal(JSON.parse(refused!.files.get('checkpoint/last.json')!.toString()).epoch, 1);

    // Expiry: the run files go FACELOSSES_QUEUE_KEEP after their last upload; finished jobs after the same time.
    for (const d of [soloDone, refusedDone]) assert.ok(d.ttl > 0 && d.ttl <= 3, `ttl ${d.ttl}`);
    assert.deepEqual(solo.opts.removeOnComplete, { age: 3 });
    await until('the run files expired', async () => ((await client.exists(key('solo-1'), key('refused-1'))) === 0 ? true : undefined), 10_000, logs);
    // Finished jobs go too: BullMQ removes finished jobs older than 3 s when another job finishes.
    await queue.add('late', tinyJob('late', 'name: late\nloss:\n  name: softmax\n'), jobOptions('late-1'));
    await completed('late-1');
    for (const id of ['solo-1', 'refused-1']) assert.equal(await stateOf(queue, id), 'missing', `${id} finished more than 3 s before late-1 and is removed`);
    assert.equal(linesA.filter((l) => /job .* (refused|crashed|failed)/.test(l)).length, 0, 'worker A failed no job');
    assert.ok(!logs().includes(redis.password));
  } finally {
    delete process.env.FACELOSSES_QUEUE_KEEP;
    await a.close();
    await b?.close();
    await Promise.all([a.closed, b?.closed]);
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
});

test('reproduce --queue with a worker: the runs and figures of a local reproduce with the same defaults (engine and threads travel with the job); a second enqueue trains nothing; the password is printed nowhere', async () => {
  const dir = tempDir();
  const configs = join(dir, 'configs');
  mkdirSync(configs);
  const base = 'loss:\n  name: softmax\n  params:\n    bias: BIAS\n';
  writeFileSync(join(configs, 'softmax.yaml'), `name: softmax\n${base.replace('BIAS', 'false')}`);
  writeFileSync(join(configs, 'softmax_bias.yaml'), `name: softmax_bias\n${base.replace('BIAS', 'true')}`);
  const w = worker(redis, join(dir, 'w'), ['--concurrency', '2']);
  const logs = () => `--- worker\n${w.err()}`;
  try {
    const common = [...TINY, '--configs', configs, '--no-readme'];
    const t0 = Date.now();
    // The address on the command line (as a user may give it): still masked in every line.
    const q = start(['reproduce', ...common, '--queue', redis.url, '--out', join(dir, 'q', 'runs'), '--pics', join(dir, 'q', 'pics')]);
    const code = await q.exited;
    const queueSeconds = (Date.now() - t0) / 1000;
    assert.equal(code, 0, `reproduce --queue:\n${q.err()}\n${logs()}`);
    assert.match(q.err(), /\(profile ci, wasm x 1 thread\(s\)\) on \S+ at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: 2 added/);
    assert.match(q.err(), /\[\d\/2\] softmax: done on \S+ in \S+, valid acc \d+\.\d\d%, downloaded/);
    assert.match(q.err(), /\[\d\/2\] softmax_bias: done on/);
    assert.match(q.out(), /softmax_bias\s+trained/);
    assert.ok(existsSync(join(dir, 'q', 'pics', 'contact-sheet.png')));
    assert.match(w.err(), /facelosses worker \S+: queue \S+ at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0/);
    // Finished jobs expire after FACELOSSES_QUEUE_KEEP (7 days by default).
    const queue = queueOn(redis.url);
    try {
      const job = await queue.getJobs(['completed']);
      assert.equal(job.length, 2);
      for (const j of job) assert.deepEqual(j.opts.removeOnComplete, { age: 7 * 86_400 });
    } finally {
      await queue.close();
    }

    // The same batch locally with the defaults (2 processes on 2 cores: 1 thread each, the queue's default here).
    const local = await runCli(['reproduce', ...common, '--out', join(dir, 'l', 'runs'), '--pics', join(dir, 'l', 'pics')]);
    assert.equal(local.code, 0, local.stderr);
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

    // The same command again, the address from the environment: nothing is trained, the results are downloaded.
    const again = start(['reproduce', ...common, '--queue', '--out', join(dir, 'q2', 'runs'), '--pics', join(dir, 'q2', 'pics')], { FACELOSSES_REDIS_URL: redis.url });
    assert.equal(await again.exited, 0, again.err());
    assert.match(again.err(), /0 added, 2 already there/);
    assert.match(again.err(), /softmax: finished earlier/);
    assert.deepEqual(metricsOf(join(dir, 'q2', 'runs', 'softmax-ci')), metricsOf(join(dir, 'q', 'runs', 'softmax-ci')));
    for (const name of ['softmax', 'softmax_bias']) {
      const trained = (logs().match(new RegExp(`\\n\\S+ ${name}: job \\S+ finished in`, 'g')) ?? []).length;
      assert.equal(trained, 1, `${name} trained ${trained} times:\n${logs()}`);
    }
    for (const [what, text] of [['reproduce', q.out() + q.err()], ['reproduce again', again.out() + again.err()], ['worker', w.out() + w.err()]] as const) noPassword(text, what);
    process.stderr.write(`# queue batch: ${queueSeconds.toFixed(1)} s\n`);
  } finally {
    await stopWorker(w);
    noPassword(w.out() + w.err(), 'the stopped worker');
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
    // No live worker holds the job now: reproduce says so (and that a worker takes it again).
    await until('reproduce to say that no live worker holds the job', () => /solo: no live worker holds job \S+ \(its worker stopped or lost Redis\); start a worker to continue it/.test(q.err()) || undefined, 60_000, logs);
    b = worker(redis, join(dir, 'b'));
    const code = await q.exited;
    assert.equal(code, 0, logs());
    assert.match(b.err(), /continuing after epoch [1-5]\b/, logs());
    assert.match(q.err(), /lost the connection to Redis/, logs());
    assert.equal(await plain.exited, 0, plain.err());
    const run = join(dir, 'q', 'runs', 'solo-ci');
    assert.deepEqual(metricsOf(run), metricsOf(join(dir, 'plain')));
    assert.deepEqual(weightsOf(run), weightsOf(join(dir, 'plain')));
    noPassword(logs(), 'reproduce or a worker');
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
