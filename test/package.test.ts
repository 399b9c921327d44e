/**
 * package.json keeps the TF.js library conventions: every @tensorflow package the sources import
 * is a peer dependency (a user's tfjs and ours are one copy; a regular or optional dependency would
 * install a second tfjs-core beside a user's older tfjs) and a devDependency (a clone's
 * `npm install` still gives a working CLI); `exports` loads from `import` and `require`; the packed
 * tarball, installed as a user installs it, runs the CLI.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';

interface Pkg {
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  files?: string[];
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Pkg;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('@tensorflow packages are peer dependencies (and devDependencies), never plain dependencies', () => {
  const imported = new Set<string>();
  for (const f of sourceFiles('src')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from |import\(?)\s*'(@tensorflow\/[a-z0-9-]+)'/g)) imported.add(m[1]!);
  }
  assert.ok(imported.has('@tensorflow/tfjs-core') && imported.has('@tensorflow/tfjs'), [...imported].join(', '));
  for (const name of imported) {
    assert.ok(pkg.peerDependencies?.[name], `${name} is a peer dependency`);
    assert.ok(pkg.devDependencies?.[name], `${name} is a devDependency (a clone's npm install has it)`);
  }
  for (const field of ['dependencies', 'optionalDependencies'] as const) {
    const tfjs = Object.keys(pkg[field] ?? {}).filter((n) => n.startsWith('@tensorflow/'));
    assert.deepEqual(tfjs, [], `${field} must not hold ${tfjs.join(', ')}: a second tfjs-core would install beside a user's`);
  }
  // npm installs the non-optional peers by itself: tfjs, and the wasm engine the CLI trains on by
  // default; core comes with the user's tfjs, the other engines are optional.
  assert.notEqual(pkg.peerDependenciesMeta?.['@tensorflow/tfjs']?.optional, true);
  assert.notEqual(pkg.peerDependenciesMeta?.['@tensorflow/tfjs-backend-wasm']?.optional, true);
});

test('exports: types, import and require conditions', () => {
  const dot = pkg.exports['.'] as Record<string, string>;
  assert.deepEqual(Object.keys(dot).slice(0, 3), ['types', 'import', 'require']);
  assert.equal(dot.require, dot.import, 'one ES module for both (require(esm)): no dual-package instance');
});

/**
 * The packed tarball as a user installs it: `npm pack`, unpacked into a new project's
 * node_modules/facelosses beside what `npm install facelosses @tensorflow/tfjs` brings (the
 * package's dependencies, its non-optional peers, its optional dependencies and @tensorflow/tfjs,
 * with everything they depend on, hoisted as npm does), taken from this clone's node_modules so the
 * test needs no network. Then the README's first command, and the engine errors of a project that
 * lacks the wasm engine.
 */
let tarball: string | undefined;
function packTarball(): string {
  const dir = mkdtempSync(join(tmpdir(), 'facelosses-pack-'));
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return join(dir, (JSON.parse(packed) as Array<{ filename: string }>)[0]!.filename);
}

function packedProject(omit: string[] = []): string {
  const root = mkdtempSync(join(tmpdir(), 'facelosses-installed-'));
  tarball ??= packTarball();
  const project = join(root, 'project');
  const dest = join(project, 'node_modules', 'facelosses');
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);
  const want = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), '@tensorflow/tfjs'];
  for (const [name] of Object.entries(pkg.peerDependencies ?? {})) if (!pkg.peerDependenciesMeta?.[name]?.optional) want.push(name);
  const seen = new Set<string>();
  while (want.length) {
    const name = want.pop()!;
    if (seen.has(name) || omit.includes(name) || !existsSync(join('node_modules', name, 'package.json'))) continue;
    seen.add(name);
    const dep = JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')) as Pkg;
    want.push(...Object.keys(dep.dependencies ?? {}), ...Object.keys(dep.optionalDependencies ?? {}));
    for (const p of Object.keys(dep.peerDependencies ?? {})) if (!dep.peerDependenciesMeta?.[p]?.optional) want.push(p);
    mkdirSync(dirname(join(project, 'node_modules', name)), { recursive: true });
    symlinkSync(resolve('node_modules', name), join(project, 'node_modules', name));
  }
  return project;
}

function runInstalled(project: string, args: string[]): { code: number | null; stderr: string; stdout: string } {
  const bin = join(project, 'node_modules', 'facelosses', 'bin', 'facelosses.js');
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: project, encoding: 'utf8', timeout: 300_000, env: { ...process.env, CI: 'true' } });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** stderr of the installed CLI until a line matches `until`; then the process is stopped (a cpu run would take minutes). */
function stderrUntil(project: string, args: string[], until: RegExp): Promise<string> {
  const child = spawn(process.execPath, [join(project, 'node_modules', 'facelosses', 'bin', 'facelosses.js'), ...args], { cwd: project, env: { ...process.env, CI: 'true' } });
  let text = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      if (until.test(text)) child.kill('SIGKILL');
    });
    child.on('error', fail);
    child.on('close', () => {
      clearTimeout(timer);
      done(text);
    });
  });
}

test('the packed tarball: LICENSE and no sources; after the README install line the first command trains', () => {
  const project = packedProject();
  const files = readdirSync(join(project, 'node_modules', 'facelosses'));
  assert.ok(files.includes('LICENSE'), files.join(', '));
  assert.match(readFileSync(join(project, 'node_modules', 'facelosses', 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 the facelosses authors\n/);
  assert.ok(!files.includes('src'), 'the installed package runs the compiled dist/');
  assert.ok(existsSync(join(project, 'node_modules', '@tensorflow', 'tfjs-backend-wasm')), 'npm installs the wasm engine as a peer');
  const r = runInstalled(project, ['train', '--config', 'softmax', '--epochs', '1', '--train-limit', '128', '--valid-limit', '128', '--backend', 'wasm', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid accuracy: \d+\.\d\d% \(epoch 1\)/);
});

test('the packed tarball without the wasm engine: --backend wasm says in one line what to install (exit 2); auto falls back to cpu and says so', async () => {
  const project = packedProject(['@tensorflow/tfjs-backend-wasm']);
  const r = runInstalled(project, ['train', '--config', 'softmax', '--epochs', '1', '--backend', 'wasm']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').at(-1), 'facelosses: error: --backend wasm needs @tensorflow/tfjs-backend-wasm, which is not installed; run: npm install @tensorflow/tfjs-backend-wasm');
  assert.doesNotMatch(r.stderr, /Cannot find package/);
  const auto = await stderrUntil(project, ['train', '--config', 'softmax', '--epochs', '1', '--train-limit', '128', '--valid-limit', '128', '--out', 'runs/auto'], /^backend .*\n/m);
  assert.match(auto, /^backend auto -> cpu /m);
  assert.match(auto, /^warning: training on the cpu backend .*; run: npm install @tensorflow\/tfjs-backend-wasm$/m);
});
