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

const F32_ADD = 0x92;
const F32_MAX = 0x97;

/** Pushes the sum of the 4 lanes of v128 local `v` (an f32). */
function hsum(f: Fn, v: number): void {
  f.get(v).lane(SIMD.f32x4_extract_lane, 0);
  for (let l = 1; l < 4; l++) f.get(v).lane(SIMD.f32x4_extract_lane, l).op(F32_ADD);
}

/**
 * Convolution to few output channels (co <= 4, e.g. the last layer, 64 -> 2) as dot products over
 * the input channels: the channel-vector kernel above would splat one input value per f32x4 of
 * output channels, a quarter to a half of whose lanes are padding here. Same parameters as
 * `convFn`, but the filter is transposed to [co][KH][KW*ci] (`transposeFilterForDot`) and the
 * output has exactly co channels. Needs ci % 4 == 0. P = 4 output pixels x co accumulators.
 */
function dotConvFn(spec: ConvSpec, fma: boolean): Fn {
  const { ci, co, kh: KH, kw: KW } = spec;
  const P = 4;
  const ci4 = ci * 4;
  const cstride = KH * KW * ci4; // bytes between the filters of two output channels
  const f = new Fn('conv', 9);
  const [XP, WT, B, OUT, N, HP, WP, OH, OW] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [n, oh, ow, k, t, xp, wp, xbase, outrow, rowstep] = Array.from({ length: 10 }, () => f.local(I32));
  const acc: number[][] = Array.from({ length: P }, () => Array.from({ length: co }, () => f.local(V128)));
  const wv = Array.from({ length: co }, () => f.local(V128));
  const xv = f.local(V128);
  const zero = f.local(V128);
  const c = (v: number) => () => f.i32(v);
  const g = (v: number) => () => f.get(v);
  const block = (pb: number) => {
    for (let q = 0; q < pb; q++) for (let j = 0; j < co; j++) f.get(zero).set(acc[q]![j]!);
    f.forRange(k, c(0), c(KH), () => {
      f.get(xbase).get(ow).i32(ci4).mul().add().get(k).get(rowstep).mul().add().set(xp);
      f.get(WT).get(k).i32(KW * ci4).mul().add().set(wp);
      f.i32((KW * ci) / 4).set(t);
      f.op(0x03, 0x40);
      for (let j = 0; j < co; j++) f.get(wp).simd(SIMD.load, mem(j * cstride)).set(wv[j]!);
      for (let q = 0; q < pb; q++) {
        f.get(xp).simd(SIMD.load, mem(q * ci4)).set(xv);
        for (let j = 0; j < co; j++) {
          const a = acc[q]![j]!;
          if (fma) f.get(xv).get(wv[j]!).get(a).simd(SIMD.f32x4_relaxed_madd).set(a);
          else f.get(a).get(xv).get(wv[j]!).simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(a);
        }
      }
      f.get(xp).i32(16).add().set(xp);
      f.get(wp).i32(16).add().set(wp);
      f.get(t).i32(1).sub().tee(t).brIf(0);
      f.op(0x0b);
    });
    for (let q = 0; q < pb; q++) {
      for (let j = 0; j < co; j++) {
        // out[row, ow + q, j] = sum(acc) (+ b[j]) (relu)
        f.get(outrow).get(ow).i32(q).add().i32(co * 4).mul().add();
        hsum(f, acc[q]![j]!);
        if (spec.bias) f.get(B).f32load(j * 4).op(F32_ADD);
        if (spec.relu) f.f32const(0).op(F32_MAX);
        f.f32store(j * 4);
      }
    }
  };
  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  f.get(WP).i32(ci4).mul().set(rowstep);
  f.forRange(n, c(0), g(N), () => {
    f.forRange(oh, c(0), g(OH), () => {
      f.get(OUT).get(n).get(OH).mul().get(oh).add().get(OW).mul().i32(co * 4).mul().add().set(outrow);
      f.get(XP).get(n).get(HP).mul().get(oh).add().get(WP).mul().i32(ci4).mul().add().set(xbase);
      f.i32(0).set(ow);
      f.blockLoop(() => {
        f.get(ow).i32(P).add().get(OW).op(0x4a).brIf(1);
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

/** Whether the dot-product kernels apply: few output channels, input channels in vectors. */
export function dotEligible(ci: number, co: number): boolean {
  return co <= 4 && ci % 16 === 0;
}

/** The dot-product convolution for `spec` (co <= 4, ci % 4 == 0); same call as convKernel's. */
export function dotConvKernel(memory: WebAssembly.Memory, spec: ConvSpec): ConvFn {
  let m = compiled.get(memory);
  if (!m) {
    m = new Map();
    compiled.set(memory, m);
  }
  const key = `dot.${spec.ci}.${spec.co}.${spec.kh}.${spec.kw}.${spec.bias ? 1 : 0}.${spec.relu ? 1 : 0}`;
  let fn = m.get(key);
  if (!fn) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = assemble([dotConvFn(spec, fmaAvailable())], shared);
    fn = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.conv as ConvFn;
    m.set(key, fn);
  }
  return fn;
}

/** [KH, KW, ci, co] at element offset src -> [co][KH*KW*ci] at dst. */
export function transposeFilterForDot(heap: Float32Array, src: number, dst: number, taps: number, ci: number, co: number): void {
  const per = taps * ci;
  for (let e = 0; e < per; e++) for (let j = 0; j < co; j++) heap[dst + j * per + e] = heap[src + e * co + j]!;
}

/**
 * (x, dy, out, N, H, W, ci, HO, WO, KH, KW, pt, pl): filter gradient for few output channels
 * (co <= 4, compile-time; ci % 16 == 0): per tap and block of 16 input channels, 4 x co
 * accumulators over every position of the batch (x vectors times splatted dy values), then one
 * store of the [KH, KW, ci, co] block (out need not be zeroed). Stride 1, NHWC, x unpadded.
 */
function dotFilterGradFn(co: number, fma: boolean): Fn {
  const f = new Fn('filter_grad_dot', 13);
  const [X, DY, OUT, N, H, W, CI, HO, WO, KH, KW, PT, PL] = Array.from({ length: 13 }, (_, i) => i);
  const [n, kh, kw, h0, h1, w0, w1, cib, xp, dp, cnt, rows, xrow, dyrow, ci4, op] = Array.from({ length: 16 }, () => f.local(I32));
  const acc: number[][] = Array.from({ length: 4 }, () => Array.from({ length: co }, () => f.local(V128)));
  const xv = Array.from({ length: 4 }, () => f.local(V128));
  const s = f.local(V128);
  const zero = f.local(V128);
  const c = (v: number) => () => f.i32(v);
  const g = (v: number) => () => f.get(v);
  const max0 = (push: () => void) => {
    push();
    f.i32(0);
    push();
    f.i32(0).op(0x4a).select();
  };
  const minOf = (pushA: () => void, pushB: () => void) => {
    pushA();
    pushB();
    pushA();
    pushB();
    f.ltS().select();
  };
  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  f.get(CI).i32(4).mul().set(ci4);
  f.forRange(kh, c(0), g(KH), () => {
    max0(() => f.get(PT).get(kh).sub());
    f.set(h0);
    minOf(g(HO), () => f.get(H).get(PT).add().get(kh).sub());
    f.set(h1);
    f.forRange(kw, c(0), g(KW), () => {
      max0(() => f.get(PL).get(kw).sub());
      f.set(w0);
      minOf(g(WO), () => f.get(W).get(PL).add().get(kw).sub());
      f.set(w1);
      f.forRange(
        cib,
        c(0),
        g(CI),
        () => {
          for (let i = 0; i < 4; i++) for (let j = 0; j < co; j++) f.get(zero).set(acc[i]![j]!);
          f.get(h0).get(h1).ltS().get(w0).get(w1).ltS().op(0x71); // i32.and
          f.ifThen(() => {
            f.forRange(n, c(0), g(N), () => {
              // xrow = x + ((n*H + h0 + kh - pt)*W + w0 + kw - pl)*ci4 + cib*4
              f.get(X).get(n).get(H).mul().get(h0).add().get(kh).add().get(PT).sub().get(W).mul();
              f.get(w0).add().get(kw).add().get(PL).sub().get(ci4).mul().add().get(cib).i32(4).mul().add().set(xrow);
              // dyrow = dy + ((n*HO + h0)*WO + w0)*co*4
              f.get(DY).get(n).get(HO).mul().get(h0).add().get(WO).mul().get(w0).add().i32(co * 4).mul().add().set(dyrow);
              f.get(h1).get(h0).sub().set(rows);
              f.op(0x03, 0x40);
              f.get(xrow).set(xp);
              f.get(dyrow).set(dp);
              f.get(w1).get(w0).sub().set(cnt);
              f.op(0x03, 0x40);
              for (let i = 0; i < 4; i++) f.get(xp).simd(SIMD.load, mem(i * 16)).set(xv[i]!);
              for (let j = 0; j < co; j++) {
                f.get(dp).simd(SIMD.load32_splat, mem(j * 4)).set(s);
                for (let i = 0; i < 4; i++) {
                  const a = acc[i]![j]!;
                  if (fma) f.get(xv[i]!).get(s).get(a).simd(SIMD.f32x4_relaxed_madd).set(a);
                  else f.get(a).get(xv[i]!).get(s).simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(a);
                }
              }
              f.get(xp).get(ci4).add().set(xp);
              f.get(dp).i32(co * 4).add().set(dp);
              f.get(cnt).i32(1).sub().tee(cnt).brIf(0);
              f.op(0x0b);
              f.get(xrow).get(W).get(ci4).mul().add().set(xrow);
              f.get(dyrow).get(WO).i32(co * 4).mul().add().set(dyrow);
              f.get(rows).i32(1).sub().tee(rows).brIf(0);
              f.op(0x0b);
            });
          });
          // out[((kh*KW + kw)*ci + cib + 4i + l)*co + j] = acc[i][j][l]
          f.get(OUT).get(kh).get(KW).mul().get(kw).add().get(CI).mul().get(cib).add().i32(co * 4).mul().add().set(op);
          for (let i = 0; i < 4; i++) {
            for (let l = 0; l < 4; l++) {
              for (let j = 0; j < co; j++) {
                f.get(op).get(acc[i]![j]!).lane(SIMD.f32x4_extract_lane, l).f32store(((i * 4 + l) * co + j) * 4);
              }
            }
          }
        },
        16,
      );
    });
  });
  return f;
}

type DotFilterGradFn = (...a: number[]) => void;
const dotGradCompiled = new WeakMap<WebAssembly.Memory, Map<number, DotFilterGradFn>>();

/** The dot-product filter gradient for co output channels (co <= 4; ci % 16 == 0 at the call). */
export function dotFilterGradKernel(memory: WebAssembly.Memory, co: number): DotFilterGradFn {
  if (co > 4) throw new Error(`dotFilterGradKernel: co ${co} > 4`);
  let m = dotGradCompiled.get(memory);
  if (!m) {
    m = new Map();
    dotGradCompiled.set(memory, m);
  }
  let fn = m.get(co);
  if (!fn) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = assemble([dotFilterGradFn(co, fmaAvailable())], shared);
    fn = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.filter_grad_dot as DotFilterGradFn;
    m.set(co, fn);
  }
  return fn;
}
