import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadImage } from '@napi-rs/canvas';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
}

test('--help explains every command; unknown command and unknown flag exit 2', async () => {
  const h = await runCli(['--help']);
  assert.equal(h.code, 0);
  for (const c of ['train', 'plot', 'losses']) assert.match(h.stdout, new RegExp(c));
  const th = await runCli(['train', '--help']);
  assert.equal(th.code, 0);
  assert.match(th.stdout, /--profile/);
  assert.match(th.stdout, /--backend/);
  const u = await runCli(['tarin']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /unknown command 'tarin'/);
  const f = await runCli(['train', '--config', 'configs/softmax.yaml', '--epochz', '3']);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /unknown option '--epochz'/);
  const bad = await runCli(['train', '--config', 'configs/softmax.yaml', '--epochs', 'x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--epochs must be a whole number/);
});

test('a bad config exits 2 with one line naming file and key, and writes nothing', async () => {
  const dir = tempDir();
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, 'loss:\n  name: softmax\ntrain:\n  lr: -3\n');
  const out = join(dir, 'run');
  const r = await runCli(['train', '--config', cfg, '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad.yaml: train.lr must be > 0, got -3/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.equal(existsSync(out), false);
  const miss = await runCli(['train', '--config', 'configs/softmax.yaml', '--data-dir', join(dir, 'nodata'), '--out', out]);
  assert.equal(miss.code, 2);
  assert.match(miss.stderr, /data folder not found/);
  assert.equal(existsSync(out), false);
});

test('losses lists every loss with parameters and defaults', async () => {
  const r = await runCli(['losses']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^softmax: /m);
  assert.match(r.stdout, /bias \(boolean\) default false/);
  const j = await runCli(['losses', '--json']);
  const list = JSON.parse(j.stdout) as Array<{ name: string }>;
  assert.ok(list.some((d) => d.name === 'softmax'));
});

test('tiny end-to-end run: trains, the loss goes down, PNGs of the requested size, plot redraws', async () => {
  const dir = tempDir();
  const out = join(dir, 'run');
  const r = await runCli(['train', '--config', 'configs/softmax.yaml', '--epochs', '3', '--snapshots', '1,3', '--train-limit', '640', '--valid-limit', '200', '--size', '320x240', '--out', out, '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /backend wasm/);
  assert.match(r.stdout, /valid accuracy: \d+\.\d+%/);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(metrics.length, 3);
  for (const k of ['loss', 'trainAccuracy', 'validAccuracy', 'imagesPerSecond', 'lr']) assert.equal(typeof metrics[0][k], 'number', k);
  assert.ok(metrics[2].loss < metrics[0].loss, `loss went down: ${metrics.map((m) => m.loss)}`);
  const pngs = walk(join(out, 'pics')).filter((f) => f.endsWith('.png')).sort();
  assert.deepEqual(pngs.map((p) => p.slice(out.length + 1)), [
    'pics/Softmax/SoftmaxLoss-train_epoch=1.png',
    'pics/Softmax/SoftmaxLoss-train_epoch=3.png',
    'pics/Softmax/SoftmaxLoss-valid_epoch=1.png',
    'pics/Softmax/SoftmaxLoss-valid_epoch=3.png',
  ]);
  for (const p of pngs) {
    const img = await loadImage(readFileSync(p));
    assert.equal(img.width, 320);
    assert.equal(img.height, 240);
  }
  for (const p of pngs) assert.ok(r.stdout.includes(p.slice(p.indexOf('pics'))), 'train prints where the PNGs went');

  const redraw = join(dir, 'redraw');
  const pr = await runCli(['plot', '--run', out, '--epoch', '3', '--split', 'valid', '--out', redraw]);
  assert.equal(pr.code, 0, pr.stderr);
  assert.deepEqual(walk(redraw).map((p) => p.slice(redraw.length + 1)), ['Softmax/SoftmaxLoss-valid_epoch=3.png']);
  const missing = await runCli(['plot', '--run', out, '--epoch', '2']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /has no snapshot at epoch 2; saved epochs: 1, 3/);
  const notRun = await runCli(['plot', '--run', dir]);
  assert.equal(notRun.code, 2);
  assert.match(notRun.stderr, /is not a facelosses run folder/);
});
