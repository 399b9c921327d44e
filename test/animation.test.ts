/**
 * `facelosses animate` and the animation `train` draws: the GIF decodes, has one frame per
 * history frame, loops, pauses on the last frame, and its last frame shows what the static figure
 * of the last epoch shows (same pixels, apart from the title's second line and, in 2-D, the class
 * vectors drawn over the points). 3-D runs: the sphere from two opposite sides (the static `pair`
 * figure), or `unit` or `map`; beyond 3-D refused. Tiny synthetic data: 320 images, batch 16, 20
 * steps x 2 epochs.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { animateCommand } from '../src/commands/animate.js';
import { trainCommand } from '../src/commands/train.js';
import { encodeGif, frameDelays } from '../src/plot/animation.js';
import { renderHistoryAnimation, UnsupportedDimension } from '../src/report/animation.js';
import { readHistory } from '../src/run/history.js';
import { loadConfigFile } from '../src/config/config.js';
import { animationPath, figureNaming } from '../src/run/figure-names.js';
import { removeRunFiles } from '../src/run/replace.js';
import { readRunInfo } from '../src/run/run.js';
import { runCli } from './helpers/cli.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';
import { decodeGif } from './helpers/gif.js';

process.env.FACELOSSES_THREADS = '1';

let dir = '';
let data = '';
let cfg = '';
let run = '';
let files: string[] = [];

before(async () => {
  dir = tempDir();
  data = writeSyntheticIdx(join(dir, 'data'), 320, 64);
  cfg = join(dir, 'tiny.yaml');
  writeFileSync(cfg, 'name: tiny\nloss: { name: softmax }\ntrain: { epochs: 2, batchSize: 16, lr: 0.003, seed: 5 }\nsnapshots: [1, 2]\n');
  run = join(dir, 'run');
  files = (await trainCommand({ config: cfg, profile: 'full', dataDir: data, out: run, backend: 'wasm', quiet: true })).files;
});

async function pngPixels(file: string): Promise<{ rgba: Uint8ClampedArray; width: number; height: number }> {
  const img = await loadImage(readFileSync(file));
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return { rgba: ctx.getImageData(0, 0, img.width, img.height).data, width: img.width, height: img.height };
}

const ink = (a: ArrayLike<number>, p: number) => a[4 * p]! < 235 || a[4 * p + 1]! < 235 || a[4 * p + 2]! < 235;
/** A strongly coloured pixel (a class's dot or diamond), not the grey of a graticule, caption or veiled dot. */
const colour = (a: ArrayLike<number>, p: number) => Math.max(a[4 * p]!, a[4 * p + 1]!, a[4 * p + 2]!) - Math.min(a[4 * p]!, a[4 * p + 1]!, a[4 * p + 2]!) > 60;

/**
 * Of the pixels that are not white in `ref` (points, digits, ticks, the axes box) in rows [y0, y1),
 * the fraction that `a` shows in the same colour (up to the GIF palette's rounding); `which`
 * chooses the pixels of `ref` counted (default: all ink).
 */
function inkAgreement(a: ArrayLike<number>, ref: ArrayLike<number>, width: number, y0: number, y1: number, which = ink): number {
  let same = 0;
  let n = 0;
  for (let p = y0 * width; p < y1 * width; p++) {
    if (!which(ref, p)) continue;
    n++;
    let d = 0;
    for (let ch = 0; ch < 3; ch++) d = Math.max(d, Math.abs(a[4 * p + ch]! - ref[4 * p + ch]!));
    if (d <= 40) same++;
  }
  return same / n;
}

test('train draws the valid animation: one frame per history frame, looping, a pause on the last; its last frame is the static figure of the last epoch', async () => {
  const gifFile = files.find((f) => f.endsWith('.gif'));
  assert.ok(gifFile, `train lists the animation among its files: ${files.join(', ')}`);
  assert.equal(gifFile, join(run, 'pics', 'Softmax', 'SoftmaxLoss-valid-animation.gif'));
  const gif = decodeGif(readFileSync(gifFile));
  const h = readHistory(run);
  assert.deepEqual(h.frames.map((f) => f.step), [0, 10, 20, 40]);
  assert.equal(gif.frames.length, h.frames.length);
  assert.equal(gif.loop, 0, 'loops forever');
  assert.equal(gif.width, 640);
  assert.equal(gif.height, 480);
  assert.equal(gif.frames.at(-1)!.delayMs, 2500, 'a pause on the last frame');
  assert.ok(gif.frames.slice(0, -1).every((f) => f.delayMs === 330));
  const png = readdirSync(join(run, 'pics', 'Softmax')).find((f) => f.startsWith('SoftmaxLoss-valid_') && f.includes('epoch=2'));
  assert.ok(png);
  const stat = await pngPixels(join(run, 'pics', 'Softmax', png));
  assert.equal(stat.width, 640);
  const last = gif.frames.at(-1)!.rgba;
  // Below the title: the same axes, points and digits (the class-weight arrows are drawn over them).
  const plot = inkAgreement(last, stat.rgba, 640, 60, 480);
  assert.ok(plot > 0.99, `plot area: ${(100 * plot).toFixed(2)}% of the static figure's ink is in the last frame`);
  // The title's first line is the static figure's.
  const line1 = inkAgreement(last, stat.rgba, 640, 0, 28);
  assert.ok(line1 > 0.99, `title line 1: ${(100 * line1).toFixed(2)}%`);
  // The earlier frames are not: the features move (same axes, ticks and box, other points).
  for (const f of gif.frames.slice(0, -1)) {
    const early = inkAgreement(f.rgba, stat.rgba, 640, 60, 480);
    assert.ok(early < plot - 0.05, `an earlier frame agrees ${(100 * early).toFixed(2)}%`);
  }
});

test('features that shrink over the run (weight decay on a long schedule) stay in the picture: the axes close in with them', async () => {
  const h = readHistory(run);
  const n = h.frames.length;
  // The run's own frames, the earlier ones scaled up: 60x the size at the first frame, 1x at the last.
  const scale = (k: number) => 1 + (59 * (n - 1 - k)) / (n - 1);
  const shrinking = { ...h, frames: h.frames.map((f, k) => ({ ...f, valid: { ...f.valid, features: f.valid.features.map((v) => v * scale(k)) } })) };
  const config = readRunInfo(run).config;
  const gif = decodeGif((await renderHistoryAnimation(shrinking, config)).gif);
  const asIs = decodeGif((await renderHistoryAnimation(h, config)).gif);
  assert.equal(gif.frames.length, n);
  const dots = (rgba: ArrayLike<number>) => {
    let c = 0;
    for (let p = 60 * 640; p < 480 * 640; p++) if (colour(rgba, p)) c++;
    return c;
  };
  // Each frame scaled up shows at least two thirds of the class-coloured pixels of the same frame
  // unscaled (more where its points, spread over axes of their own, overlap less): its axes scale
  // with it. On the last frame's axes the early frames' points would be almost all outside.
  for (let k = 0; k < n; k++) {
    const got = dots(gif.frames[k]!.rgba);
    const want = dots(asIs.frames[k]!.rgba);
    assert.ok(got > 0.67 * want, `frame ${k} (x${scale(k).toFixed(1)}): ${got} coloured pixels, ${want} unscaled`);
  }
  // The last frame is unchanged: the static figure's axes.
  const last = inkAgreement(gif.frames.at(-1)!.rgba, asIs.frames.at(-1)!.rgba, 640, 60, 480);
  assert.ok(last > 0.99, `last frame: ${(100 * last).toFixed(2)}%`);
});

test('facelosses animate: train split, unit view, fps, a chosen file; refuses a missing run or a folder as --out', async () => {
  const out = join(dir, 'a', 'train-unit.gif');
  const r = await animateCommand({ run, split: 'train', view: 'unit', out, fps: 5, pauseSeconds: 1, width: 320, height: 240, log: () => {} });
  assert.equal(r.file, out);
  assert.equal(r.frames, 4);
  assert.equal(r.source, 'history');
  const gif = decodeGif(readFileSync(out));
  assert.equal(gif.width, 320);
  assert.deepEqual(gif.frames.map((f) => f.delayMs), [200, 200, 200, 1000]);
  const missing = await runCli(['animate', '--run', join(dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /is not a facelosses run folder|no such folder/);
  mkdirSync(join(dir, 'folder.gif'));
  const folder = await runCli(['animate', '--run', run, '--out', join(dir, 'folder.gif')]);
  assert.equal(folder.code, 2);
  assert.match(folder.stderr, /is a folder; give the GIF file to write/);
  const bad = await runCli(['animate', '--run', run, '--fps', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--fps must be a number from 0\.5 to 50/);
});

test('a run without history/ animates its snapshot epochs; --no-animation draws none', async () => {
  const off = join(dir, 'off.yaml');
  writeFileSync(off, readFileSync(cfg, 'utf8') + 'history: { epochFrames: 0 }\n');
  const old = join(dir, 'old');
  const t = await trainCommand({ config: off, profile: 'full', dataDir: data, out: old, backend: 'wasm', quiet: true, animation: false });
  assert.equal(t.files.filter((f) => f.endsWith('.gif')).length, 0);
  assert.equal(existsSync(join(old, 'history')), false);
  const notes: string[] = [];
  const r = await animateCommand({ run: old, log: (s) => notes.push(s) });
  assert.equal(r.source, 'snapshots');
  assert.equal(r.frames, 2);
  assert.match(notes.join('\n'), /has no history\/ .* shows its 2 snapshot epoch\(s\) only/);
  assert.equal(decodeGif(readFileSync(r.file)).frames.length, 2);
});

test('several runs side by side: tiles on one clock, as many frames as the longest run', async () => {
  const old = join(dir, 'old'); // the run without history of the test above: 2 frames
  const out = join(dir, 'grid.gif');
  const r = await animateCommand({ run: [run, old, run], out, width: 200, height: 150, log: () => {} });
  assert.equal(r.frames, 4);
  const gif = decodeGif(readFileSync(out));
  assert.equal(gif.width, 600, 'three runs: three columns');
  assert.equal(gif.height, 150);
  // The first and third tiles show the same run: the same pixels in every frame.
  for (const f of gif.frames) {
    for (let y = 0; y < 150; y += 7) {
      const row = (x0: number) => f.rgba.subarray((y * 600 + x0) * 4, (y * 600 + x0 + 200) * 4);
      assert.deepEqual(row(400), row(0));
    }
  }
  const noOut = await runCli(['animate', '--run', run, '--run', old]);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /give its file with --out/);
});

test('replacing a run (--force) removes its history and animations, and nothing else', () => {
  const copy = join(dir, 'copy');
  cpSync(run, copy, { recursive: true });
  writeFileSync(join(copy, 'pics', 'Softmax', 'mine.gif'), 'not the run\'s');
  const removed = removeRunFiles(copy, JSON.parse(readFileSync(join(copy, 'run.json'), 'utf8')));
  assert.ok(removed.some((f) => f.endsWith('SoftmaxLoss-valid-animation.gif')));
  assert.ok(removed.some((f) => f.endsWith('history.json')));
  assert.equal(existsSync(join(copy, 'history')), false);
  assert.deepEqual(readdirSync(join(copy, 'pics', 'Softmax')), ['mine.gif']);
});

test('encodeGif and frameDelays: sizes checked, about 5 s of motion between 3 and 12 frames a second', () => {
  assert.throws(() => encodeGif([], 2, 2), /no frames/);
  assert.throws(() => encodeGif([{ rgba: new Uint8Array(3), delayMs: 10 }], 2, 2), /expected 2x2x4/);
  const px = new Uint8Array(2 * 2 * 4).fill(255);
  const g = decodeGif(encodeGif([{ rgba: px, delayMs: 100 }, { rgba: px, delayMs: 900 }], 2, 2));
  assert.deepEqual(g.frames.map((f) => f.delayMs), [100, 900]);
  assert.deepEqual(frameDelays(3), [1000 / 3, 1000 / 3, 2500]);
  assert.equal(frameDelays(100)[0], 1000 / 12);
  assert.equal(frameDelays(30)[0], 1000 / 6);
  assert.deepEqual(frameDelays(2, { fps: 10, pauseMs: 0 }), [100, 100]);
});

// A 3-D run (ArcFace: class weights, drawn as diamonds), trained once for the tests below.
let run3 = '';
let files3: string[] = [];
async function threeD(): Promise<string> {
  if (run3) return run3;
  const data3 = writeSyntheticIdx(join(dir, 'data3'), 320, 300);
  const cfg3 = join(dir, 'tiny3.yaml');
  writeFileSync(cfg3, 'name: tiny3\nloss: { name: arcface }\nmodel: { embeddingDim: 3 }\ntrain: { epochs: 2, batchSize: 16, lr: 0.003, seed: 5 }\nsnapshots: [2]\nplot: { view: all }\n');
  const out = join(dir, 'run3');
  files3 = (await trainCommand({ config: cfg3, profile: 'full', dataDir: data3, out, backend: 'wasm', quiet: true })).files;
  run3 = out;
  return run3;
}

/** The static 3-D figure of the last epoch (epoch 2) of `run`'s valid split in `view`. */
async function static3d(run: string, view: 'unit' | 'pair' | 'map') {
  const folder = join(run, 'pics', 'ArcFace');
  const png = readdirSync(folder).find((f) => f.startsWith('ArcFaceLoss-valid_') && f.includes('epoch=2') && f.endsWith(`_3d_${view}.png`));
  assert.ok(png, `the static ${view} figure in ${readdirSync(folder).join(', ')}`);
  return pngPixels(join(folder, png));
}

// The title takes three lines at 640x480 (its first line wraps once); the spheres start below row 74.
const TITLE_LINE_1 = [0, 46] as const;
const SPHERES = [76, 480] as const;

test('a 3-D run: train draws the pair animation (_3d_pair.gif); its last frame is the static pair figure of the last epoch', async () => {
  const run = await threeD();
  const gifs = files3.filter((f) => f.endsWith('.gif'));
  assert.deepEqual(gifs, [join(run, 'pics', 'ArcFace', 'ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_pair.gif')]);
  const gif = decodeGif(readFileSync(gifs[0]!));
  const h = readHistory(run);
  assert.equal(h.dim, 3);
  assert.equal(h.weightsKind, 'class weights');
  assert.deepEqual(h.frames.map((f) => f.step), [0, 10, 20, 40]);
  assert.equal(gif.frames.length, 4);
  assert.equal(gif.loop, 0, 'loops forever');
  assert.equal(gif.width, 640);
  assert.equal(gif.height, 480);
  assert.equal(gif.frames.at(-1)!.delayMs, 2500, 'a pause on the last frame');
  const pair = await static3d(run, 'pair');
  const last = gif.frames.at(-1)!.rgba;
  // The dots and diamonds of both spheres, and everything else drawn (graticule, outlines, digits, captions).
  const dots = inkAgreement(last, pair.rgba, 640, ...SPHERES, colour);
  assert.ok(dots > 0.99, `coloured ink: ${(100 * dots).toFixed(2)}% of the static pair figure's is in the last frame`);
  const all = inkAgreement(last, pair.rgba, 640, ...SPHERES);
  assert.ok(all > 0.99, `all ink below the title: ${(100 * all).toFixed(2)}%`);
  const line1 = inkAgreement(last, pair.rgba, 640, ...TITLE_LINE_1);
  assert.ok(line1 > 0.99, `title line 1: ${(100 * line1).toFixed(2)}%`);
  // Not another view: the single sphere of the unit figure has its dots elsewhere.
  const unit = await static3d(run, 'unit');
  const other = inkAgreement(last, unit.rgba, 640, ...SPHERES, colour);
  assert.ok(other < 0.5, `the unit figure's coloured ink: ${(100 * other).toFixed(2)}%`);
  // The earlier frames show the points elsewhere on the same spheres.
  for (const f of gif.frames.slice(0, -1)) {
    const early = inkAgreement(f.rgba, pair.rgba, 640, ...SPHERES, colour);
    assert.ok(early < dots - 0.1, `an earlier frame agrees ${(100 * early).toFixed(2)}%`);
    assert.ok(inkAgreement(f.rgba, pair.rgba, 640, ...SPHERES) > 0.5, 'the same spheres, graticule and captions');
  }
});

test('facelosses animate on a 3-D run: pair by default (the same GIF as train\'s), unit and map with --view; refuses raw, a 3-D view of a 2-D run and features beyond 3-D (exit 2)', async () => {
  const r3 = await threeD();
  const again = await animateCommand({ run: r3, log: () => {} });
  assert.equal(again.file, join(r3, 'pics', 'ArcFace', 'ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_pair.gif'));
  assert.equal(again.frames, 4);
  assert.deepEqual(readFileSync(again.file), readFileSync(files3.find((f) => f.endsWith('.gif'))!), 'drawn again, the same bytes');
  const u = await animateCommand({ run: r3, view: 'unit', log: () => {} });
  assert.equal(u.file, join(r3, 'pics', 'ArcFace', 'ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_unit.gif'));
  const unit = await static3d(r3, 'unit');
  const last = decodeGif(readFileSync(u.file)).frames.at(-1)!.rgba;
  const agree = inkAgreement(last, unit.rgba, 640, ...SPHERES, colour);
  assert.ok(agree > 0.99, `unit: ${(100 * agree).toFixed(2)}% of the static unit figure's coloured ink`);
  const m = await animateCommand({ run: r3, view: 'map', width: 320, height: 240, log: () => {} });
  assert.ok(m.file.endsWith('ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_map.gif'));
  assert.equal(decodeGif(readFileSync(m.file)).width, 320);
  const raw = await runCli(['animate', '--run', r3, '--view', 'raw']);
  assert.equal(raw.code, 2);
  assert.match(raw.stderr, /has 3-D features: no raw animation \(the animation of 3-D features shows the unit sphere\); choose the view pair, unit, map/);
  const pair2d = await runCli(['animate', '--run', run, '--view', 'pair']);
  assert.equal(pair2d.code, 2);
  assert.match(pair2d.stderr, /has 2-D features: no pair animation \(pair and map are views of 3-D features\); choose the view raw, unit/);
  // Beyond 3-D: a run folder that says D = 4, and a history of 4-D features.
  const r4 = join(dir, 'run4');
  cpSync(r3, r4, { recursive: true });
  const info = JSON.parse(readFileSync(join(r4, 'run.json'), 'utf8'));
  info.embeddingDim = 4;
  info.config.model.embeddingDim = 4;
  writeFileSync(join(r4, 'run.json'), JSON.stringify(info));
  const four = await runCli(['animate', '--run', r4]);
  assert.equal(four.code, 2);
  assert.match(four.stderr, /has 4-D features; animations draw 2-D and 3-D features only/);
  const h = readHistory(r3);
  const h4 = { ...h, dim: 4, frames: h.frames.map((f) => ({ ...f, valid: { ...f.valid, features: new Float32Array(4 * f.valid.labels.length) } })) };
  await assert.rejects(renderHistoryAnimation(h4, readRunInfo(r3).config), (e) => e instanceof UnsupportedDimension && /4-D features/.test(e.message));
});

test('several runs side by side may mix 2-D and 3-D runs: each tile in its own default view', async () => {
  const r3 = await threeD();
  const out = join(dir, 'mixed.gif');
  const r = await animateCommand({ run: [run, r3], out, width: 320, height: 240, log: () => {} });
  assert.equal(r.frames, 4);
  const gif = decodeGif(readFileSync(out));
  assert.equal(gif.width, 640);
  assert.equal(gif.height, 240);
  const alone = await animateCommand({ run: r3, out: join(dir, 'alone3d.gif'), width: 320, height: 240, log: () => {} });
  const tile = decodeGif(readFileSync(alone.file)).frames.at(-1)!.rgba;
  const last = gif.frames.at(-1)!.rgba;
  // The right tile is the 3-D run's pair animation at 320x240 (one palette for the grid: up to its rounding).
  let same = 0;
  let n = 0;
  for (let y = 0; y < 240; y++) {
    for (let x = 0; x < 320; x++) {
      const p = y * 320 + x;
      if (!colour(tile, p)) continue;
      n++;
      const q = y * 640 + 320 + x;
      let d = 0;
      for (let ch = 0; ch < 3; ch++) d = Math.max(d, Math.abs(last[4 * q + ch]! - tile[4 * p + ch]!));
      if (d <= 40) same++;
    }
  }
  assert.ok(n > 50 && same / n > 0.97, `the 3-D tile: ${same} of ${n} coloured pixels`);
  const raw = await runCli(['animate', '--run', run, '--run', r3, '--view', 'raw', '--out', join(dir, 'mixed-raw.gif')]);
  assert.equal(raw.code, 2, 'a view one of the runs has no animation of');
  assert.match(raw.stderr, /has 3-D features: no raw animation/);
});

test('replacing a 3-D run (--force) removes its animations', async () => {
  const copy = join(dir, 'copy3');
  cpSync(await threeD(), copy, { recursive: true });
  writeFileSync(join(copy, 'pics', 'ArcFace', 'ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_unit.gif'), 'drawn by animate --view unit');
  const removed = removeRunFiles(copy, JSON.parse(readFileSync(join(copy, 'run.json'), 'utf8')));
  assert.ok(removed.some((f) => f.endsWith('ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_pair.gif')), removed.join(', '));
  assert.ok(removed.some((f) => f.endsWith('ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_unit.gif')));
});

test('two configs of one loss get their own animation files (the parameters are in the name); Softmax has none', () => {
  const path = (file: string, view: 'raw' | 'unit' = 'raw') => animationPath('pics', figureNaming(loadConfigFile(file, 'quick')), 'valid', view);
  assert.equal(path('configs/ringloss.yaml'), join('pics', 'RingLoss', 'RingLoss-valid_init_R=1.0, loss_weight=0.1-animation.gif'));
  assert.equal(path('configs/ringloss_r24.yaml'), join('pics', 'RingLoss', 'RingLoss-valid_init_R=24.0, loss_weight=0.01-animation.gif'));
  assert.notEqual(path('configs/l2softmax.yaml', 'unit'), path('configs/l2softmax_fixed.yaml', 'unit'));
  assert.equal(path('configs/softmax.yaml'), join('pics', 'Softmax', 'SoftmaxLoss-valid-animation.gif'));
  assert.equal(path('configs/3d/arcface.yaml'), join('pics', 'ArcFace', 'ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d.gif'));
});
