/**
 * A stride-1 NHWC convolution (optionally + bias, + ReLU) as a hand-written wasm SIMD kernel on the
 * tfjs wasm heap, specialised (and compiled lazily, once) per channel counts and filter size so
 * that every stride is an immediate. Used for the forward convolution and, with a flipped filter,
 * for the input gradient.
 *
 * The input is read from a copy padded on all sides (`padInto`), so the inner loop has no bounds
 * checks. Register blocking: P output pixels of a row x 4*coV output channels (P*coV f32x4
 * accumulators); the inner loop walks the filter's (kw, ci) rows, which are contiguous both in the
 * padded input row and in the [KH, KW, CI, CO] filter.
 */
import { Fn, I32, SIMD, V128, assemble, mem } from './wasm_asm.js';
import { fmaAvailable } from './simd_kernels.js';

export interface ConvSpec {
  ci: number;
  co: number;
  kh: number;
  kw: number;
  bias: boolean;
  relu: boolean;
}

/** Output pixels per block and f32x4 vectors of output channels per block, by channel count. */
function blocking(co: number): { p: number; coV: number } {
  const env = process.env.FACELOSSES_CONV_BLOCK;
  if (env) {
    const [p, v] = env.split('x').map(Number) as [number, number];
    if (co % (4 * v) === 0) return { p, coV: v };
  }
  // Measured on the reference network's shapes (2 x 4 vectors: ~35 GF/s; 3 x 4 spills registers).
  if (co % 16 === 0) return { p: 2, coV: 4 };
  if (co % 8 === 0) return { p: 4, coV: 2 };
  return { p: 4, coV: 1 };
}

/** (xpad, w, b, out, N, Hp, Wp, OH, OW): byte addresses on the heap and sizes. */
function convFn(spec: ConvSpec, fma: boolean): Fn {
  const { ci, co, kh: KH, kw: KW } = spec;
  const { p: P, coV } = blocking(co);
  const ci4 = ci * 4;
  const co4 = co * 4;
  const f = new Fn('conv', 9);
  const [XP, WT, B, OUT, N, HP, WP, OH, OW] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [n, oh, ow, cob, k, t, xp, wp, xbase, outrow, rowstep, xp0, optr] = Array.from({ length: 13 }, () => f.local(I32));
  const acc: number[][] = Array.from({ length: P }, () => Array.from({ length: coV }, () => f.local(V128)));
  const wv = Array.from({ length: coV }, () => f.local(V128));
  const s = f.local(V128);
  const zero = f.local(V128);
  const c = (v: number) => () => f.i32(v);
  const g = (v: number) => () => f.get(v);

  const block = (pb: number) => {
    f.forRange(
      cob,
      c(0),
      c(co4),
      () => {
        for (let j = 0; j < coV; j++) {
          if (spec.bias) f.get(B).get(cob).add().simd(SIMD.load, mem(j * 16));
          else f.get(zero);
          f.set(acc[0]![j]!);
          for (let q = 1; q < pb; q++) f.get(acc[0]![j]!).set(acc[q]![j]!);
        }
        f.get(xbase).get(ow).i32(ci4).mul().add().set(xp0);
        f.get(WT).get(cob).add().set(wp);
        f.forRange(k, c(0), c(KH), () => {
          f.get(xp0).get(k).get(rowstep).mul().add().set(xp);
          f.i32(KW * ci).set(t);
          f.op(0x03, 0x40);
          for (let j = 0; j < coV; j++) f.get(wp).simd(SIMD.load, mem(j * 16)).set(wv[j]!);
          for (let q = 0; q < pb; q++) {
            f.get(xp).simd(SIMD.load32_splat, mem(q * ci4)).set(s);
            for (let j = 0; j < coV; j++) {
              const a = acc[q]![j]!;
              if (fma) f.get(s).get(wv[j]!).get(a).simd(SIMD.f32x4_relaxed_madd).set(a);
              else f.get(a).get(s).get(wv[j]!).simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(a);
            }
          }
          f.get(xp).i32(4).add().set(xp);
          f.get(wp).i32(co4).add().set(wp);
          f.get(t).i32(1).sub().tee(t).brIf(0);
          f.op(0x0b);
        });
        f.get(outrow).get(ow).i32(co4).mul().add().get(cob).add().set(optr);
        for (let q = 0; q < pb; q++) {
          for (let j = 0; j < coV; j++) {
            f.get(optr).get(acc[q]![j]!);
            if (spec.relu) f.get(zero).simd(SIMD.f32x4_max);
            f.simd(SIMD.store, mem(q * co4 + j * 16));
          }
        }
      },
      16 * coV,
    );
  };

  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  f.get(WP).i32(ci4).mul().set(rowstep);
  f.forRange(n, c(0), g(N), () => {
    f.forRange(oh, c(0), g(OH), () => {
      f.get(OUT).get(n).get(OH).mul().get(oh).add().get(OW).mul().i32(co4).mul().add().set(outrow);
      f.get(XP).get(n).get(HP).mul().get(oh).add().get(WP).mul().i32(ci4).mul().add().set(xbase);
      f.i32(0).set(ow);
      // full blocks of P pixels, then single pixels
      f.blockLoop(() => {
        f.get(ow).i32(P).add().get(OW).op(0x4a).brIf(1); // ow + P > OW: done
        block(P);
        f.get(ow).i32(P).add().set(ow);
        f.br(0);
      });
      f.blockLoop(() => {
        f.get(ow).get(OW).geS().brIf(1);
        block(1);
        f.get(ow).i32(1).add().set(ow);
        f.br(0);
      });
    });
  });
  return f;
}

type ConvFn = (xpad: number, w: number, b: number, out: number, n: number, hp: number, wp: number, oh: number, ow: number) => void;

const compiled = new WeakMap<WebAssembly.Memory, Map<string, ConvFn>>();

/** The convolution kernel for `spec` on this heap (compiled on first use). Needs co % 4 == 0. */
export function convKernel(memory: WebAssembly.Memory, spec: ConvSpec): ConvFn {
  if (spec.co % 4 !== 0) throw new Error(`convKernel: output channels ${spec.co} not a multiple of 4`);
  let m = compiled.get(memory);
  if (!m) {
    m = new Map();
    compiled.set(memory, m);
  }
  const key = `${spec.ci}.${spec.co}.${spec.kh}.${spec.kw}.${spec.bias ? 1 : 0}.${spec.relu ? 1 : 0}`;
  let fn = m.get(key);
  if (!fn) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = assemble([convFn(spec, fmaAvailable())], shared);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    fn = inst.exports.conv as ConvFn;
    m.set(key, fn);
  }
  return fn;
}

/**
 * Copies an NHWC tensor at `src` into `dst` with zero padding (top, bottom, left, right), all on
 * the heap (element offsets into `heap`).
 */
export function padInto(
  heap: Float32Array,
  src: number,
  dst: number,
  d: { n: number; h: number; w: number; c: number; top: number; bottom: number; left: number; right: number },
): void {
  const hp = d.h + d.top + d.bottom;
  const wp = d.w + d.left + d.right;
  const rowIn = d.w * d.c;
  const rowOut = wp * d.c;
  heap.fill(0, dst, dst + d.n * hp * rowOut);
  for (let n = 0; n < d.n; n++) {
    for (let h = 0; h < d.h; h++) {
      const from = src + (n * d.h + h) * rowIn;
      const to = dst + ((n * hp + h + d.top) * wp + d.left) * d.c;
      heap.copyWithin(to, from, from + rowIn);
    }
  }
}
