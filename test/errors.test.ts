/**
 * Every bad input a user can give, at the CLI: one clear line on stderr, exit code 2, and no
 * output folder created or changed. (Messages themselves are also unit-tested in config.test.ts
 * and idx.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { resolveConfig } from '../src/config/config.js';
import { writeRunInfo } from '../src/run/run.js';
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
function refuses(args: string[], re: RegExp, watch?: string): string {
  const w = watch ?? join(dir, `out${++n}`);
  const beforeTree = tree(w);
  const existed = existsSync(w);
  const withOut = watch === undefined && args[0] === 'train' && !args.includes('--out') && !args.includes('--resume') ? [...args, '--out', w] : args;
  const r = runCli(withOut);
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
  refuses(train(yaml('malformed.yaml', 'loss: [softmax\ntrain: {\n')), /malformed\.yaml: malformed YAML/);
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
  refuses(['train', '--config', good, '--data-dir', data, '--out', join(file, 'run')], /cannot write to output folder .*a-file\/run: ENOTDIR/, join(file, 'run'));
  refuses(['train', '--config', good, '--data-dir', data, '--out', file], /output path .*a-file exists and is not a folder/, file);
  const run = bareRun('unfinished', 'running');
  refuses(['train', '--config', good, '--data-dir', data, '--out', run], /holds an unfinished run \(status: running\); continue it with --resume .*, or start over with --force/, run);
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
  refuses(['train', '--resume', broken], /run\.json: unreadable run file/, broken);
  const early = bareRun('early', 'running');
  refuses(['train', '--resume', early], /early has no checkpoint \(checkpoint\/last\.json\); the run stopped before training started, so start it again with --force/, early);
  const cut = bareRun('cut', 'interrupted');
  mkdirSync(join(cut, 'checkpoint'));
  writeFileSync(join(cut, 'checkpoint', 'last.json'), '{"format":"facelosses-checkpoint/1","epoch":1,"we');
  refuses(['train', '--resume', cut], /checkpoint\/last\.json: unreadable checkpoint/, cut);
});
