/**
 * Reader for the IDX format of MNIST (http://yann.lecun.com/exdb/mnist/ describes it): a magic
 * number (two zero bytes, a type code, the number of dimensions), the dimensions as big-endian
 * uint32, then the data. Only unsigned bytes (type 0x08) are supported, which is what MNIST-like
 * datasets use. Gzipped files are recognised by their own magic bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../util/errors.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** Parses IDX bytes (raw or gzipped). `source` names the file in error messages. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new UserError(`${source}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (buf.length < 4) throw new UserError(`${source}: file too short to be IDX (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new UserError(`${source}: not an IDX file (magic number must start with two zero bytes, got 0x${hex(buf[0]!)} 0x${hex(buf[1]!)})`);
  }
  const type = buf[2]!;
  const ndims = buf[3]!;
  if (type !== 0x08) {
    throw new UserError(`${source}: IDX data type ${TYPE_NAMES[type] ?? '0x' + hex(type)} is not supported (only uint8, type 0x08)`);
  }
  if (ndims < 1 || ndims > 4) throw new UserError(`${source}: IDX with ${ndims} dimensions is not supported (1 to 4)`);
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) throw new UserError(`${source}: truncated IDX header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buf.length - headerLen;
  if (actual < expected) {
    throw new UserError(`${source}: truncated IDX file: header says ${dims.join('x')} = ${expected} bytes of data, found ${actual}`);
  }
  if (actual > expected) {
    throw new UserError(`${source}: IDX file has ${actual - expected} bytes after the ${dims.join('x')} data it declares`);
  }
  return { dims, data: buf.subarray(headerLen, headerLen + expected) };
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export function readIdxFile(file: string): IdxArray {
  if (!existsSync(file)) throw new UserError(`IDX file not found: ${file}`);
  return parseIdx(readFileSync(file), file);
}

/** Encodes a uint8 array as IDX (used by tests and tools that write IDX datasets). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
