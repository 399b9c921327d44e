/**
 * package.json keeps the TF.js library conventions: every @tensorflow package the sources import
 * is a peer dependency (a user's tfjs and ours are one copy; a regular or optional dependency would
 * install a second tfjs-core beside a user's older tfjs) and a devDependency (a clone's
 * `npm install` still gives a working CLI); `exports` loads from `import` and `require`.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

interface Pkg {
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
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
  // tfjs is the one peer npm installs by itself; core and the engines come with the user's tfjs.
  assert.notEqual(pkg.peerDependenciesMeta?.['@tensorflow/tfjs']?.optional, true);
});

test('exports: types, import and require conditions', () => {
  const dot = pkg.exports['.'] as Record<string, string>;
  assert.deepEqual(Object.keys(dot).slice(0, 3), ['types', 'import', 'require']);
  assert.equal(dot.require, dot.import, 'one ES module for both (require(esm)): no dual-package instance');
});
