/**
 * Training with 3-D features (model.embeddingDim 3), end to end on a tiny synthetic dataset:
 * every loss of the registry trains on the wasm engine with 2 data-parallel threads and writes
 * 3-D snapshots, separability and the four sphere figures; the workers' gradients with a last
 * convolution of 3 output channels equal the single-process ones; a 3-D run killed mid-way and
 * resumed matches the uninterrupted run; the config key and the views are checked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend.js';
import { trainCommand } from '../src/commands/train.js';
import { plotCommand } from '../src/commands/plot.js';
import { ConfigError, resolveConfig } from '../src/config/config.js';
import { configHash } from '../src/config/identity.js';
import { createLoss, lossNames } from '../src/losses/registry.js';
import { createFeatureNet, type FeatureNet } from '../src/model/net.js';
import { prepareSphere, renderSphere } from '../src/plot/sphere.js';
import { Rng } from '../src/rng.js';
import { loadSnapshot } from '../src/run/snapshot.js';
import { DataParallel } from '../src/train/parallel.js';
import { computeGradients, trainableVariables } from '../src/train/step.js';
import { loadGalleryRun } from '../src/report/batch.js';
import { galleryMarkdown } from '../src/report/gallery.js';
import { BIN, runCli } from './helpers/cli.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';

let dir = '';
let data = '';

before(() => {
  dir = tempDir();
  data = writeSyntheticIdx(join(dir, 'data'), 96, 40);
});

function config(name: string, loss: string, extra = ''): string {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\nloss: { name: ${loss} }\nmodel: { embeddingDim: 3 }\ntrain: { epochs: 2, batchSize: 32, lr: 0.002, seed: 3 }\nsnapshots: [2]\nplot: { view: all, width: 320, height: 240 }\n${extra}`);
  return f;
}

test('every loss trains with 3-D features on wasm with 2 data-parallel threads: 3-D snapshots, angles, four sphere figures per split', async () => {
  const names = lossNames();
  assert.equal(names.length, 20);
  for (const loss of names) {
    const out = join(dir, `run-${loss}`);
    const r = await trainCommand({ config: config(`t-${loss}`, loss), profile: 'full', dataDir: data, out, backend: 'wasm', threads: 2, quiet: true });
    assert.equal(r.config.model.embeddingDim, 3);
    const m = r.metrics.at(-1)!;
    assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.validLoss), `${loss}: finite losses`);
    for (const split of ['train', 'valid'] as const) {
      const s = loadSnapshot(join(out, 'snapshots', `${split}-epoch-0002.json`));
      assert.equal(s.embeddingDim, 3, `${loss} ${split}`);
      assert.equal(s.features.length, 3 * s.count);
      assert.ok(s.features.every(Number.isFinite), `${loss} ${split}: finite features`);
      const W = createLoss(loss, {}, { numClasses: 10, embeddingDim: 3 }).trainableVariables().W;
      // One weight column a class: saved with the features; several (Sub-center ArcFace) or none: not.
      if (W && W.shape[1] === 10) assert.equal(s.classWeights?.length, 30, `${loss}: the class weights are saved with the features`);
      else assert.equal(s.classWeights, undefined, `${loss}: no class weights saved`);
      W?.dispose();
    }
    const sep = JSON.parse(readFileSync(join(out, 'snapshots', 'separability-epoch-0002.json'), 'utf8'));
    assert.equal(sep.valid.dim, 3, `${loss}: the angles are measured in 3-D`);
    const pngs = r.files.filter((f) => f.endsWith('.png')).map((f) => f.slice(f.lastIndexOf('/') + 1));
    assert.equal(pngs.length, 8, `${loss}: ${pngs.join(', ')}`);
    for (const suffix of ['_3d.png', '_3d_unit.png', '_3d_pair.png', '_3d_map.png']) {
      assert.equal(pngs.filter((f) => f.endsWith(suffix)).length, 2, `${loss}: train and valid ${suffix}`);
    }
    assert.equal(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).config.model.embeddingDim, 3, 'run.json records the dimension');
  }
});

test('data-parallel gradients with a last convolution of 3 output channels equal the single-process ones', async () => {
  await initBackend('wasm', { threads: 1 });
  const net: FeatureNet = createFeatureNet(new Rng(5), 3);
  const dp = await DataParallel.create(net, { workers: 2, maxBatch: 64 });
  try {
    for (const name of ['arcface', 'center', 'triplet']) {
      const loss = createLoss(name, {}, { numClasses: 10, embeddingDim: 3, rng: new Rng(9) }, () => {});
      const vars = trainableVariables(net, loss);
      const rng = new Rng(4);
      const x = tf.tensor4d(rng.normalArray(37 * 784), [37, 28, 28, 1]);
      const y = tf.tensor1d(Int32Array.from({ length: 37 }, (_, i) => i % 10), 'int32');
      const a = computeGradients(net, loss, vars, x, y);
      dp.markWeightsChanged();
      const b = dp.computeGradients(loss, vars, x, y);
      assert.deepEqual(b.embeddings.shape, [37, 3]);
      for (const k of Object.keys(a.grads)) {
        const ga = a.grads[k]!.dataSync();
        const gb = b.grads[k]!.dataSync();
        let num = 0;
        let den = 0;
        for (let i = 0; i < ga.length; i++) {
          num = Math.max(num, Math.abs(ga[i]! - gb[i]!));
          den = Math.max(den, Math.abs(ga[i]!));
        }
        assert.ok(num <= 1e-5 * Math.max(den, 1e-6), `${name} ${k}: ${num} vs ${den}`);
      }
      for (const r of [a, b]) tf.dispose([r.loss, r.embeddings, ...(r.logits ? [r.logits] : []), ...Object.values(r.grads)]);
      tf.dispose([x, y]);
      loss.dispose();
    }
  } finally {
    await dp.dispose();
    net.dispose();
  }
});

test('a 3-D run killed after its first epoch and resumed ends with the weights and snapshots of the uninterrupted run', async () => {
  const cfg = config('resume3d', 'arcface', '');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('epochs: 2', 'epochs: 3'));
  const args = (out: string) => ['train', '--config', cfg, '--profile', 'full', '--data-dir', data, '--out', out, '--backend', 'wasm', '--threads', '1', '--quiet'];
  const ref = join(dir, 'ref3d');
  assert.equal((await runCli(args(ref))).code, 0);
  const run = join(dir, 'killed3d');
  const child = spawn(process.execPath, [BIN, ...args(run)], { env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
  const ck = join(run, 'checkpoint', 'last.json');
  const t0 = Date.now();
  while (!(existsSync(ck) && JSON.parse(readFileSync(ck, 'utf8')).epoch >= 1) && child.exitCode === null) {
    if (Date.now() - t0 > 120_000) throw new Error('no checkpoint of epoch 1');
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  const r = await runCli(['train', '--resume', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(readFileSync(join(ref, 'checkpoint', 'last.json'), 'utf8'));
  const b = JSON.parse(readFileSync(join(run, 'checkpoint', 'last.json'), 'utf8'));
  assert.deepEqual(b.weights, a.weights);
  for (const f of readdirSync(join(ref, 'snapshots')).filter((x) => x.startsWith('valid'))) {
    assert.equal(readFileSync(join(run, 'snapshots', f), 'utf8'), readFileSync(join(ref, 'snapshots', f), 'utf8'), f);
  }
});

test('plot --view redraws one view of a 3-D run; the 3-D views are refused for a 2-D run, exit 2', async () => {
  const files = await plotCommand({ run: join(dir, 'run-arcface'), view: 'map', out: join(dir, 'replot'), split: 'valid' });
  assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)), ['ArcFaceLoss-valid_s=32.0, m=0.5, epoch=2_3d_map.png']);
  const flat = join(dir, 'flat.yaml');
  writeFileSync(flat, 'name: flat\nloss: { name: softmax }\ntrain: { epochs: 1, batchSize: 32, seed: 3 }\nsnapshots: [1]\n');
  const r2 = await runCli(['train', '--config', flat, '--profile', 'full', '--data-dir', data, '--out', join(dir, 'flat'), '--backend', 'wasm', '--threads', '1', '--quiet', '--view', 'pair']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--view pair: the pair view draws 3-D features on the sphere; this run's features are 2-D/);
  assert.equal(existsSync(join(dir, 'flat')), false, 'nothing written');
});

test('the gallery gives 3-D runs a section of their own: accuracy table, the valid figures in the four views', async () => {
  const run = join(dir, 'run-arcface');
  const g = await loadGalleryRun(run, join(run, 'pics'), '3d/arcface', 'configs/3d/arcface.yaml');
  assert.equal(g.naming.dim, 3);
  assert.deepEqual(g.views, ['raw', 'unit', 'pair', 'map']);
  const md = galleryMarkdown([g], { readmeDir: dir, command: 'npx facelosses reproduce', profile: 'full', profileDescription: '2 epochs' });
  const at = md.indexOf('## Gallery: 3-D features on the sphere');
  assert.ok(at > 0, md);
  assert.ok(md.indexOf('### Valid accuracy per loss, 3-D') > at);
  assert.match(md, /\| epoch \| valid, raw 3-D \| valid, sphere \| valid, two opposite views \| valid, equal-area map \|/);
  assert.match(md, /<img src="run-arcface\/pics\/ArcFace\/ArcFaceLoss-valid_s=32\.0,%20m=0\.5,%20epoch=2_3d_map\.png"/);
});

test('model.embeddingDim: default 2, any D >= 2; part of the run identity only when not 2', () => {
  const base = { loss: { name: 'arcface' } };
  const two = resolveConfig(base, 'x.yaml');
  assert.equal(two.model.embeddingDim, 2);
  assert.equal(configHash(two), configHash(resolveConfig({ ...base, model: { embeddingDim: 2 } }, 'x.yaml')));
  const three = resolveConfig({ ...base, model: { embeddingDim: 3 } }, 'x.yaml');
  assert.notEqual(configHash(three), configHash(two));
  assert.equal(resolveConfig({ ...base, model: { embeddingDim: 16 } }, 'x.yaml').model.embeddingDim, 16);
  assert.throws(() => resolveConfig({ ...base, model: { embeddingDim: 1 } }, 'x.yaml'), (e: unknown) => e instanceof ConfigError && /x\.yaml: model\.embeddingDim must be >= 2, got 1/.test(e.message));
  assert.throws(() => resolveConfig({ ...base, model: { dim: 3 } }, 'x.yaml'), /unknown key 'model\.dim'; known keys of model: embeddingDim/);
  assert.throws(() => resolveConfig({ ...base, plot: { view: 'map' } }, 'x.yaml'), /plot\.view: the map view draws 3-D features on the sphere; this run's features are 2-D/);
  // CosFace's margin bound follows the dimension: m 0.35 is refused in 2-D and fits on the sphere
  assert.throws(() => resolveConfig({ loss: { name: 'cosface', params: { m: 0.35 } } }, 'c.yaml'), /c\.yaml: loss\.params\.m = 0\.35 is above the CosFace bound for a 2-D embedding/);
  assert.equal(resolveConfig({ loss: { name: 'cosface', params: { m: 0.35 } }, model: { embeddingDim: 3 } }, 'c.yaml').loss.params.m, 0.35);
});

test('the sphere figures: unit directions, class means, weight directions; each view draws every point', async () => {
  // two classes around +z and −z, one point with no direction
  const pts = [0, 0, 2, 0.1, 0, 3, 0, 0, -1, 0, 0.1, -4, 0, 0, 0];
  const p = prepareSphere({ points: pts, colorLabels: [0, 0, 1, 1, 0], numClasses: 2, title: '', classDirections: [0, 0, 5, 0, 0, -2] });
  assert.equal(p.drawn, 4);
  assert.equal(p.skipped, 1);
  assert.deepEqual(Array.from(p.norms).map((v) => +v.toFixed(4)), [2, 3.0017, 1, 4.0012]);
  assert.ok(p.meanDirs[0]![2] > 0.99 && p.meanDirs[1]![2] < -0.99);
  assert.deepEqual(p.weightDirs, [
    [0, 0, 1],
    [0, 0, -1],
  ]);
  for (const view of ['unit', 'pair', 'map', 'raw'] as const) {
    const r = await renderSphere({ points: pts, colorLabels: [0, 0, 1, 1, 0], numClasses: 2, title: 't', width: 200, height: 150 }, view);
    assert.equal(r.drawn, 4);
    assert.equal(r.png.subarray(1, 4).toString(), 'PNG');
  }
  assert.throws(() => prepareSphere({ points: [1, 2], colorLabels: [0], numClasses: 1, title: '' }), /expected points\.length = 3 \* 1/);
});

