/**
 * The README's library example is a real file: examples/library.ts imports 'facelosses' as a user
 * would (resolved to src/ through tsconfig paths, which tsc and tsx both read), is type-checked with
 * the project (tsconfig includes examples/, see typecheck.test.ts) and runs here as its own process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

test('examples/library.ts trains arcface and center heads on synthetic data', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/library.ts'], { encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stderr, /already registered/, 'one tfjs: no kernel registered twice');
  for (const name of ['arcface', 'center']) {
    const m = new RegExp(`^${name}: loss (\\S+) -> (\\S+), train accuracy (\\S+)%$`, 'm').exec(r.stdout);
    assert.ok(m, `${name} line in:\n${r.stdout}`);
    const [first, last, acc] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.ok(last < first / 2, `${name}: loss ${first} -> ${last} should fall`);
    assert.ok(acc >= 90, `${name}: train accuracy ${acc}%`);
  }
});
