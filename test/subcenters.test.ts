/**
 * The sub-center figure's numbers: each class's images go to their nearest sub-center of that
 * class; the dominant one holds the largest share. And the rays are drawn.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderScatterPng } from '../src/plot/scatter.js';
import { subCenterLine, subCenterShares } from '../src/report/subcenters.js';

const deg = (d: number) => [Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)] as const;

test('shares: each image counts for its nearest sub-center of its own class; dominant = largest share', () => {
  // Two classes, K = 3. Class 0's sub-centers at 0°, 120°, 240°; class 1's at 90°, 95°, 270° (lengths vary).
  const dirs = [deg(0), deg(120), deg(240), deg(90), deg(95), deg(270)].map(([x, y], q) => [x * (1 + q), y * (1 + q)]);
  const w = [...dirs.map((d) => d[0]!), ...dirs.map((d) => d[1]!)]; // [2, 6] row-major
  // Class 0: three images near 0°, one near 130°. Class 1: two near 96°, one near 89°, one at 260°.
  const pts = [deg(5), deg(-10), deg(20), deg(130), deg(96), deg(97), deg(89), deg(260)];
  const labels = [0, 0, 0, 0, 1, 1, 1, 1];
  const s = subCenterShares(pts.flat(), labels, w, 2, 3, 7);
  assert.equal(s.epoch, 7);
  assert.deepEqual(s.classes[0], { cls: 0, count: 4, shares: [0.75, 0.25, 0], dominant: 0 });
  assert.deepEqual(s.classes[1], { cls: 1, count: 4, shares: [0.25, 0.5, 0.25], dominant: 1 });
  assert.equal(subCenterLine(s), '5 of 6 sub-centers hold >= 5 % of their class; dominant ones hold >= 50 %');
});

test('rays are drawn over the scatter (the PNG changes), in the unit view', async () => {
  const points = new Float32Array([1, 0, 0, 1, -1, 0, 0, -1]);
  const base = { points, colorLabels: [0, 1, 2, 3], numClasses: 4, title: 't', view: 'unit' as const };
  const a = await renderScatterPng(base);
  const b = await renderScatterPng({ ...base, rays: [{ x: 0.7, y: 0.7, cls: 0, label: '90%' }, { x: -0.7, y: 0.7, cls: 1, faint: true }] });
  assert.notDeepEqual(a, b);
});

test('gallery: one section for the adaptive heads, a sentence each, and the extra figure under its run', async () => {
  const { resolveConfig } = await import('../src/config/config.js');
  const { galleryMarkdown } = await import('../src/report/gallery.js');
  const { figureNaming } = await import('../src/report/figures.js');
  const run = (name: string, extra?: { file: string; caption: string }[]) => {
    const config = resolveConfig({ name, loss: { name } }, `configs/${name}.yaml`, 'ci');
    return { stem: name, configFile: `configs/${name}.yaml`, config, naming: figureNaming(config), views: ['raw' as const], figures: [], metrics: [], separability: new Map(), extraFigures: extra };
  };
  const runs = [run('arcface'), run('subcenter_arcface', [{ file: '/r/pics/sub.png', caption: 'Every sub-center.' }]), run('adaface', [{ file: '/r/pics/ada margins.png', caption: 'Coloured by ẑ.' }]), run('circle')];
  const md = galleryMarkdown(runs, { readmeDir: '/r', command: 'c', profile: 'ci', profileDescription: 'x' });
  assert.equal(md.match(/### Adaptive margins and scales/g)?.length, 1);
  const section = md.indexOf('### Adaptive margins and scales');
  assert.ok(md.indexOf('### ArcFaceLoss') < section && section < md.indexOf('### SubCenterArcFaceLoss'), 'the section opens before its first loss');
  assert.match(md, /- \*\*SubCenterArcFaceLoss\*\*: its extra figure draws all K = 3 weight directions/);
  assert.match(md, /- \*\*AdaFaceLoss\*\*: the margin depends on the feature norm/);
  assert.doesNotMatch(md, /- \*\*CircleLoss\*\*/);
  assert.match(md, /<img src="pics\/sub.png" width="480" alt="Every sub-center."><\/a>\n\nEvery sub-center\./);
  // Each extra figure under its own run: the sub-centers before AdaFace's heading, AdaFace's margins after it.
  const ada = md.indexOf('### AdaFaceLoss');
  assert.ok(md.indexOf('pics/sub.png') < ada && ada < md.indexOf('<img src="pics/ada%20margins.png" width="480" alt="Coloured by ẑ.">') && md.indexOf('ada%20margins') < md.indexOf('### CircleLoss'));
  assert.match(md, /- \*\*AdaFaceLoss\*\*: .*its extra figure colours every test image by ẑ/);
});
