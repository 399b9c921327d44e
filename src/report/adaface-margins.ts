/**
 * The margin figure of an AdaFace run: the raw 2-D valid features, each coloured by its ẑ, the
 * feature norm normalised by the running statistics μ (norm_mean) and σ (norm_std) that decides
 * its margin: blue ẑ = −1 (low norm, a hard image: ArcFace's cos(θ + m)), grey ẑ = 0 (CosFace's
 * cos θ − m), red ẑ = 1 (high norm, an easy image: cos(θ − m) − 2m). ẑ comes from the loss
 * module's own arithmetic (adafaceQuality) with the statistics kept in the checkpoint, as the loss
 * computes it at evaluation. The title says the share of test images with ẑ < 0 and the accuracy
 * on either side of ẑ = 0. Drawn from the run folder alone: the last checkpoint's loss state and
 * the valid snapshot of its epoch.
 */
import { existsSync } from 'node:fs';
import type { ResolvedConfig } from '../config/config.js';
import { adafaceFeatureQuality, adafaceLoss } from '../losses/adaface.js';
import { renderScatter, type ScatterColorBar, type ScatterLayout } from '../plot/scatter.js';
import { checkpointPath, loadCheckpoint } from '../run/checkpoint.js';
import { type Snapshot, listSnapshots, loadSnapshot } from '../run/snapshot.js';
import { type FigureNaming, figurePath, figureTitle } from './figures.js';

/** Steps of the colour scale from ẑ = −1 to ẑ = 1 (0.1 apart; the middle one is ẑ = 0). */
export const QUALITY_STEPS = 21;
/** The diverging scale's ends and middle: blue (ẑ = −1), grey (0), red (1). */
const LOW = [33, 102, 172] as const;
const MID = [160, 160, 160] as const;
const HIGH = [178, 24, 43] as const;

/** The colour of each step of the scale, from ẑ = −1 to ẑ = 1. */
export const QUALITY_COLORS: readonly string[] = Array.from({ length: QUALITY_STEPS }, (_, i) => {
  const t = (2 * i) / (QUALITY_STEPS - 1) - 1;
  const [a, b] = t < 0 ? [MID, LOW] : [MID, HIGH];
  const f = Math.abs(t);
  const rgb = a.map((v, j) => Math.round(v + (b[j]! - v) * f));
  return `#${rgb.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
});

/** The step of the colour scale of a ẑ in [−1, 1]. */
export function qualityColorId(z: number): number {
  return Math.round(((Math.min(1, Math.max(-1, z)) + 1) / 2) * (QUALITY_STEPS - 1));
}

export interface AdaFaceMarginSummary {
  /** The epoch of the snapshot and statistics. */
  epoch: number;
  normMean: number;
  normStd: number;
  h: number;
  /** ẑ of every image, in snapshot order. */
  quality: Float64Array;
  /** Images with ẑ < 0 (below the mean norm: the harder margin) and with ẑ ≥ 0, and how many of each are predicted right. */
  low: { count: number; correct: number };
  high: { count: number; correct: number };
}

/** ẑ of every 2-D feature (interleaved x, y) and the accuracy on either side of ẑ = 0. */
export function adafaceMarginSummary(
  features: ArrayLike<number>,
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  stats: { normMean: number; normStd: number; h: number },
  epoch = 0,
): AdaFaceMarginSummary {
  const n = labels.length;
  const quality = new Float64Array(n);
  const low = { count: 0, correct: 0 };
  const high = { count: 0, correct: 0 };
  for (let i = 0; i < n; i++) {
    const z = adafaceFeatureQuality([features[2 * i]!, features[2 * i + 1]!], stats.normMean, stats.normStd, stats.h);
    quality[i] = z;
    const side = z < 0 ? low : high;
    side.count += 1;
    if (predicted[i] === labels[i]) side.correct += 1;
  }
  return { epoch, ...stats, quality, low, high };
}

const pct = (a: number, b: number, digits: number) => (b > 0 ? `${((100 * a) / b).toFixed(digits)} %` : '–');

/** One line: the share of images with ẑ < 0 and the accuracy on either side of ẑ = 0. */
export function adafaceMarginLine(s: AdaFaceMarginSummary): string {
  const total = s.low.count + s.high.count;
  return `ẑ < 0: ${pct(s.low.count, total, 1)} of the test images, accuracy ${pct(s.low.correct, s.low.count, 2)}; ẑ ≥ 0: accuracy ${pct(s.high.correct, s.high.count, 2)}`;
}

/** What the colour bar's ends and middle mean, with the running statistics (ẑ = 0 at ‖z‖ = μ). */
export function adafaceColorBar(normMean: number, normStd: number): ScatterColorBar {
  return {
    colors: QUALITY_COLORS,
    left: "ẑ = −1: low norm, hard\nArcFace's cos(θ + m)",
    middle: `ẑ = 0: ‖z‖ = μ = ${normMean.toFixed(2)} (σ = ${normStd.toFixed(2)})\nCosFace's cos θ − m`,
    right: 'ẑ = +1: high norm, easy\ncos(θ − m) − 2m',
  };
}

/** Where the margin figure of a run's epoch goes. */
export function adafaceFigurePath(picsDir: string, naming: FigureNaming, epoch: number): string {
  return figurePath(picsDir, { ...naming, displayName: `${naming.displayName}_margins` }, 'valid', epoch, 'raw');
}

/** The run's kept norm statistics and the valid snapshot of the checkpoint's epoch, for a 2-D AdaFace run that has both. */
export function adafaceInputs(runDir: string, config: ResolvedConfig): { normMean: number; normStd: number; h: number; snap: Snapshot } | null {
  if (config.loss.name !== adafaceLoss.name) return null;
  const valid = listSnapshots(runDir).filter((s) => s.split === 'valid');
  if (valid.length === 0 || !existsSync(checkpointPath(runDir))) return null;
  const ck = loadCheckpoint(runDir);
  // A checkpoint taken inside an epoch holds statistics of no snapshot.
  if (ck.position) return null;
  const mean = ck.lossState['norm_mean'];
  const std = ck.lossState['norm_std'];
  if (mean?.data.length !== 1 || std?.data.length !== 1) return null;
  const entry = valid.find((s) => s.epoch === ck.epoch);
  if (!entry) return null;
  const snap = loadSnapshot(entry.file);
  if (snap.embeddingDim !== 2) return null;
  return { normMean: mean.data[0]!, normStd: std.data[0]!, h: Number(config.loss.params['h']), snap };
}

/**
 * The margin figure of a run, in memory (nothing written), or null when the run is not a 2-D
 * AdaFace run (or has no valid snapshot at its checkpoint's epoch).
 */
export async function renderAdaFaceFigure(
  runDir: string,
  config: ResolvedConfig,
  naming: FigureNaming,
  schedule: string,
  picsDir: string,
): Promise<{ file: string; png: Buffer; layout: ScatterLayout; summary: AdaFaceMarginSummary } | null> {
  const inputs = adafaceInputs(runDir, config);
  if (!inputs) return null;
  const { snap, ...stats } = inputs;
  const summary = adafaceMarginSummary(snap.features, snap.labels, snap.predicted, stats, snap.epoch);
  const head = [naming.displayName, 'valid (test images)', "coloured by the norm's margin ẑ", ...(schedule ? [schedule] : [])].join(', ');
  const title = `${head}\n${figureTitle(naming, snap.epoch, '')}\n${adafaceMarginLine(summary)}`;
  const { png, layout } = await renderScatter({
    points: snap.features,
    colorLabels: Array.from(summary.quality, qualityColorId),
    labelLabels: snap.labels,
    numClasses: snap.numClasses,
    pointColors: QUALITY_COLORS,
    colorBar: adafaceColorBar(stats.normMean, stats.normStd),
    title,
    width: config.plot.width,
    height: Math.round(config.plot.height * 1.25),
  });
  return { file: adafaceFigurePath(picsDir, naming, snap.epoch), png, layout, summary };
}
