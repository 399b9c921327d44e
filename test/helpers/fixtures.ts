import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '../../src/data/idx.js';
import { Rng } from '../../src/rng.js';

export function tempDir(prefix = 'facelosses-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a small synthetic MNIST-format dataset (28x28, 10 classes) and returns its folder. */
export function writeSyntheticIdx(dir: string, nTrain = 64, nValid = 32, opts: { gzip?: boolean; labelCountOffset?: number } = {}): string {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(7);
  const split = (n: number) => {
    const images = new Uint8Array(n * 784);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 10;
      labels[i] = c;
      // A bright bar whose position depends on the class, plus noise: learnable.
      for (let p = 0; p < 784; p++) images[i * 784 + p] = rng.int(40);
      for (let r = 2 + 2 * c; r < 4 + 2 * c; r++) for (let q = 4; q < 24; q++) images[i * 784 + r * 28 + q] = 255;
    }
    return { images, labels };
  };
  const tr = split(nTrain);
  const va = split(nValid);
  const off = opts.labelCountOffset ?? 0;
  const files: Array<[string, Uint8Array]> = [
    ['train-images-idx3-ubyte', encodeIdx([nTrain, 28, 28], tr.images)],
    ['train-labels-idx1-ubyte', encodeIdx([nTrain + off], new Uint8Array(nTrain + off).map((_, i) => tr.labels[i % nTrain]!))],
    ['t10k-images-idx3-ubyte', encodeIdx([nValid, 28, 28], va.images)],
    ['t10k-labels-idx1-ubyte', encodeIdx([nValid], va.labels)],
  ];
  for (const [name, bytes] of files) {
    if (opts.gzip) writeFileSync(join(dir, name + '.gz'), gzipSync(bytes));
    else writeFileSync(join(dir, name), bytes);
  }
  return dir;
}
