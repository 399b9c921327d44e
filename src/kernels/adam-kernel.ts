/**
 * Adam with L2 weight decay as one kernel per variable ('FaceLossesAdam'), for the CPU backends
 * (wasm: in place on the wasm heap; cpu: on its typed arrays). The composed version in
 * optimizer.ts issues 13 small kernels per variable (~170 per step for the reference network and a
 * softmax head); this is one pass over p, g, m, v producing p', m', v'.
 *
 * Every operation is rounded to float32 in the order of the composed version (Math.fround after
 * each +, *, /, sqrt; each is correctly rounded in float64 first, which for these operations gives
 * the correctly rounded float32 result), so the result is bit-for-bit the composed one:
 *   g ← g + wd·p;  m' = β1 m + (1−β1) g;  v' = β2 v + (1−β2) g²;
 *   p' = p − (m' / (sqrt(v')/sqrt(bc2) + ε)) · stepSize
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

export const ADAM_KERNEL = 'FaceLossesAdam';

export interface AdamKernelAttrs {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  sqrtBc2: number;
  stepSize: number;
}

/** The update on typed arrays (outputs may not alias inputs). */
export function adamUpdate(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  p1: Float32Array,
  m1: Float32Array,
  v1: Float32Array,
  a: AdamKernelAttrs,
): void {
  const f = Math.fround;
  // The scalars as the composed version's float32 scalar tensors hold them.
  const wd = f(a.weightDecay);
  const b1 = f(a.beta1);
  const b2 = f(a.beta2);
  const omb1 = f(1 - a.beta1);
  const omb2 = f(1 - a.beta2);
  const sb = f(a.sqrtBc2);
  const eps = f(a.eps);
  const ss = f(a.stepSize);
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const pi = p[i]!;
    const gi = wd !== 0 ? f(g[i]! + f(pi * wd)) : g[i]!;
    const mi = f(f(m[i]! * b1) + f(gi * omb1));
    const vi = f(f(v[i]! * b2) + f(f(gi * gi) * omb2));
    const denom = f(f(f(Math.sqrt(vi)) / sb) + eps);
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = f(pi - f(f(mi / denom) * ss));
  }
}

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

interface CpuBackendLike {
  data: { get(id: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): TensorInfo;
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap };

function wasmAdam(args: Args): TensorInfo[] {
  const b = args.backend as HeapBackend;
  const { p, g, m, v } = args.inputs as Record<'p' | 'g' | 'm' | 'v', TensorInfo>;
  const outs = [b.makeOutput(p.shape.slice(), 'float32'), b.makeOutput(p.shape.slice(), 'float32'), b.makeOutput(p.shape.slice(), 'float32')];
  // Views after every allocation (the heap may have grown).
  const view = (t: TensorInfo) => b.typedArrayFromHeap(t);
  adamUpdate(view(p), view(g), view(m), view(v), view(outs[0]!), view(outs[1]!), view(outs[2]!), args.attrs as unknown as AdamKernelAttrs);
  return outs;
}

function cpuAdam(args: Args): TensorInfo[] {
  const b = args.backend as CpuBackendLike;
  const { p, g, m, v } = args.inputs as Record<'p' | 'g' | 'm' | 'v', TensorInfo>;
  const val = (t: TensorInfo) => b.data.get(t.dataId).values as Float32Array;
  const n = tf.util.sizeFromShape(p.shape);
  const o = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const;
  adamUpdate(val(p), val(g), val(m), val(v), o[0], o[1], o[2], args.attrs as unknown as AdamKernelAttrs);
  return o.map((a) => b.makeTensorInfo(p.shape.slice(), 'float32', a));
}

let registered = false;

/** Registers the kernel for 'wasm' and 'cpu' (idempotent). */
export function registerAdamKernel(): void {
  if (registered) return;
  registered = true;
  for (const [backendName, kernelFunc] of [
    ['wasm', wasmAdam],
    ['cpu', cpuAdam],
  ] as const) {
    if (!tf.getKernel(ADAM_KERNEL, backendName)) tf.registerKernel({ kernelName: ADAM_KERNEL, backendName, kernelFunc: kernelFunc as unknown as KernelFunc });
  }
}

/** Whether the fused update runs on the current backend (float32 variables). */
export function adamKernelAvailable(): boolean {
  return tf.getKernel(ADAM_KERNEL, tf.getBackend()) !== undefined;
}
