/**
 * The report pages: one self-contained HTML file per run, and one for a gallery of runs side by
 * side on one slider. Everything is inlined (data, script, style): the file opens from disk,
 * offline, with no server and no CDN.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../util/fsx.js';
import { REPORT_FILE } from '../run/run.js';

/** A run's report page, in its run folder. */
export { REPORT_FILE };
import { buildPageData, packBlob, type PageData, type PageOptions } from './page-data.js';
import { PAGE_SCRIPT } from './page-client.js';

const STYLE = `
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 12px 16px; color: #222; background: #fafafa; }
h1 { font-size: 18px; font-weight: normal; margin: 0 0 8px; }
.fl-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; margin: 6px 0; }
#fl-slider { width: 420px; }
#fl-pos { font-variant-numeric: tabular-nums; min-width: 22em; }
.fl-group { display: inline-flex; gap: 0; }
.fl-group button { border: 1px solid #999; background: #fff; padding: 3px 9px; cursor: pointer; font: inherit; font-size: 13px; }
.fl-group button + button { border-left: none; }
.fl-group button.fl-on { background: #333; color: #fff; }
#fl-classes button { border-width: 2px; font-weight: bold; min-width: 2em; }
#fl-classes button.fl-on { color: #fff !important; background: #333; }
button { font: inherit; font-size: 13px; }
.fl-run { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.fl-grid { display: flex; flex-wrap: wrap; gap: 10px; }
canvas { background: #fff; box-shadow: 0 0 0 1px #ddd; }
.fl-scatter { cursor: crosshair; }
#fl-runs label { font-size: 13px; white-space: nowrap; }
#fl-tip { position: absolute; display: none; background: #fff; border: 1px solid #888; padding: 6px; box-shadow: 2px 2px 6px rgba(0,0,0,.2); pointer-events: none; font-size: 12px; z-index: 10; }
#fl-tip canvas { width: 84px; height: 84px; image-rendering: pixelated; box-shadow: none; margin-bottom: 4px; }
.fl-tip-text { white-space: pre; }
#fl-status { font-size: 12px; color: #666; margin-top: 8px; }
#fl-status.fl-error { color: #b00; font-size: 15px; }
.fl-help { font-size: 12px; color: #666; }
.fl-caption { font-size: 12px; color: #666; margin: 2px 4px; }
`;

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/** The HTML of a page from its data and the blob's embedded form. */
export function renderPage(data: PageData, packed: string): string {
  const help =
    data.mode === 'run'
      ? 'Drag the slider (or press play) to move through training. Hover a point for its digit, labels, norm and angle; click a point or a class button to highlight its class; scroll to zoom, drag to pan, double-click to reset.'
      : 'One slider moves every loss to the same fraction of its run. Hover a point for its digit; click a point or a class button to highlight its class; scroll to zoom, drag to pan, double-click to reset; untick a loss to hide it.';
  const d3 = data.runs.some((r) => r.dim === 3) ? ' Drag rotates a 3-D embedding (shift-drag pans).' : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(data.title)}</h1>
<div class="fl-help">${escapeHtml(help + d3)}</div>
<div id="fl-root"></div>
<div id="fl-status">loading...</div>
<script type="application/json" id="fl-header">${scriptJson(data)}</script>
<script type="application/octet-stream" id="fl-data">${packed}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

export interface WrittenPage {
  file: string;
  bytes: number;
  runs: number;
  frames: number;
}

function writePage(runDirs: string[], mode: 'run' | 'gallery', outFile: string, opts: PageOptions): WrittenPage {
  const { data, blob } = buildPageData(runDirs, mode, opts);
  const html = renderPage(data, packBlob(blob));
  const file = resolve(outFile);
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, html);
  return { file, bytes: Buffer.byteLength(html), runs: data.runs.length, frames: data.runs.reduce((s, r) => s + r.frames.length, 0) };
}

/** Default frames of a run's page: a long run's history is thinned evenly to this many (about 150 kB each). */
export const RUN_MAX_FRAMES = 40;

/** A run's report: up to RUN_MAX_FRAMES frames of its history, up to 10,000 points per split and frame. */
export function writeRunReport(runDir: string, outFile: string, opts: PageOptions = {}): WrittenPage {
  return writePage([runDir], 'run', outFile, { maxFrames: RUN_MAX_FRAMES, ...opts });
}

/** Default frames per run in a gallery page (keeps a page of many losses to a few MB). */
export const GALLERY_MAX_FRAMES = 12;

/** A gallery page: every run side by side on one slider (by fraction of the run). */
export function writeGalleryReport(runDirs: string[], outFile: string, opts: PageOptions = {}): WrittenPage {
  if (runDirs.length === 0) throw new RangeError('a gallery report needs at least one run');
  return writePage(runDirs, 'gallery', outFile, { maxFrames: GALLERY_MAX_FRAMES, ...opts });
}
