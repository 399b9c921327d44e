/**
 * The feature history of a run, in `<run>/history/`: what an animation or a page needs to show the
 * features forming. Frames are taken at log-spaced steps through the start of training (0, 10, 20,
 * 50, 100, 200, 500, ... while inside the first epoch) and then at the end of every epoch (or every
 * k-th epoch for long runs, see `history.epochFrames`). Each frame holds:
 *
 *   - valid points: all test images at an epoch's end (the evaluation the trainer runs anyway),
 *     a fixed, evenly spaced subsample of them at the early steps;
 *   - train points: a fixed, evenly spaced subsample of the training images;
 *   - the class vectors of the loss at that moment: its class centers, or else its class weights
 *     (null for a loss with neither).
 *
 * Layout: `history/history.json` (the dimensions and the plan) and one binary file per frame,
 * `history/frame-<step>.bin` (a small JSON header, then Float32/Int32/Uint8 arrays, little-endian),
 * each written atomically. A resumed run removes the frames after its checkpoint and writes them
 * again. `readHistory` reads a run folder written before the history existed from its
 * `snapshots/` instead (the snapshot epochs only).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { readRunInfo } from './run.js';
import { listSnapshots, loadSnapshot, type Snapshot } from './snapshot.js';

export interface HistoryPoints {
  /** n * dim, row-major. */
  features: Float32Array;
  /** True class. */
  labels: Uint8Array;
  /** Predicted class. */
  predicted: Uint8Array;
  /** Index of each point in its split (training set or test set), so a page can look up the
   *  28x28 image; -1 where unknown (train points read from the snapshots of an older run). */
  indices: Int32Array;
}

export interface HistoryFrame {
  /** Optimisation steps done when the frame was taken (0 = before training). */
  step: number;
  /** step / stepsPerEpoch (fractional during the first epoch). */
  epoch: number;
  /** Accuracy over the frame's valid points (null when the loss predicts no class). */
  validAccuracy: number | null;
  valid: HistoryPoints;
  /** A fixed subsample of training images. */
  train: HistoryPoints;
  /** numClasses * dim: the class vectors (centers, or class weights), null if the loss has none. */
  weights: Float32Array | null;
}

export type ClassVectorKind = 'class weights' | 'centers';

export interface History {
  /** Embedding dimension (read from the data). */
  dim: number;
  numClasses: number;
  stepsPerEpoch: number;
  source: 'history' | 'snapshots';
  /** Ascending step. */
  frames: HistoryFrame[];
  /** What `weights` holds: class centers (Center loss), class weights W_j, or nothing. */
  weightsKind?: ClassVectorKind | null;
}

export const HISTORY_DIR = 'history';
export const HISTORY_FILE = 'history.json';
const META_FORMAT = 'facelosses-history/1';
const FRAME_FORMAT = 'facelosses-history-frame/1';
const MAGIC = 'FLHF';

/** Training images followed in every frame (a fixed, evenly spaced subsample). */
export const HISTORY_TRAIN_POINTS = 1000;
/** Test images in the early frames (inside the first epoch); the epoch frames hold all of them. */
export const HISTORY_EARLY_VALID_POINTS = 2000;

/** The steps inside the first epoch at which a frame is taken: 0, 10, 20, 50, 100, 200, 500, 1000, ... < stepsPerEpoch. */
export function earlySteps(stepsPerEpoch: number): number[] {
  const out = [0];
  for (let decade = 10; decade < stepsPerEpoch; decade *= 10) {
    for (const m of [1, 2, 5]) if (m * decade < stepsPerEpoch) out.push(m * decade);
  }
  return out;
}

/**
 * The epochs whose end gets a frame: every epoch when the run has at most `epochFrames` of them,
 * else every k-th (k = ceil(epochs / epochFrames)); the snapshot epochs and the last epoch always.
 */
export function frameEpochs(epochs: number, epochFrames: number, snapshots: readonly number[] = []): number[] {
  if (epochFrames <= 0) return [];
  const every = Math.max(1, Math.ceil(epochs / epochFrames));
  const set = new Set<number>();
  for (let e = every; e <= epochs; e += every) set.add(e);
  for (const s of snapshots) if (s >= 1 && s <= epochs) set.add(s);
  set.add(epochs);
  return [...set].sort((a, b) => a - b);
}

/** `k` indices spread evenly over 0..n-1 (all of them when k >= n). */
export function evenSubsample(n: number, k: number): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  return Int32Array.from({ length: k }, (_, i) => Math.floor(((i + 0.5) * n) / k));
}

/** What a run records: decided once at its start, kept in history.json. */
export interface HistoryPlan {
  dim: number;
  numClasses: number;
  stepsPerEpoch: number;
  /** Steps (optimisation steps done) at which a frame is taken, ascending. */
  steps: number[];
  /** The training images of every frame. */
  trainIndices: Int32Array;
  /** The test images of the early frames (steps inside the first epoch). */
  earlyValidIndices: Int32Array;
  weightsKind: ClassVectorKind | null;
  epochFrames: number;
}

export interface HistoryPlanInput {
  dim: number;
  numClasses: number;
  stepsPerEpoch: number;
  epochs: number;
  /** At most this many epoch frames (0: no history). */
  epochFrames: number;
  snapshots?: readonly number[];
  trainCount: number;
  validCount: number;
  weightsKind: ClassVectorKind | null;
  trainPoints?: number;
  earlyValidPoints?: number;
}

export function planHistory(p: HistoryPlanInput): HistoryPlan {
  const steps = p.epochFrames > 0 ? [...earlySteps(p.stepsPerEpoch), ...frameEpochs(p.epochs, p.epochFrames, p.snapshots).map((e) => e * p.stepsPerEpoch)] : [];
  return {
    dim: p.dim,
    numClasses: p.numClasses,
    stepsPerEpoch: p.stepsPerEpoch,
    steps,
    trainIndices: evenSubsample(p.trainCount, p.trainPoints ?? HISTORY_TRAIN_POINTS),
    earlyValidIndices: evenSubsample(p.validCount, p.earlyValidPoints ?? HISTORY_EARLY_VALID_POINTS),
    weightsKind: p.weightsKind,
    epochFrames: p.epochFrames,
  };
}

interface MetaFile {
  format: typeof META_FORMAT;
  dim: number;
  numClasses: number;
  stepsPerEpoch: number;
  steps: number[];
  trainPoints: number;
  earlyValidPoints: number;
  weightsKind: ClassVectorKind | null;
  epochFrames: number;
}

export function historyDir(runDir: string): string {
  return join(runDir, HISTORY_DIR);
}

/** True when the run folder has a recorded history (history/history.json). */
export function hasHistory(runDir: string): boolean {
  return existsSync(join(historyDir(runDir), HISTORY_FILE));
}

export function historyFramePath(runDir: string, step: number): string {
  return join(historyDir(runDir), `frame-${String(step).padStart(9, '0')}.bin`);
}

const FRAME_FILE = /^frame-(\d+)\.bin$/;

/** The frame files of a run, ascending step. */
export function listHistoryFrames(runDir: string): Array<{ file: string; step: number }> {
  const dir = historyDir(runDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((f) => {
      const m = FRAME_FILE.exec(f);
      return m ? [{ file: join(dir, f), step: Number(m[1]) }] : [];
    })
    .sort((a, b) => a.step - b.step);
}

/** Writes history/history.json (at the start of a run). */
export function writeHistoryMeta(runDir: string, plan: HistoryPlan): void {
  const meta: MetaFile = {
    format: META_FORMAT,
    dim: plan.dim,
    numClasses: plan.numClasses,
    stepsPerEpoch: plan.stepsPerEpoch,
    steps: plan.steps,
    trainPoints: plan.trainIndices.length,
    earlyValidPoints: plan.earlyValidIndices.length,
    weightsKind: plan.weightsKind,
    epochFrames: plan.epochFrames,
  };
  writeFileAtomic(join(historyDir(runDir), HISTORY_FILE), JSON.stringify(meta, null, 2) + '\n');
}

function readMeta(runDir: string): MetaFile {
  const file = join(historyDir(runDir), HISTORY_FILE);
  let meta: MetaFile;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8')) as MetaFile;
  } catch (e) {
    throw new UserError(`${file}: unreadable history (${(e as Error).message}); remove the history folder to draw from the snapshots instead`);
  }
  if (meta?.format !== META_FORMAT || !Number.isInteger(meta.dim) || meta.dim < 1 || !Number.isInteger(meta.stepsPerEpoch) || meta.stepsPerEpoch < 1) {
    throw new UserError(`${file}: unknown history format ${JSON.stringify(meta?.format)}; remove the history folder to draw from the snapshots instead`);
  }
  return meta;
}

/**
 * Removes the frames taken after `step` (a resumed run takes them again), and any frame cut by a
 * kill. Returns the files removed.
 */
export function truncateHistory(runDir: string, step: number): string[] {
  const dir = historyDir(runDir);
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir)) {
    const m = FRAME_FILE.exec(f);
    if ((m && Number(m[1]) > step) || /^\.frame-\d+\.bin\.\d+\.tmp$/.test(f)) {
      rmSync(join(dir, f), { force: true });
      removed.push(join(dir, f));
    }
  }
  return removed;
}

/** Optimisation steps a checkpoint stands at: `epoch` whole epochs, then `position.step` steps of the next. */
export function checkpointStep(stepsPerEpoch: number, epoch: number, position?: { epoch: number; step: number }): number {
  return position ? (position.epoch - 1) * stepsPerEpoch + position.step : epoch * stepsPerEpoch;
}

/** The steps-per-epoch of a run's recorded history, or undefined when it has none. */
export function historyStepsPerEpoch(runDir: string): number | undefined {
  return hasHistory(runDir) ? readMeta(runDir).stepsPerEpoch : undefined;
}

// --- one frame file -------------------------------------------------------------------------

type SectionType = 'f32' | 'i32' | 'u8';
interface Section {
  name: string;
  type: SectionType;
  length: number;
}
interface FrameHeader {
  format: typeof FRAME_FORMAT;
  step: number;
  epoch: number;
  validAccuracy: number | null;
  dim: number;
  numClasses: number;
  /** 'all': the valid points are the whole test set in order (no indices stored). */
  validIndices: 'all' | 'stored';
  weightsKind: ClassVectorKind | null;
  /** Seconds the trainer spent taking this frame (forward passes and read-back). */
  seconds?: number;
  sections: Section[];
}

const BYTES: Record<SectionType, number> = { f32: 4, i32: 4, u8: 1 };
const pad4 = (n: number) => (n + 3) & ~3;

function isIdentity(a: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== i) return false;
  return true;
}

/** A frame as bytes: 'FLHF', the header's length (u32 LE), the JSON header, then each section 4-byte aligned. */
export function encodeFrame(f: HistoryFrame, dim: number, numClasses: number, extra: { weightsKind?: ClassVectorKind | null; seconds?: number } = {}): Uint8Array {
  const all = isIdentity(f.valid.indices);
  const arrays: Array<[string, SectionType, Float32Array | Int32Array | Uint8Array]> = [
    ['valid.features', 'f32', f.valid.features],
    ['valid.labels', 'u8', f.valid.labels],
    ['valid.predicted', 'u8', f.valid.predicted],
    ...(all ? [] : ([['valid.indices', 'i32', f.valid.indices]] as Array<[string, SectionType, Int32Array]>)),
    ['train.features', 'f32', f.train.features],
    ['train.labels', 'u8', f.train.labels],
    ['train.predicted', 'u8', f.train.predicted],
    ['train.indices', 'i32', f.train.indices],
    ...(f.weights ? ([['weights', 'f32', f.weights]] as Array<[string, SectionType, Float32Array]>) : []),
  ];
  const header: FrameHeader = {
    format: FRAME_FORMAT,
    step: f.step,
    epoch: f.epoch,
    validAccuracy: f.validAccuracy,
    dim,
    numClasses,
    validIndices: all ? 'all' : 'stored',
    weightsKind: f.weights ? (extra.weightsKind ?? null) : null,
    ...(extra.seconds !== undefined ? { seconds: Math.round(extra.seconds * 1e4) / 1e4 } : {}),
    sections: arrays.map(([name, type, a]) => ({ name, type, length: a.length })),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headLen = pad4(json.length);
  let size = 8 + headLen;
  for (const [, type, a] of arrays) size += pad4(a.length * BYTES[type]);
  const out = new Uint8Array(size);
  out.set(Buffer.from(MAGIC, 'ascii'), 0);
  new DataView(out.buffer).setUint32(4, headLen, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headLen);
  let o = 8 + headLen;
  for (const [, , a] of arrays) {
    // Typed arrays are little-endian on every platform Node runs on.
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
    o += pad4(a.byteLength);
  }
  return out;
}

export interface DecodedFrame {
  frame: HistoryFrame;
  dim: number;
  numClasses: number;
  weightsKind: ClassVectorKind | null;
  seconds?: number;
}

export function decodeFrame(bytes: Uint8Array, where = 'history frame'): DecodedFrame {
  const bad = (what: string) => new UserError(`${where}: ${what}; remove the file (the animation skips the frame) or train the run again with --force`);
  if (bytes.length < 8 || Buffer.from(bytes.subarray(0, 4)).toString('ascii') !== MAGIC) throw bad('not a facelosses history frame');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLen = dv.getUint32(4, true);
  if (8 + headLen > bytes.length) throw bad('cut short');
  let h: FrameHeader;
  try {
    h = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headLen)).toString('utf8')) as FrameHeader;
  } catch (e) {
    throw bad(`unreadable header (${(e as Error).message})`);
  }
  if (h.format !== FRAME_FORMAT || !Array.isArray(h.sections)) throw bad(`unknown frame format ${JSON.stringify(h.format)}`);
  const got: Record<string, Float32Array | Int32Array | Uint8Array> = {};
  let o = 8 + headLen;
  for (const s of h.sections) {
    const n = s.length * BYTES[s.type];
    if (!(n >= 0) || o + n > bytes.length) throw bad('cut short');
    // Copied, so the arrays are aligned and own their memory.
    const raw = new Uint8Array(bytes.subarray(o, o + n));
    got[s.name] = s.type === 'f32' ? new Float32Array(raw.buffer) : s.type === 'i32' ? new Int32Array(raw.buffer) : raw;
    o += pad4(n);
  }
  const need = (name: string) => {
    const a = got[name];
    if (!a) throw bad(`${name} is missing`);
    return a;
  };
  const points = (split: 'valid' | 'train'): HistoryPoints => {
    const features = need(`${split}.features`) as Float32Array;
    const labels = need(`${split}.labels`) as Uint8Array;
    const predicted = need(`${split}.predicted`) as Uint8Array;
    const n = labels.length;
    const indices = split === 'valid' && h.validIndices === 'all' ? Int32Array.from({ length: n }, (_, i) => i) : (need(`${split}.indices`) as Int32Array);
    if (features.length !== n * h.dim || predicted.length !== n || indices.length !== n) throw bad(`${split} arrays do not agree in length`);
    return { features, labels, predicted, indices };
  };
  const weights = (got.weights as Float32Array | undefined) ?? null;
  if (weights && weights.length !== h.numClasses * h.dim) throw bad('weights do not match numClasses x dim');
  return {
    frame: { step: h.step, epoch: h.epoch, validAccuracy: h.validAccuracy, valid: points('valid'), train: points('train'), weights },
    dim: h.dim,
    numClasses: h.numClasses,
    weightsKind: h.weightsKind,
    seconds: h.seconds,
  };
}

/** Writes one frame atomically; returns the file. */
export function saveHistoryFrame(runDir: string, plan: Pick<HistoryPlan, 'dim' | 'numClasses' | 'weightsKind'>, f: HistoryFrame, seconds?: number): string {
  const file = historyFramePath(runDir, f.step);
  writeFileAtomic(file, encodeFrame(f, plan.dim, plan.numClasses, { weightsKind: plan.weightsKind, seconds }));
  return file;
}

/** Seconds spent taking the frames of a run, as recorded in their headers (the recording's cost). */
export function historySeconds(runDir: string): number {
  let s = 0;
  for (const { file } of listHistoryFrames(runDir)) s += decodeFrame(readFileSync(file), file).seconds ?? 0;
  return s;
}

// --- reading ---------------------------------------------------------------------------------

function accuracy(p: Pick<HistoryPoints, 'labels' | 'predicted'>): number {
  let c = 0;
  for (let i = 0; i < p.labels.length; i++) if (p.labels[i] === p.predicted[i]) c++;
  return p.labels.length ? c / p.labels.length : 0;
}

/** A run's history from history/ (all frames, ascending step). */
function readRecorded(runDir: string): History {
  const meta = readMeta(runDir);
  const frames = listHistoryFrames(runDir).map(({ file }) => decodeFrame(readFileSync(file), file).frame);
  return { dim: meta.dim, numClasses: meta.numClasses, stepsPerEpoch: meta.stepsPerEpoch, source: 'history', frames, weightsKind: meta.weightsKind };
}

/** Snapshot points as history points: all valid points in order; train points thinned to the history's subsample size. */
function snapshotPoints(s: Snapshot, split: 'valid' | 'train'): HistoryPoints {
  if (split === 'valid') return { features: s.features, labels: s.labels, predicted: s.predicted, indices: Int32Array.from({ length: s.count }, (_, i) => i) };
  // The train snapshot lists the epoch's images in its shuffled order: their indices are unknown.
  const keep = evenSubsample(s.count, HISTORY_TRAIN_POINTS);
  const d = s.embeddingDim;
  const features = new Float32Array(keep.length * d);
  keep.forEach((k, i) => features.set(s.features.subarray(k * d, (k + 1) * d), i * d));
  return { features, labels: Uint8Array.from(keep, (k) => s.labels[k]!), predicted: Uint8Array.from(keep, (k) => s.predicted[k]!), indices: new Int32Array(keep.length).fill(-1) };
}

/** A run folder without history/: one frame per snapshot epoch (no class vectors). */
function readFromSnapshots(runDir: string): History {
  const info = readRunInfo(runDir);
  const byEpoch = new Map<number, Partial<Record<'train' | 'valid', Snapshot>>>();
  for (const s of listSnapshots(runDir)) {
    const e = byEpoch.get(s.epoch) ?? {};
    e[s.split] = loadSnapshot(s.file);
    byEpoch.set(s.epoch, e);
  }
  const batch = info.config.train.batchSize;
  let stepsPerEpoch = 0;
  let dim = 2;
  let numClasses = 10;
  const frames: HistoryFrame[] = [];
  for (const [epoch, pair] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
    const any = pair.valid ?? pair.train!;
    dim = any.embeddingDim;
    numClasses = any.numClasses;
    // A train snapshot holds the features of every step of its epoch.
    if (pair.train && !stepsPerEpoch) stepsPerEpoch = Math.floor(pair.train.count / batch);
    const empty = (): HistoryPoints => ({ features: new Float32Array(0), labels: new Uint8Array(0), predicted: new Uint8Array(0), indices: new Int32Array(0) });
    const valid = pair.valid ? snapshotPoints(pair.valid, 'valid') : empty();
    frames.push({ step: 0, epoch, validAccuracy: pair.valid ? accuracy(valid) : null, valid, train: pair.train ? snapshotPoints(pair.train, 'train') : empty(), weights: null });
  }
  if (!stepsPerEpoch) stepsPerEpoch = Math.max(1, Math.floor((info.config.data.trainLimit ?? 60000) / batch));
  for (const f of frames) f.step = f.epoch * stepsPerEpoch;
  return { dim, numClasses, stepsPerEpoch, source: 'snapshots', frames, weightsKind: null };
}

/** The feature history of a run: history/ when it has one, else built from its snapshots/. */
export function readHistory(runDir: string): History {
  return hasHistory(runDir) ? readRecorded(runDir) : readFromSnapshots(runDir);
}
