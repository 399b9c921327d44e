import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { dirname, join } from 'node:path';

// `npm install` builds dist/ with tsc (the prepare script), so a type error would break installs.
test('the project type-checks (strict)', () => {
  const pkg = createRequire(import.meta.url).resolve('typescript/package.json');
  const tsc = join(dirname(pkg), 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
