/**
 * The feature history the report pages are drawn from: the types of the run folder's history and
 * `readHistory`, which reads it. This module is the one place the pages import them from.
 *
 * The history read here is built from the run's `snapshots/` files (every run folder has them):
 * one frame per snapshot epoch, with the valid points in test-set order (so each point's test
 * image is known) and the training points in the order that epoch visited them (their image index
 * is not recorded: -1). Snapshots hold no class weights (`weights` is null).
 */
import { readRunInfo } from '../run/run.js';
import { listSnapshots, loadSnapshot, type Snapshot } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';

export interface HistoryPoints {
  /** n * dim, row-major. */
  features: Float32Array;
  /** True class. */
  labels: Uint8Array;
  /** Predicted class. */
  predicted: Uint8Array;
  /** Index of each point in its split (train set or test set), -1 when not known. */
  indices: Int32Array;
}

export interface HistoryFrame {
  /** Optimisation steps done when the frame was taken (0 = before training). */
  step: number;
  /** step / stepsPerEpoch. */
  epoch: number;
  /** Accuracy over the frame's valid points; null when they have no prediction. */
  validAccuracy: number | null;
  valid: HistoryPoints;
  train: HistoryPoints;
  /** numClasses * dim class weights or centers; null when the loss has none (or they were not recorded). */
  weights: Float32Array | null;
}

export interface History {
  dim: number;
  numClasses: number;
  stepsPerEpoch: number;
  source: 'history' | 'snapshots';
  /** Ascending step. */
  frames: HistoryFrame[];
}

const EMPTY: HistoryPoints = { features: new Float32Array(0), labels: new Uint8Array(0), predicted: new Uint8Array(0), indices: new Int32Array(0) };

function points(s: Snapshot, knownOrder: boolean): HistoryPoints {
  const indices = new Int32Array(s.count);
  if (knownOrder) for (let i = 0; i < s.count; i++) indices[i] = i;
  else indices.fill(-1);
  return { features: s.features, labels: s.labels, predicted: s.predicted, indices };
}

/** The history of a run, from its snapshots. Throws a UserError when the run has none. */
export function readHistory(runDir: string): History {
  const info = readRunInfo(runDir);
  const snaps = listSnapshots(runDir);
  if (snaps.length === 0) throw new UserError(`${runDir} has no saved features yet (snapshots/ is empty; they are written at the snapshot epochs ${info.config.snapshots.join(', ')})`);
  const c = info.config;
  const trainCount = c.data.trainLimit == null ? 60000 : c.data.trainLimit;
  const stepsPerEpoch = Math.max(1, Math.floor(trainCount / c.train.batchSize));
  const byEpoch = new Map<number, { train?: Snapshot; valid?: Snapshot }>();
  for (const s of snaps) {
    const e = byEpoch.get(s.epoch) ?? {};
    e[s.split] = loadSnapshot(s.file);
    byEpoch.set(s.epoch, e);
  }
  let dim = 2;
  let numClasses = 10;
  const frames: HistoryFrame[] = [];
  for (const [epoch, e] of [...byEpoch.entries()].sort((a, b) => a[0] - b[0])) {
    const any = (e.valid ?? e.train)!;
    dim = any.embeddingDim;
    numClasses = any.numClasses;
    const valid = e.valid ? points(e.valid, true) : EMPTY;
    let correct = 0;
    for (let i = 0; i < valid.labels.length; i++) if (valid.labels[i] === valid.predicted[i]) correct++;
    frames.push({
      step: epoch * stepsPerEpoch,
      epoch,
      validAccuracy: valid.labels.length ? correct / valid.labels.length : null,
      valid,
      train: e.train ? points(e.train, false) : EMPTY,
      weights: null,
    });
  }
  return { dim, numClasses, stepsPerEpoch, source: 'snapshots', frames };
}
