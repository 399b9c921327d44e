import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { renderContactSheet } from '../src/plot/contact-sheet.js';
import { equalAspectLimits, paddedBounds, settlingBounds } from '../src/plot/limits.js';
import { classColor, TAB10 } from '../src/plot/palette.js';
import { isPng, pngSize } from '../src/plot/png.js';
import { renderScatter, renderScatterPng, writeScatterPng, type ScatterInput } from '../src/plot/scatter.js';
import { formatTitleParams, pyFloat } from '../src/plot/title.js';

/** Ten classes along ten directions, radius growing with i (deterministic). */
function spokes(n: number): ScatterInput {
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    const r = 5 + ((i * 7919) % 1000) / 10;
    const t = (2 * Math.PI * c) / 10 + (((i * 31) % 17) - 8) * 0.005;
    points[2 * i] = r * Math.cos(t);
    points[2 * i + 1] = r * Math.sin(t);
    labels[i] = c;
  }
  return { points, colorLabels: labels, numClasses: 10, title: 'epoch=1' };
}

async function pixels(png: Buffer) {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, img.width, img.height);
}

/** Count near-black pixels in a window. */
function darkPixels(img: { data: Uint8ClampedArray; width: number; height: number }, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(img.height, Math.ceil(y1)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(img.width, Math.ceil(x1)); x++) {
      const i = 4 * (y * img.width + x);
      if (img.data[i]! < 60 && img.data[i + 1]! < 60 && img.data[i + 2]! < 60) n++;
    }
  }
  return n;
}

test('renders a PNG of the default and of a requested size', async () => {
  const png = await renderScatterPng(spokes(500));
  assert.ok(isPng(png));
  assert.deepEqual(pngSize(png), { width: 640, height: 480 });
  const small = await renderScatterPng({ ...spokes(500), width: 320, height: 200 });
  assert.deepEqual(pngSize(small), { width: 320, height: 200 });
  const img = await loadImage(small);
  assert.equal(img.width, 320);
  assert.equal(img.height, 200);
});

test('pngSize rejects bytes that are not a PNG', () => {
  assert.throws(() => pngSize(Buffer.from('GIF89a................')), /not a PNG/);
});

test('equalAspectLimits widens the tighter axis about its centre', () => {
  const lim = equalAspectLimits({ xMin: 0, xMax: 100, yMin: 0, yMax: 10 }, 400, 200);
  assert.equal(lim.xMin, 0);
  assert.equal(lim.xMax, 100);
  assert.equal(lim.yMin, -20);
  assert.equal(lim.yMax, 30);
  assert.equal((lim.xMax - lim.xMin) / 400, (lim.yMax - lim.yMin) / 200);
  const tall = equalAspectLimits({ xMin: -1, xMax: 1, yMin: -50, yMax: 50 }, 300, 300);
  assert.deepEqual(tall, { xMin: -50, xMax: 50, yMin: -50, yMax: 50 });
});

test('the rendered chart has equal units per pixel on x and y and contains all points', async () => {
  // A wide, flat point set: x spans 0..100, y spans 0..10.
  const n = 200;
  const points = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    points[2 * i] = (100 * i) / (n - 1);
    points[2 * i + 1] = (10 * ((i * 13) % n)) / (n - 1);
  }
  for (const [width, height] of [
    [640, 480],
    [300, 600],
    [1000, 300],
  ] as const) {
    const { layout } = await renderScatter({ points, colorLabels: new Int32Array(n), numClasses: 10, title: 't', width, height });
    const rel = Math.abs(layout.unitsPerPixelX - layout.unitsPerPixelY) / layout.unitsPerPixelX;
    assert.ok(rel < 1e-9, `units/px differ at ${width}x${height}: ${layout.unitsPerPixelX} vs ${layout.unitsPerPixelY}`);
    assert.ok(layout.xMin < 0 && layout.xMax > 100, `x range ${layout.xMin}..${layout.xMax}`);
    assert.ok(layout.yMin < 0 && layout.yMax > 10, `y range ${layout.yMin}..${layout.yMax}`);
    assert.ok(layout.chartArea.right - layout.chartArea.left > width / 2);
  }
});

test('unit view normalises points and keeps the unit circle inside the axes', async () => {
  const input = { ...spokes(300), view: 'unit' as const };
  const { layout } = await renderScatter(input);
  assert.ok(layout.xMin <= -1.2 && layout.xMax >= 1.2 && layout.yMin <= -1.2 && layout.yMax >= 1.2);
  assert.ok(Math.abs(layout.unitsPerPixelX - layout.unitsPerPixelY) / layout.unitsPerPixelX < 1e-9);
  // A zero vector has no direction: skipped in the unit view.
  const z = await renderScatter({ points: new Float32Array([0, 0, 1, 1]), colorLabels: new Int32Array([0, 1]), numClasses: 10, title: '', view: 'unit' });
  assert.equal(z.layout.drawn, 1);
  assert.equal(z.layout.skipped, 1);
});

test('title and class digits are visible in the PNG', async () => {
  // Two classes as blobs; the digits sit at the class means and are the only black ink there.
  const n = 400;
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    points[2 * i] = (c === 0 ? -10 : 10) + Math.cos(i) * 2;
    points[2 * i + 1] = Math.sin(i * 1.7) * 2;
    labels[i] = c;
  }
  const { png, layout } = await renderScatter({ points, colorLabels: labels, numClasses: 10, title: 'alpha=1.0, epoch=3' });
  const img = await pixels(png);
  const toPx = (x: number, y: number) => ({
    x: layout.chartArea.left + (x - layout.xMin) / layout.unitsPerPixelX,
    y: layout.chartArea.bottom - (y - layout.yMin) / layout.unitsPerPixelY,
  });
  for (const cx of [-10, 10]) {
    const p = toPx(cx, 0);
    assert.ok(darkPixels(img, p.x - 8, p.y - 10, p.x + 8, p.y + 10) > 10, `no digit drawn near class mean (${cx}, 0)`);
  }
  // Title: above the plotting area.
  assert.ok(darkPixels(img, 0, 0, img.width, layout.chartArea.top - 2) > 30, 'no title text above the axes');
  // Tick labels: left of the plotting area.
  assert.ok(darkPixels(img, 0, layout.chartArea.top, layout.chartArea.left - 6, layout.chartArea.bottom) > 30, 'no tick labels');
  // Class colours are tab10.
  assert.equal(classColor(0, 10), '#1f77b4');
  assert.equal(classColor(9, 10), '#17becf');
  assert.equal(TAB10.length, 10);
});

test('formatTitleParams prints values the way Python does', () => {
  assert.equal(formatTitleParams({ alpha: 1, trainable: true }, 100), 'alpha=1.0, trainable=True, epoch=100');
  assert.equal(formatTitleParams({}, 500), 'epoch=500');
  assert.equal(formatTitleParams({ init_R: 1, loss_weight: 0.1 }, 300), 'init_R=1.0, loss_weight=0.1, epoch=300');
  assert.equal(formatTitleParams({ alpha: null, gamma: 2 }, 100), 'alpha=None, gamma=2.0, epoch=100');
  assert.equal(formatTitleParams({ trainable: false, strategy: 'batch_hard' }, 7), 'trainable=False, strategy=batch_hard, epoch=7');
  assert.equal(formatTitleParams({ m: 3, s: 32 }, 1, { integerKeys: ['m'] }), 'm=3, s=32.0, epoch=1');
  assert.equal(formatTitleParams({ s: 32, m: 0.5 }), 's=32.0, m=0.5');
  assert.equal(formatTitleParams({ w: [1, 0.5] }, 2), 'w=[1.0, 0.5], epoch=2');
  assert.equal(formatTitleParams({ a: undefined }, 2), 'a=None, epoch=2');
});

test('pyFloat matches Python repr()', () => {
  const cases: [number, string][] = [
    [1, '1.0'],
    [100, '100.0'],
    [0.1, '0.1'],
    [-2.5, '-2.5'],
    [0.0001, '0.0001'],
    [1e-5, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e16, '1e+16'],
    [1234567890123456, '1234567890123456.0'],
    [1.2345678901234568e17, '1.2345678901234568e+17'],
    [0.30000000000000004, '0.30000000000000004'],
    [0, '0.0'],
    [-0, '-0.0'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ];
  for (const [v, want] of cases) assert.equal(pyFloat(v), want, `pyFloat(${v})`);
});

test('non-finite points and unknown class ids are skipped or greyed without crashing', async () => {
  const points = new Float32Array([NaN, 1, 2, Infinity, -Infinity, 0, 1, 2, 3, 4, 5, 6]);
  const colorLabels = new Int32Array([0, 1, 2, 3, 4, 99]);
  const { png, layout } = await renderScatter({ points, colorLabels, numClasses: 10, title: 'nan' });
  assert.equal(layout.skipped, 3);
  assert.equal(layout.drawn, 3);
  assert.ok(Number.isFinite(layout.xMin) && Number.isFinite(layout.yMax));
  assert.deepEqual(pngSize(png), { width: 640, height: 480 });
  // Nothing finite at all, and nothing at all.
  const none = await renderScatter({ points: new Float32Array([NaN, NaN]), colorLabels: new Uint8Array([0]), numClasses: 10, title: 'empty' });
  assert.equal(none.layout.drawn, 0);
  const empty = await renderScatter({ points: new Float32Array(0), colorLabels: new Int32Array(0), numClasses: 10, title: '' });
  assert.ok(isPng(empty.png));
  // A single point (zero extent) still gets a sensible range.
  const one = await renderScatter({ points: new Float32Array([3, 3]), colorLabels: new Int32Array([1]), numClasses: 10, title: '' });
  assert.ok(one.layout.xMin < 3 && one.layout.xMax > 3 && one.layout.yMin < 3 && one.layout.yMax > 3);
});

test('mismatched lengths are reported clearly', async () => {
  await assert.rejects(
    renderScatter({ points: new Float32Array(5), colorLabels: new Int32Array(3), numClasses: 10, title: '' }),
    /points has 5 numbers but colorLabels has 3/,
  );
  await assert.rejects(
    renderScatter({ points: new Float32Array(6), colorLabels: new Int32Array(3), labelLabels: new Int32Array(2), numClasses: 10, title: '' }),
    /labelLabels has 2/,
  );
});

test('writeScatterPng creates folders, writes atomically and leaves no temporary file', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'facelosses-plot-'));
  try {
    const file = path.join(dir, 'a', 'b', 'fig.png');
    await writeScatterPng(file, spokes(200));
    await writeScatterPng(file, { ...spokes(100), title: 'second' }); // overwrite in place
    assert.deepEqual(await readdir(path.join(dir, 'a', 'b')), ['fig.png']);
    assert.deepEqual(pngSize(await readFile(file)), { width: 640, height: 480 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('10,000 points render to a PNG of the asked size (speed belongs to the bench, not to a timed test)', async () => {
  const png = await renderScatterPng({ ...spokes(10000), width: 640, height: 480 });
  assert.ok(isPng(png));
  assert.deepEqual(pngSize(png), { width: 640, height: 480 });
});

test('renderContactSheet lays tiles out in a grid', async () => {
  const tile = await renderScatterPng({ ...spokes(100), width: 200, height: 150 });
  const sheet = await renderContactSheet(
    [
      { title: 'a', png: tile },
      { title: 'b', png: tile },
      { title: 'c', png: tile },
    ],
    { columns: 2, tileWidth: 100, title: 'sheet', gap: 10 },
  );
  const { width, height } = pngSize(sheet);
  assert.equal(width, 10 + 2 * (100 + 10));
  assert.ok(height > 2 * 75 + 30, `height ${height}`);
  await assert.rejects(renderContactSheet([], {}), /no tiles/);
});

test('settlingBounds: each frame\'s axes enclose it and every later frame; growing features keep the last frame\'s axes, shrinking ones are followed in', () => {
  // A cloud of four points at scale r about (1, -1).
  const cloud = (r: number): [number, number][] => [[1 + r, -1], [1 - r, -1], [1, -1 + r], [1, -1 - 2 * r]];
  const inside = (b: { xMin: number; xMax: number; yMin: number; yMax: number }, pts: [number, number][]) => pts.every(([x, y]) => x >= b.xMin && x <= b.xMax && y >= b.yMin && y <= b.yMax);
  const growing = [0.1, 1, 5, 20].map(cloud);
  const g = settlingBounds(growing);
  assert.equal(g.length, 4);
  for (const b of g) assert.deepEqual(b, paddedBounds(growing[3]!), 'growing: every frame on the last frame\'s axes');
  const shrinking = [300, 40, 2, 0.1].map(cloud);
  const s = settlingBounds(shrinking);
  shrinking.forEach((pts, i) => {
    assert.deepEqual(s[i], paddedBounds(pts), `shrinking: frame ${i} on its own axes`);
    assert.ok(inside(s[i]!, pts), `frame ${i}'s points are all inside its axes`);
  });
  // Up, down and up again: never a point cut off, and the axes only close in.
  const mixed = [1, 50, 3, 8, 2].map(cloud);
  const m = settlingBounds(mixed);
  mixed.forEach((pts, i) => {
    for (let j = i; j < mixed.length; j++) assert.ok(inside(m[i]!, mixed[j]!), `frame ${i}'s axes enclose frame ${j}`);
    if (i > 0) assert.ok(m[i]!.xMax - m[i]!.xMin <= m[i - 1]!.xMax - m[i - 1]!.xMin, 'the axes never widen');
  });
  assert.deepEqual(m[0], paddedBounds(mixed[1]!), 'frame 0 already shows the largest later cloud');
  assert.deepEqual(m[2], paddedBounds(mixed[3]!), 'frame 2 shows frame 3\'s larger cloud');
  assert.deepEqual(m[4], paddedBounds(mixed[4]!), 'the last frame: its static figure\'s axes');
  // Non-finite points are left out; a frame with no points takes the later frames' axes.
  const withNaN = settlingBounds([[[NaN, 0], [0, Infinity], ...cloud(1)], [], cloud(2)]);
  assert.deepEqual(withNaN[0], paddedBounds(cloud(2)));
  assert.deepEqual(withNaN[1], paddedBounds(cloud(2)));
});
