import { availableParallelism } from 'node:os';
import { spawnSync } from 'node:child_process';
/**
 * Training-speed benchmark: the real training step (reference network, softmax loss head, Adam
 * with weight decay) on MNIST-shaped random data, batch 128 by default.
 *
 *   npm run bench -- [--steps 30] [--warmup 5] [--backend wasm|webgpu|cpu|auto|tensorflow|tensorflow-gpu]
 *                    [--batch 128] [--threads N] [--workers N] [--fused-net] [--profile-ops]
 *                    [--compare-pytorch] [--rounds N]
 *
 * --workers N: data-parallel step (src/train/parallel.ts) with N worker threads (0 or 1: one process;
 *              default: the number of cores on wasm, as `facelosses train` uses).
 * --no-simd: the XNNPACK routes instead of the hand-written wasm SIMD kernels (for comparison).
 * --no-winograd: the direct SIMD convolution instead of Winograd F(2x2, 3x3) for 3x3 layers.
 * --winograd-tile auto|2|4: output tile of the Winograd forward and input gradient: auto (default)
 *              F(4x4, 3x3) for 28x28 and 7x7 outputs, F(2x2, 3x3) for 14x14; 2 = F(2x2) everywhere;
 *              4 = F(4x4) everywhere.
 * --no-winograd-filter: Winograd for the forward pass and the input gradient only; the direct SIMD
 *              filter gradient (for comparison).
 * --conv-op auto|fused|biasAct: createFeatureNet's convOp in the single-process step (default auto:
 *              conv2dBiasAct on wasm; 'fused' is tf.fused.conv2d, which unfuses under a tape).
 * --fused-net: the same as --conv-op biasAct (kept for older command lines).
 *
 * --rounds N:  N measured rounds of --steps steps (default 1; 3 with --compare-pytorch), one JSON
 *              line each.
 * --compare-pytorch: after each of our rounds (our workers idle), time PyTorch on the same network,
 *              batch, optimizer, steps and warm-up (scripts/bench_pytorch.py) in its four layouts (1
 *              and 2 threads, NCHW and channels-last), then print the ratio of our median round to the
 *              median of PyTorch's best layout. The Python is $FACELOSSES_PYTHON, else
 *              /usr/bin/python3, else python3 on the PATH, whichever imports torch first (FACELOSSES_PYTHON alone when set); without
 *              one, one line says so and the bench result stands.
 *
 * --backend webgpu: Dawn's WebGPU (the JSON line names the adapter; see README, Engines and GPU).
 *
 * Prints one JSON line (backend, imagesPerSecond, msPerStep, threads, steps, batch, tfjsVersion,
 * node) and one human-readable line. With --profile-ops it then profiles one more step and prints
 * the time per kernel (sorted, descending) and per kernel and input shape (so the forward,
 * filter-gradient and input-gradient time of each convolution layer can be told apart).
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { BACKEND_NAMES, type BackendName, initBackend } from '../src/backend.js';
import { createLoss } from '../src/losses/registry.js';
import { createFeatureNet } from '../src/model/net.js';
import { Rng } from '../src/rng.js';
import { Adam } from '../src/train/optimizer.js';
import { trainStep, trainableVariables } from '../src/train/step.js';
import { DataParallel } from '../src/train/parallel.js';
import { configureWasmGradKernels } from '../src/kernels/wasm-conv-grad.js';
import { configureWasmTrainKernels } from '../src/kernels/wasm-train-kernels.js';

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    backend: { type: 'string' },
    batch: { type: 'string' },
    threads: { type: 'string' },
    workers: { type: 'string' },
    'fused-net': { type: 'boolean', default: false },
    'conv-op': { type: 'string' },
    'no-simd': { type: 'boolean', default: false },
    'no-winograd': { type: 'boolean', default: false },
    'no-winograd-filter': { type: 'boolean', default: false },
    'winograd-tile': { type: 'string' },
    'profile-ops': { type: 'boolean', default: false },
    'compare-pytorch': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(
    'usage: npm run bench -- [--steps N] [--warmup N] [--rounds N] [--backend ' +
      BACKEND_NAMES.join('|') +
      '] [--batch N] [--threads N] [--workers N] [--conv-op auto|fused|biasAct] [--fused-net] [--no-simd] [--no-winograd] [--no-winograd-filter] [--winograd-tile auto|2|4] [--profile-ops] [--compare-pytorch]\n',
  );
  process.exit(0);
}
const steps = positiveInt('steps', values.steps, 30);
const warmup = positiveInt('warmup', values.warmup, 5, 0);
// Rounds of `steps` steps each (one warm-up in all); with --compare-pytorch, PyTorch runs after each round.
const rounds = positiveInt('rounds', values.rounds, values['compare-pytorch'] ? 3 : 1);
const batch = positiveInt('batch', values.batch, 128);
const threads = values.threads === undefined ? undefined : positiveInt('threads', values.threads, 1);
// Default as `facelosses train`: on wasm, one data-parallel worker per core (0 or 1: one process).
const defaultWorkers = (values.backend ?? 'wasm') === 'wasm' && availableParallelism() > 1 ? availableParallelism() : 0;
const workers = positiveInt('workers', values.workers, defaultWorkers, 0) === 1 ? 0 : positiveInt('workers', values.workers, defaultWorkers, 0);
const backendName = (values.backend ?? 'wasm') as BackendName;
if (!BACKEND_NAMES.includes(backendName)) fail(`unknown --backend '${backendName}'; choose one of ${BACKEND_NAMES.join(', ')}`);

const info = await initBackend(backendName, { threads });
if (values['no-winograd']) configureWasmGradKernels({ winograd: false });
if (values['no-winograd-filter']) configureWasmGradKernels({ winogradFilter: false });
const winogradTile = values['winograd-tile'] === undefined || values['winograd-tile'] === 'auto' ? 'auto' : Number(values['winograd-tile']);
if (winogradTile !== 'auto' && winogradTile !== 2 && winogradTile !== 4) fail(`--winograd-tile must be auto, 2 or 4, got '${values['winograd-tile']}'`);
configureWasmGradKernels({ winogradTile });
if (values['no-simd']) {
  configureWasmGradKernels({ simd: false });
  configureWasmTrainKernels({ simd: false });
}

// The experiment, as the trainer builds it: reference net, softmax head, Adam lr 1e-3 wd 1e-4.
const initRng = new Rng(1 + 0x5eed);
const convOp = (values['fused-net'] ? 'biasAct' : (values['conv-op'] ?? 'auto')) as 'auto' | 'fused' | 'biasAct';
if (!['auto', 'fused', 'biasAct'].includes(convOp)) fail(`--conv-op must be auto, fused or biasAct, got '${convOp}'`);
const net = createFeatureNet(initRng, 2, { convOp });
const loss = createLoss('softmax', {}, { numClasses: 10, embeddingDim: 2, rng: initRng }, () => {});
const vars = trainableVariables(net, loss);
const optimizer = new Adam(vars, { lr: 1e-3, weightDecay: 1e-4 });
const dp = workers > 0 ? await DataParallel.create(net, { workers, maxBatch: batch, backend: backendName }) : undefined;
if (dp && (values['no-simd'] || values['no-winograd'] || values['no-winograd-filter'] || values['winograd-tile'])) {
  fail('--no-simd/--no-winograd/--no-winograd-filter/--winograd-tile apply to the single-process step only');
}
if (dp && (values['fused-net'] || values['conv-op'])) fail('--fused-net/--conv-op apply to the single-process step only (workers build net.ts replicas)');

// A few fixed MNIST-shaped batches (normalised-pixel-like values, random labels), reused cyclically.
const dataRng = new Rng(42);
const NB = 4;
const images = Array.from({ length: NB }, () => dataRng.normalArray(batch * 28 * 28));
const labels = Array.from({ length: NB }, () => Int32Array.from({ length: batch }, () => dataRng.int(10)));

/**
 * One step as the trainer runs it: tensors from host arrays, step, then the loss and predictions
 * read back (asynchronously: a GPU engine cannot read synchronously). The trainer reads back every
 * few dozen steps; the bench reads every step, so each measured step includes its own completion
 * (on a GPU, one pipeline stall per step: a lower bound on training speed).
 */
async function step(i: number): Promise<number> {
  const readout = tf.tidy(() => {
    const x = tf.tensor4d(images[i % NB]!, [batch, 28, 28, 1]);
    const y = tf.tensor1d(labels[i % NB]!, 'int32');
    const r = dp ? dp.trainStep(loss, optimizer, vars, x, y) : trainStep(net, loss, optimizer, vars, x, y);
    const parts = [tf.reshape(r.loss, [1]), ...(r.logits ? [tf.cast(tf.argMax(r.logits, 1), 'float32')] : [])];
    const out = tf.concat(parts);
    // trainStep's results are tf.keep()-ed (they survive tidy): the caller disposes them.
    tf.dispose([r.loss, r.embeddings, ...(r.logits ? [r.logits] : [])]);
    return out;
  });
  const v = (await readout.data())[0]!;
  readout.dispose();
  return v;
}

for (let i = 0; i < warmup; i++) await step(i);
let stepIndex = warmup;

/** One measured round of `steps` steps: the JSON line's fields. */
async function measure() {
  const tensorsBefore = tf.memory().numTensors;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stepMs: number[] = [];
  let last = 0;
  for (let i = 0; i < steps; i++) {
    const ts = performance.now();
    last = await step(stepIndex++);
    stepMs.push(performance.now() - ts);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  stepMs.sort((a, b) => a - b);
  const leaked = tf.memory().numTensors - tensorsBefore;
  const msPerStep = (seconds * 1000) / steps;
  return {
    backend: info.name,
    detail: info.detail,
    imagesPerSecond: Number(((steps * batch) / seconds).toFixed((steps * batch) / seconds < 10 ? 2 : 0)),
    msPerStep: Number(msPerStep.toFixed(2)),
    // Robust to other processes on the machine: the median and fastest step, and CPU time per step
    // (user+system of this process, all threads).
    medianMsPerStep: Number(stepMs[Math.floor(steps / 2)]!.toFixed(2)),
    minMsPerStep: Number(stepMs[0]!.toFixed(2)),
    cpuMsPerStep: Number(((cpu.user + cpu.system) / 1000 / steps).toFixed(2)),
    loadAverage: os.loadavg()[0]!.toFixed(2),
    threads: info.threads ?? 1,
    adapter: info.adapter,
    workers,
    convOp: dp ? 'auto' : convOp,
    simd: info.name === 'wasm' && !values['no-simd'],
    winograd: info.name === 'wasm' && !values['no-simd'] && !values['no-winograd'],
    winogradFilter: info.name === 'wasm' && !values['no-simd'] && !values['no-winograd'] && !values['no-winograd-filter'],
    winogradTile,
    steps,
    warmup,
    batch,
    tfjsVersion: tf.version_core,
    node: process.version,
    cpus: os.cpus().length,
    finalLoss: Number(last.toFixed(4)),
    leakedTensors: leaked,
  };
}

const torch = values['compare-pytorch'] ? findTorchPython() : undefined;
if (torch && !torch.python) {
  process.stdout.write(`PyTorch comparison skipped: no Python with torch found (tried ${torch.tried.join(', ')}; set FACELOSSES_PYTHON)\n`);
}
const ours: number[] = [];
const pytorch = new Map<string, PytorchRun[]>();
for (let round = 1; round <= rounds; round++) {
  const result = await measure();
  ours.push(result.imagesPerSecond);
  process.stdout.write(JSON.stringify(rounds > 1 ? { ...result, round } : result) + '\n');
  process.stdout.write(
    `${rounds > 1 ? `round ${round}/${rounds}: ` : ''}${info.detail}: ${result.imagesPerSecond} images/s, ${result.msPerStep} ms/step ` +
      `(median ${result.medianMsPerStep} ms; batch ${batch}, ${steps} steps after ${warmup} warm-up, ` +
      `${result.threads} thread(s)${workers ? `, ${workers} data-parallel workers` : ''}${!dp && convOp !== 'auto' ? `, conv op ${convOp}` : ''}${values['no-simd'] ? ', no SIMD kernels' : values['no-winograd'] ? ', no Winograd' : values['no-winograd-filter'] ? ', no Winograd filter gradient' : ''}, ` +
      `load average ${result.loadAverage})\n`,
  );
  // PyTorch right after each of our rounds (our workers idle meanwhile), so both see the same machine.
  if (torch?.python) pytorchRound(torch.python, pytorch);
}
if (torch?.python) comparePytorch(ours, pytorch);

if (values['profile-ops']) {
  // Value checks would read every kernel output back; they are not part of training.
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
  const prof = await tf.profile(async () => {
    await step(stepIndex++);
  });
  type Row = { name: string; ms: number; count: number };
  const byName = new Map<string, Row>();
  const byShape = new Map<string, Row>();
  let total = 0;
  for (const k of prof.kernels) {
    const ms = Number(k.kernelTimeMs) || 0;
    total += ms;
    const a = byName.get(k.name) ?? { name: k.name, ms: 0, count: 0 };
    a.ms += ms;
    a.count++;
    byName.set(k.name, a);
    const key = `${k.name} ${k.inputShapes.map((s) => `[${s ?? ''}]`).join(' ')}`;
    const b = byShape.get(key) ?? { name: key, ms: 0, count: 0 };
    b.ms += ms;
    b.count++;
    byShape.set(key, b);
  }
  const show = (title: string, rows: Row[], limit: number) => {
    process.stdout.write(`\n${title} (one step, total kernel time ${total.toFixed(1)} ms)\n`);
    for (const r of rows.sort((p, q) => q.ms - p.ms).slice(0, limit)) {
      process.stdout.write(
        `${r.ms.toFixed(2).padStart(9)} ms ${((100 * r.ms) / total).toFixed(1).padStart(5)}%  x${String(r.count).padEnd(3)} ${r.name}\n`,
      );
    }
  };
  show('time per kernel', [...byName.values()], 60);
  show('time per kernel and input shapes', [...byShape.values()], 40);
}

await dp?.dispose();
optimizer.dispose();
loss.dispose();
net.dispose();


/** A Python that imports torch, or undefined (with the candidates tried). */
function findTorchPython(): { python?: string; tried: string[] } {
  // An explicit FACELOSSES_PYTHON is the only candidate (so that a missing torch can be tested).
  const candidates = process.env.FACELOSSES_PYTHON ? [process.env.FACELOSSES_PYTHON] : ['/usr/bin/python3', 'python3'];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return { python, tried: candidates };
  }
  return { tried: candidates };
}

type PytorchRun = Record<string, unknown> & { threads: number; channelsLast: boolean; imagesPerSecond: number };

/** PyTorch's four layouts of the step (1 and 2 threads, NCHW and channels-last), once each. */
function pytorchRound(python: string, runs: Map<string, PytorchRun[]>): void {
  const script = new URL('./bench_pytorch.py', import.meta.url).pathname;
  for (const t of [1, 2]) {
    for (const cl of [false, true]) {
      const label = `${t} thread(s), ${cl ? 'channels-last' : 'NCHW'}`;
      const args = [script, '--threads', String(t), '--steps', String(steps), '--warmup', String(warmup), '--batch', String(batch)];
      if (cl) args.push('--channels-last');
      const r = spawnSync(python, args, { encoding: 'utf8' });
      const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
      if (r.status !== 0 || !line.startsWith('{')) {
        process.stdout.write(`PyTorch (${label}) failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? `exit ${r.status}`}\n`);
        continue;
      }
      const j = JSON.parse(line) as PytorchRun;
      runs.set(label, [...(runs.get(label) ?? []), j]);
      process.stdout.write(line + '\n');
      process.stdout.write(
        `PyTorch ${j.torch as string} (${python}), ${label}: ${j.imagesPerSecond} images/s, ${j.msPerStep as number} ms/step ` +
          `(median ${j.medianMsPerStep as number} ms; load average ${j.loadAverage as number})\n`,
      );
    }
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Ours against PyTorch's best layout: medians over the interleaved rounds. */
function comparePytorch(ours: number[], runs: Map<string, PytorchRun[]>): void {
  if (runs.size === 0) return;
  const layouts = [...runs.entries()].map(([label, rs]) => ({
    label,
    threads: rs[0]!.threads,
    channelsLast: rs[0]!.channelsLast,
    imagesPerSecond: rs.map((r) => r.imagesPerSecond),
    median: Math.round(median(rs.map((r) => r.imagesPerSecond))),
  }));
  const best = layouts.reduce((a, b) => (b.median > a.median ? b : a));
  const oursMedian = Math.round(median(ours));
  const ratio = oursMedian / best.median;
  process.stdout.write(
    JSON.stringify({
      compare: 'pytorch',
      rounds: ours.length,
      ours: oursMedian,
      oursRounds: ours,
      pytorch: Object.fromEntries(layouts.map((l) => [l.label, { median: l.median, rounds: l.imagesPerSecond }])),
      pytorchBest: best.median,
      pytorchBestThreads: best.threads,
      pytorchBestChannelsLast: best.channelsLast,
      ratio: Number(ratio.toFixed(3)),
    }) + '\n',
  );
  process.stdout.write(
    `ours ${oursMedian} images/s (median of ${ours.length} round(s): ${ours.join(', ')}) vs PyTorch's best ${best.median} images/s ` +
      `(${best.label}; median of ${best.imagesPerSecond.join(', ')}): ratio ${ratio.toFixed(2)}x\n`,
  );
}
// The threaded wasm build keeps pthread workers alive; the benchmark is done.
process.exit(0);
