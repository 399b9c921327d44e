/**
 * What importing a module does (nothing but define things), and the guard of the tfjs patches:
 * the threaded wasm start-up is patched for one tfjs-backend-wasm release and refuses another.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_KERNEL } from '../src/kernels/adam-kernel.js';
import { Adam } from '../src/train/optimizer.js';
import { checkPatchedWasmVersion } from '../src/backend.js';

test('importing the optimizer registers no kernel; the first Adam registers its fused update', () => {
  assert.equal(tf.getKernel(ADAM_KERNEL, 'cpu'), undefined, 'registered by an import');
  assert.equal(tf.getKernel(ADAM_KERNEL, 'wasm'), undefined, 'registered by an import');
  const w = tf.variable(tf.zeros([2]));
  new Adam({ w }, { lr: 0.1 });
  assert.ok(tf.getKernel(ADAM_KERNEL, 'cpu'));
  assert.ok(tf.getKernel(ADAM_KERNEL, 'wasm'));
  w.dispose();
});

test('the threaded wasm patches accept tfjs-backend-wasm 4.22.x and refuse another release by name', () => {
  for (const v of ['4.22.0', '4.22.7']) assert.doesNotThrow(() => checkPatchedWasmVersion(v));
  for (const v of ['4.21.0', '4.23.0', '5.0.0']) {
    assert.throws(() => checkPatchedWasmVersion(v), new RegExp(`patched for @tensorflow/tfjs-backend-wasm 4\\.22\\.x, and ${v.replace(/\./g, '\\.')} is installed`));
  }
});
