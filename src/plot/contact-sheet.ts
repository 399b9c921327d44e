/**
 * A contact sheet: many figures on one PNG, in a grid, each with a caption above it and an
 * optional sheet title on top.
 */
import { createCanvas, loadImage, type SKRSContext2D } from '@napi-rs/canvas';
import { writeFileAtomic } from '../util/fsx.js';
import { plotFontFamily } from './fonts.js';

export interface ContactSheetTile {
  /** Caption drawn above the tile (may be empty). */
  title: string;
  /** The tile's PNG (or JPEG) bytes. */
  png: Uint8Array;
}

export interface ContactSheetOptions {
  /** Tiles per row; default ceil(sqrt(n)). */
  columns?: number;
  /** Width each tile is scaled to, in pixels; default 480. Heights keep each tile's aspect. */
  tileWidth?: number;
  /** Title across the top of the sheet. */
  title?: string;
  /** Space between tiles and around the sheet, in pixels; default 12. */
  gap?: number;
}

/**
 * Columns and tile width of a sheet of `n` figures `figureWidth` pixels wide, sized for reading:
 * up to 5 columns, about 1,600 pixels across, tiles never wider than the figures (no blur) nor
 * narrower than 320 pixels, so a sheet of two shows two figures at their own size with captions
 * of 20 pixels, not two thumbnails.
 */
export function readableLayout(n: number, figureWidth: number): { columns: number; tileWidth: number } {
  const columns = Math.max(1, Math.min(5, n));
  const tileWidth = Math.max(320, Math.min(Math.round(figureWidth), Math.floor(1600 / columns) - 12));
  return { columns, tileWidth };
}

/** Shorten `text` with an ellipsis until it fits in `maxWidth` pixels. */
function fitText(ctx: SKRSContext2D, text: string, maxWidth: number): string {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.measureText(text.slice(0, mid) + '…').width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + '…';
}

/** One PNG with all tiles in a grid (row-major order). Throws when there is no tile. */
export async function renderContactSheet(
  tiles: readonly ContactSheetTile[],
  opts: ContactSheetOptions = {},
): Promise<Buffer> {
  if (tiles.length === 0) throw new RangeError('contact sheet: no tiles to draw');
  const columns = Math.max(1, Math.min(tiles.length, Math.floor(opts.columns ?? Math.ceil(Math.sqrt(tiles.length)))));
  const tileWidth = Math.max(32, Math.round(opts.tileWidth ?? 480));
  const gap = Math.max(0, Math.round(opts.gap ?? 12));
  const family = plotFontFamily();
  const captionSize = Math.max(14, Math.round(tileWidth / 32));
  const titleSize = Math.round(captionSize * 1.4);
  const anyCaption = tiles.some((t) => t.title.length > 0);
  const captionH = anyCaption ? Math.round(captionSize * 1.6) : 0;
  const titleH = opts.title ? Math.round(titleSize * 2) : 0;

  const images = await Promise.all(tiles.map((t) => loadImage(Buffer.from(t.png.buffer, t.png.byteOffset, t.png.byteLength))));
  const heights = images.map((img) => Math.max(1, Math.round((tileWidth * img.height) / Math.max(1, img.width))));
  const rows = Math.ceil(tiles.length / columns);
  const rowH: number[] = [];
  for (let r = 0; r < rows; r++) rowH.push(Math.max(...heights.slice(r * columns, (r + 1) * columns)));

  const width = gap + columns * (tileWidth + gap);
  const height = gap + titleH + rowH.reduce((s, h) => s + h + captionH + gap, 0);
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#000000';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';

  if (opts.title) {
    ctx.font = `bold ${titleSize}px ${family}`;
    ctx.fillText(fitText(ctx, opts.title, width - 2 * gap), width / 2, gap + titleH / 2);
  }
  ctx.font = `${captionSize}px ${family}`;
  let y = gap + titleH;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (i >= tiles.length) break;
      const x = gap + c * (tileWidth + gap);
      if (tiles[i]!.title) ctx.fillText(fitText(ctx, tiles[i]!.title, tileWidth), x + tileWidth / 2, y + captionH / 2);
      ctx.drawImage(images[i]!, x, y + captionH, tileWidth, heights[i]!);
    }
    y += rowH[r]! + captionH + gap;
  }
  return canvas.encode('png');
}

/** Render a contact sheet and write it atomically. */
export async function writeContactSheetPng(
  file: string,
  tiles: readonly ContactSheetTile[],
  opts: ContactSheetOptions = {},
): Promise<void> {
  await writeFileAtomic(file, await renderContactSheet(tiles, opts));
}
