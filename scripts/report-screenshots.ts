/**
 * Screenshots of a report page as docs/report.md shows them, from file:// in the system chromium.
 *
 *   node --import tsx scripts/report-screenshots.ts <page.html> <out.png> [--hover N] [--frame N]
 *        [--split valid|train] [--view raw|unit] [--highlight C] [--width 1160] [--height 720]
 *
 * --hover N: the mouse over valid point N (the test image N) of the first panel, tooltip shown.
 * --frame N: the slider at N (a run's page: frame index from 0; a gallery: per mille of each run).
 */
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../test/helpers/browser.js';

const [file, out, ...rest] = process.argv.slice(2);
if (!file || !out) {
  console.error('usage: scripts/report-screenshots.ts <page.html> <out.png> [--hover N] [--frame N] [--split valid|train] [--view raw|unit] [--highlight C]');
  process.exit(2);
}
const opt = (k: string) => {
  const i = rest.indexOf(`--${k}`);
  return i >= 0 ? rest[i + 1] : undefined;
};
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: Number(opt('width') ?? 1160), height: Number(opt('height') ?? 740) }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => (window as unknown as { faceLossesReport?: { ready: boolean } }).faceLossesReport?.ready);
  if (opt('frame') !== undefined) await page.locator('#fl-slider').fill(opt('frame')!);
  if (opt('split')) await page.click(`#fl-split-${opt('split')}`);
  if (opt('view')) await page.click(`#fl-view-${opt('view')}`);
  if (opt('highlight')) await page.click(`.fl-class[data-class="${opt('highlight')}"]`);
  if (opt('hover')) {
    const p = await page.evaluate((i) => (window as unknown as { faceLossesReport: { pointOnScreen(p: number, i: number): { x: number; y: number } | null } }).faceLossesReport.pointOnScreen(0, i), Number(opt('hover')));
    if (!p) throw new Error(`point ${opt('hover')} is not drawn`);
    await page.mouse.move(p.x, p.y);
  }
  await page.screenshot({ path: out });
  if (errors.length) throw new Error(`the page reported errors: ${errors.join('; ')}`);
  console.log(out);
} finally {
  await browser.close();
}
