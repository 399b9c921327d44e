/**
 * The sub-center figure of a run whose classifier has K > 1 weight columns a class (Sub-center
 * ArcFace: W [2, numClasses·K], column c·K + j is sub-center j of class c): the valid features on
 * the unit circle, every sub-center drawn as a ray in its class's colour, and which sub-centers
 * stay dominant. A sub-center's share is the fraction of its class's test images whose nearest
 * sub-center of that class it is; the class's dominant sub-center is the one with the largest
 * share (solid, labelled with its share), the others are dashed (labelled when they hold 5 % or
 * more). Drawn from the run folder alone: the last checkpoint's W and the snapshot of its epoch.
 */
import { existsSync } from 'node:fs';
import type { ResolvedConfig } from '../config/config.js';
import { renderScatterPng, type ScatterRay } from '../plot/scatter.js';
import { checkpointPath, loadCheckpoint } from '../run/checkpoint.js';
import { type Snapshot, listSnapshots, loadSnapshot } from '../run/snapshot.js';
import { type FigureNaming, figurePath, figureTitle } from './figures.js';

/** A share at or above this is a sub-center in use (labelled); below it, an idle one. */
export const SUBCENTER_IN_USE = 0.05;

export interface SubCenterSummary {
  /** The epoch of the snapshot and weights. */
  epoch: number;
  k: number;
  /** Per class: each sub-center's share of the class's images, and the dominant sub-center. */
  classes: Array<{ cls: number; count: number; shares: number[]; dominant: number }>;
}

/** Shares of each class's sub-centers over the images of that (true) class; W is [2, C·K] row-major. */
export function subCenterShares(features: ArrayLike<number>, labels: ArrayLike<number>, w: ArrayLike<number>, numClasses: number, k: number, epoch = 0): SubCenterSummary {
  const cols = numClasses * k;
  const dir = Array.from({ length: cols }, (_, q) => {
    const x = w[q]!;
    const y = w[cols + q]!;
    const n = Math.hypot(x, y) || 1;
    return [x / n, y / n] as const;
  });
  const counts = Array.from({ length: numClasses }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (c >= numClasses) continue;
    const fx = features[2 * i]!;
    const fy = features[2 * i + 1]!;
    let best = 0;
    let bestCos = -Infinity;
    for (let j = 0; j < k; j++) {
      const d = dir[c * k + j]!;
      const cos = fx * d[0] + fy * d[1];
      if (cos > bestCos) {
        bestCos = cos;
        best = j;
      }
    }
    counts[c]![best]! += 1;
  }
  return {
    epoch,
    k,
    classes: counts.map((cnt, cls) => {
      const total = cnt.reduce((a, b) => a + b, 0);
      const shares = cnt.map((v) => (total ? v / total : 0));
      return { cls, count: total, shares, dominant: shares.indexOf(Math.max(...shares)) };
    }),
  };
}

/** One line: how many sub-centers hold 5 % or more of their class, and the dominant shares. */
export function subCenterLine(s: SubCenterSummary): string {
  const inUse = s.classes.reduce((a, c) => a + c.shares.filter((v) => v >= SUBCENTER_IN_USE).length, 0);
  const minDominant = Math.min(...s.classes.filter((c) => c.count > 0).map((c) => c.shares[c.dominant]!));
  return `${inUse} of ${s.classes.length * s.k} sub-centers hold >= 5 % of their class; dominant ones hold >= ${(100 * minDominant).toFixed(0)} %`;
}

/** Where the sub-center figure of a run's epoch goes. */
export function subCenterFigurePath(picsDir: string, naming: FigureNaming, epoch: number): string {
  return figurePath(picsDir, { ...naming, displayName: `${naming.displayName}_subcenters` }, 'valid', epoch, 'unit');
}

/** The run's sub-center classifier and the valid snapshot of the checkpoint's epoch, when it has both. */
export function subCenterInputs(runDir: string): { w: Float32Array; k: number; snap: Snapshot } | null {
  const valid = listSnapshots(runDir).filter((s) => s.split === 'valid');
  if (valid.length === 0 || !existsSync(checkpointPath(runDir))) return null;
  const ck = loadCheckpoint(runDir);
  // A checkpoint taken inside an epoch holds weights of no snapshot.
  if (ck.position) return null;
  const blob = ck.weights['loss.W'];
  if (!blob || blob.shape.length !== 2 || blob.shape[0] !== 2) return null;
  const entry = valid.find((s) => s.epoch === ck.epoch);
  if (!entry) return null;
  const snap = loadSnapshot(entry.file);
  const cols = blob.shape[1]!;
  if (snap.embeddingDim !== 2 || cols <= snap.numClasses || cols % snap.numClasses !== 0) return null;
  return { w: blob.data, k: cols / snap.numClasses, snap };
}

/**
 * The sub-center figure of a run, in memory (nothing written), or null when the run has no
 * sub-centers (or no valid snapshot at its checkpoint's epoch).
 */
export async function renderSubCenterFigure(
  runDir: string,
  config: ResolvedConfig,
  naming: FigureNaming,
  schedule: string,
  picsDir: string,
): Promise<{ file: string; png: Buffer; summary: SubCenterSummary } | null> {
  const inputs = subCenterInputs(runDir);
  if (!inputs) return null;
  const { w, k, snap } = inputs;
  const C = snap.numClasses;
  const summary = subCenterShares(snap.features, snap.labels, w, C, k, snap.epoch);
  const cols = C * k;
  const rays: ScatterRay[] = [];
  for (const c of summary.classes) {
    for (let j = 0; j < k; j++) {
      const q = c.cls * k + j;
      const n = Math.hypot(w[q]!, w[cols + q]!) || 1;
      const share = c.shares[j]!;
      const dominant = j === c.dominant;
      rays.push({ x: w[q]! / n, y: w[cols + q]! / n, cls: c.cls, faint: !dominant, label: dominant || share >= SUBCENTER_IN_USE ? `${(100 * share).toFixed(0)}%` : undefined });
    }
  }
  // Dominant rays last, so they are drawn on top.
  rays.sort((a, b) => Number(Boolean(b.faint)) - Number(Boolean(a.faint)));
  const title = `${figureTitle(naming, snap.epoch, schedule, { split: 'valid', colorBy: 'true', view: 'unit' })}\nall ${cols} sub-centers, solid = dominant; ${subCenterLine(summary)}`;
  const png = await renderScatterPng({
    points: snap.features,
    colorLabels: snap.labels,
    numClasses: C,
    title,
    width: config.plot.width,
    height: Math.round(config.plot.height * 1.1),
    view: 'unit',
    rays,
  });
  return { file: subCenterFigurePath(picsDir, naming, snap.epoch), png, summary };
}
