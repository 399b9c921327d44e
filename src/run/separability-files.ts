/**
 * The separability files of a run: one per snapshot epoch next to the saved features,
 * snapshots/separability-epoch-0100.json = { epoch, train, valid } where each split holds the
 * measures of src/metrics/separability.ts computeSeparability (NaN written as null).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeSeparability, type Separability } from '../metrics/separability.js';
import { writeFileAtomic } from '../util/fsx.js';
import { listSnapshots, loadSnapshot, SNAPSHOT_DIR, type Snapshot, type SplitName } from './snapshot.js';

export interface SeparabilityFile {
  format: 'facelosses-separability/1';
  epoch: number;
  train?: Separability;
  valid?: Separability;
}

export function separabilityPath(runDir: string, epoch: number): string {
  return join(runDir, SNAPSHOT_DIR, `separability-epoch-${String(epoch).padStart(4, '0')}.json`);
}

/** Computes and writes the separability of the snapshots of one epoch; returns the file. */
export function writeSeparability(runDir: string, epoch: number, snaps: readonly Snapshot[]): string {
  const body: SeparabilityFile = { format: 'facelosses-separability/1', epoch };
  for (const s of snaps) if (s.epoch === epoch) body[s.split] = computeSeparability(s.features, s.labels, s.predicted, s.numClasses);
  const file = separabilityPath(runDir, epoch);
  writeFileAtomic(file, JSON.stringify(body, null, 1) + '\n');
  return file;
}

const NUMERIC: (keyof Separability)[] = [
  'classifierAccuracy',
  'nearestMeanCosineAccuracy',
  'intraClassAngularSpread',
  'minInterClassAngle',
  'normMean',
  'normStd',
  'normMin',
  'normMax',
];

/** JSON writes NaN as null; turn those back into NaN. */
function revive(s: Separability | undefined): Separability | undefined {
  if (!s) return undefined;
  const out = { ...s } as Record<string, unknown>;
  for (const k of NUMERIC) if (out[k] === null) out[k] = Number.NaN;
  return out as unknown as Separability;
}

export function readSeparability(runDir: string, epoch: number): SeparabilityFile | undefined {
  const file = separabilityPath(runDir, epoch);
  if (!existsSync(file)) return undefined;
  try {
    const body = JSON.parse(readFileSync(file, 'utf8')) as SeparabilityFile;
    if (body.format !== 'facelosses-separability/1') return undefined;
    return { ...body, train: revive(body.train), valid: revive(body.valid) };
  } catch {
    return undefined;
  }
}

/**
 * The separability of every saved snapshot epoch of a run, by epoch; a missing file (a run from
 * before these files existed) is computed from the saved features and written.
 */
export function ensureSeparability(runDir: string): Map<number, SeparabilityFile> {
  const byEpoch = new Map<number, { file: string; split: SplitName }[]>();
  for (const s of listSnapshots(runDir)) byEpoch.set(s.epoch, [...(byEpoch.get(s.epoch) ?? []), s]);
  const out = new Map<number, SeparabilityFile>();
  for (const [epoch, list] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
    let sep = readSeparability(runDir, epoch);
    if (!sep || list.some((s) => !sep![s.split])) {
      writeSeparability(runDir, epoch, list.map((s) => loadSnapshot(s.file)));
      sep = readSeparability(runDir, epoch);
    }
    if (sep) out.set(epoch, sep);
  }
  return out;
}
