/**
 * What a run's feature history cost: its frames, their bytes on disk, the seconds the trainer spent
 * taking them (recorded in each frame) against the run's training time (metrics.jsonl).
 *   node --import tsx scripts/history-cost.ts runs/softmax-quick [more runs...]
 */
import { statSync } from 'node:fs';
import { historySeconds, listHistoryFrames } from '../src/run/history.js';
import { readMetrics } from '../src/run/run.js';

const runs = process.argv.slice(2);
if (runs.length === 0) {
  process.stderr.write('usage: node --import tsx scripts/history-cost.ts <run-dir> [more run dirs]\n');
  process.exit(2);
}
for (const run of runs) {
  const frames = listHistoryFrames(run);
  const bytes = frames.reduce((s, f) => s + statSync(f.file).size, 0);
  const taken = historySeconds(run);
  const m = readMetrics(run);
  const elapsed = Number(m.at(-1)?.elapsedSeconds ?? NaN);
  process.stdout.write(
    `${run}: ${frames.length} frames, ${(bytes / 1e6).toFixed(2)} MB; taking them: ${taken.toFixed(1)} s of ${elapsed.toFixed(1)} s of training (${((100 * taken) / elapsed).toFixed(2)} %)\n`,
  );
}
