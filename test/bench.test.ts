// `npm run bench -- --compare-pytorch`: the wiring of the comparison (a stand-in Python prints
// PyTorch's JSON lines, so the test needs no torch), and the one line when no torch is found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const bench = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', '--workers', '0', '--steps', '2', '--warmup', '1', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });

test('bench --compare-pytorch without torch: one line says so, the bench result stands', () => {
  const r = bench({ FACELOSSES_PYTHON: '/nonexistent/python3' }, '--compare-pytorch', '--rounds', '1');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const skipped = lines.filter((l) => l.startsWith('PyTorch comparison skipped'));
  assert.equal(skipped.length, 1, r.stdout);
  assert.match(skipped[0]!, /\/nonexistent\/python3/);
  const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { imagesPerSecond?: number; compare?: string });
  assert.equal(json.length, 1, r.stdout);
  assert.ok(json[0]!.imagesPerSecond! > 0);
});

test('bench --compare-pytorch: PyTorch in four layouts after each round, the ratio against the best layout\'s median', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fl-bench-'));
  try {
    // A stand-in for a Python with torch: `-c 'import torch'` succeeds; the script prints a JSON line
    // whose speed depends on the layout (2 threads channels-last fastest).
    const fake = path.join(dir, 'python3');
    writeFileSync(
      fake,
      `#!/bin/bash
[ "$1" = -c ] && exit 0
t=1; cl=false
while [ $# -gt 0 ]; do case "$1" in --threads) t=$2; shift;; --channels-last) cl=true;; esac; shift; done
ips=$(( t * 1000 )); [ $cl = true ] && ips=$(( ips + 500 ))
echo "{\\"framework\\": \\"pytorch\\", \\"torch\\": \\"fake\\", \\"threads\\": $t, \\"channelsLast\\": $cl, \\"imagesPerSecond\\": $ips, \\"msPerStep\\": 1, \\"medianMsPerStep\\": 1, \\"loadAverage\\": 0}"
`,
    );
    chmodSync(fake, 0o755);
    const r = bench({ FACELOSSES_PYTHON: fake }, '--compare-pytorch', '--rounds', '2');
    assert.equal(r.status, 0, r.stderr);
    const json = r.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ours = json.filter((j) => j.backend !== undefined);
    const torch = json.filter((j) => j.framework === 'pytorch');
    const cmp = json.find((j) => j.compare === 'pytorch') as {
      rounds: number;
      ours: number;
      oursRounds: number[];
      pytorchBest: number;
      pytorchBestThreads: number;
      pytorchBestChannelsLast: boolean;
      ratio: number;
      pytorch: Record<string, { median: number }>;
    };
    assert.equal(ours.length, 2);
    assert.equal(torch.length, 8, 'four layouts after each of two rounds');
    assert.ok(cmp, r.stdout);
    assert.equal(cmp.rounds, 2);
    assert.deepEqual(Object.keys(cmp.pytorch).sort(), ['1 thread(s), NCHW', '1 thread(s), channels-last', '2 thread(s), NCHW', '2 thread(s), channels-last']);
    assert.equal(cmp.pytorchBest, 2500);
    assert.equal(cmp.pytorchBestThreads, 2);
    assert.equal(cmp.pytorchBestChannelsLast, true);
    const oursMedian = Math.round((cmp.oursRounds[0]! + cmp.oursRounds[1]!) / 2);
    assert.equal(cmp.ours, oursMedian);
    assert.equal(cmp.ratio, Number((oursMedian / 2500).toFixed(3)));
    assert.match(r.stdout, /ratio \d+\.\d\dx/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
