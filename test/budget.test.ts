/**
 * The quick profile's budgets. These tests count the training steps and evaluated images each
 * config's schedule asks for and price them at one constant cost per image (DEV_MACHINE_COST in
 * src/config/budget.ts, measured once on the 2-core development machine). So they check the
 * configs' step counts against the budgets, not the speed of the code: a slower kernel passes
 * here; measure speed with `npm run bench`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listConfigs } from '../src/batch/plan.js';
import { DEV_MACHINE_COST, QUICK_BUDGET, estimateRun } from '../src/config/budget.js';
import { loadConfigFile, resolveConfig } from '../src/config/config.js';

// Every config reproduce plans: configs/*.yaml and the subfolders (configs/3d/*.yaml as '3d/arcface.yaml').
const quick = listConfigs('configs').map(({ stem, file }) => ({ file: `${stem}.yaml`, c: loadConfigFile(file, 'quick') }));

test('estimateRun counts the steps a schedule asks for (last partial batch dropped) and prices them', () => {
  const c = resolveConfig({ loss: { name: 'softmax' } }, 'x.yaml', 'full', { epochs: 2, trainLimit: 1000, validLimit: 500 });
  const e = estimateRun(c, { trainImagesPerSecond: 100, evalImagesPerSecond: 1000, fixedSeconds: 1 });
  assert.equal(e.steps, 2 * 7); // floor(1000 / 128) = 7 steps per epoch
  assert.equal(e.trainImages, 2 * 7 * 128);
  assert.equal(e.evalImages, 1000);
  assert.equal(e.seconds, 1 + 1792 / 100 + 1000 / 1000);
  const full = estimateRun(resolveConfig({ loss: { name: 'softmax' } }, 'x.yaml', 'full'));
  assert.equal(full.steps, 500 * 468, 'the reference schedule: 468 steps per epoch on all 60,000 images');
});

test('quick profile budgets, by step count at the constant cost per image: the first command, every config, all of them', () => {
  const lines: string[] = [];
  let total = 0;
  for (const { file, c } of quick) {
    const e = estimateRun(c);
    total += e.seconds;
    lines.push(`${file}: ${c.train.epochs} epochs, ${e.steps} steps, ~${(e.seconds / 60).toFixed(1)} min`);
    assert.ok(e.seconds <= QUICK_BUDGET.perConfigSeconds, `${file}: ${(e.seconds / 60).toFixed(1)} min is over the per-config budget`);
  }
  const softmax = quick.find((q) => q.file === 'softmax.yaml')!;
  const s = estimateRun(softmax.c).seconds;
  assert.ok(s <= QUICK_BUDGET.firstCommandSeconds, `softmax quick (the README's first command): ${s.toFixed(0)} s is over its budget`);
  // The estimate of the measured runs (softmax, 5 epochs: 109-128 s, median 118 s, on a quiet
  // machine, src/config/budget.ts) is close to them.
  assert.ok(Math.abs(s - 118) < 8, `softmax estimate ${s.toFixed(0)} s against about 118 s measured`);
  // reproduce runs one process per core with one thread each: about the same images/s in all as one
  // process with a worker thread per core, so the batch costs the sum of the runs.
  assert.ok(total <= QUICK_BUDGET.allConfigsSeconds, `reproduce --profile quick: ${(total / 60).toFixed(0)} min is over budget\n${lines.join('\n')}`);
  assert.ok(DEV_MACHINE_COST.trainImagesPerSecond > 0);
});

test('the quick profile trains on all the data with enough steps for the normalised heads', () => {
  for (const { file, c } of quick) {
    assert.equal(c.data.trainLimit, null, `${file}: all 60,000 training images`);
    assert.equal(c.data.validLimit, null, `${file}: all 10,000 test images`);
    assert.ok(c.train.epochs >= 4, `${file}: at least 4 epochs`);
    assert.equal(c.snapshots[c.snapshots.length - 1], c.train.epochs, `${file}: a figure at the last epoch`);
    assert.ok(c.train.lrStepEpochs < c.train.epochs, `${file}: the learning rate drops before the end`);
  }
  for (const stem of ['normface', 'cosface', 'arcface', 'l2softmax', 'l2softmax_fixed', 'magface', 'circle', 'subcenter_arcface', 'adacos', 'curricularface', 'adaface', 'elasticface']) {
    const c = quick.find((q) => q.file === `${stem}.yaml`)!.c;
    assert.ok(estimateRun(c).steps >= 16 * 468, `${stem}: the normalised heads need at least 16 full-data epochs`);
    assert.equal(c.train.lr, 0.001, `${stem}: a normalised head keeps the reference learning rate (x3 collapses classes in 2-D)`);
    assert.equal(c.train.warmupEpochs, 0, stem);
  }
  // The 3-D configs are in the plan, each a 3-D run with the sphere figures.
  const sphere = quick.filter((q) => q.file.startsWith('3d/'));
  assert.deepEqual(sphere.map((q) => q.file.slice(3, -5)).sort(), ['arcface', 'center', 'cosface', 'normface', 'softmax', 'sphereface']);
  for (const { file, c } of sphere) {
    assert.equal(c.model.embeddingDim, 3, file);
    assert.match(c.name, /-3d$/, `${file}: a run folder of its own`);
  }
});
