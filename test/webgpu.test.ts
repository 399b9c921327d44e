/**
 * The webgpu engine (Dawn), in CI on Mesa's lavapipe (a software Vulkan device provided by
 * scripts/provide-lavapipe.sh): test/webgpu/engine.ts runs in a child process that starts with the
 * device's environment (the Vulkan loader and driver are found at process start) and checks every
 * kernel of the network and every loss head against cpu, a short training, a resume and leaks.
 * This process then trains the same short run on wasm and compares the loss curves.
 *
 * Nothing here skips: without a device the first test fails and says what is missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../src/backend.js';
import { tempDir } from './helpers/fixtures.js';
import { type Curve, REPO, relDiff, shortTraining, trainCurve, webgpuTestEnv } from './helpers/webgpu.js';

/**
 * Loss curve tolerance, webgpu against wasm: the step losses and epoch losses agree to 1e-3
 * relative (lavapipe against wasm measures about 1e-5 over these 6 steps; Adam can amplify a
 * last-digit difference in a near-zero gradient into a visible one, so not 1e-6), and the
 * accuracies to one image in the 16 of the validation set. The webgpu run was stopped after
 * epoch 1 and resumed from its checkpoint, so the match also checks the state read back and
 * restored on the GPU.
 */
const CURVE_TOL = 1e-3;

const out = tempDir('facelosses-webgpu-out-');
let gpu: (Curve & { seconds: number; device: string; report: Record<string, number> }) | undefined;

test('webgpu engine: kernels, loss heads, training and resume (child process on the WebGPU device)', { timeout: 900_000 }, async (t) => {
  const { env, device } = webgpuTestEnv();
  t.diagnostic(`device: ${device}`);
  const t0 = performance.now();
  const r = await new Promise<{ code: number | null; output: string }>((res) => {
    // Run as a plain script (its node:test tests report on their own); NODE_TEST_CONTEXT would
    // make it defer to this runner instead.
    const childEnv: NodeJS.ProcessEnv = { ...env, FACELOSSES_WEBGPU_OUT: out, FACELOSSES_THREADS: '1' };
    delete childEnv.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=spec', join('test', 'webgpu', 'engine.ts')], {
      cwd: REPO,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => res({ code, output }));
  });
  t.diagnostic(`child: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const line of r.output.split('\n')) if (/^\s*# (engine|short training|worst)/.test(line)) t.diagnostic(line.trim().replace(/^# /, ''));
  assert.equal(r.code, 0, `the webgpu checks failed:\n${r.output}`);
  const file = join(out, 'curve.json');
  assert.ok(existsSync(file), `the webgpu checks wrote no ${file}:\n${r.output}`);
  gpu = JSON.parse(readFileSync(file, 'utf8'));
});

test(`a short training on webgpu follows the wasm loss curve (within ${CURVE_TOL} relative)`, async (t) => {
  assert.ok(gpu, 'the webgpu run did not complete (see the test above)');
  await initBackend('wasm', { threads: 1 });
  const wasm = await trainCurve(join(out, 'wasm'), shortTraining(out), 'wasm');
  const steps = relDiff(gpu.steps, wasm.steps);
  const epochs = relDiff(
    gpu.epochs.flatMap((e) => [e.loss, e.validLoss]),
    wasm.epochs.flatMap((e) => [e.loss, e.validLoss]),
  );
  t.diagnostic(`wasm  ${wasm.steps.map((v) => v.toFixed(5)).join(' ')}`);
  t.diagnostic(`webgpu ${gpu.steps.map((v) => v.toFixed(5)).join(' ')}`);
  t.diagnostic(`relative difference: steps ${steps.toExponential(2)}, epoch losses ${epochs.toExponential(2)}`);
  assert.ok(steps <= CURVE_TOL, `step losses differ by ${steps} relative: webgpu ${gpu.steps}, wasm ${wasm.steps}`);
  assert.ok(epochs <= CURVE_TOL, `epoch losses differ by ${epochs} relative`);
  gpu.epochs.forEach((e, i) => {
    assert.ok(Math.abs(e.validAccuracy - wasm.epochs[i]!.validAccuracy) <= 1 / 16 + 1e-9, `valid accuracy at epoch ${i + 1}: ${e.validAccuracy} vs ${wasm.epochs[i]!.validAccuracy}`);
  });
});
