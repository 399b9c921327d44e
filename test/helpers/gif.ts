/** Decodes a GIF into full RGBA frames (each drawn over the previous, as a viewer shows them), with omggif. */
import { GifReader } from 'omggif';

export interface DecodedGif {
  width: number;
  height: number;
  /** Loop count (0: forever), null when the GIF does not loop. */
  loop: number | null;
  frames: Array<{ rgba: Uint8Array; delayMs: number }>;
}

export function decodeGif(bytes: Uint8Array): DecodedGif {
  const r = new GifReader(bytes);
  const frames: DecodedGif['frames'] = [];
  let canvas = new Uint8Array(r.width * r.height * 4);
  for (let i = 0; i < r.numFrames(); i++) {
    const next = new Uint8Array(canvas);
    r.decodeAndBlitFrameRGBA(i, next);
    frames.push({ rgba: next, delayMs: r.frameInfo(i).delay * 10 });
    canvas = next;
  }
  return { width: r.width, height: r.height, loop: r.loopCount(), frames };
}
