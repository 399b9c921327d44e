/**
 * The batch plan (src/batch/plan.ts) without processes: what to do with each run, job ids, config
 * globs, and `reproduce --collect` drawing runs gathered from elsewhere.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { batchView, childArgs, decideAction, jobIdOf, listConfigs, planBatch, type PlannedTask, poolThreads, splitTasks } from '../src/batch/plan.js';
import { reproduceCommand, reproducePlan } from '../src/commands/reproduce.js';
import { loadConfigFile, resolveConfig } from '../src/config/config.js';
import { appendMetrics, type RunInfo, writeRunInfo } from '../src/run/run.js';
import { saveSnapshot, type Snapshot } from '../src/run/snapshot.js';
import { readableLayout } from '../src/plot/contact-sheet.js';
import { pngSize } from '../src/plot/png.js';
import { tempDir } from './helpers/fixtures.js';

const cfg = resolveConfig({ name: 'softmax', loss: { name: 'softmax' } }, 'configs/softmax.yaml', 'ci');
const info = (over: Partial<RunInfo> = {}): RunInfo => ({ format: 'facelosses-run/1', config: cfg, profile: 'ci', backend: 'wasm', codeVersion: 'v1', startedAt: '', status: 'finished', ...over });

test('decideAction: skip, redraw, resume, train, refuse', () => {
  const base = { config: cfg, codeVersion: 'v1', figuresPresent: true, canResume: true };
  assert.equal(decideAction({ ...base }), 'train', 'no run');
  assert.equal(decideAction({ ...base, info: info() }), 'skip');
  assert.equal(decideAction({ ...base, info: info(), figuresPresent: false }), 'redraw');
  assert.equal(decideAction({ ...base, info: info(), force: true }), 'train');
  assert.equal(decideAction({ ...base, info: info({ codeVersion: 'v0' }) }), 'train', 'other code');
  assert.equal(decideAction({ ...base, info: info({ config: { ...cfg, train: { ...cfg.train, lr: 1 } } }) }), 'refuse', 'another config: never replaced without --force');
  assert.equal(decideAction({ ...base, info: info({ status: 'interrupted', config: { ...cfg, train: { ...cfg.train, lr: 1 } } }) }), 'refuse', 'nor an unfinished run of another config');
  assert.equal(decideAction({ ...base, info: info({ config: { ...cfg, train: { ...cfg.train, lr: 1 } } }), force: true }), 'train');
  assert.equal(decideAction({ ...base, info: info({ config: { ...cfg, source: 'elsewhere.yaml' } }) }), 'skip', 'the file path does not matter');
  assert.equal(decideAction({ ...base, info: info({ status: 'interrupted' }) }), 'resume');
  assert.equal(decideAction({ ...base, info: info({ status: 'running', codeVersion: 'v0' }) }), 'resume');
  assert.equal(decideAction({ ...base, info: info({ status: 'interrupted' }), canResume: false }), 'train');
  assert.equal(decideAction({ ...base, info: info({ status: 'failed' }) }), 'train');
});

test('a plan without processes: up-to-date runs and redraws apart from training; the train command of each run', () => {
  const dir = tempDir();
  for (const stem of ['a', 'b', 'c', 'd']) writeFileSync(join(dir, `${stem}.yaml`), 'loss:\n  name: softmax\n');
  const outRoot = join(dir, 'runs');
  const plan = planBatch({ profile: 'ci', configsDir: dir, outRoot, codeVersion: 'v1', log: () => {}, figuresPresent: (i) => i.config.name !== 'b', epochs: 2, lr: 0.01 });
  // Run folders as a stopped batch leaves them: a finished, a finished without figures, an interrupted one, none.
  const byStem = new Map(plan.tasks.map((t) => [t.stem, t]));
  for (const [stem, status] of [['a', 'finished'], ['b', 'finished'], ['c', 'interrupted']] as const) {
    mkdirSync(byStem.get(stem)!.runDir, { recursive: true });
    writeRunInfo(byStem.get(stem)!.runDir, info({ config: byStem.get(stem)!.config, status }));
  }
  const again = planBatch({ profile: 'ci', configsDir: dir, outRoot, codeVersion: 'v1', log: () => {}, figuresPresent: (i) => i.config.name !== 'b', epochs: 2, lr: 0.01 });
  assert.deepEqual(again.tasks.map((t) => [t.stem, t.action]), [['a', 'skip'], ['b', 'redraw'], ['c', 'resume'], ['d', 'train']]);
  const { ready, toTrain } = splitTasks(again.tasks);
  assert.deepEqual(ready.map((t) => t.stem), ['a', 'b']);
  assert.deepEqual(toTrain.map((t) => t.stem), ['c', 'd']);
  assert.equal(again.tasks[0]!.config.train.lr, 0.01, 'the overrides are in the resolved config');
  // A change of an override changes the config: the finished run is refused (--force retrains it).
  const other = planBatch({ profile: 'ci', configsDir: dir, outRoot, codeVersion: 'v1', log: () => {}, figuresPresent: () => true, epochs: 2, lr: 0.02 });
  assert.equal(other.tasks[0]!.action, 'refuse');
  assert.match(other.tasks[0]!.message!, /train\.lr is 0\.01 there, 0\.02 in the plan/);

  const d: PlannedTask = toTrain[1]!;
  assert.deepEqual(childArgs(d, { pics: 'pics', resume: false, epochs: 2, lr: 0.01, threads: 4, backend: 'wasm' }), [
    'train', '--config', d.file, '--profile', 'ci', '--out', d.runDir, '--force', '--view', 'raw',
    '--pics', 'pics', '--quiet', '--backend', 'wasm', '--threads', '4', '--epochs', '2', '--lr', '0.01',
  ]);
  // A resumed run keeps its own config and overrides: only where the figures go and how to train.
  const c: PlannedTask = toTrain[0]!;
  assert.deepEqual(childArgs(c, { pics: 'pics', resume: true, epochs: 2, lr: 0.01, width: 300 }), ['train', '--resume', c.runDir, '--pics', 'pics', '--quiet']);
  assert.deepEqual(childArgs(d, { pics: 'p', resume: false, width: 300 }).slice(-2), ['--size', '300x480']);
  assert.equal(poolThreads(16, 4), 4);
  assert.equal(poolThreads(2, 4, 'wasm'), 1);
  assert.equal(poolThreads(16, 4, 'cpu'), undefined, 'the cpu engine has no training threads');
});

test('job ids: from config, profile and code version; not from the file path', () => {
  const id = jobIdOf(cfg, 'ci', 'v1');
  assert.match(id, /^softmax-ci-[0-9a-f]{16}$/);
  assert.equal(jobIdOf({ ...cfg, source: '/elsewhere/softmax.yaml' }, 'ci', 'v1'), id);
  assert.notEqual(jobIdOf(cfg, 'ci', 'v2'), id);
  assert.notEqual(jobIdOf(cfg, 'quick', 'v1'), id);
  assert.notEqual(jobIdOf({ ...cfg, train: { ...cfg.train, seed: 9 } }, 'ci', 'v1'), id);
});

test('--configs: the subfolders of a folder, one level down, are planned too (stem 3d/arcface)', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'arcface.yaml'), 'loss: { name: arcface }\n');
  mkdirSync(join(dir, '3d', 'deeper'), { recursive: true });
  writeFileSync(join(dir, '3d', 'arcface.yaml'), 'name: arcface-3d\nloss: { name: arcface }\nmodel: { embeddingDim: 3 }\n');
  writeFileSync(join(dir, '3d', 'deeper', 'x.yaml'), 'loss: { name: softmax }\n');
  assert.deepEqual(listConfigs(dir).map((c) => c.stem), ['3d/arcface', 'arcface']);
  const plan = planBatch({ profile: 'ci', configsDir: dir, only: ['3d/arcface'], outRoot: join(dir, 'runs'), codeVersion: 'v1', log: () => {}, figuresPresent: () => true, canResume: () => true });
  assert.deepEqual(
    plan.tasks.map((t) => [t.stem, t.config.name, t.config.model.embeddingDim, t.runDir]),
    [['3d/arcface', 'arcface-3d', 3, join(dir, 'runs', 'arcface-3d-ci')]],
  );
});

test('--configs: a folder, a glob over file names, one file', () => {
  const dir = tempDir();
  for (const f of ['lr-1.yaml', 'lr-2.yaml', 'other.yaml', 'notes.txt']) writeFileSync(join(dir, f), 'loss:\n  name: softmax\n');
  assert.deepEqual(listConfigs(dir).map((c) => c.stem), ['lr-1', 'lr-2', 'other']);
  assert.deepEqual(listConfigs(join(dir, 'lr-*.yaml')).map((c) => c.stem), ['lr-1', 'lr-2']);
  assert.deepEqual(listConfigs(join(dir, 'lr-[2].yaml')).map((c) => c.stem), ['lr-2']);
  assert.deepEqual(listConfigs(join(dir, 'other.yaml')).map((c) => c.stem), ['other']);
  assert.throws(() => listConfigs(join(dir, 'x-*.yaml')), /no config file \(\*\.yaml\) matches/);
  assert.throws(() => listConfigs(join(dir, '*', 'a.yaml')), /wildcards are allowed only in the file name/);
  assert.throws(() => listConfigs(join(dir, 'nope')), /configs folder not found/);
  const plan = planBatch({ profile: 'ci', configsDir: join(dir, 'lr-*.yaml'), outRoot: join(dir, 'runs'), codeVersion: 'v1', log: () => {}, figuresPresent: () => true, canResume: () => true });
  // Configs without 'name:' are named by their file stems.
  assert.deepEqual(plan.tasks.map((t) => [t.stem, t.config.name, t.action]), [['lr-1', 'lr-1', 'train'], ['lr-2', 'lr-2', 'train']]);
});

function spokes(epoch: number, split: 'train' | 'valid', n = 100): Snapshot {
  const features = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * (i % 10)) / 10;
    features[2 * i] = (1 + (i % 5)) * Math.cos(t);
    features[2 * i + 1] = (1 + (i % 5)) * Math.sin(t);
    labels[i] = i % 10;
  }
  return { epoch, split, numClasses: 10, embeddingDim: 2, count: n, features, labels, predicted: labels.slice() };
}

test('reproduce --collect: figures, contact sheet and gallery from run folders under any names; missing configs listed', async () => {
  const dir = tempDir();
  const configs = join(dir, 'configs');
  mkdirSync(configs);
  writeFileSync(join(configs, 'softmax.yaml'), 'name: softmax\nloss:\n  name: softmax\n');
  writeFileSync(join(configs, 'arcface.yaml'), 'name: arcface\nloss:\n  name: arcface\n');
  writeFileSync(join(configs, 'cosface.yaml'), 'name: cosface\nloss:\n  name: cosface\n');
  // Two finished runs, as CI artifacts would arrive: folders named after the artifacts.
  for (const stem of ['softmax', 'arcface']) {
    const config = loadConfigFile(join(configs, `${stem}.yaml`), 'ci');
    config.plot.view = batchView(config);
    const run = join(dir, 'gathered', `run-${stem}-ci`, `${stem}`);
    writeRunInfo(run, { format: 'facelosses-run/1', config, profile: 'ci', backend: 'wasm', codeVersion: 'elsewhere', startedAt: '', status: 'finished', validAccuracy: 0.9 });
    for (let e = 1; e <= config.train.epochs; e++) appendMetrics(run, { epoch: e, lr: 0.001, loss: 1, trainAccuracy: 0.9, validLoss: 1, validAccuracy: 0.9, imagesPerSecond: 1, seconds: 1 });
    for (const e of config.snapshots) for (const split of ['train', 'valid'] as const) saveSnapshot(run, spokes(e, split));
  }
  const plan = await reproducePlan({ profile: 'ci', configsDir: configs, log: () => {} });
  assert.deepEqual(plan.map((e) => e.stem), ['softmax', 'cosface', 'arcface']);
  const readme = join(dir, 'gallery.md');
  const r = await reproduceCommand({ profile: 'ci', configsDir: configs, collect: join(dir, 'gathered'), out: join(dir, 'out'), pics: join(dir, 'pics'), readme, log: () => {} });
  assert.deepEqual(r.outcomes.map((o) => [o.stem, o.status]).sort(), [['arcface', 'collected'], ['softmax', 'collected']]);
  assert.deepEqual(r.gallery.map((g) => g.stem), ['softmax', 'arcface']);
  assert.ok(r.contactSheet && existsSync(r.contactSheet));
  // Two figures side by side at their own width (sized for reading, not thumbnails).
  const figure = pngSize(readFileSync(r.figures[0]!));
  const sheet = pngSize(readFileSync(r.contactSheet));
  assert.ok(sheet.width >= 2 * figure.width, `contact sheet ${sheet.width}x${sheet.height} for figures ${figure.width} wide`);
  assert.deepEqual(readableLayout(2, 640), { columns: 2, tileWidth: 640 });
  assert.deepEqual(readableLayout(21, 640), { columns: 5, tileWidth: 320 });
  assert.equal(r.problems.length, 0, r.problems.join('\n'));
  assert.equal(r.figures.length, 6 + 12, 'softmax raw, arcface raw and unit, 3 snapshots x 2 splits');
  const md = readFileSync(readme, 'utf8');
  assert.match(md, /`cosface`/, 'cosface listed as missing');
  assert.match(md, /### ArcFace/);
});
