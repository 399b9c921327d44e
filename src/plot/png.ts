/** Small PNG helpers (no decoding library needed). */

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the buffer starts with the 8-byte PNG signature. */
export function isPng(buf: Uint8Array): boolean {
  return buf.length >= 8 && SIGNATURE.every((b, i) => buf[i] === b);
}

/** Width and height from the IHDR chunk; throws when the buffer is not a PNG. */
export function pngSize(buf: Uint8Array): { width: number; height: number } {
  if (!isPng(buf) || buf.length < 24) throw new Error('not a PNG (bad signature or too short)');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = String.fromCharCode(buf[12]!, buf[13]!, buf[14]!, buf[15]!);
  if (type !== 'IHDR') throw new Error(`not a PNG (first chunk is ${type}, expected IHDR)`);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}
