/** The learning-rate warm-up reaches the optimiser: it changes the run, and is reported. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';

test('train.warmupEpochs ramps the learning rate: a different run, the same as none once the ramp is shorter than a step', async () => {
  const dir = tempDir();
  const data = writeSyntheticIdx(join(dir, 'data'), 64, 32);
  const run = async (warmup: number) => {
    const cfg = join(dir, `w${warmup}.yaml`);
    writeFileSync(cfg, `name: w\nloss: { name: softmax }\ntrain: { epochs: 2, batchSize: 16, lr: 0.01, warmupEpochs: ${warmup} }\nsnapshots: [2]\n`);
    const out = join(dir, `run${warmup}`);
    const r = await runCli(['train', '--config', cfg, '--profile', 'full', '--data-dir', data, '--out', out, '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number);
    return { losses, stderr: r.stderr };
  };
  const none = await run(0);
  const ramp = await run(1);
  const instant = await run(1e-6);
  assert.deepEqual(instant.losses, none.losses, 'a ramp shorter than one step is no warm-up');
  assert.notDeepEqual(ramp.losses, none.losses, 'a one-epoch ramp changes the updates');
  assert.match(ramp.stderr, /lr warm-up over 1 epoch\b/);
  assert.match(ramp.stderr, /epoch 1\/2: .*\(warming up to it\)/);
  assert.doesNotMatch(ramp.stderr, /epoch 2\/2: .*warming up/);
  assert.doesNotMatch(none.stderr, /warm/);
});
