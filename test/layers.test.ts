/**
 * The layers of src/ (.dependency-cruiser.cjs, docs/architecture.md): imports point only down,
 * no cycles. A wrong import fails here with the name of the rule it breaks.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** The rule violations in `<cwd>/src`, as 'rule: from -> to'. dependency-cruiser runs as its own
 *  process: its swc parser does not load under this test runner's TypeScript loader. */
function violations(cwd: string): string[] {
  let json: string;
  try {
    json = execFileSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    // It exits non-zero when it finds violations; the report is still on stdout.
    json = (e as { stdout?: string }).stdout ?? '';
    if (!json) throw e;
  }
  const out = JSON.parse(json) as { summary: { violations: Violation[] } };
  return out.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
}

test('src/ imports only point down the layers, with no cycles', () => {
  const found = violations(ROOT);
  assert.deepEqual(found, [], `imports that break the layers of .dependency-cruiser.cjs (see docs/architecture.md):\n  ${found.join('\n  ')}`);
});

test('the rules are by folder: a new file that imports upward, or a cycle, fails with the rule named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'facelosses-layers-'));
  try {
    const put = (file: string, text: string) => {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    };
    put('src/cli/wrap.ts', 'export const w = 1;\n');
    put('src/run/history.ts', "import { w } from '../cli/wrap.js';\nexport const h = w;\n");
    put('src/losses/new-loss.ts', "import { c } from '../config/config.js';\nexport const l = c;\n");
    put('src/config/config.ts', "import { o } from './overrides.js';\nexport const c = 1;\nexport const d = o;\n");
    put('src/config/overrides.ts', "import { c } from './config.js';\nexport const o = c;\n");
    put('src/commands/animate.ts', "import { l } from '../losses/new-loss.js';\nexport const a = l;\n");
    const found = violations(dir);
    assert.ok(found.includes('layer-training-imports-only-down: src/run/history.ts -> src/cli/wrap.ts'), found.join('\n'));
    assert.ok(found.includes('layer-domain-imports-only-down: src/losses/new-loss.ts -> src/config/config.ts'), found.join('\n'));
    assert.ok(found.some((v) => v.startsWith('no-cycles: src/config/')), found.join('\n'));
    // A use case importing a lower layer is fine.
    assert.ok(!found.some((v) => v.includes('src/commands/animate.ts ->')), found.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
