/**
 * Saved features of one split at one epoch: the embeddings (embeddingDim numbers each: 2 for the
 * circle, 3 for the sphere) with true and predicted labels, and the class weights when the loss
 * has a classifier.
 * Stored as JSON with base64 arrays, readable from any language, written atomically.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';

export type SplitName = 'train' | 'valid';

export interface Snapshot {
  epoch: number;
  split: SplitName;
  numClasses: number;
  embeddingDim: number;
  count: number;
  /** count*embeddingDim, row-major. */
  features: Float32Array;
  labels: Uint8Array;
  predicted: Uint8Array;
  /** The loss's class weight vectors at this epoch, numClasses*embeddingDim row-major (row c is
   *  W_c), when the loss has a classifier: the figures mark their directions. */
  classWeights?: Float32Array;
}

interface SnapshotFile {
  format: 'facelosses-snapshot/1';
  epoch: number;
  split: SplitName;
  numClasses: number;
  embeddingDim: number;
  count: number;
  features: string;
  labels: string;
  predicted: string;
  classWeights?: string;
}

export const SNAPSHOT_DIR = 'snapshots';

export function snapshotPath(runDir: string, split: SplitName, epoch: number): string {
  return join(runDir, SNAPSHOT_DIR, `${split}-epoch-${String(epoch).padStart(4, '0')}.json`);
}

const b64 = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

export function saveSnapshot(runDir: string, s: Snapshot): string {
  const file = snapshotPath(runDir, s.split, s.epoch);
  const body: SnapshotFile = {
    format: 'facelosses-snapshot/1',
    epoch: s.epoch,
    split: s.split,
    numClasses: s.numClasses,
    embeddingDim: s.embeddingDim,
    count: s.count,
    features: b64(s.features),
    labels: b64(s.labels),
    predicted: b64(s.predicted),
    ...(s.classWeights ? { classWeights: b64(s.classWeights) } : {}),
  };
  writeFileAtomic(file, JSON.stringify(body));
  return file;
}

export function loadSnapshot(file: string): Snapshot {
  // A snapshot cannot be rebuilt without retraining its epoch: say so, and how to go on.
  const bad = (what: string) =>
    new UserError(`${file}: ${what}; this snapshot cannot be drawn: delete it (plot draws the others), or train the run again with --force to rewrite it`);
  let body: SnapshotFile;
  try {
    body = JSON.parse(readFileSync(file, 'utf8')) as SnapshotFile;
  } catch (e) {
    throw bad(`not a readable snapshot (${(e as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || body.format !== 'facelosses-snapshot/1') throw bad(`unknown snapshot format ${JSON.stringify(body?.format)}`);
  for (const k of ['features', 'labels', 'predicted'] as const) if (typeof body[k] !== 'string') throw bad(`${k} is missing`);
  if (!Number.isInteger(body.count) || body.count < 0 || !Number.isInteger(body.embeddingDim) || body.embeddingDim < 1) throw bad('count or embeddingDim is missing');
  const fb = Buffer.from(body.features, 'base64');
  if (fb.byteLength % 4 !== 0) throw bad(`features hold ${fb.byteLength} bytes, not a whole number of float32 values (the file is damaged)`);
  const features = new Float32Array(fb.buffer.slice(fb.byteOffset, fb.byteOffset + fb.byteLength));
  const labels = new Uint8Array(Buffer.from(body.labels, 'base64'));
  const predicted = new Uint8Array(Buffer.from(body.predicted, 'base64'));
  if (features.length !== body.count * body.embeddingDim || labels.length !== body.count || predicted.length !== body.count) {
    throw bad(`snapshot arrays do not match its count ${body.count} (the file is damaged)`);
  }
  let classWeights: Float32Array | undefined;
  if (typeof body.classWeights === 'string') {
    const wb = Buffer.from(body.classWeights, 'base64');
    if (wb.byteLength !== 4 * body.numClasses * body.embeddingDim) throw bad(`classWeights hold ${wb.byteLength} bytes, not numClasses x embeddingDim float32 values (the file is damaged)`);
    classWeights = new Float32Array(wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.byteLength));
  }
  return { epoch: body.epoch, split: body.split, numClasses: body.numClasses, embeddingDim: body.embeddingDim, count: body.count, features, labels, predicted, ...(classWeights ? { classWeights } : {}) };
}

/** Saved snapshots of a run, sorted by epoch then split. */
export function listSnapshots(runDir: string): Array<{ file: string; split: SplitName; epoch: number }> {
  const dir = join(runDir, SNAPSHOT_DIR);
  if (!existsSync(dir)) return [];
  const out: Array<{ file: string; split: SplitName; epoch: number }> = [];
  for (const f of readdirSync(dir)) {
    const m = /^(train|valid)-epoch-(\d+)\.json$/.exec(f);
    if (m) out.push({ file: join(dir, f), split: m[1] as SplitName, epoch: Number(m[2]) });
  }
  return out.sort((a, b) => a.epoch - b.epoch || a.split.localeCompare(b.split));
}
