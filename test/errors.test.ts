/**
 * Every bad input a user can give, at the CLI: one clear line on stderr, exit code 2, and no
 * output folder created or changed. (Messages themselves are also unit-tested in config.test.ts
 * and idx.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { resolveConfig } from '../src/config/config.js';
import { writeRunInfo } from '../src/run/run.js';
import { NonFiniteLossError } from '../src/train/nan-guard.js';
import { runCli } from './helpers/cli.js';
import { tempDir, writeSyntheticIdx } from './helpers/fixtures.js';

let dir = '';
let data = '';
let good = '';
let n = 0;

/** Paths and contents under `root`, to prove a refused command changed nothing. */
function tree(root: string): Record<string, string> {
  if (!existsSync(root)) return {};
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p.slice(root.length)] = readFileSync(p, 'base64');
    }
  };
  if (statSync(root).isDirectory()) walk(root);
  return out;
}

/** Runs the CLI and checks: exit 2, exactly one stderr line matching `re`, `watch` unchanged. */
function refuses(args: string[], re: RegExp, watch?: string, cwd?: string): string {
  const w = watch ?? join(dir, `out${++n}`);
  const beforeTree = tree(w);
  const existed = existsSync(w);
  const withOut = watch === undefined && args[0] === 'train' && !args.includes('--out') && !args.includes('--resume') ? [...args, '--out', w] : args;
  const r = runCli(withOut, { cwd });
  const lines = r.stderr.trim().split('\n');
  assert.equal(r.code, 2, `${args.join(' ')}\n${r.stderr}`);
  assert.equal(lines.length, 1, `one line for ${args.join(' ')}:\n${r.stderr}`);
  assert.match(lines[0]!, /^facelosses: error: /);
  assert.match(lines[0]!, re);
  assert.equal(existsSync(w), existed, `${w} ${existed ? 'removed' : 'created'}`);
  assert.deepEqual(tree(w), beforeTree, `${w} unchanged`);
  return lines[0]!;
}

function yaml(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** A run folder with run.json (status given) and nothing else. */
function bareRun(name: string, status: 'running' | 'interrupted' | 'finished'): string {
  const run = join(dir, name);
  mkdirSync(run, { recursive: true });
  const config = resolveConfig({ loss: { name: 'softmax' }, train: { epochs: 3 }, snapshots: [2, 3] }, 'cfg.yaml');
  writeRunInfo(run, { format: 'facelosses-run/1', config, profile: 'full', backend: 'wasm', codeVersion: 'test', startedAt: new Date().toISOString(), status });
  return run;
}

before(() => {
  dir = tempDir();
  data = writeSyntheticIdx(join(dir, 'data'), 64, 32);
  good = yaml('good.yaml', 'name: good\nloss: { name: softmax }\ntrain: { epochs: 1, batchSize: 32 }\n');
});

test('config files: missing, malformed, empty, unknown key, wrong type, out of range, unknown loss, bad loss parameter', () => {
  const train = (cfg: string) => ['train', '--config', cfg, '--data-dir', data];
  refuses(train(join(dir, 'nope.yaml')), /config file not found: .*nope\.yaml/);
  refuses(train(yaml('malformed.yaml', 'loss: [softmax\ntrain: {\n')), /malformed\.yaml:2:1: malformed YAML: .* \(in the line "train: \{"\); fix the YAML syntax there$/);
  refuses(train(yaml('empty.yaml', '')), /empty\.yaml: a config must be a YAML mapping/);
  refuses(train(yaml('unknown.yaml', 'loss: { name: softmax }\nepochz: 3\n')), /unknown\.yaml: unknown key 'epochz'; known keys: /);
  refuses(train(yaml('unknown2.yaml', 'loss: { name: softmax }\ntrain: { lrr: 0.1 }\n')), /unknown key 'train\.lrr'; known keys of train: /);
  refuses(train(yaml('type.yaml', 'loss: { name: softmax }\ntrain: { epochs: ten }\n')), /type\.yaml: train\.epochs must be a whole number, got "ten"/);
  refuses(train(yaml('range.yaml', 'loss: { name: softmax }\ntrain: { batchSize: 1 }\n')), /range\.yaml: train\.batchSize must be >= 2, got 1/);
  refuses(train(yaml('noloss.yaml', 'train: { epochs: 3 }\n')), /noloss\.yaml: loss\.name is required/);
  refuses(train(yaml('loss.yaml', 'loss: { name: nosuchloss }\n')), /loss\.yaml: .*unknown loss 'nosuchloss'; known losses: .*softmax/);
  refuses(train(yaml('param.yaml', 'loss: { name: arcface, params: { m: 3 } }\n')), /param\.yaml: .*m must be <= 1\.57/);
  refuses(['train', '--data-dir', data], /required option '-c, --config <file>' not specified \(or continue a run with --resume RUN_DIR\)/);
});

test('data: missing folder, missing file, truncated or corrupt IDX, image and label counts that disagree, fewer images than a batch', () => {
  const train = (d: string, extra: string[] = []) => ['train', '--config', good, '--data-dir', d, ...extra];
  refuses(train(join(dir, 'nodata')), /data folder not found: .*nodata/);

  const missing = writeSyntheticIdx(join(dir, 'missing'), 64, 32);
  rmSync(join(missing, 't10k-labels-idx1-ubyte'));
  refuses(train(missing), /data folder .*missing has no t10k-labels file; expected one of: /);

  const truncated = writeSyntheticIdx(join(dir, 'truncated'), 64, 32);
  const img = join(truncated, 'train-images-idx3-ubyte');
  truncateSync(img, statSync(img).size - 100);
  refuses(train(truncated), /train-images-idx3-ubyte: truncated IDX file: header says 64x28x28 = 50176 bytes of data, found 50076/);

  const corrupt = writeSyntheticIdx(join(dir, 'corrupt'), 64, 32);
  const bytes = readFileSync(join(corrupt, 'train-labels-idx1-ubyte'));
  bytes[0] = 0x50;
  writeFileSync(join(corrupt, 'train-labels-idx1-ubyte'), bytes);
  refuses(train(corrupt), /train-labels-idx1-ubyte: not an IDX file/);

  const gz = writeSyntheticIdx(join(dir, 'gz'), 64, 32, { gzip: true });
  const g = readFileSync(join(gz, 't10k-images-idx3-ubyte.gz'));
  writeFileSync(join(gz, 't10k-images-idx3-ubyte.gz'), g.subarray(0, g.length >> 1));
  refuses(train(gz), /t10k-images-idx3-ubyte\.gz: corrupt gzip data/);

  const counts = writeSyntheticIdx(join(dir, 'counts'), 64, 32, { labelCountOffset: 3 });
  refuses(train(counts), /holds 64 images but .*train-labels-idx1-ubyte holds 67 labels; they must agree/);

  refuses(train(data, ['--train-limit', '10']), /the training set has 10 images, fewer than one batch of 32/);
});

test('output: a folder that cannot be written, a path that is a file, an unfinished run without --force', () => {
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  refuses(['train', '--config', good, '--data-dir', data, '--out', join(file, 'run')], /cannot write to --out .*a-file\/run: .*a-file is a file, not a folder; choose another --out/, join(file, 'run'));
  refuses(['train', '--config', good, '--data-dir', data, '--out', file], /output path .*a-file exists and is not a folder/, file);
  const run = bareRun('unfinished', 'running');
  // No checkpoint yet: nothing to resume, so the one way on is --force (not --resume).
  const line = refuses(['train', '--config', good, '--data-dir', data, '--out', run], /holds a run that stopped before its first checkpoint \(status: running\); start it over with --force$/, run);
  assert.doesNotMatch(line, /--resume/);
  // Another live process trains in that folder: even --force leaves it alone.
  const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(run, '.lock'), JSON.stringify({ pid: owner.pid, host: hostname(), started: new Date().toISOString() }));
    refuses(['train', '--config', good, '--data-dir', data, '--out', run, '--force'], new RegExp(`is in use by another facelosses process \\(pid ${owner.pid}, since `), run);
  } finally {
    owner.kill('SIGKILL');
  }
});

test('plot: not a run, a run without snapshots', () => {
  refuses(['plot', '--run', join(dir, 'data')], /is not a facelosses run folder \(no run\.json\)/, join(dir, 'data'));
  const run = bareRun('nosnap', 'running');
  refuses(['plot', '--run', run], /has no saved snapshots yet \(they are written at the snapshot epochs: 2, 3\)/, run);
});

test('--resume: no such folder, not a run, unreadable run.json, no checkpoint, unreadable checkpoint', () => {
  refuses(['train', '--resume', join(dir, 'nowhere')], /--resume .*nowhere: no such folder/, join(dir, 'nowhere'));
  refuses(['train', '--resume', join(dir, 'data')], /data is not a facelosses run folder \(no run\.json\)/, join(dir, 'data'));
  const broken = bareRun('broken', 'running');
  writeFileSync(join(broken, 'run.json'), '{"format": "facelosses-run/1", "sta');
  refuses(['train', '--resume', broken], /run\.json: unreadable run file \(.*\); the run cannot be continued or redrawn: start it over with --force/, broken);
  const early = bareRun('early', 'running');
  const line = refuses(['train', '--resume', early], /early has no checkpoint \(checkpoint\/last\.json\): the run stopped before training started, so there is nothing to continue; start it over with: (npx )?facelosses train --config \S*cfg\.yaml --profile full --out \S*early --force$/, early);
  assert.doesNotMatch(line, /--resume/);
  const cut = bareRun('cut', 'interrupted');
  mkdirSync(join(cut, 'checkpoint'));
  writeFileSync(join(cut, 'checkpoint', 'last.json'), '{"format":"facelosses-checkpoint/1","epoch":1,"we');
  refuses(['train', '--resume', cut], /checkpoint\/last\.json: unreadable checkpoint \(.*\); the run cannot continue from it: start it over with: (npx )?facelosses train --config \S+ --profile full --out \S*cut --force$/, cut);
});

// ---- What a new user meets (issue 11): nothing lost, their own commands, errors that lead on ----

/** A tiny run of `cfg` (full profile, one thread, no progress). */
function tinyArgs(cfg: string, out: string, extra: string[] = []): string[] {
  return ['train', '--config', cfg, '--profile', 'full', '--data-dir', data, '--out', out, '--threads', '1', '--quiet', ...extra];
}
function tiny(cfg: string, out: string, extra: string[] = [], cwd?: string) {
  return runCli(tinyArgs(cfg, out, extra), { cwd });
}
const softmaxCfg = () => yaml('a.yaml', 'name: a\nloss: { name: softmax }\ntrain: { epochs: 1, batchSize: 32 }\nsnapshots: [1]\n');
const arcfaceCfg = () => yaml('b.yaml', 'name: b\nloss: { name: arcface }\ntrain: { epochs: 1, batchSize: 32 }\nsnapshots: [1]\n');
const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

test('a finished run survives a second train without --force; --force replaces only the files the run wrote', () => {
  const a = softmaxCfg();
  const b = arcfaceCfg();
  const run = join(dir, 'finished');
  const first = tiny(a, run);
  assert.equal(first.code, 0, first.stderr);
  writeFileSync(join(run, 'notes.txt'), 'mine');
  writeFileSync(join(run, 'pics', 'Softmax', 'notes.txt'), 'mine too');
  refuses(tinyArgs(b, run), /holds a finished run \(a, full profile, valid accuracy \d+\.\d+%\); train into another folder with --out, or replace it with --force$/, run);
  assert.equal(readJson(join(run, 'run.json')).config.name, 'a', 'the finished run is still there');

  const second = tiny(b, run, ['--force']);
  assert.equal(second.code, 0, second.stderr);
  const files = Object.keys(tree(run)).sort();
  assert.deepEqual(files.filter((f) => f.endsWith('.png') || f.endsWith('.txt')), [
    '/notes.txt',
    '/pics/ArcFace/ArcFaceLoss-train_s=32.0, m=0.5, epoch=1.png',
    '/pics/ArcFace/ArcFaceLoss-valid_s=32.0, m=0.5, epoch=1.png',
    '/pics/Softmax/notes.txt',
  ]);
  assert.equal(readFileSync(join(run, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readJson(join(run, 'run.json')).config.name, 'b');
  assert.equal(readJson(join(run, 'run.json')).status, 'finished');
});

test('--out . (or any folder that holds other files and is not a run) is never used, even with --force', () => {
  const a = softmaxCfg();
  const clone = join(dir, 'clone');
  mkdirSync(join(clone, 'pics', 'Softmax'), { recursive: true });
  writeFileSync(join(clone, 'README.md'), '# mine');
  // The very name a run would write: it must not be overwritten or removed.
  writeFileSync(join(clone, 'pics', 'Softmax', 'SoftmaxLoss-valid_epoch=1.png'), 'not a run figure');
  for (const force of [[], ['--force']]) {
    refuses(tinyArgs(a, '.', force), /^facelosses: error: \. is not a facelosses run folder and holds other files \(e\.g\. README\.md\); .*choose another --out/, clone, clone);
  }
  // An empty folder is fine; the run's own files then come and go with --force.
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.equal(tiny(a, '.', [], empty).code, 0);
  assert.equal(readJson(join(empty, 'run.json')).status, 'finished');
});

test('a config name that would leave runs/ is refused; names are plain file names', () => {
  const cwd = join(dir, 'deep', 'a', 'b');
  mkdirSync(cwd, { recursive: true });
  const esc = yaml('escape.yaml', 'name: "../../escape"\nloss: { name: softmax }\ntrain: { epochs: 1, batchSize: 32 }\n');
  refuses(['train', '--config', esc, '--data-dir', data], /escape\.yaml: name must be a plain file name \(letters, digits.*got "\.\.\/\.\.\/escape"/, join(dir, 'deep'), cwd);
  for (const bad of ['a/b', '.', '..', '.hidden', 'x\\\\y', 'sp ace']) {
    refuses(['train', '--config', yaml('bad-name.yaml', `name: ${JSON.stringify(bad)}\nloss: { name: softmax }\n`), '--data-dir', data], /bad-name\.yaml: name must be a plain file name/);
  }
  assert.equal(resolveConfig({ name: 'my_run-2.v1', loss: { name: 'softmax' } }, 'x.yaml').name, 'my_run-2.v1');
});

test('figure settings are checked before the first step: --size, plot size, --pics', () => {
  const out = join(dir, 'figs');
  const big = runCli(['train', '--config', good, '--data-dir', data, '--out', out, '--size', '100000x100000']);
  assert.equal(big.code, 2);
  assert.match(big.stderr, /--size <WxH>' argument '100000x100000' is invalid\. expected WIDTHxHEIGHT, e\.g\. 640x480 \(each 100 to 8000 pixels\)/);
  assert.equal(existsSync(out), false);
  refuses(['train', '--config', yaml('huge.yaml', 'loss: { name: softmax }\nplot: { width: 100000 }\n'), '--data-dir', data], /huge\.yaml: plot\.width must be <= 8000, got 100000/);
  const file = join(dir, 'pics-file');
  writeFileSync(file, 'x');
  refuses(['train', '--config', good, '--data-dir', data, '--pics', file], /--pics .*pics-file is a file, not a folder; give a folder/);
  refuses(['train', '--config', good, '--data-dir', data, '--pics', join(file, 'sub')], /cannot write to --pics .*pics-file\/sub: .*pics-file is a file, not a folder; choose another --pics/);
});

test('a figure that cannot be drawn loses neither the run nor its checkpoint: exit 1 and how to redraw', () => {
  const cfg = yaml('two.yaml', 'name: two\nloss: { name: softmax }\ntrain: { epochs: 2, batchSize: 32 }\nsnapshots: [1, 2]\n');
  const run = join(dir, 'drawfail');
  const pics = join(dir, 'drawfail-pics');
  mkdirSync(pics);
  writeFileSync(join(pics, 'Softmax'), 'a file where the figure folder goes');
  const r = tiny(cfg, run, ['--pics', pics]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[lines.length - 1]!, /^facelosses: error: the run finished but 2 snapshot epoch\(s\) could not be drawn; the snapshots are saved: redraw with (npx )?facelosses plot --run \S*drawfail$/);
  assert.equal(readJson(join(run, 'run.json')).status, 'finished');
  assert.equal(readJson(join(run, 'checkpoint', 'last.json')).epoch, 2, 'the last epoch is checkpointed');
  for (const e of ['0001', '0002']) for (const s of ['train', 'valid']) assert.ok(existsSync(join(run, 'snapshots', `${s}-epoch-${e}.json`)));
  const redraw = runCli(['plot', '--run', run]);
  assert.equal(redraw.code, 0, redraw.stderr);
  assert.equal(Object.keys(tree(join(run, 'pics'))).length, 4);
});

test('snapshots beyond the epochs in YAML are refused naming the key (as the flag is)', () => {
  refuses(['train', '--config', yaml('snap.yaml', 'loss: { name: softmax }\ntrain: { epochs: 2 }\nsnapshots: [1, 5]\n'), '--data-dir', data], /snap\.yaml: snapshots\[1\] is epoch 5, beyond train\.epochs \(2\); it would never be drawn/);
  assert.throws(() => resolveConfig({ loss: { name: 'softmax' }, profiles: { quick: { train: { epochs: 4 }, snapshots: [2, 9] } } }, 'q.yaml', 'quick'), /q\.yaml: profiles\.quick\.snapshots\[1\] is epoch 9, beyond train\.epochs \(4\)/);
  // The command-line --epochs still shortens a run: its snapshots follow, at the same fractions of
  // the run (the last epoch drawn).
  assert.deepEqual(resolveConfig({ loss: { name: 'softmax' }, train: { epochs: 10 }, snapshots: [5, 10] }, 'x.yaml', 'full', { epochs: 6 }).snapshots, [3, 6]);
});

test('plot writes all figures or none: a damaged snapshot names its file and what to do, and nothing is written', () => {
  const cfg = yaml('two-b.yaml', 'name: twob\nloss: { name: softmax }\ntrain: { epochs: 2, batchSize: 32 }\nsnapshots: [1, 2]\n');
  const run = join(dir, 'plot-none');
  assert.equal(tiny(cfg, run).code, 0);
  const snap = join(run, 'snapshots', 'valid-epoch-0002.json');
  const body = readJson(snap);
  body.features = Buffer.from([1, 2, 3]).toString('base64');
  writeFileSync(snap, JSON.stringify(body));
  const out = join(dir, 'plot-none-out');
  refuses(['plot', '--run', run, '--out', out], /valid-epoch-0002\.json: features hold 3 bytes, not a whole number of float32 values \(the file is damaged\); this snapshot cannot be drawn: delete it \(plot draws the others\)/, out);
  rmSync(snap);
  const ok = runCli(['plot', '--run', run, '--out', out]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '', 'no TensorFlow.js banner, nothing else');
  assert.equal(Object.keys(tree(out)).length, 3);
});

test('plot without --run draws the most recent run and says which; with none it says how to get one', () => {
  const cwd = join(dir, 'plot-cwd');
  mkdirSync(cwd);
  refuses(['plot'], /no --run given and no run folders in runs; train one first \((npx facelosses|node \S+facelosses\.js|facelosses) train --config softmax\) or give --run DIR$/, cwd, cwd);
  const a = softmaxCfg();
  assert.equal(tiny(a, join(cwd, 'runs', 'old')).code, 0);
  assert.equal(tiny(arcfaceCfg(), join(cwd, 'runs', 'new')).code, 0);
  const r = runCli(['plot'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'plotting runs/new, the most recent run (1 other in runs/; pick one with --run)\n');
  assert.match(r.stdout, /runs\/new\/pics\/ArcFace\/ArcFaceLoss-valid/);
});

test('--config by the name of a packaged config, from any folder; an unknown name lists the names', () => {
  for (const name of ['arcface', 'arcface.yaml', 'configs/arcface.yaml']) {
    // Found: the run then stops at the (missing) data, not at the config.
    refuses(['train', '--config', name, '--data-dir', join(dir, 'nodata')], /data folder not found/, join(dir, 'pkg-out'), dir);
  }
  refuses(['train', '--config', 'arcfase.yaml', '--data-dir', data], /config file not found: arcfase\.yaml; packaged configs \(give one by name, e\.g\. --config softmax\): (?:[a-z0-9_]+, )*arcface, center, .*softmax/, undefined, dir);
  // A path of one's own that does not exist is not swapped for a packaged config.
  refuses(['train', '--config', join(dir, 'mine', 'arcface.yaml'), '--data-dir', data], /config file not found: .*mine\/arcface\.yaml;/);
});

test('--help: defaults of every option, the default profile, the exit codes', () => {
  const h = runCli(['train', '--help']);
  assert.equal(h.code, 0);
  const text = h.stdout.replace(/\s+/g, ' ');
  assert.match(text, /default profile: quick/);
  assert.match(text, /--profile <name> .*\(choices: "full", "quick", "ci", default: "quick"\)/);
  assert.match(text, /--epochs <n> override the number of epochs \(default: the profile's/);
  assert.match(text, /--seed <n> .*default: the config's train\.seed, 1 when unset/);
  assert.match(text, /--view <view> .*default: the config's plot\.view, raw when unset/);
  assert.match(text, /--color-by <what> .*default: the config's plot\.colorBy, predicted when unset/);
  assert.match(text, /--size <WxH> .*default: the config's plot size, 640x480 when unset/);
  assert.match(text, /Exit codes: 0 success 1 a failure during work .* 2 a usage or input error .* 130 interrupted/);
  assert.match(runCli(['--help']).stdout, /Exit codes:/);
});

test('a bare train uses the quick profile and says so, with its epochs and an estimate of the time, in its first lines', () => {
  const out = join(dir, 'bare');
  const r = runCli(['train', '--config', good, '--data-dir', data, '--out', out, '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n');
  const epochs = readJson(join(out, 'run.json')).config.train.epochs;
  assert.match(lines[0]!, new RegExp(`^facelosses: good \\(\\S*good\\.yaml, loss softmax\\), profile quick: ${epochs} epochs? .*\\(the default; --profile full trains the config as written\\)$`));
  assert.equal(readJson(join(out, 'run.json')).profile, 'quick');
  assert.match(r.stderr, /\nestimated time left: \S+ for \d+ more steps \(\d+ img\/s\)\n/);
});

test('config mistakes name the file and key in words: .nan, a folder, a list, a YAML syntax error with line and column', () => {
  const train = (cfg: string) => ['train', '--config', cfg, '--data-dir', data];
  refuses(train(yaml('nan.yaml', 'loss: { name: softmax }\ntrain: { lr: .nan }\n')), /nan\.yaml: train\.lr must be a number, got \.nan \(not a number\)$/);
  refuses(train(yaml('inf.yaml', 'loss: { name: softmax }\ntrain: { epochs: .inf }\n')), /inf\.yaml: train\.epochs must be a whole number, got \.inf \(infinity\)$/);
  mkdirSync(join(dir, 'cfgdir'), { recursive: true });
  writeFileSync(join(dir, 'cfgdir', 'x.yaml'), 'loss: { name: softmax }\n');
  refuses(train(join(dir, 'cfgdir')), /cfgdir is a folder, not a config file; give one YAML file, e.g\. --config .*cfgdir\/x\.yaml$/);
  refuses(train(yaml('list.yaml', '- loss: softmax\n- epochs: 3\n')), /list\.yaml: a config must be a YAML mapping .*got a list/);
  refuses(train(yaml('snapshots-map.yaml', 'loss: { name: softmax }\nsnapshots: { a: 1 }\n')), /snapshots must be a non-empty list of whole numbers like \[100, 300, 500\], got \{"a":1\}/);
  refuses(train(yaml('syntax.yaml', 'loss:\n  name: softmax\ntrain: { lr: 0.1\n')), /syntax\.yaml:\d+:\d+: malformed YAML: .*; fix the YAML syntax there$/);
});

test('run.json or checkpoint damaged: --force starts over (removing only run files); a foreign run.json is not a run', () => {
  const run = bareRun('truncated', 'running');
  writeFileSync(join(run, 'run.json'), '{"format": "facelosses-run/1", "sta');
  refuses(['train', '--config', good, '--data-dir', data, '--out', run], /truncated\/run\.json: unreadable run file \(.*\); start the run over with --force \(it removes only the files a run wrote\)$/, run);
  const r = runCli(['train', '--config', good, '--profile', 'full', '--data-dir', data, '--out', run, '--force', '--threads', '1', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readJson(join(run, 'run.json')).status, 'finished');

  const foreign = join(dir, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'run.json'), '{"name": "something else"}');
  refuses(['train', '--config', good, '--data-dir', data, '--out', foreign, '--force'], /foreign is not a facelosses run folder and holds other files \(e\.g\. run\.json\)/, foreign);
});

test('a diverging loss (lr 10) is stopped like a NaN: exit 1, one line, the checkpoint before it kept', () => {
  const cfg = yaml('diverge.yaml', 'name: diverge\nloss: { name: softmax }\ntrain: { epochs: 3, batchSize: 16, lr: 10 }\nsnapshots: [3]\n');
  const run = join(dir, 'diverge');
  const r = tiny(cfg, run);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /the loss diverged to \S+ \(over 10000x its first value \S+\) at epoch \d+, step \d+/);
  assert.equal(readJson(join(run, 'run.json')).status, 'failed');
  assert.ok(existsSync(join(run, 'checkpoint', 'last.json')));
});

test('when skip-batch was the policy and every batch failed, the advice is not skip-batch again', () => {
  const stop = new NonFiniteLossError(2, 3, NaN, 'the loss became NaN', 'epoch 1', '/r');
  assert.match(stop.message, /continue with --resume \/r --nan-policy skip-batch$/);
  const skipped = new NonFiniteLossError(2, 4, NaN, 'every batch of the epoch had a non-finite or diverged loss or gradient (4 skipped)', 'epoch 1', '/r', 'skip-batch');
  assert.doesNotMatch(skipped.message, /--nan-policy skip-batch/);
  assert.match(skipped.message, /Lower train\.lr or check the loss parameters, then start the run over with --force$/);
});

test('--threads above the core count is capped with a warning; --backend cpu warns how slow it is', () => {
  const run = join(dir, 'threads');
  const r = runCli(['train', '--config', good, '--profile', 'full', '--data-dir', data, '--out', run, '--threads', '64', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`(^|\\n)warning: --threads 64 is more than the ${availableParallelism()} CPU cores? of this machine \\(slower and more memory, not faster\\); using ${availableParallelism()}\\n`));
  assert.equal(readJson(join(run, 'run.json')).status, 'finished');
  // The cpu warning comes before anything is written (here: a folder another process holds).
  const held = bareRun('held', 'running');
  const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(held, '.lock'), JSON.stringify({ pid: owner.pid, host: hostname(), started: new Date().toISOString() }));
    const c = runCli(['train', '--config', good, '--data-dir', data, '--out', held, '--force', '--backend', 'cpu']);
    assert.equal(c.code, 2, c.stderr);
    assert.match(c.stderr, /^warning: the cpu backend is plain JavaScript: about 1 image\/s on this network, days for one run; use the default engine/);
  } finally {
    owner.kill('SIGKILL');
  }
});
