import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepDecayLr, warmupFactor } from '../src/train/optimizer.js';

test('step decay: x gamma every stepEpochs epochs, epochs counted from 1', () => {
  assert.equal(stepDecayLr(1, 1, 3, 0.5), 1);
  assert.equal(stepDecayLr(1, 3, 3, 0.5), 1);
  assert.equal(stepDecayLr(1, 4, 3, 0.5), 0.5);
  assert.equal(stepDecayLr(1, 7, 3, 0.5), 0.25);
});

test('linear warm-up ramps from 1/W to 1 over the first W steps, then stays at 1', () => {
  // one epoch of 4 steps
  assert.deepEqual([0, 1, 2, 3].map((i) => warmupFactor(1, 1, i, 4)), [0.25, 0.5, 0.75, 1]);
  assert.equal(warmupFactor(1, 2, 0, 4), 1);
  // two epochs of 2 steps: the ramp crosses the epoch boundary
  assert.deepEqual([[1, 0], [1, 1], [2, 0], [2, 1], [3, 0]].map(([e, i]) => warmupFactor(2, e!, i!, 2)), [0.25, 0.5, 0.75, 1, 1]);
  // half an epoch
  assert.deepEqual([0, 1, 2, 3].map((i) => warmupFactor(0.5, 1, i, 4)), [0.5, 1, 1, 1]);
  // none
  assert.equal(warmupFactor(0, 1, 0, 4), 1);
});
