#!/usr/bin/env node
// Digests of run folders, to show that two versions of the code train the same run:
//   node scripts/run-digest.mjs RUN_DIR...
// Prints, per folder, the sha256 of checkpoint/last.json and of metrics.jsonl, raw and with the
// wall-clock fields removed (savedAt, elapsedSeconds, imagesPerSecond, seconds: they differ
// between any two runs), and the final valid accuracy.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const TIMING = new Set(['savedAt', 'elapsedSeconds', 'imagesPerSecond', 'seconds']);
const strip = (v) =>
  Array.isArray(v) ? v.map(strip) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !TIMING.has(k)).map(([k, x]) => [k, strip(x)])) : v;
const sha = (s) => createHash('sha256').update(s).digest('hex').slice(0, 16);

for (const dir of process.argv.slice(2)) {
  const ckText = readFileSync(join(dir, 'checkpoint', 'last.json'), 'utf8');
  const mText = readFileSync(join(dir, 'metrics.jsonl'), 'utf8');
  const metrics = mText.trim().split('\n').map((l) => strip(JSON.parse(l)));
  const last = metrics[metrics.length - 1];
  console.log(
    `${dir}  checkpoint ${sha(ckText)} (without timing ${sha(JSON.stringify(strip(JSON.parse(ckText))))})  metrics ${sha(mText)} (without timing ${sha(JSON.stringify(metrics))})  epoch ${last.epoch} valid ${last.validAccuracy}`,
  );
}
