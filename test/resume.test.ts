/**
 * Runs that survive, end to end through the CLI on a tiny synthetic dataset (wasm, one thread):
 * determinism, SIGKILL at any moment then --resume, Ctrl-C (checkpoint mid-epoch, exit 130), and
 * the NaN guard (stop, then skip-batch; `facelosses train` run in this process, a step's loss
 * made NaN through train's wrapStep). Each run: 320 images, batch 32, 10 steps x 3 epochs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { type TrainCommandOptions, trainCommand } from '../src/commands/train.js';
import { readHistory } from '../src/run/history.js';
import type { WrapStep } from '../src/train/epoch.js';
import { NonFiniteLossError } from '../src/train/nan-guard.js';
import { BIN, runCli } from './helpers/cli.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';

const TIMING = new Set(['imagesPerSecond', 'seconds', 'elapsedSeconds']);
const ENV = { FACELOSSES_THREADS: '1' };

let dir = '';
let data = '';
let cfg = '';
let reference = '';

function args(out: string, extra: string[] = []): string[] {
  return ['train', '--config', cfg, '--profile', 'full', '--data-dir', data, '--out', out, '--backend', 'wasm', '--quiet', ...extra];
}

async function cli(a: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, ENV, env);
  try {
    return await runCli(a);
  } finally {
    for (const k of Object.keys({ ...ENV, ...env })) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

function start(a: string[]) {
  const child = spawn(process.execPath, [BIN, ...a], { env: { ...process.env, ...ENV, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => child.on('close', (code, signal) => res({ code, signal, stderr })));
  return { child, done };
}

async function waitFor(pred: () => boolean, what: string, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const metrics = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !TIMING.has(k))));
const checkpoint = (run: string) => JSON.parse(readFileSync(join(run, 'checkpoint', 'last.json'), 'utf8'));
/** Epoch of the run's checkpoint, -1 while there is none. */
function ckEpoch(run: string): number {
  const f = join(run, 'checkpoint', 'last.json');
  return existsSync(f) ? (checkpoint(run).epoch as number) : -1;
}
const status = (run: string) => JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).status as string;

/** Same metrics (timing aside), weights, optimizer state, generator, snapshots and feature history as the reference run. */
function assertSameAsReference(run: string): void {
  assert.equal(status(run), 'finished');
  assert.deepEqual(metrics(run), metrics(reference));
  const a = checkpoint(reference);
  const b = checkpoint(run);
  assert.deepEqual(b.weights, a.weights, 'final weights');
  assert.deepEqual(b.optimizer, a.optimizer, 'optimizer state');
  assert.deepEqual(b.rng, a.rng);
  for (const f of ['train-epoch-0002.json', 'valid-epoch-0002.json']) {
    assert.equal(readFileSync(join(run, 'snapshots', f), 'utf8'), readFileSync(join(reference, 'snapshots', f), 'utf8'), f);
  }
  const h = readHistory(run);
  assert.equal(h.source, 'history');
  assert.deepEqual(h.frames, readHistory(reference).frames, 'feature history');
}

before(async () => {
  dir = tempDir();
  data = writeSyntheticIdx(join(dir, 'data'), 320, 64);
  cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, 'name: tiny\nloss: { name: softmax }\ntrain: { epochs: 3, batchSize: 32, lr: 0.002, seed: 3 }\nsnapshots: [2]\n');
  reference = join(dir, 'reference');
  const r = await cli(args(reference));
  assert.equal(r.code, 0, r.stderr);
});

test('same config, seed and backend: the same metrics and weights, run after run', async () => {
  const again = join(dir, 'again');
  const r = await cli(args(again));
  assert.equal(r.code, 0, r.stderr);
  assertSameAsReference(again);
  const m = metrics(again);
  assert.equal(m.length, 3);
  assert.ok((m[2]!.loss as number) < (m[0]!.loss as number), 'it learns something');
  const c = checkpoint(again);
  assert.equal(c.epoch, 3);
  assert.equal(c.position, undefined);
});

test('SIGKILL in epoch 1, --resume, SIGKILL in epoch 2, --resume: exactly the uninterrupted run; lines after the checkpoint are dropped', async () => {
  const run = join(dir, 'killed');
  const p = start(args(run));
  await waitFor(() => ckEpoch(run) >= 0, 'the initial checkpoint');
  await new Promise((r) => setTimeout(r, 150)); // into epoch 1
  p.child.kill('SIGKILL');
  assert.equal((await p.done).signal, 'SIGKILL');
  assert.equal(status(run), 'running');
  assert.ok(ckEpoch(run) < 3, `killed before the end (checkpoint of epoch ${ckEpoch(run)})`);

  const q = start(['train', '--resume', run, '--quiet']);
  await waitFor(() => ckEpoch(run) >= 1, 'the checkpoint of epoch 1');
  await new Promise((r) => setTimeout(r, 150)); // into epoch 2
  q.child.kill('SIGKILL');
  assert.equal((await q.done).signal, 'SIGKILL');
  const ck = ckEpoch(run);
  assert.ok(ck >= 1 && ck < 3, `killed before the end (checkpoint of epoch ${ck})`);
  // As if the killed process had written the metrics of an epoch it did not checkpoint, half a line included.
  appendFileSync(join(run, 'metrics.jsonl'), '{"epoch":99,"loss":1}\n{"epoch":100,"lo');
  const r = await cli(['train', '--resume', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assertSameAsReference(run);
  assert.equal(JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).resumedAt.length, 2);
});

test('Ctrl-C: checkpoint at the end of the step (position in the epoch included), exit 130, says how to resume; resuming matches', async () => {
  const run = join(dir, 'interrupted');
  const p = start(args(run));
  await waitFor(() => ckEpoch(run) >= 1, 'the checkpoint of epoch 1');
  await new Promise((r) => setTimeout(r, 150)); // into epoch 2
  p.child.kill('SIGINT');
  const end = await p.done;
  assert.equal(end.code, 130, end.stderr);
  assert.match(end.stderr, /interrupted \(SIGINT\)/);
  assert.match(end.stderr, /continue with: npx facelosses train --resume \S*interrupted$/m, 'a command to paste in the clone');
  assert.equal(status(run), 'interrupted');
  const ck = checkpoint(run);
  if (ck.position) {
    assert.equal(ck.position.epoch, ck.epoch + 1);
    assert.ok(ck.position.step > 0);
  }
  const again = await cli(['train', '--config', cfg, '--profile', 'full', '--data-dir', data, '--out', run]);
  assert.equal(again.code, 2, 'an interrupted run is not clobbered without --force');
  assert.match(again.stderr, /unfinished run \(status: interrupted\); continue it with --resume/);
  const r = await cli(['train', '--resume', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assertSameAsReference(run);
});

/** Makes the loss of step 3 of epoch 2 NaN (its gradients stay finite), through train's wrapStep seam. */
const nanAtEpoch2Step3: WrapStep = (compute, at) => {
  const r = compute();
  return at.epoch === 2 && at.step === 3 ? { ...r, loss: tf.scalar(NaN) } : r;
};

/** `facelosses train` in this process (as args() runs it), with the NaN of nanAtEpoch2Step3. */
function trainWithNaN(o: Partial<TrainCommandOptions>) {
  const fresh: TrainCommandOptions = o.resume ? {} : { config: cfg, profile: 'full', dataDir: data, backend: 'wasm' };
  return trainCommand({ ...fresh, quiet: true, wrapStep: nanAtEpoch2Step3, ...o });
}

// Through the command line (exit 1, the message on one line): errors.test.ts, a diverging loss.
test('a NaN loss stops the run naming epoch, step and value, keeps the last good checkpoint; skip-batch discards that update', async () => {
  const run = join(dir, 'nan');
  await assert.rejects(trainWithNaN({ out: run }), (e: unknown) => {
    assert.ok(e instanceof NonFiniteLossError, String(e));
    assert.doesNotMatch(e.message, /\n/, 'one line');
    assert.match(e.message, /^the loss became NaN at epoch 2, step 3; stopped, the last good checkpoint \(epoch 1\) stays/);
    return true;
  });
  assert.equal(status(run), 'failed');
  assert.equal(checkpoint(run).epoch, 1);
  assert.deepEqual(metrics(run), metrics(reference).slice(0, 1));

  await trainWithNaN({ resume: run, nanPolicy: 'skip-batch' });
  const m = metrics(run);
  assert.equal(status(run), 'finished');
  assert.deepEqual(m.map((x) => x.skippedBatches), [0, 1, 0]);
  assert.deepEqual(m[0], metrics(reference)[0]);
  assert.notDeepEqual(m[1], metrics(reference)[1]);
  for (const x of m) assert.ok(Number.isFinite(x.loss as number));

  // The same from the start, without stopping: the same numbers (skipping is deterministic too).
  const fresh = join(dir, 'skip');
  await trainWithNaN({ out: fresh, nanPolicy: 'skip-batch' });
  assert.deepEqual(metrics(fresh), m);
});

test('--resume refuses a finished run, a changed config or override, and --force; the folder is left as it was', async () => {
  const run = join(dir, 'copy');
  cpSync(reference, run, { recursive: true });
  const before = readFileSync(join(run, 'metrics.jsonl'), 'utf8');
  const fin = await cli(['train', '--resume', run]);
  assert.equal(fin.code, 2);
  assert.match(fin.stderr, /the run already finished \(3 epochs\); nothing to resume/);
  // Pretend it was interrupted, then ask for changes.
  const info = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
  writeFileSync(join(run, 'run.json'), JSON.stringify({ ...info, status: 'interrupted' }));
  const runJson = readFileSync(join(run, 'run.json'), 'utf8');
  const changed = join(dir, 'changed.yaml');
  writeFileSync(changed, readFileSync(cfg, 'utf8').replace('lr: 0.002', 'lr: 0.003'));
  const cases: Array<[string[], RegExp]> = [
    [['--config', changed], /changed\.yaml differs from the config of the run in \S+ at train\.lr \(run: 0\.002, now: 0\.003\)/],
    [['--epochs', '5'], /the command line differs from the config of the run in \S+ at train\.epochs \(run: 3, now: 5\)/],
    [['--seed', '4'], /at train\.seed \(run: 3, now: 4\)/],
    [['--force'], /--resume continues a run and --force starts one over/],
    [['--out', join(dir, 'elsewhere')], /a resumed run stays in its own folder/],
    [['--data-dir', writeSyntheticIdx(join(dir, 'other-data'), 352, 64)], /the data in \S+other-data \(352 train, 64 test images\) differ from the data the run in \S+ was trained on/],
  ];
  for (const [extra, re] of cases) {
    const r = await cli(['train', '--resume', run, ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(readFileSync(join(run, 'run.json'), 'utf8'), runJson);
    assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), before);
  }
  assert.equal(existsSync(join(dir, 'elsewhere')), false);
  // The same config file, given again, is accepted (and there is nothing left to train).
  const same = await cli(['train', '--resume', run, '--config', cfg, '--quiet']);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(status(run), 'finished');
});
