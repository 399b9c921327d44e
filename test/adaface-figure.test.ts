/**
 * AdaFace's margin figure: ẑ as the loss computes it, the figure drawn for an AdaFace run alone
 * (from synthetic run folders), its colours following ẑ, the numbers of its title, and the
 * gallery showing it under its run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { before, test } from 'node:test';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig, scheduleNote, type ResolvedConfig } from '../src/config/config.js';
import type { AdaFaceLoss } from '../src/losses/adaface.js';
import { rowNorm } from '../src/losses/common.js';
import {
  QUALITY_COLORS,
  adafaceFigurePath,
  adafaceMarginLine,
  adafaceMarginSummary,
  qualityColorId,
  renderAdaFaceFigure,
} from '../src/report/adaface-margins.js';
import { extraFigures } from '../src/report/batch.js';
import { figureNaming } from '../src/report/figures.js';
import { redrawRun } from '../src/report/redraw.js';
import { CHECKPOINT_FORMAT, saveCheckpoint } from '../src/run/checkpoint.js';
import { writeRunInfo } from '../src/run/run.js';
import { saveSnapshot } from '../src/run/snapshot.js';
import { runCli } from './helpers/cli.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';
import { make, setVar, useCpu } from './losses-helpers.js';

before(useCpu);

const H = 0.333;

test('ẑ of the figure is the loss\'s ẑ at evaluation (kept statistics), clipping included', () => {
  // Norms 0 (clipped to 0.001), below μ, at μ, above, far above (ẑ clipped to 1) and 150 (norm clipped to 100).
  const rows = [[0, 0], [0.3, -0.4], [1.4, 0], [0, -1.65], [2.4, 1.8], [-150, 0], [0.9, 0.9]];
  for (const [mu, sd] of [[1.4, 0.25], [20, 100], [1.58, 0.9]] as const) {
    const loss = make('adaface', { s: 32, m: 0.08, h: H, t_alpha: 0.01 }, 4) as AdaFaceLoss;
    setVar(loss, 'norm_mean', mu);
    setVar(loss, 'norm_std', sd);
    const want = tf.tidy(() => loss.quality(rowNorm(tf.tensor2d(rows)), false).dataSync());
    const s = adafaceMarginSummary(rows.flat(), rows.map(() => 0), rows.map(() => 0), { normMean: mu, normStd: sd, h: H });
    for (let i = 0; i < rows.length; i++) assert.ok(Math.abs(s.quality[i]! - want[i]!) < 1e-6, `μ ${mu}, σ ${sd}, row ${i}: figure ${s.quality[i]}, loss ${want[i]}`);
    if (mu === 1.4) assert.ok(s.quality.some((z) => z === -1) && s.quality.some((z) => z === 1) && s.quality.some((z) => Math.abs(z) < 1e-6), `the rows span ẑ: ${s.quality}`);
    loss.dispose();
  }
});

test('the title\'s numbers: share of ẑ < 0 and the accuracy on either side (ẑ = 0 counts as ≥ 0)', () => {
  // μ = 2, σ + ε = h: ẑ = clip(‖z‖ − 2, −1, 1).
  const stats = { normMean: 2, normStd: H - 0.001, h: H };
  const norms = [0.5, 1, 1.5, 1.9, 2, 2.5, 3, 3.5, 4, 6];
  const labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  // Wrong: the first (ẑ < 0) and the ninth (ẑ ≥ 0).
  const predicted = labels.map((c, i) => (i === 0 || i === 8 ? (c + 1) % 10 : c));
  const s = adafaceMarginSummary(norms.flatMap((r) => [0, r]), labels, predicted, stats, 16);
  assert.deepEqual(s.low, { count: 4, correct: 3 });
  assert.deepEqual(s.high, { count: 6, correct: 5 });
  assert.equal(s.epoch, 16);
  assert.equal(adafaceMarginLine(s), 'ẑ < 0: 40.0 % of the test images, accuracy 75.00 %; ẑ ≥ 0: accuracy 83.33 %');
  // Every image on one side: the other side's accuracy is a dash, not NaN.
  const all = adafaceMarginSummary([0, 5, 5, 0], [1, 2], [1, 2], stats);
  assert.equal(adafaceMarginLine(all), 'ẑ < 0: 0.0 % of the test images, accuracy –; ẑ ≥ 0: accuracy 100.00 %');
  // The colour scale: blue at −1, grey at 0, red at 1.
  assert.equal(QUALITY_COLORS[qualityColorId(-1)], '#2166ac');
  assert.equal(QUALITY_COLORS[qualityColorId(0)], '#a0a0a0');
  assert.equal(QUALITY_COLORS[qualityColorId(1)], '#b2182b');
  assert.equal(qualityColorId(-0.04), qualityColorId(0.04));
});

/** A finished 2-D run folder of `loss` at epoch 2: a valid snapshot and a checkpoint with the given loss state. */
function syntheticRun(dir: string, loss: string, lossState: Record<string, number>, points: number[][], labels: number[], extra: Record<string, unknown> = {}): ResolvedConfig {
  const config = resolveConfig({ name: loss, loss: { name: loss, params: extra } }, `configs/${loss}.yaml`, 'ci');
  config.snapshots = [2];
  mkdirSync(dir, { recursive: true });
  writeRunInfo(dir, { format: 'facelosses-run/1', config, profile: 'ci', backend: 'cpu', codeVersion: 'v1', startedAt: '', status: 'finished' });
  const n = labels.length;
  saveSnapshot(dir, { epoch: 2, split: 'valid', numClasses: 10, embeddingDim: 2, count: n, features: new Float32Array(points.flat()), labels: new Uint8Array(labels), predicted: new Uint8Array(labels) });
  const metric = { epoch: 1, lr: 0.001, loss: 1, trainAccuracy: 0.9, validLoss: 1, validAccuracy: 0.9, imagesPerSecond: 1, seconds: 1 };
  saveCheckpoint(dir, {
    format: CHECKPOINT_FORMAT,
    savedAt: '',
    backend: 'cpu',
    epoch: 2,
    rng: [1, 2, 3, 4],
    initRng: [1, 2, 3, 4],
    weights: { 'loss.W': { shape: [2, 10], data: new Float32Array(20).fill(1) } },
    optimizer: { step: 0, m: {}, v: {} },
    lossState: Object.fromEntries(Object.entries(lossState).map(([k, v]) => [k, { shape: [], data: new Float32Array([v]) }])),
    lossCounters: {},
    metrics: [metric, { ...metric, epoch: 2 }],
    elapsedSeconds: 1,
    data: '',
  });
  return config;
}

// Class 0 at (3, 0) and (−3, 0), class 1 at (0, 1) and (0, −1): each class mean (its digit) at the origin.
const POINTS = [...Array.from({ length: 20 }, () => [3, 0]), ...Array.from({ length: 20 }, () => [-3, 0]), ...Array.from({ length: 20 }, () => [0, 1]), ...Array.from({ length: 20 }, () => [0, -1])];
const LABELS = POINTS.map((_, i) => (i < 40 ? 0 : 1));

/** The RGB of the pixel at data point (x, y) of a figure. */
async function pixelAt(png: Buffer, layout: { xMin: number; yMax: number; unitsPerPixelX: number; unitsPerPixelY: number; chartArea: { left: number; top: number } }, x: number, y: number): Promise<number[]> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const px = Math.round(layout.chartArea.left + (x - layout.xMin) / layout.unitsPerPixelX);
  const py = Math.round(layout.chartArea.top + (layout.yMax - y) / layout.unitsPerPixelY);
  return Array.from(ctx.getImageData(px, py, 1, 1).data.slice(0, 3));
}

const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 6);

test('the figure colours each image by its ẑ: the same point red when its norm is above μ, grey at μ, blue below', async () => {
  const dir = tempDir();
  const draw = async (mu: number) => {
    const run = join(dir, `mu-${mu}`);
    const config = syntheticRun(run, 'adaface', { norm_mean: mu, norm_std: H - 0.001 }, POINTS, LABELS);
    const fig = await renderAdaFaceFigure(run, config, figureNaming(config), scheduleNote(config), join(run, 'pics'));
    assert.ok(fig);
    return fig;
  };
  const [a, b, c] = [await draw(2), await draw(3), await draw(4)];
  // ẑ = clip(‖z‖ − μ, −1, 1): (3, 0) has ẑ 1, 0, −1; (0, 1) has ẑ −1 in all three.
  [1, 0, -1].forEach((z, i) => assert.ok(Math.abs([a, b, c][i]!.summary.quality[0]! - z) < 1e-6, `ẑ of (3, 0) with μ = ${i + 2}`));
  assert.ok(near(await pixelAt(a.png, a.layout, 3, 0), rgb('#b2182b')), `red at (3, 0) with μ = 2: ${await pixelAt(a.png, a.layout, 3, 0)}`);
  assert.ok(near(await pixelAt(b.png, b.layout, 3, 0), rgb('#a0a0a0')), `grey at (3, 0) with μ = 3: ${await pixelAt(b.png, b.layout, 3, 0)}`);
  assert.ok(near(await pixelAt(c.png, c.layout, 3, 0), rgb('#2166ac')), `blue at (3, 0) with μ = 4: ${await pixelAt(c.png, c.layout, 3, 0)}`);
  for (const f of [a, b, c]) assert.ok(near(await pixelAt(f.png, f.layout, 0, 1), rgb('#2166ac')), 'blue at (0, 1) throughout');
  assert.ok(a.layout.colorBar && a.layout.colorBar.top > a.layout.chartArea.bottom, 'the colour bar sits under the plotting area');
  assert.equal(a.summary.low.count, 40);
  assert.equal(basename(a.file), 'AdaFaceLoss_margins-valid_s=32.0, m=0.08, h=0.333, epoch=2.png');
});

test('drawn by `plot` for an AdaFace run, not for another loss; the gallery finds it', async () => {
  const dir = tempDir();
  const ada = join(dir, 'ada');
  const config = syntheticRun(ada, 'adaface', { norm_mean: 2, norm_std: 1 }, POINTS, LABELS);
  const files = await redrawRun({ run: ada });
  const margins = adafaceFigurePath(join(ada, 'pics'), figureNaming(config), 2);
  assert.ok(files.includes(margins) && existsSync(margins), `plot draws ${margins}: ${files.join(', ')}`);
  assert.equal(files.length, 2, 'the valid figure and the margin figure');
  const extras = extraFigures(join(ada, 'pics'), figureNaming(config), config.snapshots);
  assert.equal(extras.length, 1);
  assert.equal(extras[0]!.file, margins);
  assert.match(extras[0]!.caption, /^The test images at epoch 2 coloured by ẑ/);

  const arc = join(dir, 'arc');
  const arcConfig = syntheticRun(arc, 'arcface', {}, POINTS, LABELS);
  const arcFiles = await redrawRun({ run: arc });
  assert.equal(arcFiles.length, 1, `only the valid figure: ${arcFiles.join(', ')}`);
  assert.equal(await renderAdaFaceFigure(arc, arcConfig, figureNaming(arcConfig), '', join(arc, 'pics')), null);
  assert.deepEqual(extraFigures(join(arc, 'pics'), figureNaming(arcConfig), arcConfig.snapshots), []);
});

test('train draws the figure when an AdaFace run finishes (one tiny epoch on synthetic digits)', async () => {
  const dir = tempDir();
  const data = writeSyntheticIdx(join(dir, 'idx'), 128, 32);
  const out = join(dir, 'run');
  const r = await runCli(['train', '--config', 'configs/adaface.yaml', '--profile', 'ci', '--epochs', '1', '--data-dir', data, '--out', out, '--backend', 'wasm', '--threads', '1', '--size', '320x240', '--no-animation', '--no-report', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const { readRunInfo } = await import('../src/run/run.js');
  const config = readRunInfo(out).config;
  const file = adafaceFigurePath(join(out, 'pics'), figureNaming(config), 1);
  assert.ok(existsSync(file), `${file} after train: ${r.stdout}`);
});
