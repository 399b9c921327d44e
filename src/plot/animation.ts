/**
 * Animated GIFs from RGBA frames: one palette for the whole animation (quantised from the last
 * frame, which holds every colour the figures use: the class colours, black text, the white
 * background and their anti-aliased blends), loops forever, each frame with its own delay.
 * Encoded by gifenc (pure JavaScript, no native code).
 *
 * Pure drawing: this module knows nothing of training or run folders.
 */
import gifenc from 'gifenc';

const { applyPalette, GIFEncoder, quantize } = gifenc;

export interface GifFrame {
  /** width*height*4 bytes, row-major RGBA. */
  rgba: Uint8Array | Uint8ClampedArray;
  /** How long the frame shows, in milliseconds (GIF keeps hundredths of a second). */
  delayMs: number;
}

/** Encodes the frames (all width x height) as a looping GIF. */
export function encodeGif(frames: GifFrame[], width: number, height: number): Uint8Array {
  if (frames.length === 0) throw new RangeError('encodeGif: no frames');
  for (const f of frames) {
    if (f.rgba.length !== width * height * 4) throw new RangeError(`encodeGif: a frame has ${f.rgba.length} bytes, expected ${width}x${height}x4 = ${width * height * 4}`);
  }
  const palette = quantize(frames[frames.length - 1]!.rgba, 256);
  const gif = GIFEncoder();
  frames.forEach((f, i) => {
    const index = applyPalette(f.rgba, palette);
    gif.writeFrame(index, width, height, { ...(i === 0 ? { palette, repeat: 0 } : {}), delay: Math.max(20, Math.round(f.delayMs)) });
  });
  gif.finish();
  return gif.bytes();
}

/**
 * Frame delays of an animation of `n` frames: 1000/fps each, the last held `pauseMs`. Without an
 * fps, about 5 s of motion between 3 and 12 frames a second (a quick run's 11 frames at 3 a second,
 * a long run's hundred at 12).
 */
export function frameDelays(n: number, opts: { fps?: number; pauseMs?: number } = {}): number[] {
  const fps = opts.fps ?? Math.min(12, Math.max(3, n / 5));
  const step = 1000 / fps;
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? Math.max(step, opts.pauseMs ?? 2500) : step));
}
