/** Types of the part of omggif (a GIF decoder without its own types) the tests use. */
declare module 'omggif' {
  export class GifReader {
    constructor(buf: Uint8Array);
    width: number;
    height: number;
    numFrames(): number;
    loopCount(): number | null;
    frameInfo(i: number): { x: number; y: number; width: number; height: number; delay: number; disposal: number; transparent_index: number | null };
    decodeAndBlitFrameRGBA(i: number, pixels: Uint8Array): void;
  }
}
