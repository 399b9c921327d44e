import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfigFile, resolveConfig, scheduleNote } from '../src/config/config.js';
import { configDifference } from '../src/config/identity.js';
import { applyOverrides, OVERRIDES, overrideArgs, parseOverride, pickOverrides } from '../src/config/overrides.js';
import { tempDir } from './helpers/fixtures.js';

const base = { loss: { name: 'softmax' } };

function expectError(raw: unknown, re: RegExp) {
  assert.throws(
    () => resolveConfig(raw, 'cfg.yaml'),
    (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && re.test(e.message) && e.message.startsWith('cfg.yaml'),
    `expected ${re}`,
  );
}

test('every config in configs/ loads under every profile', () => {
  const files = readdirSync('configs').filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3);
  for (const f of files) {
    for (const p of ['full', 'quick', 'ci'] as const) {
      const c = loadConfigFile(join('configs', f), p);
      assert.ok(c.train.epochs >= 1 && c.snapshots.length >= 1, f);
      assert.ok(c.snapshots.every((s) => s <= c.train.epochs), `${f} ${p}: snapshots within epochs`);
    }
  }
});

test('defaults are the reference schedule', () => {
  const c = resolveConfig(base, 'x.yaml');
  assert.equal(c.name, 'x');
  assert.deepEqual(c.train, { epochs: 500, batchSize: 128, lr: 0.001, weightDecay: 0.0001, lrStepEpochs: 50, lrGamma: 0.7, warmupEpochs: 0, seed: 1 });
  assert.deepEqual(c.snapshots, [100, 300, 500]);
  assert.deepEqual(c.loss.params, { bias: false });
  assert.equal(scheduleNote(c), '');
});

test('profiles compress the schedule and keep its shape; config overrides per profile apply', () => {
  const q = resolveConfig(base, 'x.yaml', 'quick');
  assert.ok(q.train.epochs < 500);
  assert.equal(q.data.trainLimit, null, 'the quick profile trains on all the data');
  assert.equal(q.data.validLimit, null);
  assert.equal(q.snapshots.length, 3);
  assert.equal(q.snapshots[2], q.train.epochs);
  assert.equal(scheduleNote(q), 'quick profile');
  assert.equal(q.train.lr, 0.003, 'the quick profile raises the learning rate x3 by default');
  assert.equal(q.train.warmupEpochs, 1, 'and warms it up over the first epoch');
  assert.equal(resolveConfig({ ...base, profiles: { quick: { train: { warmupEpochs: 0 } } } }, 'x.yaml', 'quick').train.warmupEpochs, 0);
  const ci = resolveConfig(base, 'x.yaml', 'ci');
  assert.equal(ci.train.warmupEpochs, 0);
  assert.equal(ci.data.trainLimit, 3000);
  const o = resolveConfig({ ...base, profiles: { quick: { train: { epochs: 4 }, snapshots: [1, 4] } } }, 'x.yaml', 'quick');
  assert.equal(o.train.epochs, 4);
  assert.deepEqual(o.snapshots, [1, 4]);
  // More epochs under profiles.quick: the snapshots and the learning-rate drop follow the longer run.
  const l = resolveConfig({ ...base, profiles: { quick: { train: { epochs: 10 } } } }, 'x.yaml', 'quick');
  assert.deepEqual(l.snapshots, [2, 6, 10]);
  assert.equal(l.train.lrStepEpochs, 7, 'the lr drops once, after 70 % of the run');
  const f = resolveConfig(base, 'x.yaml', 'full', { epochs: 3 });
  assert.deepEqual(f.snapshots, [1, 2, 3]);
  // --epochs moves the snapshots with the run's length: the last epoch is always drawn
  assert.deepEqual(resolveConfig(base, 'x.yaml', 'full', { epochs: 100 }).snapshots, [20, 60, 100]);
  assert.deepEqual(resolveConfig({ ...base, profiles: { quick: { train: { epochs: 10 } } } }, 'x.yaml', 'quick', { epochs: 14 }).snapshots, [3, 8, 14]);
  assert.equal(scheduleNote(f), 'custom profile');
});

test('the full profile of every config is the reference schedule, unchanged', () => {
  for (const file of readdirSync('configs').filter((x) => x.endsWith('.yaml'))) {
    const c = loadConfigFile(join('configs', file), 'full');
    assert.equal(c.train.epochs, 500, file);
    assert.deepEqual(c.snapshots, [100, 300, 500], file);
    assert.equal(c.data.trainLimit, null, `${file}: all training images`);
    assert.equal(c.data.validLimit, null, `${file}: all test images`);
    assert.equal(c.train.batchSize, 128, file);
    assert.equal(c.train.lr, 0.001, file);
    assert.equal(c.train.weightDecay, 0.0001, file);
    assert.equal(c.train.warmupEpochs, 0, file);
    assert.equal(c.train.lrGamma, 0.7, file);
    assert.ok([50, 100].includes(c.train.lrStepEpochs), `${file}: reference step decay every 50 or 100 epochs`);
    assert.equal(c.customized, false);
  }
});

test('command-line overrides: epochs, snapshots, limits, seed', () => {
  const c = resolveConfig(base, 'x.yaml', 'full', { epochs: 10, snapshots: [5, 2, 10], trainLimit: 100, validLimit: 50, seed: 9 });
  assert.equal(c.train.epochs, 10);
  assert.deepEqual(c.snapshots, [2, 5, 10]);
  assert.equal(c.data.trainLimit, 100);
  assert.equal(c.train.seed, 9);
  assert.throws(() => resolveConfig(base, 'x.yaml', 'full', { epochs: 10, snapshots: [11] }), /--snapshots: epoch 11 is outside 1..10/);
});

test('--lr: the learning rate after the profile; checked as train.lr; passed on by reproduce; a resumed run refuses a change', () => {
  const ci = resolveConfig(base, 'x.yaml', 'ci');
  const c = resolveConfig(base, 'x.yaml', 'ci', { lr: 0.01 });
  assert.equal(c.train.lr, 0.01, 'the value given, not scaled by the profile');
  assert.equal(c.customized, true);
  assert.deepEqual({ ...c, train: { ...c.train, lr: ci.train.lr }, customized: false }, ci, 'nothing else changes');
  assert.throws(() => resolveConfig(base, 'x.yaml', 'ci', { lr: -1 }), (e: unknown) => e instanceof ConfigError && /--lr must be > 0, got -1/.test(e.message));
  const lr = OVERRIDES.find((r) => r.key === 'lr')!;
  assert.equal(parseOverride(lr, '0.003'), 0.003);
  assert.throws(() => parseOverride(lr, 'fast'), /--lr must be a number, e\.g\. 0\.003, got "fast"/);
  assert.throws(() => parseOverride(lr, '20'), /--lr must be <= 10, got 20/);
  assert.deepEqual(overrideArgs(pickOverrides({ lr: 0.01, epochs: 2, quiet: true }, 'batch')), ['--epochs', '2', '--lr', '0.01']);
  // train --resume: the run's config with the command line's overrides must be the run's config.
  assert.equal(configDifference(ci, applyOverrides(ci, { lr: 0.01 }, 'must agree'), 'training')?.key, 'train.lr');
  assert.equal(configDifference(ci, applyOverrides(ci, { lr: ci.train.lr }, 'must agree'), 'training'), undefined);
});

test('config errors name the file and the key and say what is right', () => {
  expectError({ ...base, trian: {} }, /unknown key 'trian'; known keys: name, description, loss, model, data, train/);
  expectError({ ...base, train: { epoch: 3 } }, /unknown key 'train.epoch'; known keys of train: epochs/);
  expectError({ ...base, train: { epochs: 'many' } }, /train.epochs must be a whole number, got "many"/);
  expectError({ ...base, train: { lr: -1 } }, /train.lr must be > 0, got -1/);
  expectError({ ...base, train: { batchSize: 1 } }, /train.batchSize must be >= 2/);
  expectError({ ...base, plot: { colorBy: 'x' } }, /plot.colorBy must be one of predicted, true/);
  expectError({ ...base, snapshots: [1, 'a'] }, /snapshots\[1\] must be a whole number/);
  expectError({ loss: { name: 'nosuchloss' } }, /loss.name: unknown loss 'nosuchloss'; known losses: softmax/);
  expectError({ loss: { name: 'softmax', params: { bais: true } } }, /loss.params.bais: unknown parameter 'bais' for loss 'softmax'; its parameters are: bias/);
  expectError({ loss: { name: 'softmax', params: { bias: 3 } } }, /loss.params.bias must be true or false/);
  expectError({ train: {} }, /loss.name is required/);
  expectError(null, /empty document/);
  expectError({ ...base, profiles: { fast: {} } }, /unknown profile 'profiles.fast'/);
});

test('config files: missing file and malformed YAML', () => {
  assert.throws(() => loadConfigFile('/nonexistent.yaml'), /config file not found: \/nonexistent.yaml/);
  const dir = tempDir();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'loss:\n  name: softmax\n   params: [\n');
  assert.throws(() => loadConfigFile(bad), (e: unknown) => e instanceof ConfigError && /bad\.yaml:2:9: malformed YAML: .* \(in the line "name: softmax"\); fix the YAML syntax there$/.test(e.message));
  const dup = join(dir, 'dup.yaml');
  writeFileSync(dup, 'loss:\n  name: softmax\nloss:\n  name: arcface\n');
  assert.throws(() => loadConfigFile(dup), /malformed YAML/);
});

test('warmupEpochs is checked', () => {
  expectError({ ...base, train: { warmupEpochs: -1 } }, /train\.warmupEpochs/);
  expectError({ ...base, train: { warmupEpochs: 'two' } }, /train\.warmupEpochs/);
  assert.equal(resolveConfig({ ...base, train: { warmupEpochs: 2.5 } }, 'x.yaml').train.warmupEpochs, 2.5);
});
