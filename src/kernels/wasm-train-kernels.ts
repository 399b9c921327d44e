/**
 * Faster replacements for wasm kernels that dominate a training step after the convolutions:
 *
 * - `MaxPoolGrad`: the stock C++ kernel recomputes, for every input pixel, the argmax of every
 *   window that contains it (about 9x9 comparisons per pixel for a 3x3 window). Here each window's
 *   argmax is found once and its gradient added there: ~13x faster on the reference network.
 * - `Sum` over leading axes (the bias gradient: [N,H,W,C] summed over N,H,W): the stock kernel
 *   first transposes the input so that the reduced axes are innermost. Here rows are accumulated
 *   directly (in float64).
 *
 * - `Identity` and same-dtype `Cast`: share the data instead of copying it (below).
 *
 * The first two run on the wasm heap in place: as wasm SIMD kernels (simd-kernels.ts) when the channel count
 * is a multiple of 4, else as JavaScript loops over typed-array views. Anything else (other
 * dtypes, dilations, non-leading reductions) goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { heapAddress, simdKernelsOf } from './simd-kernels.js';
import { countPath } from './fast-path.js';

const BACKEND = 'wasm';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
  disposeData(dataId: object): boolean;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap };

const stock = new Map<string, KernelConfig>();

let useSimd = true;

/** `simd: false` uses the JavaScript loops instead of the wasm SIMD kernels (comparisons, tests). */
export function configureWasmTrainKernels(opts: { simd?: boolean }): void {
  if (opts.simd !== undefined) useSimd = opts.simd;
}

function callStock(name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  if (name === 'MaxPoolGrad' || name === 'Sum') countPath(`${name === 'Sum' ? 'sum' : 'maxPoolGrad'}.stock`);
  return stock.get(name)!.kernelFunc(args as Parameters<KernelFunc>[0]);
}

/** dx of a 2-D max pool (NHWC): each window's first maximum (row-major, strict >) gets dy. */
function maxPoolGrad(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  if (dy.dtype !== 'float32' || input.dtype !== 'float32' || input.shape.length !== 4) return callStock('MaxPoolGrad', args);
  const info = poolInfo(input.shape, attrs);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return callStock('MaxPoolGrad', args);
  const { batchSize: nb, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const out = backend.makeOutput(input.shape.slice(), 'float32');
  // Views after the allocation (it may grow the heap).
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const simd = useSimd && C % 4 === 0 ? simdKernelsOf(backend) : undefined;
  if (simd) {
    // (the SIMD kernel zeroes dx, an image at a time)
    const a = (t: TensorInfo) => heapAddress(backend, t);
    simd.maxPoolGrad(a(input), a(dy), a(out), { n: nb, h: H, w: W, c: C, oh: OH, ow: OW, sh, sw, fh, fw, pt, pl });
    countPath('maxPoolGrad.simd');
    return out;
  }
  countPath('maxPoolGrad.js');
  dx.fill(0);
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const best = new Float32Array(C);
  const at = new Int32Array(C);
  for (let n = 0; n < nb; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const rs = oh * sh - pt;
      const r0 = Math.max(0, rs);
      const r1 = Math.min(H, rs + fh);
      for (let ow = 0; ow < OW; ow++) {
        const cs = ow * sw - pl;
        const c0 = Math.max(0, cs);
        const c1 = Math.min(W, cs + fw);
        best.fill(-Infinity);
        at.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const base = ((n * H + r) * W + s) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c]!;
              if (v > best[c]!) {
                best[c] = v;
                at[c] = base + c;
              }
            }
          }
        }
        const gBase = ((n * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          const i = at[c]!;
          if (i >= 0) dx[i] = dx[i]! + g[gBase + c]!;
        }
      }
    }
  }
  return out;
}

/** Sum over the leading axes of a float32 tensor ([M, C] summed over M); else the stock kernel. */
function sum(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: TensorInfo };
  const attrs = (args.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
  const rank = x.shape.length;
  if (x.dtype !== 'float32' || rank < 2) return callStock('Sum', args);
  const axes = tf.util.parseAxisParam(attrs.axis ?? [], x.shape).sort((a, b) => a - b);
  const k = axes.length;
  if (k === 0 || k === rank || !axes.every((a, i) => a === i)) return callStock('Sum', args);
  const M = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const C = x.shape.slice(k).reduce((a, b) => a * b, 1);
  const outShape = attrs.keepDims ? [...x.shape.map((d, i) => (i < k ? 1 : d))] : x.shape.slice(k);
  const out = backend.makeOutput(outShape, 'float32');
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  const simd = useSimd && C % 4 === 0 ? simdKernelsOf(backend) : undefined;
  if (simd) {
    o.fill(0);
    simd.sumRows(heapAddress(backend, x), heapAddress(backend, out), M, C);
    countPath('sum.simd');
    return out;
  }
  countPath('sum.js');
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  const acc = new Float64Array(C);
  for (let m = 0; m < M; m++) {
    const base = m * C;
    for (let c = 0; c < C; c++) acc[c] = acc[c]! + xv[base + c]!;
  }
  o.set(acc);
  return out;
}

/**
 * Identity (tf.clone, and the engine's copies of the tensors a gradient needs) and same-dtype Cast:
 * the stock wasm kernels copy the data; tensors are immutable, so sharing it (one more reference,
 * as the cpu backend and the wasm Reshape kernel do) is enough.
 */
function identity(args: KernelArgs): TensorInfo | TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return callStock('Identity', args);
  backend.incRef(x.dataId);
  countPath('identity.shared');
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

function cast(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const dtype = (args.attrs ?? {}).dtype as tf.DataType | undefined;
  if (dtype === x.dtype && x.dtype !== 'string') return identity(args);
  return callStock('Cast', args);
}

/**
 * 'FaceLossesReluBiasGrad' (dy, y) -> [g, db]: the gradient through y = relu(conv + b) of
 * conv2dBiasAct, g = dy·(y > 0) and db = sum of g over all but the channel axis, in one pass (the
 * composed version is Step, Multiply and Sum: three passes and an intermediate). wasm only, float32,
 * channels % 4 == 0 (conv2dBiasAct checks `reluBiasGradAvailable` and composes otherwise).
 */
export const RELU_BIAS_GRAD = 'FaceLossesReluBiasGrad';

function reluBiasGrad(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
  const C = dy.shape[dy.shape.length - 1]!;
  const M = tf.util.sizeFromShape(dy.shape) / C;
  const simd = simdKernelsOf(backend);
  if (!simd || C % 4 !== 0 || dy.dtype !== 'float32' || y.dtype !== 'float32') {
    throw new Error(`${RELU_BIAS_GRAD}: needs float32 and channels % 4 == 0 on the wasm backend (got ${dy.dtype}, [${dy.shape}])`);
  }
  const g = backend.makeOutput(dy.shape.slice(), 'float32');
  const db = backend.makeOutput([C], 'float32');
  (backend.typedArrayFromHeap(db) as Float32Array).fill(0);
  const a = (t: TensorInfo) => heapAddress(backend, t);
  simd.reluGradBias(a(dy), a(y), a(g), a(db), M, C);
  countPath('reluBiasGrad.fused');
  return [g, db];
}

/**
 * 'FaceLossesPoolReluBiasGrad' (dy, y) -> [g, db], attrs as MaxPool's (filterSize, strides, pad,
 * dimRoundingMode): the gradient through maxPool(y) with y = relu(conv + b) (conv2dBiasAct with
 * `pool`), with respect to conv + b, and db = sum of g over all but the channel axis: MaxPoolGrad
 * and FaceLossesReluBiasGrad in one pass (simd-kernels.ts, `maxPoolGradFn(true)`). wasm only,
 * float32, channels % 4 == 0, no dilation (`poolReluBiasGradAvailable`).
 */
export const POOL_RELU_BIAS_GRAD = 'FaceLossesPoolReluBiasGrad';

function poolInfo(shape: number[], attrs: Record<string, unknown>): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid',
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
}

function poolReluBiasGrad(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
  const info = poolInfo(y.shape, (args.attrs ?? {}) as Record<string, unknown>);
  const C = info.inChannels;
  const simd = simdKernelsOf(backend);
  if (!simd || C % 4 !== 0 || dy.dtype !== 'float32' || y.dtype !== 'float32' || y.shape.length !== 4) {
    throw new Error(`${POOL_RELU_BIAS_GRAD}: needs float32 NHWC and channels % 4 == 0 on the wasm backend (got ${y.dtype}, [${y.shape}])`);
  }
  const g = backend.makeOutput(y.shape.slice(), 'float32');
  const db = backend.makeOutput([C], 'float32');
  const dbi = backend.makeOutput([C], 'float32');
  try {
    (backend.typedArrayFromHeap(db) as Float32Array).fill(0);
    const a = (t: TensorInfo) => heapAddress(backend, t);
    simd.poolReluBiasGrad(a(y), a(dy), a(g), a(db), a(dbi), {
      n: info.batchSize,
      h: info.inHeight,
      w: info.inWidth,
      c: C,
      oh: info.outHeight,
      ow: info.outWidth,
      sh: info.strideHeight,
      sw: info.strideWidth,
      fh: info.filterHeight,
      fw: info.filterWidth,
      pt: info.padInfo.top,
      pl: info.padInfo.left,
    });
  } finally {
    backend.disposeData(dbi.dataId);
  }
  countPath('poolReluBiasGrad.fused');
  return [g, db];
}

/** Whether conv2dBiasAct with `pool` can use the fused max-pool + ReLU + bias gradient for this output. */
export function poolReluBiasGradAvailable(y: { shape: number[]; dtype: string }): boolean {
  return y.shape.length === 4 && reluBiasGradAvailable(y) && tf.getKernel(POOL_RELU_BIAS_GRAD, BACKEND) !== undefined;
}

/** Whether conv2dBiasAct can use the fused ReLU + bias gradient for this output. */
export function reluBiasGradAvailable(y: { shape: number[]; dtype: string }): boolean {
  return useSimd && y.dtype === 'float32' && y.shape[y.shape.length - 1]! % 4 === 0 && tf.getBackend() === BACKEND && tf.getKernel(RELU_BIAS_GRAD, BACKEND) !== undefined;
}

let registered = false;

function replace(name: string, kernelFunc: (args: KernelArgs) => TensorInfo | TensorInfo[]): void {
  const old = tf.getKernel(name, BACKEND);
  if (!old) throw new Error(`registerWasmTrainKernels: the wasm backend has no ${name} kernel; import '@tensorflow/tfjs-backend-wasm' first`);
  stock.set(name, old);
  tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ kernelName: name, backendName: BACKEND, setupFunc: old.setupFunc, kernelFunc: kernelFunc as unknown as KernelFunc });
}

/** Replaces the wasm MaxPoolGrad, Sum, Identity and Cast kernels (see above). Idempotent. */
export function registerWasmTrainKernels(): void {
  if (registered) return;
  replace('MaxPoolGrad', maxPoolGrad);
  replace('Sum', sum);
  replace('Identity', identity);
  replace('Cast', cast);
  if (!tf.getKernel(RELU_BIAS_GRAD, BACKEND)) tf.registerKernel({ kernelName: RELU_BIAS_GRAD, backendName: BACKEND, kernelFunc: reluBiasGrad as unknown as KernelFunc });
  if (!tf.getKernel(POOL_RELU_BIAS_GRAD, BACKEND)) tf.registerKernel({ kernelName: POOL_RELU_BIAS_GRAD, backendName: BACKEND, kernelFunc: poolReluBiasGrad as unknown as KernelFunc });
  registered = true;
}
