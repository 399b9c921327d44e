/**
 * Font discovery for @napi-rs/canvas. The canvas sees the fonts Skia finds on the system; no
 * font is guaranteed. We prefer a common sans-serif family, register fonts from the usual system
 * folders when none is visible, and otherwise fall back to the generic 'sans-serif' (Skia then
 * picks whatever it has, which on a machine with no fonts at all draws no text, but never fails).
 */
import { existsSync } from 'node:fs';
import { GlobalFonts } from '@napi-rs/canvas';

const PREFERRED = [
  'DejaVu Sans',
  'Liberation Sans',
  'Noto Sans',
  'Arial',
  'Helvetica',
  'Helvetica Neue',
  'Segoe UI',
  'Roboto',
  'Open Sans',
  'Ubuntu',
  'Cantarell',
  'FreeSans',
  'Bitstream Vera Sans',
];

const FONT_DIRS = [
  '/usr/share/fonts',
  '/usr/local/share/fonts',
  '/usr/X11R6/lib/X11/fonts',
  '/System/Library/Fonts',
  '/Library/Fonts',
  'C:\\Windows\\Fonts',
];

let cached: string | undefined;

function familyNames(): string[] {
  try {
    return GlobalFonts.families.map((f) => f.family);
  } catch {
    return [];
  }
}

function pick(names: string[]): string | undefined {
  const lower = new Map(names.map((n) => [n.toLowerCase(), n] as const));
  for (const want of PREFERRED) {
    const hit = lower.get(want.toLowerCase());
    if (hit) return hit;
  }
  // Any family whose name says sans (but not mono), then anything at all.
  return (
    names.find((n) => /sans/i.test(n) && !/mono/i.test(n)) ?? names.find((n) => !/math|emoji|symbol/i.test(n))
  );
}

/**
 * The CSS font-family list to use for every text drawn by the plot module, e.g.
 * `"DejaVu Sans", sans-serif`. Computed once per process.
 */
export function plotFontFamily(): string {
  if (cached !== undefined) return cached;
  let family = pick(familyNames());
  if (!family) {
    for (const dir of FONT_DIRS) {
      if (!existsSync(dir)) continue;
      try {
        GlobalFonts.loadFontsFromDir(dir);
      } catch {
        // unreadable folder: try the next one
      }
    }
    family = pick(familyNames());
  }
  cached = family ? `"${family}", sans-serif` : 'sans-serif';
  return cached;
}
