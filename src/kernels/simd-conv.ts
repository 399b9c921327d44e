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
import { Fn, I32, SIMD, V128, compiledKernel, mem } from './wasm-asm.js';
import { type TapWindow, fmaAvailable, forTapWindow, maddInto, tapRange } from './simd-kernels.js';

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

/** The parameters of the forward kernels (`convFn`, `dotConvFn`), in order. */
const CONV_PARAMS = { XP: 0, WT: 1, B: 2, OUT: 3, N: 4, HP: 5, WP: 6, OH: 7, OW: 8 } as const;

/**
 * The loops of the forward kernels over the output pixels: for each image n and output row oh,
 * outrow = out + (n*OH + oh)*OW*co4 and xbase = xpad + (n*HP + oh)*WP*ci4 (bytes: ci4, co4 are the
 * channel counts times 4), then the row's pixels ow in full blocks of P and then single pixels,
 * `block(pb)` for the pb pixels from ow. Sets rowstep = WP*ci4 (a padded input row) first.
 */
function forOutputPixels(
  f: Fn,
  v: { n: number; oh: number; ow: number; xbase: number; outrow: number; rowstep: number },
  ci4: number,
  co4: number,
  P: number,
  block: (pb: number) => void,
): void {
  const { XP, OUT, N, HP, WP, OH, OW } = CONV_PARAMS;
  const c = (k: number) => () => f.i32(k);
  const g = (k: number) => () => f.get(k);
  f.get(WP).i32(ci4).mul().set(v.rowstep);
  f.forRange(v.n, c(0), g(N), () => {
    f.forRange(v.oh, c(0), g(OH), () => {
      f.get(OUT).get(v.n).get(OH).mul().get(v.oh).add().get(OW).mul().i32(co4).mul().add().set(v.outrow);
      f.get(XP).get(v.n).get(HP).mul().get(v.oh).add().get(WP).mul().i32(ci4).mul().add().set(v.xbase);
      f.forBlocks(v.ow, g(OW), P, block);
    });
  });
}

/** (xpad, w, b, out, N, Hp, Wp, OH, OW): byte addresses on the heap and sizes. */
function convFn(spec: ConvSpec, fma: boolean): Fn {
  const { ci, co, kh: KH, kw: KW } = spec;
  const { p: P, coV } = blocking(co);
  const ci4 = ci * 4;
  const co4 = co * 4;
  const f = new Fn('conv', 9);
  const { WT, B } = CONV_PARAMS;
  const [n, oh, ow, cob, k, t, xp, wp, xbase, outrow, rowstep, xp0, optr] = Array.from({ length: 13 }, () => f.local(I32));
  const acc: number[][] = Array.from({ length: P }, () => Array.from({ length: coV }, () => f.local(V128)));
  const wv = Array.from({ length: coV }, () => f.local(V128));
  const s = f.local(V128);
  const zero = f.local(V128);
  const c = (v: number) => () => f.i32(v);

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
          f.countdown(t, () => {
            for (let j = 0; j < coV; j++) f.get(wp).simd(SIMD.load, mem(j * 16)).set(wv[j]!);
            for (let q = 0; q < pb; q++) {
              f.get(xp).simd(SIMD.load32_splat, mem(q * ci4)).set(s);
              for (let j = 0; j < coV; j++) maddInto(f, fma, acc[q]![j]!, () => f.get(s), () => f.get(wv[j]!));
            }
            f.get(xp).i32(4).add().set(xp);
            f.get(wp).i32(co4).add().set(wp);
          });
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
  forOutputPixels(f, { n, oh, ow, xbase, outrow, rowstep }, ci4, co4, P, block);
  return f;
}

type ConvFn = (xpad: number, w: number, b: number, out: number, n: number, hp: number, wp: number, oh: number, ow: number) => void;

const compiled = new WeakMap<WebAssembly.Memory, Map<string, ConvFn>>();

function specKey(spec: ConvSpec): string {
  return `${spec.ci}.${spec.co}.${spec.kh}.${spec.kw}.${spec.bias ? 1 : 0}.${spec.relu ? 1 : 0}`;
}

/** The convolution kernel for `spec` on this heap (compiled on first use). Needs co % 4 == 0. */
export function convKernel(memory: WebAssembly.Memory, spec: ConvSpec): ConvFn {
  if (spec.co % 4 !== 0) throw new Error(`convKernel: output channels ${spec.co} not a multiple of 4`);
  return compiledKernel(compiled, memory, specKey(spec), () => convFn(spec, fmaAvailable()));
}

/**
 * (src, dst, N, H, rowIn, top, bottom, left, right): copies N images of H rows of `rowIn` bytes
 * from src into dst with zero padding: `top` and `bottom` rows of left + rowIn + right bytes, and
 * `left` / `right` bytes before and after each row (byte addresses and sizes). Each run of zeros
 * (a row's right padding and the next row's left padding are one run) is one memory.fill and each
 * row one memory.copy: the bulk-memory instructions, with no JavaScript call per row.
 */
function padFn(): Fn {
  const f = new Fn('pad_copy', 9);
  const [SRC, DST, N, H, ROW, TOP, BOTTOM, LEFT, RIGHT] = Array.from({ length: 9 }, (_, i) => i);
  const [n, h, sp, dp, rowOut] = Array.from({ length: 5 }, () => f.local(I32));
  const fill = (pushLen: () => void) => {
    f.get(dp).i32(0);
    pushLen();
    f.op(0xfc, 0x0b, 0x00); // memory.fill
  };
  f.get(LEFT).get(ROW).add().get(RIGHT).add().set(rowOut);
  f.get(SRC).set(sp);
  f.get(DST).set(dp);
  f.forRange(n, () => f.i32(0), () => f.get(N), () => {
    // the top rows and the first row's left padding
    fill(() => f.get(TOP).get(rowOut).mul().get(LEFT).add());
    f.get(dp).get(TOP).get(rowOut).mul().add().get(LEFT).add().set(dp);
    f.forRange(h, () => f.i32(0), () => f.get(H), () => {
      f.get(dp).get(sp).get(ROW).op(0xfc, 0x0a, 0x00, 0x00); // memory.copy
      f.get(dp).get(ROW).add().set(dp);
      f.get(sp).get(ROW).add().set(sp);
      // this row's right padding and the next row's left (or the bottom rows after the last row)
      f.get(h).get(H).i32(1).sub().ltS();
      f.ifThen(() => {
        fill(() => f.get(RIGHT).get(LEFT).add());
        f.get(dp).get(RIGHT).add().get(LEFT).add().set(dp);
      });
    });
    fill(() => f.get(RIGHT).get(BOTTOM).get(rowOut).mul().add());
    f.get(dp).get(RIGHT).add().get(BOTTOM).get(rowOut).mul().add().set(dp);
  });
  return f;
}

type PadFn = (src: number, dst: number, n: number, h: number, rowIn: number, top: number, bottom: number, left: number, right: number) => void;
const padCompiled = new WeakMap<WebAssembly.Memory, Map<string, PadFn>>();

/**
 * Copies an NHWC tensor at byte address `src` into `dst` with zero padding (top, bottom, left,
 * right), on the heap `memory`: one wasm call (`padFn`) instead of a fill of the whole copy and a
 * JavaScript call per row.
 */
export function padInto(
  memory: WebAssembly.Memory,
  src: number,
  dst: number,
  d: { n: number; h: number; w: number; c: number; top: number; bottom: number; left: number; right: number },
): void {
  const pad = compiledKernel(padCompiled, memory, 'pad', padFn);
  pad(src, dst, d.n, d.h, d.w * d.c * 4, d.top, d.bottom, d.left * d.c * 4, d.right * d.c * 4);
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
  const { WT, B } = CONV_PARAMS;
  const [n, oh, ow, k, t, xp, wp, xbase, outrow, rowstep] = Array.from({ length: 10 }, () => f.local(I32));
  const acc: number[][] = Array.from({ length: P }, () => Array.from({ length: co }, () => f.local(V128)));
  const wv = Array.from({ length: co }, () => f.local(V128));
  const xv = f.local(V128);
  const zero = f.local(V128);
  const c = (v: number) => () => f.i32(v);
  const block = (pb: number) => {
    for (let q = 0; q < pb; q++) for (let j = 0; j < co; j++) f.get(zero).set(acc[q]![j]!);
    f.forRange(k, c(0), c(KH), () => {
      f.get(xbase).get(ow).i32(ci4).mul().add().get(k).get(rowstep).mul().add().set(xp);
      f.get(WT).get(k).i32(KW * ci4).mul().add().set(wp);
      f.i32((KW * ci) / 4).set(t);
      f.countdown(t, () => {
        for (let j = 0; j < co; j++) f.get(wp).simd(SIMD.load, mem(j * cstride)).set(wv[j]!);
        for (let q = 0; q < pb; q++) {
          f.get(xp).simd(SIMD.load, mem(q * ci4)).set(xv);
          for (let j = 0; j < co; j++) maddInto(f, fma, acc[q]![j]!, () => f.get(xv), () => f.get(wv[j]!));
        }
        f.get(xp).i32(16).add().set(xp);
        f.get(wp).i32(16).add().set(wp);
      });
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
  forOutputPixels(f, { n, oh, ow, xbase, outrow, rowstep }, ci4, co * 4, P, block);
  return f;
}

/** Whether the dot-product kernels apply: few output channels, input channels in vectors. */
export function dotEligible(ci: number, co: number): boolean {
  return co <= 4 && ci % 16 === 0;
}

/** The dot-product convolution for `spec` (co <= 4, ci % 4 == 0); same call as convKernel's. */
export function dotConvKernel(memory: WebAssembly.Memory, spec: ConvSpec): ConvFn {
  return compiledKernel(compiled, memory, `dot.${specKey(spec)}`, () => dotConvFn(spec, fmaAvailable()));
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
  const win: TapWindow = { X, DY, H, W, HO, WO, PT, PL, n, kh, kw, h0, h1, w0, w1, cib, ci4, xrow, dyrow, xp, dp, rows, cnt };
  // dy has co channels (unpadded), x rows of W*ci4 bytes
  const step = { dy: () => f.i32(co * 4), xRow: () => f.get(W).get(ci4).mul(), dyRow: () => f.get(WO).i32(co * 4).mul() };
  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  f.get(CI).i32(4).mul().set(ci4);
  f.forRange(kh, c(0), g(KH), () => {
    tapRange(f, kh, PT, H, HO, h0, h1);
    f.forRange(kw, c(0), g(KW), () => {
      tapRange(f, kw, PL, W, WO, w0, w1);
      f.forRange(
        cib,
        c(0),
        g(CI),
        () => {
          for (let i = 0; i < 4; i++) for (let j = 0; j < co; j++) f.get(zero).set(acc[i]![j]!);
          f.get(h0).get(h1).ltS().get(w0).get(w1).ltS().op(0x71); // i32.and
          f.ifThen(() => {
            f.forRange(n, c(0), g(N), () => {
              forTapWindow(f, win, step, () => {
                for (let i = 0; i < 4; i++) f.get(xp).simd(SIMD.load, mem(i * 16)).set(xv[i]!);
                for (let j = 0; j < co; j++) {
                  f.get(dp).simd(SIMD.load32_splat, mem(j * 4)).set(s);
                  for (let i = 0; i < 4; i++) maddInto(f, fma, acc[i]![j]!, () => f.get(xv[i]!), () => f.get(s));
                }
              });
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
const dotGradCompiled = new WeakMap<WebAssembly.Memory, Map<string, DotFilterGradFn>>();

/** The dot-product filter gradient for co output channels (co <= 4; ci % 16 == 0 at the call). */
export function dotFilterGradKernel(memory: WebAssembly.Memory, co: number): DotFilterGradFn {
  if (co > 4) throw new Error(`dotFilterGradKernel: co ${co} > 4`);
  return compiledKernel(dotGradCompiled, memory, `${co}`, () => dotFilterGradFn(co, fmaAvailable()));
}
