/**
 * Shared by test/webgpu.test.ts (wasm side, and the driver that provides the device) and
 * test/webgpu/engine.ts (the webgpu side, in a child process with the device's environment).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig, type ResolvedConfig } from '../../src/config/config.js';
import { type Dataset, loadDataset } from '../../src/data/mnist.js';
import { type Checkpoint } from '../../src/run/checkpoint.js';
import { train } from '../../src/train/trainer.js';
import { writeSyntheticIdx } from './fixtures.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The short training both engines run: ArcFace (the margin pipeline), 48 synthetic images,
 * batch 16, 2 epochs of 3 steps, 16 validation images, features snapshotted at epoch 2. Small on purpose: lavapipe
 * takes about a second per step at batch 16.
 */
export function shortTraining(dir: string, epochs = 2): { config: ResolvedConfig; dataset: Dataset } {
  // 16 validation images: evaluation runs at the training batch's shapes (no new GPU pipelines).
  const data = writeSyntheticIdx(join(dir, 'data'), 48, 16);
  const base = resolveConfig({ name: 'webgpu-check', loss: { name: 'arcface' } }, 'webgpu-check.yaml', 'full');
  const config: ResolvedConfig = {
    ...base,
    data: { ...base.data, dir: data },
    train: { ...base.train, epochs, batchSize: 16, lr: 1e-3, warmupEpochs: 0, lrStepEpochs: 100, seed: 3 },
    snapshots: [2].filter((e) => e <= epochs),
  };
  return { config, dataset: loadDataset({ dir: data }) };
}

export interface Curve {
  /** Loss of every step, in order. */
  steps: number[];
  /** Per epoch: loss, validLoss, trainAccuracy, validAccuracy. */
  epochs: Array<{ loss: number; validLoss: number; trainAccuracy: number; validAccuracy: number }>;
}

export async function trainCurve(outDir: string, setup: { config: ResolvedConfig; dataset: Dataset }, backend: string, resume?: Checkpoint): Promise<Curve> {
  const steps: number[] = [];
  const r = await train({
    ...setup,
    outDir,
    backend,
    resume,
    onEvent: (e) => {
      if (e.type === 'step') steps.push(e.loss);
    },
  });
  return { steps, epochs: r.metrics.map((m) => ({ loss: m.loss, validLoss: m.validLoss, trainAccuracy: m.trainAccuracy, validAccuracy: m.validAccuracy })) };
}

/**
 * The environment under which the webgpu checks run. FACELOSSES_WEBGPU_TEST_DEVICE=native: this
 * machine's own adapter, as it is. Otherwise Mesa's lavapipe, provided (downloaded once into a
 * cache) by scripts/provide-lavapipe.sh: the same software device on every CI machine. Throws
 * with what is missing when the device cannot be had; the tests never skip.
 */
export function webgpuTestEnv(): { env: NodeJS.ProcessEnv; device: string } {
  if (process.env.FACELOSSES_WEBGPU_TEST_DEVICE === 'native') return { env: { ...process.env }, device: "this machine's own WebGPU adapter" };
  let out: string;
  try {
    out = execFileSync('bash', [join(REPO, 'scripts', 'provide-lavapipe.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `the webgpu tests need a WebGPU device and none could be provided: scripts/provide-lavapipe.sh failed:\n${(err.stderr ?? err.message).trim()}\n` +
        '(on a machine with a GPU and its Vulkan/Metal/D3D12 driver, set FACELOSSES_WEBGPU_TEST_DEVICE=native to test on it)',
    );
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const m of out.matchAll(/^export (\w+)='([^']*)'$/gm)) env[m[1]!] = m[2]!;
  if (!env.VK_ICD_FILENAMES) throw new Error(`scripts/provide-lavapipe.sh printed no VK_ICD_FILENAMES:\n${out}`);
  return { env, device: `Mesa lavapipe (${env.VK_ICD_FILENAMES})` };
}

/** max |a - b| / max |b| (b: the reference), 0 when both are all zero. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  if (!Number.isFinite(d)) return Infinity;
  return m === 0 ? d : d / m;
}
