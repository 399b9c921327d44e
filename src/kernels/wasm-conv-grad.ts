/**
 * Convolution kernels for the tfjs wasm backend: what training the reference network needs.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel (so it cannot train a conv net) and
 * its `Conv2DBackpropInput` is a plain C++ loop, about 10x slower than the forward convolution.
 * `registerWasmGradKernels` registers / replaces, for the 'wasm' backend:
 *
 * - `Conv2D`, `FusedConv2D` (bias, linear/ReLU) and `Conv2DBackpropInput`, stride 1, NHWC: the
 *   hand-written SIMD convolution of simd-conv.ts (the input gradient is the convolution of dy,
 *   padded by (KH-1-pt, KH-1-pb, KW-1-pl, KW-1-pr), with the filter flipped in space and its
 *   in/out channels swapped);
 * - `Conv2DBackpropFilter`, stride 1, NHWC: the hand-written SIMD kernel of simd-kernels.ts, which
 *   reads x and dy in place:  dW[kh,kw,ci,co] = sum_{n,h,w} x[n, h+kh-pt, w+kw-pl, ci] * dy[n,h,w,co].
 *
 * Both run at ~2x XNNPACK's single-thread speed (FMA, no weight re-packing); output channels that
 * are not a multiple of 4 are computed with zero-padded channel groups. `configureWasmGradKernels
 * ({ simd: false })` (and anything the SIMD kernels do not handle) uses the XNNPACK routes:
 *
 * - filter gradient = Conv2D(input = x^T [ci, H, W, n], filter = dy^T [Ho, Wo, n, co], same pads),
 *   whose output [ci, KH, KW, co] is rearranged to [KH, KW, ci, co];
 * - input gradient = Conv2D(dy, flipped filter) as above; forward = the stock XNNPACK Conv2D.
 *
 * A strided filter gradient is the same convolution with the dy "filter" dilated by the stride
 * (the output is then cropped to KH x KW). The input gradient handles stride 1 only and falls back
 * to the stock wasm kernel (correct, slow) for strides > 1 or NCHW. The filter gradient throws an
 * Error naming the kernel and the attribute for NCHW or non-float32 inputs (the stock backend has
 * no filter gradient to fall back to).
 *
 * The kernels call other wasm kernel functions directly (no engine, no tape): every intermediate
 * is a backend TensorInfo made by `backend.makeOutput` and released with `backend.disposeData`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo, NamedAttrMap } from '@tensorflow/tfjs-core';
import { type SimdKernels, heapAddress, heapMemoryOf, simdKernelsOf } from './simd-kernels.js';
import { convKernel, dotConvKernel, dotEligible, dotFilterGradKernel, padInto, transposeFilterForDot } from './simd-conv.js';
import {
  winogradEligible,
  winogradFilter,
  WINOGRAD_DW_PLANE_PAD,
  winogradFilterGradEligible,
  winogradFilterGradFinish,
  winogradFilterGradKernel,
  winogradKernel,
  winogradPadding,
} from './simd-winograd.js';
import { countPath } from './fast-path.js';

const BACKEND = 'wasm';

/** The parts of tfjs-backend-wasm's BackendWasm that these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

let useSimd = true;
let useWinograd = true;
// Output tile of the Winograd forward and input-gradient kernels. 'auto': F(4x4, 3x3) (36 products
// per 16 outputs) where its tiles cover the output with no more padding than F(2x2, 3x3)'s (28x28,
// 7x7), else F(2x2) (14x14: 4x4 tiles would compute 16x16); measured per layer in
// docs/notes/2026-12-06-speed.md. 2 or 4 force one.
let winogradTile: 'auto' | 2 | 4 = 'auto';

/** The Winograd output tile for an OH x OW output. */
export function winogradTileFor(oh: number, ow: number, setting: 'auto' | 2 | 4 = winogradTile): 2 | 4 {
  if (setting !== 'auto') return setting;
  const cover = (o: number, t: number) => Math.ceil(o / t) * t;
  return cover(oh, 4) === cover(oh, 2) && cover(ow, 4) === cover(ow, 2) ? 4 : 2;
}
// Output tile of the Winograd filter gradient: 'auto' (measured per layer,
// docs/notes/2026-12-06-speed.md), or 2 / 4 to force one.
let winogradFilterTile: 'auto' | 2 | 4 = 'auto';

/** The Winograd filter-gradient output tile for an OH x OW output. */
export function winogradFilterTileFor(oh: number, ow: number, setting: 'auto' | 2 | 4 = winogradFilterTile): 2 | 4 {
  if (setting !== 'auto') return setting;
  return winogradTileFor(oh, ow, 'auto');
}
// On by default: each image's sum over its tiles is accumulated apart and added to dU once, which
// makes it more accurate than the direct kernel against a float64 reference (test/kernels.test.ts;
// docs/notes/2026-12-06-speed.md). configureWasmGradKernels({ winogradFilter: false }) turns it off.
let useWinogradFilter = true;

/**
 * Options of the convolution kernels. `simd: false` uses the XNNPACK routes described above
 * instead of the hand-written SIMD kernels (for comparisons and as a fallback).
 */
export function configureWasmGradKernels(opts: {
  simd?: boolean;
  winograd?: boolean;
  winogradFilter?: boolean;
  winogradTile?: 'auto' | 2 | 4;
  winogradFilterTile?: 'auto' | 2 | 4;
}): void {
  if (opts.winogradFilterTile !== undefined) winogradFilterTile = opts.winogradFilterTile;
  if (opts.simd !== undefined) useSimd = opts.simd;
  if (opts.winogradTile !== undefined) winogradTile = opts.winogradTile;
  if (opts.winograd !== undefined) useWinograd = opts.winograd;
  if (opts.winogradFilter !== undefined) useWinogradFilter = opts.winogradFilter;
}

/** Allocates a float32 tensor on the heap that `withTemps` disposes. */
type Temp = (shape: number[]) => TensorInfo;

/**
 * Runs `body` with `temp`, which allocates float32 tensors on the heap (intermediates of one
 * kernel call): all of them are disposed when body returns or throws.
 */
function withTemps<T>(backend: WasmBackendLike, body: (temp: Temp) => T): T {
  const temps: TensorInfo[] = [];
  try {
    return body((shape) => {
      const t = backend.makeOutput(shape, 'float32');
      temps.push(t);
      return t;
    });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** The padding of a Winograd kernel's input: `pads` plus the rows and columns that complete the last tiles. */
function winogradPads(pads: Pads, tiles: { extraBottom: number; extraRight: number }): Pads {
  return { ...pads, bottom: pads.bottom + tiles.extraBottom, right: pads.right + tiles.extraRight };
}

/**
 * An NHWC tensor zero-padded by `pd` (all >= 0) for a SIMD kernel, a few images at a time: `at(addr,
 * n0, count)` pads images n0 .. n0+count-1 into a scratch of `chunk` images and returns its byte
 * address (or, when nothing is padded, the address of image n0 of t itself). Padding the whole batch
 * at once wrote and re-read a copy as large as the tensor (6 MB for the 28x28 layers at batch 128)
 * through main memory, 16 times a step; a scratch of a few images stays in the cache. Call `at`
 * after every allocation (the heap may grow).
 */
function padded(temp: Temp, memory: WebAssembly.Memory, t: TensorInfo, pd: Pads, chunk: number): { at: (addr: (t: TensorInfo) => number, n0: number, count: number) => number } {
  const [, h, w, c] = t.shape as [number, number, number, number];
  const hp = h + pd.top + pd.bottom;
  const wp = w + pd.left + pd.right;
  if (pd.top + pd.bottom + pd.left + pd.right === 0) return { at: (addr, n0) => addr(t) + n0 * h * w * c * 4 };
  const tp = temp([chunk, hp, wp, c]);
  return {
    at: (addr, n0, count) => {
      padInto(memory, addr(t) + n0 * h * w * c * 4, addr(tp), { n: count, h, w, c, ...pd });
      return addr(tp);
    },
  };
}

/** Images per padded chunk: about 128 KiB of padded input (at least one image, at most the batch). */
export function padChunk(images: number, imageFloats: number): number {
  return Math.max(1, Math.min(images, Math.floor((128 * 1024) / (imageFloats * 4))));
}

/**
 * Filter gradient of a 3x3 stride-1 convolution by Winograd F(2x2, 3x3) or F(4x4, 3x3)
 * (simd-winograd.ts; the tile from `winogradFilterTileFor`), or undefined when it does not apply.
 * The kernel is called on `chunk` images at a time: each product sums those images' tiles from zero
 * and adds the sum to dU, so a layer with few tiles per image (7x7) still runs long product loops.
 */
function winogradFilterGrad(backend: WasmBackendLike, memory: WebAssembly.Memory, x: TensorInfo, dy: TensorInfo, pads: Pads, ho: number, wo: number): TensorInfo | undefined {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const co = dy.shape[3]!;
  if (!winogradFilterGradEligible(3, 3, ci, co) || pads.top < 0 || pads.left < 0 || pads.bottom < 0 || pads.right < 0) return undefined;
  const m = winogradFilterTileFor(ho, wo);
  const K = (m + 2) * (m + 2);
  const tiles = winogradPadding(ho, wo, m);
  const pd = winogradPads(pads, tiles);
  const hpp = h + pd.top + pd.bottom;
  const wpp = w + pd.left + pd.right;
  if (hpp < m * tiles.th + 2 || wpp < m * tiles.tw + 2) return undefined;
  const addr = (t: TensorInfo) => heapAddress(backend, t);
  const T = tiles.th * tiles.tw;
  const chunk = winogradFilterChunk(T, n);
  return withTemps(backend, (temp) => {
    const xp = padded(temp, memory, x, pd, chunk);
    // dy padded to [n, m*TH, m*TW, co]
    const dyp = padded(temp, memory, dy, { top: 0, left: 0, bottom: tiles.extraBottom, right: tiles.extraRight }, chunk);
    const du = temp([K, ci, co]);
    const vbuf = temp([K, chunk * T * ci + WINOGRAD_DW_PLANE_PAD]);
    const mbuf = temp([K, chunk * T * co + WINOGRAD_DW_PLANE_PAD]);
    const dw = backend.makeOutput([3, 3, ci, co], 'float32');
    const heap = new Float32Array(memory.buffer); // after every allocation
    heap.fill(0, addr(du) / 4, addr(du) / 4 + K * ci * co);
    const kernel = winogradFilterGradKernel(memory, ci, co, m);
    for (let n0 = 0; n0 < n; n0 += chunk) {
      const count = Math.min(chunk, n - n0);
      kernel(xp.at(addr, n0, count), dyp.at(addr, n0, count), addr(du), addr(vbuf), addr(mbuf), count, hpp, wpp, tiles.th, tiles.tw);
    }
    winogradFilterGradFinish(memory, addr(du), addr(dw), ci, co, m);
    countPath('backpropFilter.winograd');
    if (m === 4) countPath('backpropFilter.winograd.f4');
    return dw;
  });
}

/**
 * Images per call of the Winograd filter-gradient kernel: enough that each product loop runs over
 * at least 64 tiles (one image of a 28x28 or 14x14 layer; 4 images of a 7x7 layer with F(2x2), 16
 * with F(4x4)).
 */
export function winogradFilterChunk(tilesPerImage: number, images: number): number {
  return Math.max(1, Math.min(images, Math.ceil(64 / tilesPerImage)));
}

function simdFor(backend: WasmBackendLike): SimdKernels | undefined {
  return useSimd ? simdKernelsOf(backend) : undefined;
}

/**
 * Stride-1 NHWC convolution (+ bias, + ReLU) with the SIMD kernel of simd-conv.ts, or undefined
 * when it does not apply (SIMD off, output channels not a multiple of 4, no heap found).
 */
function simdConv(
  backend: WasmBackendLike,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | null,
  relu: boolean,
  pads: Pads,
  kind: 'conv' | 'backpropInput',
): TensorInfo | undefined {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const [n, h, w] = x.shape as [number, number, number, number];
  if (!useSimd || x.dtype !== 'float32' || filter.dtype !== 'float32') return undefined;
  if (bias && (bias.dtype !== 'float32' || tf.util.sizeFromShape(bias.shape) !== co)) return undefined;
  if (pads.top < 0 || pads.bottom < 0 || pads.left < 0 || pads.right < 0) return undefined;
  const memory = heapMemoryOf(backend);
  if (!memory) return undefined;
  const hp = h + pads.top + pads.bottom;
  const wp = w + pads.left + pads.right;
  const oh = hp - kh + 1;
  const ow = wp - kw + 1;
  if (oh <= 0 || ow <= 0) return undefined;
  // Output channels are computed in groups of 4: pad the filter (and bias) with zero channels
  // when needed (the last layer, 64 -> 2) and drop the extra channels afterwards.
  // Few output channels (the last layer): dot products over the input channels, no widening.
  const dot = dotEligible(ci, co);
  const co4 = dot ? co : Math.ceil(co / 4) * 4;
  const wino = !dot && useWinograd && winogradEligible(kh, kw, ci, co4);
  const tile = winogradTileFor(oh, ow);
  const K = (tile + 2) * (tile + 2);
  const tiles = winogradPadding(oh, ow, tile);
  const pd = wino ? winogradPads(pads, tiles) : pads;
  const hpp = h + pd.top + pd.bottom;
  const wpp = w + pd.left + pd.right;
  const addr = (t: TensorInfo) => heapAddress(backend, t);
  const chunk = padChunk(n, hpp * wpp * x.shape[3]!);
  return withTemps(backend, (temp) => {
    const xp = padded(temp, memory, x, pd, chunk);
    let f = filter;
    let b = bias;
    let out4: TensorInfo | undefined;
    if (co4 !== co) {
      f = temp([kh, kw, ci, co4]);
      if (bias) b = temp([co4]);
      out4 = temp([n, oh, ow, co4]);
    }
    const wt = dot ? temp([co, kh * kw * ci]) : undefined;
    const u = wino ? temp([K, ci, co4]) : undefined;
    const vbuf = wino ? temp([K, tiles.th * tiles.tw, ci]) : undefined;
    const mbuf = wino ? temp([K, tiles.th * tiles.tw, co4]) : undefined;
    const out = backend.makeOutput([n, oh, ow, co], 'float32');
    const heap = new Float32Array(memory.buffer); // after every allocation (the heap may grow)
    if (co4 !== co) {
      widenChannels(heap, addr(filter) / 4, addr(f) / 4, kh * kw * ci, co, co4);
      if (bias && b) widenChannels(heap, addr(bias) / 4, addr(b) / 4, 1, co, co4);
    }
    const target = addr(out4 ?? out);
    countPath(`${kind}.${wino ? 'winograd' : dot ? 'dot' : 'direct'}`);
    if (wino && tile === 4) countPath(`${kind}.winograd.f4`);
    // the kernels run on `chunk` images at a time, each chunk padded into a cache-resident scratch
    const outImage = oh * ow * (out4 ? co4 : co) * 4;
    const chunks = (run: (xp: number, y: number, count: number) => void) => {
      for (let n0 = 0; n0 < n; n0 += chunk) {
        const count = Math.min(chunk, n - n0);
        run(xp.at(addr, n0, count), target + n0 * outImage, count);
      }
    };
    if (dot) {
      transposeFilterForDot(heap, addr(filter) / 4, addr(wt!) / 4, kh * kw, ci, co);
      const kernel = dotConvKernel(memory, { ci, co, kh, kw, bias: bias !== null, relu });
      chunks((xq, y, count) => kernel(xq, addr(wt!), bias ? addr(bias) : 0, y, count, hpp, wpp, oh, ow));
    } else if (wino) {
      winogradFilter(memory, addr(f), addr(u!), ci, co4, tile);
      const kernel = winogradKernel(memory, { ci, co: co4, bias: b !== null, relu, tile });
      chunks((xq, y, count) => kernel(xq, addr(u!), b ? addr(b) : 0, y, addr(vbuf!), addr(mbuf!), count, hpp, wpp, oh, ow, tiles.th, tiles.tw));
    } else {
      const kernel = convKernel(memory, { ci, co: co4, kh, kw, bias: bias !== null, relu });
      chunks((xq, y, count) => kernel(xq, addr(f), b ? addr(b) : 0, y, count, hpp, wpp, oh, ow));
    }
    if (out4) narrowChannels(heap, addr(out4) / 4, addr(out) / 4, n * oh * ow, co4, co);
    return out;
  });
}

/** rows x c (element offset src) -> rows x c4 at dst, the extra channels zero. */
function widenChannels(heap: Float32Array, src: number, dst: number, rows: number, c: number, c4: number): void {
  heap.fill(0, dst, dst + rows * c4);
  for (let r = 0; r < rows; r++) heap.copyWithin(dst + r * c4, src + r * c, src + r * c + c);
}

/** rows x c4 (element offset src) -> rows x c at dst (the first c channels). */
function narrowChannels(heap: Float32Array, src: number, dst: number, rows: number, c4: number, c: number): void {
  for (let r = 0; r < rows; r++) {
    const s = src + r * c4;
    const d = dst + r * c;
    for (let k = 0; k < c; k++) heap[d + k] = heap[s + k]!;
  }
}

const CONV2D = 'Conv2D';
const FUSED_CONV2D = 'FusedConv2D';
let stockConv2D: KernelConfig | undefined;
let stockFusedConv2D: KernelConfig | undefined;

type ConvArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap };

/** Conv2D / FusedConv2D on wasm: the SIMD kernel for stride 1, NHWC, linear/ReLU; else stock. */
function convForward(fused: boolean, args: ConvArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  const { x, filter, bias, preluActivationWeights } = args.inputs as {
    x: TensorInfo;
    filter: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  const stock = fused ? stockFusedConv2D : stockConv2D;
  const eligible =
    x.shape.length === 4 &&
    unsupported(CONV2D, { strides: attrs.strides, dataFormat: attrs.dataFormat, dilations: attrs.dilations }) === null &&
    (activation === 'linear' || activation === 'relu') &&
    preluActivationWeights == null;
  if (eligible) {
    const { pads } = padsOf(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], [1, 1], attrs.pad, attrs.dimRoundingMode);
    const out = simdConv(backend, x, filter, bias ?? null, activation === 'relu', pads, 'conv');
    if (out) return out;
  }
  countPath('conv.stock');
  return stock!.kernelFunc(args as Parameters<KernelFunc>[0]);
}

type Pads = { top: number; bottom: number; left: number; right: number };

/** Thrown (by the filter gradient) for attributes this implementation does not support. */
export class UnsupportedConvGradError extends Error {
  constructor(kernel: string, attribute: string, value: unknown, supported: string) {
    super(
      `${kernel} (wasm backend, facelosses kernel): unsupported ${attribute} ${JSON.stringify(value)}; ` +
        `supported: ${supported}`,
    );
    this.name = 'UnsupportedConvGradError';
  }
}

function pair(v: number | [number, number] | number[] | undefined, dflt = 1): [number, number] {
  if (v == null) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  return [v[0]!, v[1]!];
}

/** Why these kernels cannot handle the attributes, or null when they can. */
function unsupported(
  kernel: string,
  attrs: { strides?: unknown; dataFormat?: unknown; dilations?: unknown },
): UnsupportedConvGradError | null {
  const [sh, sw] = pair(attrs.strides as number | [number, number]);
  if (sh !== 1 || sw !== 1) return new UnsupportedConvGradError(kernel, 'strides', attrs.strides, 'stride 1');
  const fmt = attrs.dataFormat ?? 'NHWC';
  if (fmt !== 'NHWC' && fmt !== 'channelsLast') {
    return new UnsupportedConvGradError(kernel, 'dataFormat', fmt, "'NHWC'");
  }
  if (attrs.dilations != null) {
    const [dh, dw] = pair(attrs.dilations as number | [number, number]);
    if (dh !== 1 || dw !== 1) return new UnsupportedConvGradError(kernel, 'dilations', attrs.dilations, 'dilation 1');
  }
  return null;
}

function padsOf(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: [number, number],
  pad: unknown,
  dimRoundingMode: unknown,
): { pads: Pads; outShape: number[] } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad as 'same' | 'valid',
    dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  const p = info.padInfo;
  return { pads: { top: p.top, bottom: p.bottom, left: p.left, right: p.right }, outShape: info.outShape };
}

/** A tensor with data on the heap that we own (dispose) or borrow (an input, never disposed). */
type Held = { info: TensorInfo; owned: boolean };

let conv2dFunc: KernelFunc | undefined;
let transposeFunc: KernelFunc | undefined;
let stockBackpropInput: KernelConfig | undefined;
let registered = false;

function conv2d(backend: WasmBackendLike, x: TensorInfo, filter: TensorInfo, pads: Pads, dilations: [number, number] = [1, 1]): TensorInfo {
  const attrs = {
    strides: [1, 1],
    pad: [
      [0, 0],
      [pads.top, pads.bottom],
      [pads.left, pads.right],
      [0, 0],
    ],
    dataFormat: 'NHWC',
    dilations,
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap;
  return conv2dFunc!({ inputs: { x, filter }, backend: backend as unknown as tf.KernelBackend, attrs }) as TensorInfo;
}

/**
 * Transposes `t` by `perm`. When the permutation only moves size-1 axes the memory layout is
 * unchanged, so the data is borrowed under the new shape instead of copied.
 */
function transpose(backend: WasmBackendLike, t: TensorInfo, perm: number[]): Held {
  const outShape = perm.map((p) => t.shape[p]!);
  const kept = perm.filter((p) => t.shape[p] !== 1);
  if (kept.every((p, i) => i === 0 || p > kept[i - 1]!)) {
    return { info: { dataId: t.dataId, shape: outShape, dtype: t.dtype }, owned: false };
  }
  const out = transposeFunc!({
    inputs: { x: t },
    backend: backend as unknown as tf.KernelBackend,
    attrs: { perm } as unknown as NamedAttrMap,
  }) as TensorInfo;
  return { info: out, owned: true };
}

function release(backend: WasmBackendLike, h: Held): void {
  if (h.owned) backend.disposeData(h.info.dataId);
}

const BACKPROP_FILTER = 'Conv2DBackpropFilter';
const BACKPROP_INPUT = 'Conv2DBackpropInput';

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  // Strides are handled (as a dilation of the dy "filter"), so only the layout is checked here.
  const bad = unsupported(BACKPROP_FILTER, { dataFormat: attrs.dataFormat, dilations: attrs.dilations });
  if (bad) throw bad;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new UnsupportedConvGradError(BACKPROP_FILTER, 'dtype', `${x.dtype}/${dy.dtype}`, 'float32');
  }
  const filterShape = attrs.filterShape as [number, number, number, number];
  const [kh, kw, ci, co] = filterShape;
  const [sh, sw] = pair(attrs.strides as number | [number, number]);
  const n = x.shape[0]!;
  const { pads, outShape } = padsOf(x.shape as [number, number, number, number], filterShape, [sh, sw], attrs.pad, attrs.dimRoundingMode);
  const [, ho, wo] = outShape as [number, number, number, number];
  if (dy.shape[1] !== ho || dy.shape[2] !== wo || dy.shape[0] !== n || dy.shape[3] !== co) {
    throw new Error(`${BACKPROP_FILTER}: dy shape [${dy.shape}] does not match the convolution output [${outShape}]`);
  }
  const simd = sh === 1 && sw === 1 ? simdFor(backend) : undefined;
  const co4 = Math.ceil(co / 4) * 4;
  const memory = heapMemoryOf(backend);
  if (simd && memory && useWinograd && useWinogradFilter && kh === 3 && kw === 3) {
    const dw = winogradFilterGrad(backend, memory, x, dy, pads, ho, wo);
    if (dw) return dw;
  }
  if (simd && memory && dotEligible(ci, co)) {
    // Few output channels (the last layer): dot-product kernel, all of dW written.
    const dw = backend.makeOutput([kh, kw, ci, co], 'float32');
    const addr = (t: TensorInfo) => heapAddress(backend, t);
    dotFilterGradKernel(memory, co)(addr(x), addr(dy), addr(dw), n, x.shape[1]!, x.shape[2]!, ci, ho, wo, kh, kw, pads.top, pads.left);
    countPath('backpropFilter.dot');
    return dw;
  }
  if (simd && memory && simd.canFilterGrad(ci, co4)) {
    // Direct SIMD kernel on x and dy as they are (no transposes, no packing). Output channels in
    // groups of 4: for co % 4 != 0, dy is widened with zero channels and dW narrowed afterwards.
    const addr = (t: TensorInfo) => heapAddress(backend, t);
    const wide = co4 !== co;
    return withTemps(backend, (temp) => {
      const dy4 = wide ? temp([n, ho, wo, co4]) : dy;
      const dw4 = wide ? temp([kh, kw, ci, co4]) : undefined;
      const dw = backend.makeOutput([kh, kw, ci, co], 'float32');
      const heap = new Float32Array(memory.buffer);
      if (wide) widenChannels(heap, addr(dy) / 4, addr(dy4) / 4, n * ho * wo, co, co4);
      const target = dw4 ?? dw;
      heap.fill(0, addr(target) / 4, addr(target) / 4 + kh * kw * ci * co4);
      simd.filterGrad(addr(x), addr(dy4), addr(target), {
        n,
        h: x.shape[1]!,
        w: x.shape[2]!,
        ci,
        co: co4,
        ho,
        wo,
        kh,
        kw,
        pt: pads.top,
        pl: pads.left,
      });
      if (dw4) narrowChannels(heap, addr(dw4) / 4, addr(dw) / 4, kh * kw * ci, co4, co);
      countPath('backpropFilter.simd');
      return dw;
    });
  }
  countPath('backpropFilter.xnnpack');
  // x [n,h,w,ci] -> [ci,h,w,n]: the batch becomes the contracted channel axis.
  const xT = transpose(backend, x, [3, 1, 2, 0]);
  // dy [n,ho,wo,co] -> [ho,wo,n,co]: a filter of size ho x wo from n to co channels, dilated by
  // the forward stride.
  let dyT: Held | undefined;
  let o: TensorInfo;
  try {
    dyT = transpose(backend, dy, [1, 2, 0, 3]);
    o = conv2d(backend, xT.info, dyT.info, pads, [sh, sw]); // [ci, >=kh, >=kw, co]
  } finally {
    release(backend, xT);
    if (dyT) release(backend, dyT);
  }
  const [, hc, wc] = o.shape as [number, number, number, number];
  if (hc < kh || wc < kw) {
    backend.disposeData(o.dataId);
    throw new UnsupportedConvGradError(BACKPROP_FILTER, 'dimRoundingMode', attrs.dimRoundingMode, 'none/floor');
  }
  // [ci, hc, wc, co] -> [kh, kw, ci, co] (cropping hc, wc to kh, kw when strided): small, in JS.
  const dw = backend.makeOutput([kh, kw, ci, co], 'float32');
  try {
    const src = backend.typedArrayFromHeap(o) as Float32Array;
    const dst = backend.typedArrayFromHeap(dw) as Float32Array;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        for (let i = 0; i < ci; i++) {
          const s0 = ((i * hc + a) * wc + b) * co;
          const d0 = ((a * kw + b) * ci + i) * co;
          for (let c = 0; c < co; c++) dst[d0 + c] = src[s0 + c]!;
        }
      }
    }
  } finally {
    backend.disposeData(o.dataId);
  }
  return dw;
}

function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const bad =
    unsupported(BACKPROP_INPUT, attrs) ??
    (dy.dtype !== 'float32' || filter.dtype !== 'float32'
      ? new UnsupportedConvGradError(BACKPROP_INPUT, 'dtype', `${dy.dtype}/${filter.dtype}`, 'float32')
      : null);
  if (bad) {
    // Strided / NCHW: the stock kernel is correct, just slow.
    countPath('backpropInput.stock');
    if (stockBackpropInput) return stockBackpropInput.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo;
    throw bad;
  }
  const inputShape = attrs.inputShape as [number, number, number, number];
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const { pads, outShape } = padsOf(inputShape, [kh, kw, ci, co], [1, 1], attrs.pad, attrs.dimRoundingMode);
  if (dy.shape.some((d, i) => d !== outShape[i])) {
    throw new Error(`${BACKPROP_INPUT}: dy shape [${dy.shape}] does not match the convolution output [${outShape}]`);
  }
  // W'[a,b,o,i] = W[kh-1-a, kw-1-b, i, o]: small (at most a few 10k values), done in JS.
  const flipped = backend.makeOutput([kh, kw, co, ci], 'float32');
  try {
    const src = backend.typedArrayFromHeap(filter) as Float32Array;
    const dst = backend.typedArrayFromHeap(flipped) as Float32Array;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const s0 = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
        const d0 = (a * kw + b) * co * ci;
        for (let i = 0; i < ci; i++) {
          const si = s0 + i * co;
          for (let o = 0; o < co; o++) dst[d0 + o * ci + i] = src[si + o]!;
        }
      }
    }
    const dxPads = {
      top: kh - 1 - pads.top,
      bottom: kh - 1 - pads.bottom,
      left: kw - 1 - pads.left,
      right: kw - 1 - pads.right,
    };
    const fast = simdConv(backend, dy, flipped, null, false, dxPads, 'backpropInput');
    if (fast) return fast;
    countPath('backpropInput.xnnpack');
    return conv2d(backend, dy, flipped, dxPads);
  } finally {
    backend.disposeData(flipped.dataId);
  }
}

/**
 * Registers `Conv2DBackpropFilter` and replaces `Conv2DBackpropInput` for the 'wasm' backend.
 * Idempotent. Call after importing '@tensorflow/tfjs-backend-wasm' (it registers the stock
 * kernels this module builds on).
 */
export function registerWasmGradKernels(): void {
  if (registered) return;
  const conv = tf.getKernel('Conv2D', BACKEND);
  const tr = tf.getKernel('Transpose', BACKEND);
  if (!conv || !tr) {
    throw new Error(
      "registerWasmGradKernels: the wasm backend's Conv2D/Transpose kernels are not registered; " +
        "import '@tensorflow/tfjs-backend-wasm' first",
    );
  }
  conv2dFunc = conv.kernelFunc;
  transposeFunc = tr.kernelFunc;
  const stock = tf.getKernel(BACKPROP_INPUT, BACKEND);
  if (stock) {
    stockBackpropInput = stock;
    tf.unregisterKernel(BACKPROP_INPUT, BACKEND);
  }
  if (tf.getKernel(BACKPROP_FILTER, BACKEND)) tf.unregisterKernel(BACKPROP_FILTER, BACKEND);
  tf.registerKernel({
    kernelName: BACKPROP_INPUT,
    backendName: BACKEND,
    // The stock kernel's setup binds its C++ function; keep it so the fallback works.
    setupFunc: stock?.setupFunc,
    kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
  });
  tf.registerKernel({
    kernelName: BACKPROP_FILTER,
    backendName: BACKEND,
    kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
  });
  // The forward convolution: SIMD kernel where it applies, the stock (XNNPACK) one otherwise.
  stockConv2D = conv;
  tf.unregisterKernel(CONV2D, BACKEND);
  tf.registerKernel({
    kernelName: CONV2D,
    backendName: BACKEND,
    setupFunc: conv.setupFunc,
    kernelFunc: ((a: ConvArgs) => convForward(false, a)) as unknown as KernelFunc,
  });
  const fusedStock = tf.getKernel(FUSED_CONV2D, BACKEND);
  if (fusedStock) {
    stockFusedConv2D = fusedStock;
    tf.unregisterKernel(FUSED_CONV2D, BACKEND);
    tf.registerKernel({
      kernelName: FUSED_CONV2D,
      backendName: BACKEND,
      setupFunc: fusedStock.setupFunc,
      kernelFunc: ((a: ConvArgs) => convForward(true, a)) as unknown as KernelFunc,
    });
  }
  registered = true;
}
