/**
 * What a new user sees on a terminal: the progress line fits the terminal, `losses`
 * wraps to it, hints print a command that can be pasted, figure titles say what they show.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stepLine } from '../src/cli/progress.js';
import { cliName, shellArg, shellPath } from '../src/util/command-line.js';
import { wrapText } from '../src/cli/wrap.js';
import { resolveConfig } from '../src/config/config.js';
import { figureNaming, figureTitle } from '../src/report/figures.js';
import { writeFilesAllOrNone } from '../src/util/fsx.js';
import { runCli } from './helpers/cli.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

test('the progress line fits the terminal at any width; percentage and step counter count the same steps', () => {
  const e = { type: 'step' as const, epoch: 3, step: 110, stepsPerEpoch: 468, loss: 1.23456, imagesPerSecond: 812.4, doneSteps: 1046, totalSteps: 234000 };
  for (const cols of [20, 40, 60, 80, 100, 200]) {
    const line = stepLine(e, 500, '[arcface] ', '6h02m', cols);
    assert.ok(line.length <= cols - 1, `${cols} columns: ${line.length} characters: ${line}`);
    if (cols >= 40) assert.match(line, /^\[arcface\] epoch 3\/500 /);
    else assert.match(line, /^(epoch 3\/500 )?0\.4% ETA 6h02m$/, line);
  }
  const wide = stepLine(e, 500, '', '6h02m', 200);
  assert.match(wide, /\[[#-]{24}\] 0\.4% step 1046\/234000 loss 1\.2346 812 img\/s ETA 6h02m$/);
  const narrow = stepLine(e, 500, '', '6h02m', 80);
  assert.match(narrow, /0\.4% .*ETA 6h02m$/, 'the percentage and the ETA survive on 80 columns');
});

test('losses wraps to the terminal width ($COLUMNS when not a terminal, else 80)', async () => {
  const saved = process.env.COLUMNS;
  try {
    for (const cols of [60, 100]) {
      process.env.COLUMNS = String(cols);
      const r = await runCli(['losses']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      const long = lines.filter((l) => [...l].length > cols);
      assert.deepEqual(long, [], `lines over ${cols} columns`);
      assert.match(r.stdout, /^softmax: /m);
      assert.match(r.stdout, /^ {4}bias \(boolean\) default false/m);
    }
  } finally {
    if (saved === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = saved;
  }
  assert.equal(wrapText('aaa bbb ccc', 7, '', '  '), 'aaa bbb\n  ccc');
  assert.equal(wrapText('abcdefghij', 4), 'abcd\nefgh\nij');
});

test('hints print a command the user can paste: npx facelosses in a clone, paths quoted for the shell', () => {
  assert.equal(cliName(ROOT), 'npx facelosses');
  assert.equal(cliName(join(ROOT, 'runs')), 'npx facelosses');
  // Outside the clone, the clone's own entry point.
  assert.equal(cliName(tmpdir()), `node ${join(ROOT, 'bin', 'facelosses.js')}`);
  assert.equal(shellArg('runs/arcface-quick'), 'runs/arcface-quick');
  assert.equal(shellArg("my runs/it's"), `'my runs/it'\\''s'`);
  assert.equal(shellPath(join(ROOT, 'runs', 'x'), ROOT), 'runs/x');
  assert.equal(shellPath(ROOT, ROOT), '.');
});

test('figure titles carry the loss, the split, the colour mode (and the view and profile), then the parameters', () => {
  const c = resolveConfig({ loss: { name: 'l2softmax', params: { alpha: 1 } } }, 'x.yaml', 'quick');
  const naming = figureNaming(c);
  const t = figureTitle(naming, 8, 'quick profile', { split: 'valid', colorBy: 'true', view: 'unit' });
  const [head, params] = t.split('\n');
  assert.equal(head, `${naming.displayName}, valid (test images), coloured by true class, on the unit circle, quick profile`);
  assert.match(params!, /^alpha=1\.0, .*epoch=8$/);
  assert.equal(figureTitle(naming, 8, '', { split: 'train' }).split('\n')[0], `${naming.displayName}, train, coloured by predicted class`);
});

test('several figures are written all or none: a failed write leaves no file and no new folder behind', () => {
  const root = mkdtempSync(join(tmpdir(), 'facelosses-allornone-'));
  writeFileSync(join(root, 'blocker'), 'a file where a folder is needed');
  assert.throws(() =>
    writeFilesAllOrNone([
      { file: join(root, 'new', 'A', 'a.png'), data: 'a' },
      { file: join(root, 'blocker', 'b.png'), data: 'b' },
    ]),
  );
  assert.deepEqual(readdirSync(root), ['blocker']);
  writeFilesAllOrNone([
    { file: join(root, 'new', 'A', 'a.png'), data: 'a' },
    { file: join(root, 'new', 'B', 'b.png'), data: 'b' },
  ]);
  assert.equal(readFileSync(join(root, 'new', 'B', 'b.png'), 'utf8'), 'b');
  assert.deepEqual(readdirSync(join(root, 'new', 'A')), ['a.png'], 'no temporary file left');
});
