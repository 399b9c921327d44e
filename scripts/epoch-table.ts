/**
 * Valid accuracy by epoch for run folders, as a markdown table: the measurements behind the quick
 * profile's epochs per loss (docs/quick-profile.md).
 *
 *   node --import tsx scripts/epoch-table.ts runs/*-quick
 *
 * One row per run: config name, seed, epochs, the learning rate of each epoch where it changes,
 * valid accuracy after every epoch, and the time the run took.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface Line {
  epoch: number;
  lr: number;
  validAccuracy: number;
  elapsedSeconds?: number;
}

const dirs = process.argv.slice(2).filter((d) => existsSync(join(d, 'metrics.jsonl')));
if (dirs.length === 0) {
  process.stderr.write('usage: node --import tsx scripts/epoch-table.ts <run folder>... (folders with a metrics.jsonl)\n');
  process.exit(2);
}
const rows = dirs.map((d) => {
  const lines = readFileSync(join(d, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Line);
  const info = existsSync(join(d, 'run.json')) ? (JSON.parse(readFileSync(join(d, 'run.json'), 'utf8')) as { config?: { train?: { seed?: number; epochs?: number } } }) : {};
  return { name: basename(d), seed: info.config?.train?.seed, epochs: info.config?.train?.epochs, lines };
});
const maxEpoch = Math.max(...rows.map((r) => r.lines.length));
const head = ['run', 'seed', ...Array.from({ length: maxEpoch }, (_, i) => `${i + 1}`), 'time'];
const out = [`| ${head.join(' | ')} |`, `|---|---:|${Array.from({ length: maxEpoch + 1 }, () => '---:').join('|')}|`];
for (const r of rows) {
  const cells = Array.from({ length: maxEpoch }, (_, i) => {
    const l = r.lines[i];
    if (!l) return '';
    const dropped = i > 0 && r.lines[i - 1] && l.lr < r.lines[i - 1]!.lr ? '↓' : '';
    return `${dropped}${(100 * l.validAccuracy).toFixed(1)}`;
  });
  const last = r.lines[r.lines.length - 1];
  const t = last?.elapsedSeconds !== undefined ? `${(last.elapsedSeconds / 60).toFixed(1)} min` : '';
  out.push(`| ${r.name} | ${r.seed ?? ''} | ${cells.join(' | ')} | ${t} |`);
}
process.stdout.write(out.join('\n') + '\n\n↓: the learning rate dropped before this epoch. Valid accuracy in %, after each epoch, on all 10,000 test images unless the run used fewer.\n');
