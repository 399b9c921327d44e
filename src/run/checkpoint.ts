/**
 * Checkpoints: everything a run needs to continue exactly where it stopped, in one file,
 * <run>/checkpoint/last.json, written before the first epoch and after every epoch and replaced
 * atomically (temporary name, fsync, rename), so a kill at any moment leaves either the old or
 * the new complete checkpoint.
 *
 * The file is JSON with the float and byte arrays in base64 (little-endian float32), readable
 * from any language:
 *   weights       every trainable variable (network and loss head) by name, with its shape
 *   optimizer     Adam's step count and moments m, v by variable name
 *   lossState     the loss's non-trainable variables (e.g. centers) and counters (e.g. annealing)
 *   rng, initRng  the shuffling generator and the one handed to the loss
 *   epoch         the last completed epoch; `position`, when present, says the checkpoint was
 *                 taken inside the next epoch (Ctrl-C) and holds the step reached, the generator
 *                 state at the start of that epoch (to redraw the same shuffled order) and the
 *                 epoch's partial sums
 *   metrics       the metrics of every completed epoch (metrics.jsonl is rebuilt from them)
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/mnist.js';
import type { Loss } from '../losses/types.js';
import type { Rng, RngState } from '../rng.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import type { EpochMetrics } from './run.js';

export const CHECKPOINT_DIR = 'checkpoint';
export const CHECKPOINT_FILE = 'last.json';
export const CHECKPOINT_FORMAT = 'facelosses-checkpoint/1';

export interface TensorBlob {
  shape: number[];
  data: Float32Array;
}

/** Where a checkpoint taken inside an epoch stopped, and the epoch's sums so far. */
export interface EpochPosition {
  epoch: number;
  /** Steps of this epoch already done (the next step to run, counted from 0). */
  step: number;
  rngAtEpochStart: RngState;
  lossSum: number;
  /** Training images whose prediction was right, and how many were counted. */
  correct: number;
  counted: number;
  appliedSteps: number;
  skippedSteps: number;
  trainSeconds: number;
  /** Train features collected so far, in a snapshot epoch. */
  snapshot?: { features: Float32Array; labels: Uint8Array; predicted: Uint8Array };
}

export interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  savedAt: string;
  backend: string;
  /** Threads of the engine, when known: results can differ with another count. */
  threads?: number;
  /** Last completed epoch (0: none yet). */
  epoch: number;
  position?: EpochPosition;
  rng: RngState;
  initRng: RngState;
  weights: Record<string, TensorBlob>;
  optimizer: OptimizerState;
  lossState: Record<string, TensorBlob>;
  lossCounters: Record<string, number>;
  metrics: EpochMetrics[];
  /** Seconds of training before this checkpoint, over all processes. */
  elapsedSeconds: number;
  /** Fingerprint of the training and test data (see dataFingerprint). */
  data: string;
}

/** An optimizer's whole state (Adam's): its step count and moments m, v by variable name. */
export interface OptimizerState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/** The parts of an experiment a checkpoint holds; the optimizer is anything that reads and restores its state. */
export interface TrainState {
  vars: Record<string, tf.Variable>;
  optimizer: { getState(): Promise<OptimizerState>; setState(state: OptimizerState): void };
  loss: Loss;
  rng: Rng;
  initRng: Rng;
}

export function checkpointPath(runDir: string): string {
  return join(runDir, CHECKPOINT_DIR, CHECKPOINT_FILE);
}

export function hasCheckpoint(runDir: string): boolean {
  return existsSync(checkpointPath(runDir));
}

/** SHA-256 over the images and labels of both splits as used (limits applied). */
export function dataFingerprint(d: Dataset): string {
  const h = createHash('sha256');
  for (const s of [d.train, d.valid]) {
    h.update(`${s.count}x${s.height}x${s.width};`);
    h.update(s.images.subarray(0, s.count * s.height * s.width));
    h.update(s.labels.subarray(0, s.count));
  }
  return h.digest('hex');
}

const copyF32 = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from((await t.data()) as Float32Array);

/**
 * Reads the state of the experiment (weights, optimizer, loss state and counters, generators).
 * Asynchronous: a GPU engine reads tensors back only with data(). Nothing may change the state
 * while it is read (the trainer awaits it between steps).
 */
export async function captureState(s: TrainState): Promise<Pick<Checkpoint, 'rng' | 'initRng' | 'weights' | 'optimizer' | 'lossState' | 'lossCounters'>> {
  const rng = s.rng.getState();
  const initRng = s.initRng.getState();
  const lossCounters = { ...s.loss.getCounters() };
  const read = async (vars: Record<string, tf.Variable>) => {
    const out: Record<string, TensorBlob> = {};
    const entries = Object.entries(vars);
    const data = await Promise.all(entries.map(([, v]) => copyF32(v)));
    entries.forEach(([k, v], i) => (out[k] = { shape: [...v.shape], data: data[i]! }));
    return out;
  };
  const [weights, lossState, opt] = await Promise.all([read(s.vars), read(s.loss.stateVariables()), s.optimizer.getState()]);
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  for (const k of Object.keys(opt.m)) m[k] = Float32Array.from(opt.m[k]!);
  for (const k of Object.keys(opt.v)) v[k] = Float32Array.from(opt.v[k]!);
  return {
    rng,
    initRng,
    weights,
    optimizer: { step: opt.step, m, v },
    lossState,
    lossCounters,
  };
}

function sameKeys(what: string, want: string[], got: string[], file: string): void {
  const a = [...want].sort().join(', ');
  const b = [...got].sort().join(', ');
  if (a !== b) throw new UserError(`${file}: the checkpoint does not fit this model: ${what} are [${b}], the model has [${a}]`);
}

function assign(name: string, v: tf.Variable, blob: TensorBlob, file: string): void {
  const n = v.shape.reduce((a, b) => a * b, 1);
  if (blob.shape.join('x') !== v.shape.join('x') || blob.data.length !== n) {
    throw new UserError(`${file}: the checkpoint does not fit this model: ${name} has shape [${blob.shape}] in the checkpoint, [${v.shape}] in the model`);
  }
  tf.tidy(() => v.assign(tf.tensor(blob.data, v.shape, 'float32')));
}

/** Puts a checkpoint's state into the experiment. Throws UserError when it does not fit. */
export function restoreState(s: TrainState, c: Checkpoint, file = 'checkpoint'): void {
  sameKeys('trainable variables', Object.keys(s.vars), Object.keys(c.weights), file);
  const sv = s.loss.stateVariables();
  sameKeys('loss state variables', Object.keys(sv), Object.keys(c.lossState), file);
  for (const [k, v] of Object.entries(s.vars)) assign(k, v, c.weights[k]!, file);
  for (const [k, v] of Object.entries(sv)) assign(`loss state ${k}`, v, c.lossState[k]!, file);
  for (const k of Object.keys(s.vars)) {
    const n = c.weights[k]!.data.length;
    if (c.optimizer.m[k]?.length !== n || c.optimizer.v[k]?.length !== n) throw new UserError(`${file}: the checkpoint's optimizer state for ${k} is missing or has the wrong size`);
  }
  s.optimizer.setState({ step: c.optimizer.step, m: c.optimizer.m, v: c.optimizer.v });
  s.loss.setCounters({ ...c.lossCounters });
  s.rng.setState(c.rng);
  s.initRng.setState(c.initRng);
}

// ---- encoding ----

const b64 = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function f32(s: unknown, what: string): Float32Array {
  if (typeof s !== 'string') throw new Error(`${what} is not base64 text`);
  const b = Buffer.from(s, 'base64');
  if (b.byteLength % 4 !== 0) throw new Error(`${what} has ${b.byteLength} bytes, not a whole number of float32`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function u8(s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string') throw new Error(`${what} is not base64 text`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}
const mapValues = <A, B>(o: Record<string, A>, f: (a: A, k: string) => B): Record<string, B> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v, k)]));
const encBlob = (t: TensorBlob) => ({ shape: t.shape, f32: b64(t.data) });
function decBlob(x: unknown, what: string): TensorBlob {
  const o = x as { shape?: unknown; f32?: unknown };
  if (!o || !Array.isArray(o.shape) || !o.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${what} has no valid shape`);
  const data = f32(o.f32, what);
  const n = (o.shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`${what} holds ${data.length} values, its shape [${o.shape}] needs ${n}`);
  return { shape: o.shape as number[], data };
}
function rngState(x: unknown, what: string): RngState {
  if (!Array.isArray(x) || x.length !== 4 || !x.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new Error(`${what} is not a generator state`);
  return x as RngState;
}
function finiteNumber(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${what} is not a finite number`);
  return x;
}

export function encodeCheckpoint(c: Checkpoint): string {
  const p = c.position;
  return JSON.stringify({
    format: c.format,
    savedAt: c.savedAt,
    backend: c.backend,
    threads: c.threads,
    epoch: c.epoch,
    position: p && {
      ...p,
      snapshot: p.snapshot && { features: b64(p.snapshot.features), labels: b64(p.snapshot.labels), predicted: b64(p.snapshot.predicted) },
    },
    rng: c.rng,
    initRng: c.initRng,
    elapsedSeconds: c.elapsedSeconds,
    data: c.data,
    lossCounters: c.lossCounters,
    metrics: c.metrics,
    optimizer: { step: c.optimizer.step, m: mapValues(c.optimizer.m, b64), v: mapValues(c.optimizer.v, b64) },
    weights: mapValues(c.weights, encBlob),
    lossState: mapValues(c.lossState, encBlob),
  });
}

/** Parses and checks a checkpoint file's text; throws UserError naming `file` when it is not one. */
export function decodeCheckpoint(text: string, file: string): Checkpoint {
  try {
    const o = JSON.parse(text) as Record<string, any>;
    if (o.format !== CHECKPOINT_FORMAT) throw new Error(`unknown format ${JSON.stringify(o.format)}`);
    if (!Number.isInteger(o.epoch) || o.epoch < 0) throw new Error('epoch is missing');
    if (!Array.isArray(o.metrics) || o.metrics.length !== o.epoch) throw new Error(`it holds ${o.metrics?.length} epochs of metrics for ${o.epoch} epochs`);
    if (!Number.isInteger(o.optimizer?.step) || typeof o.optimizer.m !== 'object' || typeof o.optimizer.v !== 'object') throw new Error('optimizer state is missing');
    if (typeof o.weights !== 'object' || typeof o.lossState !== 'object' || typeof o.lossCounters !== 'object') throw new Error('model state is missing');
    const counters = mapValues(o.lossCounters as Record<string, unknown>, (v, k) => finiteNumber(v, `loss counter ${k}`));
    let position: EpochPosition | undefined;
    if (o.position) {
      const p = o.position as Record<string, any>;
      if (p.epoch !== o.epoch + 1 || !Number.isInteger(p.step) || p.step < 0) throw new Error('position does not follow the last epoch');
      position = {
        epoch: p.epoch,
        step: p.step,
        rngAtEpochStart: rngState(p.rngAtEpochStart, 'position.rngAtEpochStart'),
        lossSum: finiteNumber(p.lossSum, 'position.lossSum'),
        correct: finiteNumber(p.correct, 'position.correct'),
        counted: finiteNumber(p.counted, 'position.counted'),
        appliedSteps: finiteNumber(p.appliedSteps, 'position.appliedSteps'),
        skippedSteps: finiteNumber(p.skippedSteps, 'position.skippedSteps'),
        trainSeconds: finiteNumber(p.trainSeconds, 'position.trainSeconds'),
        snapshot: p.snapshot && {
          features: f32(p.snapshot.features, 'position.snapshot.features'),
          labels: u8(p.snapshot.labels, 'position.snapshot.labels'),
          predicted: u8(p.snapshot.predicted, 'position.snapshot.predicted'),
        },
      };
    }
    return {
      format: CHECKPOINT_FORMAT,
      savedAt: String(o.savedAt),
      backend: String(o.backend),
      threads: Number.isInteger(o.threads) ? o.threads : undefined,
      epoch: o.epoch,
      position,
      rng: rngState(o.rng, 'rng'),
      initRng: rngState(o.initRng, 'initRng'),
      weights: mapValues(o.weights as Record<string, unknown>, (v, k) => decBlob(v, `weights.${k}`)),
      optimizer: {
        step: o.optimizer.step,
        m: mapValues(o.optimizer.m as Record<string, unknown>, (v, k) => f32(v, `optimizer.m.${k}`)),
        v: mapValues(o.optimizer.v as Record<string, unknown>, (v, k) => f32(v, `optimizer.v.${k}`)),
      },
      lossState: mapValues(o.lossState as Record<string, unknown>, (v, k) => decBlob(v, `lossState.${k}`)),
      lossCounters: counters,
      metrics: o.metrics as EpochMetrics[],
      elapsedSeconds: typeof o.elapsedSeconds === 'number' ? o.elapsedSeconds : 0,
      data: String(o.data ?? ''),
    };
  } catch (e) {
    throw new UserError(`${file}: unreadable checkpoint (${(e as Error).message})`);
  }
}

/** Writes the checkpoint atomically and durably; removes temporary files a killed process left. */
export function saveCheckpoint(runDir: string, c: Checkpoint): string {
  const file = checkpointPath(runDir);
  writeFileAtomic(file, encodeCheckpoint(c), { durable: true });
  const dir = join(runDir, CHECKPOINT_DIR);
  for (const f of readdirSync(dir)) if (f.startsWith(`.${CHECKPOINT_FILE}.`) && f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
  return file;
}

/** The run's checkpoint; UserError when there is none or it cannot be read. */
export function loadCheckpoint(runDir: string): Checkpoint {
  const file = checkpointPath(runDir);
  if (!existsSync(file)) throw new UserError(`${runDir} has no checkpoint (${CHECKPOINT_DIR}/${CHECKPOINT_FILE}); the run stopped before training started, so start it again with --force`);
  return decodeCheckpoint(readFileSync(file, 'utf8'), file);
}
