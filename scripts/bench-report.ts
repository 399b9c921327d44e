/**
 * Report page benchmark: writes a run's report page, opens it from file:// in chromium
 * (playwright-core, the system chromium), and measures the time from navigation to a drawn page and
 * the time to draw one frame, each draw flushed to pixels (a 1-pixel read-back), in the page's
 * default view and on the train split.
 *
 *   npm run bench:report -- [run-dir] [--reps 50]
 *
 * Default run: runs/softmax-quick (`npx facelosses train --config softmax`). Prints one JSON line.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeRunReport } from '../src/report/page.js';
import { launchChromium } from '../test/helpers/browser.js';

const args = process.argv.slice(2);
const repsAt = args.indexOf('--reps');
const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 50;
const run = args.find((a, i) => !a.startsWith('--') && i !== repsAt + 1) ?? 'runs/softmax-quick';

const t0 = performance.now();
const out = join(mkdtempSync(join(tmpdir(), 'facelosses-bench-report-')), 'report.html');
const page0 = writeRunReport(run, out);
const buildMs = performance.now() - t0;
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const t1 = performance.now();
  await page.goto(pathToFileURL(out).href);
  await page.waitForFunction(() => (window as unknown as { faceLossesReport?: { ready: boolean } }).faceLossesReport?.ready);
  const openMs = performance.now() - t1;
  const measure = async () => {
    const r = await page.evaluate((n) => (window as unknown as { faceLossesReport: { benchDraw(p: number, r: number): { points: number; times: number[] } } }).faceLossesReport.benchDraw(0, n), reps + 5);
    const t = r.times.slice(5).sort((a, b) => a - b);
    return { points: r.points, bestMs: +t[0]!.toFixed(1), medianMs: +t[Math.floor(t.length / 2)]!.toFixed(1), p90Ms: +t[Math.floor(t.length * 0.9)]!.toFixed(1) };
  };
  const valid = await measure();
  await page.click('#fl-split-train');
  const train = await measure();
  console.log(JSON.stringify({ run, pageBytes: page0.bytes, frames: page0.frames, buildMs: Math.round(buildMs), openMs: Math.round(openMs), draws: reps, valid, train, chromium: browser.version() }));
} finally {
  await browser.close();
}
