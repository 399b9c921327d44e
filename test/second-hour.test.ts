/**
 * A new user's second hour: nothing replaced without --force, every output location checked
 * before the first training step (and an unusable one an error within a second, /proc included),
 * the repository's gallery written only in the repository.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { createProgress } from '../src/cli/progress.js';
import { trainCommand } from '../src/commands/train.js';
import { slowEngineWarning } from '../src/train/engine-choice.js';
import { reproduceCommand, reproducePlan } from '../src/commands/reproduce.js';
import { workerCommand } from '../src/commands/worker.js';
import { loadConfigFile } from '../src/config/config.js';
import { GALLERY_END, GALLERY_START, SUMMARY_END, SUMMARY_START } from '../src/report/gallery.js';
import { writeRunInfo, type RunInfo } from '../src/run/run.js';
import { makeFolder } from '../src/util/folders.js';
import { BIN, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { REPO, webgpuTestEnv } from './helpers/webgpu.js';

/** A folder of configs holding softmax.yaml. */
function configsDir(dir: string): string {
  const configs = join(dir, 'configs');
  mkdirSync(configs, { recursive: true });
  writeFileSync(join(configs, 'softmax.yaml'), 'name: softmax\nloss:\n  name: softmax\n');
  return configs;
}

/** A finished run of softmax.yaml under the ci profile with `epochs` epochs, as `train` leaves it. */
function finishedRun(dir: string, configs: string, epochs: number): string {
  const config = loadConfigFile(join(configs, 'softmax.yaml'), 'ci', { epochs });
  const info: RunInfo = { format: 'facelosses-run/1', config, profile: 'ci', backend: 'wasm', codeVersion: 'v0', startedAt: '', status: 'finished', validAccuracy: 0.5 };
  const runDir = join(dir, 'runs', 'softmax-ci');
  mkdirSync(join(runDir, 'pics'), { recursive: true });
  writeRunInfo(runDir, info);
  writeFileSync(join(runDir, 'pics', 'mine.png'), 'a figure of the 1-epoch run');
  return runDir;
}

/** Rejects with a UserError of exit code 2 matching `re`, within `ms`. */
async function refusedFast(p: Promise<unknown>, re: RegExp, ms = 1000): Promise<void> {
  const t0 = performance.now();
  await assert.rejects(p, (e: Error & { exitCode?: number }) => {
    assert.equal(e.exitCode, 2, e.message);
    assert.match(e.message, re);
    return true;
  });
  const took = performance.now() - t0;
  assert.ok(took < ms, `took ${took.toFixed(0)} ms`);
}

test('reproduce never replaces a finished run of another config: exit 2 naming the folder and --force, the run left as it was; --plan says so', async () => {
  const dir = tempDir();
  const configs = configsDir(dir);
  const runDir = finishedRun(dir, configs, 1);
  const before = readFileSync(join(runDir, 'run.json'), 'utf8');
  const r = await runCli(['reproduce', '--profile', 'ci', '--configs', configs, '--only', 'softmax', '--out', join(dir, 'runs'), '--pics', join(dir, 'pics'), '--no-readme']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^facelosses: error: \S*softmax-ci holds a finished run of another config: train\.epochs is 1 there, 3 in the plan; a batch never replaces it: retrain it with --force, or choose another --out$/m);
  assert.equal(readFileSync(join(runDir, 'run.json'), 'utf8'), before);
  assert.ok(existsSync(join(runDir, 'pics', 'mine.png')));
  assert.ok(!existsSync(join(dir, 'pics')), 'nothing drawn');

  const lines: string[] = [];
  const plan = await reproducePlan({ profile: 'ci', configsDir: configs, only: ['softmax'], out: join(dir, 'runs'), pics: join(dir, 'pics'), log: (l) => lines.push(l) });
  assert.equal(plan[0]!.action, 'refuse');
  assert.match(plan[0]!.message!, /holds a finished run of another config.*--force/);
  assert.match(lines.join('\n'), /^warning: .*softmax-ci holds a finished run of another config/m);
  // The same config under another profile is another folder: planned as usual.
  assert.equal((await reproducePlan({ profile: 'quick', configsDir: configs, out: join(dir, 'runs'), pics: join(dir, 'pics'), log: () => {} }))[0]!.action, 'train');
});

test('an unusable output folder is an error within a second, before anything is trained: /proc, /sys, a file in the way', async () => {
  // Node's recursive mkdir loops forever under /proc; the one folder helper does not.
  assert.throws(() => makeFolder('/proc/facelosses-x/y'), { code: 'ENOENT' });
  await refusedFast(trainCommand({ config: 'softmax', out: '/proc/facelosses-x', quiet: true }), /^cannot write to --out \/proc\/facelosses-x: .*ENOENT.*; choose another --out$/);
  await refusedFast(trainCommand({ config: 'softmax', out: join(tempDir(), 'run'), pics: '/sys/facelosses-x', quiet: true }), /^cannot write to --pics \/sys\/facelosses-x: .*; choose another --pics/);
  const dir = tempDir();
  writeFileSync(join(dir, 'blocker'), 'a file');
  await refusedFast(trainCommand({ config: 'softmax', out: join(dir, 'run'), pics: join(dir, 'blocker', 'pics'), quiet: true }), /--pics .*blocker is a file, not a folder/);
  assert.deepEqual(readdirSync(dir), ['blocker'], 'no run folder made');
  const configs = configsDir(dir);
  await refusedFast(reproduceCommand({ profile: 'ci', configsDir: configs, out: '/proc/facelosses-x', pics: join(dir, 'pics'), readme: false, log: () => {} }), /^cannot write to --out \/proc\/facelosses-x: /);
  await refusedFast(reproduceCommand({ profile: 'ci', configsDir: configs, out: join(dir, 'runs'), pics: '/proc/facelosses-x', readme: false, log: () => {} }), /^cannot write to --pics \/proc\/facelosses-x: .*choose another --pics$/);
  await refusedFast(workerCommand({ url: 'redis://127.0.0.1:1', workDir: '/proc/facelosses-x', log: () => {} }), /^cannot write to --work-dir \/proc\/facelosses-x: .*choose another --work-dir$/);
  assert.ok(!existsSync(join(dir, 'runs')) && !existsSync(join(dir, 'pics')));
});

test('reproduce checks the gallery before training: a docs/gallery.md without markers in the repository, a --readme file without markers anywhere', async () => {
  const dir = tempDir();
  const configs = configsDir(dir);
  // The repository: its package.json names facelosses; its docs/gallery.md is someone else's file.
  writeFileSync(join(dir, 'package.json'), '{ "name": "facelosses" }\n');
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs', 'gallery.md'), '# my notes\n');
  const common = ['reproduce', '--profile', 'ci', '--configs', configs, '--backend', 'wasm', '--epochs', '1', '--train-limit', '128', '--valid-limit', '128'];
  const r = await runCli(common, { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^facelosses: error: docs\/gallery\.md has no gallery markers .*--readme FILE \(or --no-readme\)$/m);
  assert.ok(!existsSync(join(dir, 'runs')), 'nothing trained');
  const other = tempDir();
  writeFileSync(join(other, 'notes.md'), '# mine\n');
  const mine = await runCli([...common, '--readme', 'notes.md'], { cwd: other });
  assert.equal(mine.code, 2, mine.stderr);
  assert.match(mine.stderr, /^facelosses: error: notes\.md has no gallery markers/m);
  assert.ok(!existsSync(join(other, 'runs')), 'nothing trained');
});

test('reproduce outside the repository writes docs/gallery.md and the README summary only where --readme says', async () => {
  const dir = tempDir(); // a user's own project: no facelosses package.json
  const configs = configsDir(dir);
  mkdirSync(join(dir, 'docs'));
  mkdirSync(join(dir, 'gathered'));
  const gallery = `# theirs\n${GALLERY_START}\n${GALLERY_END}\n`;
  const readme = `# theirs\n${SUMMARY_START}\n${SUMMARY_END}\n`;
  writeFileSync(join(dir, 'docs', 'gallery.md'), gallery);
  writeFileSync(join(dir, 'README.md'), readme);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const r = await reproduceCommand({ profile: 'ci', configsDir: configs, collect: 'gathered', log: () => {} });
    assert.equal(r.readme, undefined);
    assert.equal(readFileSync(join(dir, 'docs', 'gallery.md'), 'utf8'), gallery);
    assert.equal(readFileSync(join(dir, 'README.md'), 'utf8'), readme);
    const said = await reproduceCommand({ profile: 'ci', configsDir: configs, collect: 'gathered', readme: 'docs/gallery.md', log: () => {} });
    assert.equal(said.readme, join(dir, 'docs', 'gallery.md'));
    assert.match(readFileSync(join(dir, 'docs', 'gallery.md'), 'utf8'), /softmax/);
    assert.equal(readFileSync(join(dir, 'README.md'), 'utf8'), readme, 'the summary goes only into the file --readme names');
  } finally {
    process.chdir(cwd);
  }
});

test('reproduce --only with nothing in it is an error, not all the configs', async () => {
  const dir = tempDir();
  const r = await runCli(['reproduce', '--configs', configsDir(dir), '--only', '', '--out', join(dir, 'runs'), '--no-readme']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^facelosses: error: --only: no config named; give file stems, e\.g\. --only softmax \(leave --only out for all 1\)$/m);
  assert.ok(!existsSync(join(dir, 'runs')));
});

/** A terminal the progress draws on, and what it was sent. */
function fakeTerminal(columns = 100) {
  const out: string[] = [];
  const stream = { isTTY: true, columns, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
  return { stream, out, text: () => out.join('') };
}
const step = (doneSteps: number, totalSteps: number, stepsPerEpoch = totalSteps) => ({
  type: 'step' as const,
  epoch: Math.ceil(doneSteps / stepsPerEpoch),
  step: ((doneSteps - 1) % stepsPerEpoch) + 1,
  stepsPerEpoch,
  loss: 1,
  imagesPerSecond: 100,
  doneSteps,
  totalSteps,
});

test('progress: one epoch is "1 epoch", a run with no step left prints no estimate, the first estimate follows the pace after the slow first steps', () => {
  const tiny = fakeTerminal();
  let clock = 0;
  const p = createProgress(tiny.stream, '', () => clock);
  p({ type: 'start', epochs: 1, startEpoch: 1, stepsPerEpoch: 1, trainCount: 128, validCount: 128 });
  clock += 4000;
  p(step(1, 1));
  assert.match(tiny.text(), /^training 1 epoch x 1 step \(128 train images\/epoch, 128 valid\)\n/);
  assert.doesNotMatch(tiny.text(), /estimated time left|0 more steps/);

  // Three slow first steps (3 s each: a warming engine), then 0.1 s a step; 2,000 steps in all.
  const t = fakeTerminal();
  clock = 0;
  const q = createProgress(t.stream, '', () => clock);
  q({ type: 'start', epochs: 4, startEpoch: 1, stepsPerEpoch: 500, trainCount: 64000, validCount: 1000 });
  for (let i = 1; i <= 300 && !/estimated/.test(t.text()); i++) {
    clock += i <= 3 ? 3000 : 100;
    q(step(i, 2000, 500));
  }
  const m = /estimated time left: (\d+)m(\d\d)s for (\d+) more steps/.exec(t.text());
  assert.ok(m, t.text());
  const secs = Number(m[1]) * 60 + Number(m[2]);
  const truth = Number(m[3]) * 0.1;
  assert.ok(secs >= truth * 0.9 && secs <= truth * 1.3, `first estimate ${secs} s for about ${truth} s left`);
});

test('progress: Ctrl-C clears the bar (and the ^C on it) and stops drawing, so the messages stand on their own lines', () => {
  const t = fakeTerminal(100);
  const p = createProgress(t.stream, '', () => 0);
  p({ type: 'start', epochs: 2, startEpoch: 1, stepsPerEpoch: 10, trainCount: 1280, validCount: 100 });
  p(step(3, 20, 10));
  assert.match(t.out.at(-1)!, /^\r\x1b\[Kepoch 1\/2 \[/);
  p.interrupt();
  assert.equal(t.out.at(-1), '\r\x1b[K');
  const n = t.out.length;
  p(step(4, 20, 10));
  assert.equal(t.out.length, n, 'no bar after the interruption');
});

test('one rule for run names, stated in the message: a name: and a config file name without name: alike; bounds such as π/2 by name', async () => {
  const dir = tempDir();
  const rule = /must be a plain file name: ASCII letters a-z and A-Z, digits, '\.', '_' and '-', starting with a letter or digit, at most 100 characters/;
  writeFileSync(join(dir, 'my cfg.yaml'), 'loss:\n  name: softmax\n');
  await assert.rejects(trainCommand({ config: join(dir, 'my cfg.yaml'), out: join(dir, 'out'), quiet: true }), (e: Error & { exitCode?: number }) => {
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /my cfg\.yaml: the file name "my cfg" names the run \(the config has no name:\) and /);
    assert.match(e.message, rule);
    assert.match(e.message, /rename the file or add e\.g\. name: my-cfg$/);
    return true;
  });
  writeFileSync(join(dir, 'umlaut.yaml'), 'name: mön\nloss:\n  name: softmax\n');
  await assert.rejects(trainCommand({ config: join(dir, 'umlaut.yaml'), out: join(dir, 'out'), quiet: true }), rule);
  // A good name: makes any file name fine.
  writeFileSync(join(dir, 'my other cfg.yaml'), 'name: my-other\nloss:\n  name: softmax\n');
  assert.equal(loadConfigFile(join(dir, 'my other cfg.yaml'), 'ci').name, 'my-other');
  assert.ok(!existsSync(join(dir, 'out')));
  writeFileSync(join(dir, 'arc.yaml'), 'loss:\n  name: arcface\n  params:\n    m: 2\n');
  assert.throws(() => loadConfigFile(join(dir, 'arc.yaml'), 'ci'), (e: Error) => {
    assert.match(e.message, /arc\.yaml: loss\.params\.m must be <= π\/2 \(1\.5708\), got 2$/);
    return true;
  });
});

test('help: examples and the exit codes of each command; the quick profile as it is; worker --queue required; one error prefix', () => {
  const cmds = ['train', 'plot', 'reproduce', 'worker', 'losses'];
  const r = spawnSync('bash', ['-c', cmds.map((c) => `"$0" "$1" ${c} --help; echo "=== $?"`).join('; ') + `; "$0" "$1" plot --bogus 2>&1; echo "=== $?"`, process.execPath, BIN], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  const parts = r.stdout.split(/^=== \d+\n/m);
  const help = Object.fromEntries(cmds.map((c, i) => [c, parts[i]!]));
  for (const c of cmds) {
    assert.match(help[c]!, new RegExp(`\\nExamples:\\n  \\S.*facelosses(\\.js)? ${c}\\b`), `${c} --help has examples`);
    assert.match(help[c]!, /\nExit codes:\n/, `${c} --help ends with its exit codes`);
  }
  for (const c of ['plot', 'losses', 'worker']) assert.doesNotMatch(help[c]!, /continue with --resume/, `${c}: no checkpoint footer`);
  assert.match(help.reproduce!, /^ {2}2 {4}a usage or input error, found before any training/m);
  assert.doesNotMatch(help.train!, /quick: all 60,000 training and 10,000 test\s+images; 6 epochs/);
  assert.match(help.train!, /The quick profile's epochs \(5-20 per loss, each config's profiles\.quick\):\n {3}5 epochs: softmax\n/);
  assert.match(help.worker!, /--queue <redis-url> +required unless FACELOSSES_REDIS_URL or/);
  assert.match(parts[5]!, /^facelosses: error: unknown option '--bogus'$/m);
});

test('engines: --backend auto on a software WebGPU adapter prints no Dawn warnings and says why no GPU; webgpu on one warns that it is slow', () => {
  const { env } = webgpuTestEnv();
  const script = `const { initBackend } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'src', 'backend.ts')).href)}); process.stdout.write((await initBackend('auto', { threads: 1 })).detail); process.exit(0);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', env, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /artificially reduced/);
  assert.match(r.stdout, /^auto -> wasm .*; no GPU: WebGPU offers only .*software fallback$/);
  const adapter = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25.0.7', fallback: true };
  assert.match(slowEngineWarning({ name: 'webgpu', detail: '', adapter })!, /^webgpu runs on a software adapter \(mesa software \(llvmpipe: Mesa 25\.0\.7\), software fallback\), not a GPU: many times slower than the wasm engine .*; use --backend auto or wasm$/);
  assert.equal(slowEngineWarning({ name: 'webgpu', detail: '', adapter: { ...adapter, fallback: false } }), undefined);
  assert.match(slowEngineWarning({ name: 'cpu', detail: 'cpu (pure JavaScript, slow)' })!, /^the cpu backend is plain JavaScript/);
});
