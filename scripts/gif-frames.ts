/**
 * Writes the frames of a GIF as PNGs, to look at an animation frame by frame:
 *   node --import tsx scripts/gif-frames.ts <file.gif> <out-dir> [frame numbers, e.g. 0,5,-1]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import { writeFileAtomic } from '../src/util/fsx.js';
import { decodeGif } from '../test/helpers/gif.js';

const [file, out, which] = process.argv.slice(2);
if (!file || !out) {
  process.stderr.write('usage: node --import tsx scripts/gif-frames.ts <file.gif> <out-dir> [frame numbers, e.g. 0,5,-1]\n');
  process.exit(2);
}
const gif = decodeGif(readFileSync(file));
const n = gif.frames.length;
const pick = which ? which.split(',').map((s) => (Number(s) + n) % n) : gif.frames.map((_, i) => i);
mkdirSync(out, { recursive: true });
for (const i of pick) {
  const canvas = createCanvas(gif.width, gif.height);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(gif.width, gif.height);
  img.data.set(gif.frames[i]!.rgba);
  ctx.putImageData(img, 0, 0);
  const f = join(out, `frame-${String(i).padStart(3, '0')}.png`);
  writeFileAtomic(f, await canvas.encode('png'));
  process.stdout.write(`${f} (${gif.frames[i]!.delayMs} ms)\n`);
}
process.stdout.write(`${n} frames, ${gif.width}x${gif.height}, loop ${gif.loop}\n`);
