/**
 * Valid accuracy and intra-class angular spread at the last snapshot of run folders, one row per
 * config and one column per seed (the seed from each run's run.json):
 *
 *   node --import tsx scripts/seed-table.ts runs/*-quick seeds/*
 *
 * Prints a Markdown table; a cell is "accuracy % / spread°".
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface Cell {
  acc: number;
  spread: number;
  epochs: number;
}
const rows = new Map<string, Map<number, Cell>>();
for (const dir of process.argv.slice(2)) {
  const runFile = join(dir, 'run.json');
  if (!existsSync(runFile)) continue;
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as { status?: string; config: { name: string; train: { seed: number; epochs: number } } };
  if (run.status !== 'finished') continue;
  const snaps = readdirSync(join(dir, 'snapshots')).filter((f) => f.startsWith('separability-epoch-')).sort();
  const last = snaps[snaps.length - 1];
  if (!last) continue;
  const s = JSON.parse(readFileSync(join(dir, 'snapshots', last), 'utf8')) as { valid: { classifierAccuracy: number; intraClassAngularSpread: number } };
  const name = run.config.name;
  if (!rows.has(name)) rows.set(name, new Map());
  rows.get(name)!.set(run.config.train.seed, { acc: s.valid.classifierAccuracy, spread: s.valid.intraClassAngularSpread, epochs: run.config.train.epochs });
}
const seeds = [...new Set([...rows.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
console.log(`| config | epochs | ${seeds.map((s) => `seed ${s}`).join(' | ')} |`);
console.log(`|---|---:|${seeds.map(() => '---:').join('|')}|`);
for (const [name, m] of [...rows.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
  const epochs = [...m.values()][0]!.epochs;
  const cells = seeds.map((s) => {
    const c = m.get(s);
    return c ? `${(100 * c.acc).toFixed(2)} % / ${c.spread.toFixed(1)}°` : '';
  });
  console.log(`| ${name} | ${epochs} | ${cells.join(' | ')} |`);
}
