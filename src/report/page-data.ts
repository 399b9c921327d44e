/**
 * The data of a report page, built from run folders: every frame's features quantised to 16 bits,
 * predictions, the true labels and image of each point (once per distinct set of points), the 28x28
 * images of the points shown (one byte a pixel), the metrics curves, and what the titles need. The
 * numbers go into one binary blob that the page gzips and embeds as base64; a JSON header says where
 * each array lies in it.
 */
import { gzipSync } from 'node:zlib';
import { basename } from 'node:path';
import { scheduleNote } from '../config/config.js';
import { loadDataset } from '../data/mnist.js';
import { TAB10 } from '../plot/palette.js';
import { formatTitleParams } from '../plot/title.js';
import { readMetrics, readRunInfo } from '../run/run.js';
import { figureNaming } from './figures.js';
import { readHistory, type HistoryPoints } from './history-source.js';

/** Where one typed array lies in the decompressed blob: byte offset, element count, element type. */
export interface Segment {
  o: number;
  n: number;
  t: 'f32' | 'i16' | 'u8' | 'i32';
}

export interface PageSplitFrame {
  /** Points on the page. */
  n: number;
  /** Points in the frame; the page keeps every `stride`-th. */
  total: number;
  stride: number;
  /** n * dim int16 features; multiply by `scale` for the feature values. */
  xy: Segment;
  scale: number;
  pred: Segment;
  /** Index into PageData.pointSets (true labels and image slots). */
  set: number;
}

export interface PageFrame {
  step: number;
  epoch: number;
  validAccuracy: number | null;
  valid: PageSplitFrame | null;
  train: PageSplitFrame | null;
  weights: Segment | null;
}

export interface PageMetric {
  epoch: number;
  loss: number | null;
  validLoss: number | null;
  trainAccuracy: number | null;
  validAccuracy: number | null;
}

export interface PageRun {
  /** The run folder's name, e.g. softmax-quick. */
  name: string;
  /** The loss as the figures name it, e.g. SoftmaxLoss. */
  displayName: string;
  /** The loss's parameters as the figure titles print them, without the epoch. */
  params: string;
  /** The profile note of the titles ('quick profile'), empty for the reference schedule. */
  schedule: string;
  dim: number;
  numClasses: number;
  stepsPerEpoch: number;
  /** The run's planned epochs. */
  epochs: number;
  colorBy: 'predicted' | 'true';
  view: 'raw' | 'unit';
  /** Where the frames come from: the run's history, or its snapshots. */
  source: 'history' | 'snapshots';
  frames: PageFrame[];
  metrics: PageMetric[];
  finalValidAccuracy: number | null;
}

export interface PagePointSet {
  split: 'train' | 'valid';
  n: number;
  labels: Segment;
  /** Slot of each point's image in PageData.images[split], -1 when the page has none. */
  slots: Segment;
  /** Index of each point in its split (the test or train image number), -1 when not recorded. */
  indices: Segment;
}

export interface PageData {
  format: 'facelosses-page/1';
  mode: 'run' | 'gallery';
  title: string;
  palette: string[];
  runs: PageRun[];
  pointSets: PagePointSet[];
  images: { valid: { count: number; px: Segment | null }; train: { count: number; px: Segment | null } };
  /** Why some images are missing (e.g. the run's data folder is not on this machine); empty if none. */
  imageNote: string;
  /** Bytes of the decompressed blob. */
  bytes: number;
}

export interface PageOptions {
  /** Points per split and frame; more are thinned by a fixed stride (default 10,000). */
  maxPoints?: number;
  /** Frames per run; more are thinned evenly, the first and last kept (default: all). */
  maxFrames?: number;
}

class Blob {
  private parts: Uint8Array[] = [];
  size = 0;
  add(a: Float32Array | Int16Array | Uint8Array | Int32Array): Segment {
    const t: Segment['t'] = a instanceof Float32Array ? 'f32' : a instanceof Int16Array ? 'i16' : a instanceof Int32Array ? 'i32' : 'u8';
    const pad = (4 - (this.size % 4)) % 4;
    if (pad) this.push(new Uint8Array(pad));
    const seg = { o: this.size, n: a.length, t };
    this.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return seg;
  }
  private push(u: Uint8Array) {
    this.parts.push(u);
    this.size += u.byteLength;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }
}

function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Evenly spread picks of `count` out of `n`, first and last included. */
export function evenPicks(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  if (count <= 1) return [n - 1];
  return [...new Set(Array.from({ length: count }, (_, i) => Math.round((i * (n - 1)) / (count - 1))))];
}

/** Builds the data of a page from run folders (one for a run's report, several for a gallery). */
export function buildPageData(runDirs: string[], mode: 'run' | 'gallery', opts: PageOptions = {}): { data: PageData; blob: Uint8Array } {
  const maxPoints = opts.maxPoints ?? 10_000;
  const blob = new Blob();
  const pointSets: PagePointSet[] = [];
  // Images wanted per split: split index -> slot.
  const wanted = { valid: new Map<number, number>(), train: new Map<number, number>() };
  // The data folder the images come from: that of the first run whose points have image numbers.
  let dataDir: string | null | undefined;
  const runs: PageRun[] = [];

  for (const dir of runDirs) {
    const info = readRunInfo(dir);
    const history = readHistory(dir);
    const cfg = info.config;
    const naming = figureNaming(cfg);
    const picks = opts.maxFrames ? evenPicks(history.frames.length, opts.maxFrames) : history.frames.map((_, i) => i);
    const lastSet: { valid?: { set: number; labels: Uint8Array; indices: Int32Array }; train?: { set: number; labels: Uint8Array; indices: Int32Array } } = {};
    const splitFrame = (split: 'train' | 'valid', p: HistoryPoints): PageSplitFrame | null => {
      const total = p.labels.length;
      if (total === 0) return null;
      const stride = Math.ceil(total / maxPoints);
      const n = Math.ceil(total / stride);
      const dim = history.dim;
      const labels = new Uint8Array(n);
      const pred = new Uint8Array(n);
      const indices = new Int32Array(n);
      let maxAbs = 0;
      for (let j = 0; j < n; j++) {
        const i = j * stride;
        labels[j] = p.labels[i]!;
        pred[j] = p.predicted[i]!;
        indices[j] = p.indices[i]!;
        for (let d = 0; d < dim; d++) {
          const v = p.features[i * dim + d]!;
          if (Number.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
        }
      }
      const scale = maxAbs > 0 ? maxAbs / 32767 : 1;
      const xy = new Int16Array(n * dim);
      for (let j = 0; j < n; j++) {
        for (let d = 0; d < dim; d++) {
          const v = p.features[j * stride * dim + d]!;
          // A non-finite value is stored as -32768, which the page skips.
          xy[j * dim + d] = Number.isFinite(v) ? Math.round(v / scale) : -32768;
        }
      }
      const prev = lastSet[split];
      let set: number;
      if (prev && sameArray(prev.labels, labels) && sameArray(prev.indices, indices)) set = prev.set;
      else {
        const slots = new Int32Array(n);
        for (let j = 0; j < n; j++) {
          const k = indices[j]!;
          if (k < 0) slots[j] = -1;
          else {
            let s = wanted[split].get(k);
            if (s === undefined) wanted[split].set(k, (s = wanted[split].size));
            slots[j] = s;
          }
        }
        if (dataDir === undefined && indices.some((k) => k >= 0)) dataDir = cfg.data.dir;
        set = pointSets.length;
        pointSets.push({ split, n, labels: blob.add(labels), slots: blob.add(slots), indices: blob.add(indices) });
        lastSet[split] = { set, labels, indices };
      }
      return { n, total, stride, xy: blob.add(xy), scale, pred: blob.add(pred), set };
    };
    const frames: PageFrame[] = picks.map((fi) => {
      const f = history.frames[fi]!;
      return {
        step: f.step,
        epoch: f.epoch,
        validAccuracy: f.validAccuracy,
        valid: splitFrame('valid', f.valid),
        train: splitFrame('train', f.train),
        weights: f.weights ? blob.add(new Float32Array(f.weights)) : null,
      };
    });
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const metrics = readMetrics(dir).map((m) => ({ epoch: m.epoch, loss: num(m.loss), validLoss: num(m.validLoss), trainAccuracy: num(m.trainAccuracy), validAccuracy: num(m.validAccuracy) }));
    runs.push({
      name: basename(dir.replace(/[\\/]+$/, '')),
      displayName: naming.displayName,
      params: formatTitleParams(naming.titleParams, undefined, { integerKeys: naming.integerKeys }),
      schedule: scheduleNote(cfg),
      dim: history.dim,
      numClasses: history.numClasses,
      stepsPerEpoch: history.stepsPerEpoch,
      epochs: cfg.train.epochs,
      colorBy: cfg.plot.colorBy === 'true' ? 'true' : 'predicted',
      view: cfg.plot.view === 'unit' ? 'unit' : 'raw',
      source: history.source,
      frames,
      metrics,
      finalValidAccuracy: typeof info.validAccuracy === 'number' ? info.validAccuracy : (metrics[metrics.length - 1]?.validAccuracy ?? null),
    });
  }

  // The 28x28 images of the points shown, one byte a pixel, in slot order.
  const notes: string[] = [];
  const images: PageData['images'] = { valid: { count: 0, px: null }, train: { count: 0, px: null } };
  const need = (['valid', 'train'] as const).filter((s) => wanted[s].size > 0);
  if (need.length) {
    try {
      // All of the images (no limits): the image numbers index the whole files.
      const ds = loadDataset({ dir: dataDir ?? null });
      for (const split of need) {
        const from = ds[split];
        const px = from.height * from.width;
        const out = new Uint8Array(wanted[split].size * px);
        let missing = 0;
        for (const [k, slot] of wanted[split]) {
          if (k < from.count) out.set(from.images.subarray(k * px, (k + 1) * px), slot * px);
          else missing++;
        }
        if (missing) notes.push(`${missing} ${split} image(s) lie beyond the data folder's ${from.count} images`);
        images[split] = { count: wanted[split].size, px: blob.add(out) };
      }
    } catch (e) {
      notes.push(`digit images not embedded: ${(e as Error).message}`);
    }
  }
  const title = mode === 'run' ? `facelosses report: ${runs[0]!.displayName} (${runs[0]!.name})` : `facelosses gallery report: ${runs.length} losses`;
  const data: PageData = { format: 'facelosses-page/1', mode, title, palette: [...TAB10], runs, pointSets, images, imageNote: notes.join('; '), bytes: blob.size };
  return { data, blob: blob.bytes() };
}

/** The blob as the page embeds it: gzip, then base64. */
export function packBlob(blob: Uint8Array): string {
  return gzipSync(blob, { level: 6 }).toString('base64');
}
