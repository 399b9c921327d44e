import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { batchView, checkPng, loadGalleryRun, sameConfig } from '../src/commands/reproduce.js';
import { resolveConfig } from '../src/config/config.js';
import { GALLERY_END, GALLERY_START, galleryMarkdown, linkPath, replaceGallery, SUMMARY_END, SUMMARY_START } from '../src/report/gallery.js';
import { appendMetrics, writeRunInfo } from '../src/run/run.js';
import { readSeparability, separabilityPath } from '../src/run/separability-files.js';
import { saveSnapshot, type Snapshot } from '../src/run/snapshot.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';

/** Ten well separated spokes; class c at angle 36°·c, predictions right except the first ten points. */
function spokeSnapshot(epoch: number, split: 'train' | 'valid', n = 200): Snapshot {
  const features = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  const predicted = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    const t = (2 * Math.PI * c) / 10;
    const r = 1 + (i % 7);
    features[2 * i] = r * Math.cos(t);
    features[2 * i + 1] = r * Math.sin(t);
    labels[i] = c;
    predicted[i] = i < 10 ? (c + 1) % 10 : c;
  }
  return { epoch, split, numClasses: 10, embeddingDim: 2, count: n, features, labels, predicted };
}

/** A hand-made finished run folder (no training): run.json, metrics, snapshots. */
function fakeRun(dir: string) {
  const config = resolveConfig({ name: 'softmax', description: 'Softmax cross-entropy, no bias', loss: { name: 'softmax', params: { bias: false } } }, 'configs/softmax.yaml', 'ci');
  writeRunInfo(dir, { format: 'facelosses-run/1', config, profile: 'ci', backend: 'wasm', codeVersion: 'test', startedAt: '2024-01-01T00:00:00Z', finishedAt: '2024-01-01T00:01:00Z', status: 'finished', validAccuracy: 0.95 });
  for (let e = 1; e <= config.train.epochs; e++) {
    appendMetrics(dir, { epoch: e, lr: 0.001, loss: 1 / e, trainAccuracy: 0.9, validLoss: 1 / e, validAccuracy: e === config.train.epochs ? 0.95 : 0.5, imagesPerSecond: 100, seconds: 10, elapsedSeconds: 10 * e });
  }
  for (const e of config.snapshots) for (const split of ['train', 'valid'] as const) saveSnapshot(dir, spokeSnapshot(e, split));
  return config;
}

test('gallery markdown from a fake run folder: figures, relative %20 links, metrics, separability', async () => {
  const root = tempDir();
  const runDir = join(root, 'runs', 'softmax-ci');
  const config = fakeRun(runDir);
  assert.deepEqual(config.snapshots, [1, 2, 3]);
  const pics = join(root, 'my pics');
  const g = await loadGalleryRun(runDir, pics, 'softmax', 'configs/softmax.yaml');
  // Figures drawn from the saved features, separability computed and written.
  assert.equal(g.figures.length, 6);
  for (const f of g.figures) assert.equal(await checkPng(f.file), null);
  for (const e of [1, 2, 3]) assert.ok(existsSync(separabilityPath(runDir, e)));
  const sep = readSeparability(runDir, 3)!;
  assert.equal(sep.valid!.classifierAccuracy, 0.95);
  assert.equal(sep.valid!.nearestMeanCosineAccuracy, 1);
  assert.ok(Math.abs(sep.valid!.minInterClassAngle - 36) < 1e-3);
  assert.ok(sep.valid!.intraClassAngularSpread < 1e-3);

  const md = galleryMarkdown([g], { readmeDir: root, command: 'npx facelosses reproduce --profile ci', profile: 'ci', profileDescription: '3 epochs', fullSchedule: '500 epochs', contactSheet: join(pics, 'contact-sheet.png') });
  assert.match(md, /\*\*ci\*\* profile/);
  assert.match(md, /reference schedule \(500 epochs\)/);
  assert.match(md, /<img src="my%20pics\/contact-sheet.png"/);
  assert.match(md, /src="my%20pics\/Softmax\/SoftmaxLoss-valid_epoch=3.png"/);
  assert.ok(!/src="[^"]* [^"]*"/.test(md), 'no raw space in a link');
  assert.match(md, /\| SoftmaxLoss \| `configs\/softmax.yaml` \| 95.00% \(epoch 3\) \| 100.00% \| 0.0° \| 36.0° \|/);
  assert.match(md, /`bias=false`/);
  assert.match(md, /\| 3 \| valid \| 95.00% \| 100.00% \| 0.0° \| 36.0° \| 3.97 ± 2 \|/);
  assert.equal(linkPath('/a', '/a/b c/(d).png'), 'b%20c/%28d%29.png');
});

test('README markers: the gallery is replaced and nothing outside the markers changes', () => {
  const before = `# Title\n\ntext with ${'`'}code${'`'}\n\n${GALLERY_START}\nold gallery\n${GALLERY_END}\n\n## After\nmore\n`;
  const after = replaceGallery(before, '## Gallery\nnew\n');
  assert.equal(after, `# Title\n\ntext with ${'`'}code${'`'}\n\n${GALLERY_START}\n## Gallery\nnew\n${GALLERY_END}\n\n## After\nmore\n`);
  assert.equal(replaceGallery(after, '## Gallery\nnew\n'), after, 'idempotent');
  assert.throws(() => replaceGallery('# no markers\n', 'x'), /has no markers <!-- gallery:start -->/);
  assert.throws(() => replaceGallery(`${GALLERY_END}\n${GALLERY_START}\n`, 'x'), /comes before/);
  // The README's summary has markers of its own; replacing it leaves the gallery markers alone.
  const both = `${SUMMARY_START}\nold\n${SUMMARY_END}\n${GALLERY_START}\ng\n${GALLERY_END}\n`;
  assert.equal(replaceGallery(both, 'new\n', SUMMARY_START, SUMMARY_END), `${SUMMARY_START}\nnew\n${SUMMARY_END}\n${GALLERY_START}\ng\n${GALLERY_END}\n`);
  assert.throws(() => replaceGallery(`${GALLERY_START}\n${GALLERY_END}\n`, 'x', SUMMARY_START, SUMMARY_END), /no markers <!-- summary:start -->/);
});

test('batch view and config comparison', () => {
  const c = resolveConfig({ loss: { name: 'softmax' } }, 'x.yaml', 'ci');
  assert.equal(batchView(c), 'raw');
  assert.equal(batchView(c, 'unit'), 'unit');
  assert.equal(batchView({ ...c, loss: { name: 'arcface', params: {} } }), 'both');
  assert.equal(batchView({ ...c, plot: { ...c.plot, view: 'unit' }, loss: { name: 'arcface', params: {} } }), 'unit');
  const d = JSON.parse(JSON.stringify({ ...c, source: 'elsewhere.yaml' }));
  assert.ok(sameConfig(c, d));
  assert.ok(!sameConfig(c, { ...d, train: { ...d.train, epochs: 4 } }));
});

test('reproduce: two tiny configs in parallel, a broken one reported by name, then skipped as up to date', async () => {
  const dir = tempDir();
  const configs = join(dir, 'configs');
  mkdirSync(configs);
  const base = 'loss:\n  name: softmax\n  params:\n    bias: BIAS\ntrain:\n  epochs: 500\nsnapshots: [100, 500]\n';
  writeFileSync(join(configs, 'softmax.yaml'), `name: softmax\ndescription: no bias\n${base.replace('BIAS', 'false')}`);
  writeFileSync(join(configs, 'softmax_bias.yaml'), `name: softmax_bias\ndescription: with bias\n${base.replace('BIAS', 'true')}`);
  writeFileSync(join(configs, 'broken.yaml'), `name: broken\n${base.replace('BIAS', 'false')}data:\n  dir: ${join(dir, 'nodata')}\n`);
  const readme = join(dir, 'README.md');
  const text = `# x\n\n${GALLERY_START}\n${GALLERY_END}\nend\n${SUMMARY_START}\n${SUMMARY_END}\n`;
  writeFileSync(readme, text);
  const args = ['reproduce', '--profile', 'ci', '--configs', configs, '--out', join(dir, 'runs'), '--pics', join(dir, 'pics'), '--jobs', '2', '--backend', 'wasm', '--epochs', '1', '--train-limit', '256', '--valid-limit', '100', '--size', '200x150'];

  const r = await runCli([...args, '--readme', readme]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /broken: FAILED after .*data folder not found/);
  assert.match(r.stderr, /\[\d\/3\] softmax: done in \S+, valid acc \d+\.\d\d%/);
  assert.match(r.stderr, /\[\d\/3\] softmax_bias: done in/);
  assert.match(r.stderr, /ETA/);
  assert.match(r.stdout, /softmax_bias\s+trained/);
  const pngs = readdirSync(join(dir, 'pics', 'Softmax')).sort();
  assert.deepEqual(pngs, [
    'SoftmaxLoss-train_epoch=1.png',
    'SoftmaxLoss-valid-animation.gif',
    'SoftmaxLoss-valid_epoch=1.png',
    'SoftmaxLoss_bias-train_epoch=1.png',
    'SoftmaxLoss_bias-valid-animation.gif',
    'SoftmaxLoss_bias-valid_epoch=1.png',
  ]);
  assert.ok(existsSync(join(dir, 'pics', 'contact-sheet.png')));
  assert.ok(existsSync(join(dir, 'runs', 'softmax-ci', 'snapshots', 'separability-epoch-0001.json')));
  const md = readFileSync(readme, 'utf8');
  assert.ok(md.startsWith(`# x\n\n${GALLERY_START}\n## Gallery`));
  // The summary: a link to the gallery, the contact sheet, the headline figure and the accuracy table.
  const summaryPart = md.slice(md.indexOf(SUMMARY_START), md.indexOf(SUMMARY_END));
  assert.match(summaryPart, /Every figure, with its hyperparameters.*\[README.md\]\(README.md\)/);
  assert.match(summaryPart, /<img src="pics\/Softmax\/SoftmaxLoss-valid_epoch=1.png"/);
  assert.match(summaryPart, /\| SoftmaxLoss_bias \| `/);
  assert.match(md, /src="pics\/contact-sheet.png"/);
  assert.match(md, /### SoftmaxLoss_bias — /);
  // Each section links the run's animation and report page; the introduction the gallery page.
  assert.match(md, /- watch it form: \[animation\]\(pics\/Softmax\/SoftmaxLoss_bias-valid-animation.gif\) · \[report page\]\(runs\/softmax_bias-ci\/report.html\)/);
  assert.match(md, /every loss side by side on one slider: \[runs\/gallery-ci.html\]\(runs\/gallery-ci.html\)/);
  assert.match(md, /`broken`/);
  const summary = JSON.parse(readFileSync(join(dir, 'runs', 'reproduce-ci.json'), 'utf8'));
  assert.equal(summary.runs.length, 3);
  // Each run's report page, and the gallery's: both good runs on one slider.
  assert.ok(existsSync(join(dir, 'runs', 'softmax-ci', 'report.html')));
  assert.match(r.stdout, /gallery report: .*gallery-ci\.html/);
  assert.match(summary.galleryReport, /gallery-ci\.html$/);
  const page = readFileSync(join(dir, 'runs', 'gallery-ci.html'), 'utf8');
  assert.match(page, /"mode":"gallery"/);
  assert.equal(page.match(/"displayName":/g)?.length, 2);

  // Same command for the two good ones: nothing to train; --no-readme leaves the README alone.
  writeFileSync(readme, text);
  const again = await runCli([...args, '--only', 'softmax,softmax_bias', '--no-readme']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /softmax: up to date/);
  assert.match(again.stdout, /^softmax +up to date +\d+\.\d\d% +-$/m, 'no time for a run that was not trained now');
  assert.doesNotMatch(again.stderr, /worker process/);
  assert.equal(readFileSync(readme, 'utf8'), text);

  // A damaged figure is caught by the output check.
  writeFileSync(join(dir, 'pics', 'Softmax', 'SoftmaxLoss-valid_epoch=1.png'), 'not a png');
  const bad = await runCli([...args, '--only', 'softmax', '--no-readme']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not a PNG: .*SoftmaxLoss-valid_epoch=1.png/);

  const unknown = await runCli([...args, '--only', 'nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--only: no config named 'nope'.*configs: broken, softmax, softmax_bias/);
});
