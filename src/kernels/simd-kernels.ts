/**
 * Hand-written WebAssembly SIMD kernels that run on the tfjs wasm backend's own heap (the module
 * imports the backend's memory, so tensors are read and written in place: no copies, no packing).
 *
 * - `filterGrad`: the filter gradient of a stride-1 NHWC convolution,
 *     dW[kh,kw,ci,co] = sum_{n,h,w} x[n, h+kh-pt, w+kw-pl, ci] * dy[n,h,w,co],
 *   computed directly from x and dy as they are. XNNPACK can only do this as a convolution whose
 *   "filter" is the whole (transposed) dy, which it re-packs on every call; that packing and the
 *   transposes cost more than the arithmetic. Register-blocked: 4 input channels x 8 output
 *   channels (8 f32x4 accumulators) per inner loop over a row of positions.
 *
 * The module is assembled at start-up by wasm-asm.ts (no build step, no binary in the repo).
 */
import v8 from 'node:v8';
import { Fn, SIMD, V128, I32, assemble, isSharedMemory, mem } from './wasm-asm.js';

/** Register-blocking variants: input channels per block x f32x4 vectors of output channels. */
const VARIANTS: ReadonlyArray<{ ciB: number; coV: number }> = [
  { ciB: 4, coV: 2 },
  { ciB: 1, coV: 4 },
  { ciB: 1, coV: 1 },
];

function variantName(v: { ciB: number; coV: number }): string {
  return `filter_grad_${v.ciB}x${v.coV}`;
}

/**
 * Emits acc += a * b on f32x4 (acc a v128 local, a and b pushed by `pushA`, `pushB`): one
 * relaxed-SIMD fused multiply-add with `fma`, else a multiply and an add. Shared by the SIMD kernels
 * of this directory.
 */
export function maddInto(f: Fn, fma: boolean, acc: number, pushA: () => void, pushB: () => void): void {
  if (fma) {
    pushA();
    pushB();
    f.get(acc).simd(SIMD.f32x4_relaxed_madd).set(acc);
  } else {
    f.get(acc);
    pushA();
    pushB();
    f.simd(SIMD.f32x4_mul).simd(SIMD.f32x4_add).set(acc);
  }
}

let fmaChecked: boolean | undefined;

/**
 * Whether relaxed-SIMD fused multiply-add can be used. Node 20's V8 has it behind
 * --experimental-wasm-relaxed-simd (on by default from Node 22); the flag only adds wasm
 * instructions, so it is switched on here when needed. FACELOSSES_WASM_FMA=0 turns FMA off.
 */
export function fmaAvailable(): boolean {
  if (fmaChecked !== undefined) return fmaChecked;
  if (process.env.FACELOSSES_WASM_FMA === '0') return (fmaChecked = false);
  const probe = new Fn('probe', 1);
  const v = probe.local(V128);
  probe.get(0).simd(SIMD.load, { align: 0, offset: 0 }).tee(v).get(v).get(v).simd(SIMD.f32x4_relaxed_madd).set(v);
  const bytes = assemble([probe], false);
  if (!WebAssembly.validate(bytes)) {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // not settable: stay without FMA
    }
  }
  fmaChecked = WebAssembly.validate(bytes);
  return fmaChecked;
}

/** Pushes max(0, a) as i32, a given by a pusher (evaluated twice): a > 0 ? a : 0 with select. */
function pushMax0(f: Fn, push: () => void): void {
  push();
  f.i32(0);
  push();
  f.i32(0).op(0x4a).select(); // i32.gt_s
}

/** Pushes min(a, b) as i32, a and b given by pushers (each evaluated twice): a < b ? a : b. */
function pushMin(f: Fn, pushA: () => void, pushB: () => void): void {
  pushA();
  pushB();
  pushA();
  pushB();
  f.ltS().select();
}

/**
 * Sets the i32 locals lo, hi to the outputs [lo, hi) for which a filter tap reads inside the input
 * along one axis (0 <= o + tap - pad < size): lo = max(0, pad - tap), hi = min(outSize, size + pad
 * - tap). tap, pad, size and outSize are locals or parameters.
 */
export function tapRange(f: Fn, tap: number, pad: number, size: number, outSize: number, lo: number, hi: number): void {
  pushMax0(f, () => f.get(pad).get(tap).sub());
  f.set(lo);
  pushMin(f, () => f.get(outSize), () => f.get(size).get(pad).add().get(tap).sub());
  f.set(hi);
}

/** Parameters and i32 locals of the position loops of the direct filter gradients (`forTapWindow`). */
export interface TapWindow {
  X: number;
  DY: number;
  H: number;
  W: number;
  HO: number;
  WO: number;
  PT: number;
  PL: number;
  n: number;
  kh: number;
  kw: number;
  h0: number;
  h1: number;
  w0: number;
  w1: number;
  cib: number;
  ci4: number;
  xrow: number;
  dyrow: number;
  xp: number;
  dp: number;
  rows: number;
  cnt: number;
}

/**
 * The output positions of image n for filter tap (kh, kw) of a direct filter gradient (this file's
 * and simd-conv.ts's dot-product one): rows [h0, h1) and columns [w0, w1) (from `tapRange`,
 * non-empty), body() at each with xp at x[n, h + kh - pt, w + kw - pl] + cib*4 and dp at
 * dy[n, h, w] (+ step.dyOffset) in bytes. The step pushers give dy's bytes per position
 * (step.dy) and per row of x and of dy (step.xRow, step.dyRow); step.dyOffset adds a channel
 * offset to the address on the stack.
 */
export function forTapWindow(
  f: Fn,
  v: TapWindow,
  step: { dy: () => void; xRow: () => void; dyRow: () => void; dyOffset?: () => void },
  body: () => void,
): void {
  // xrow = x + ((n*H + h0 + kh - pt)*W + w0 + kw - pl)*ci4 + cib*4
  f.get(v.X).get(v.n).get(v.H).mul().get(v.h0).add().get(v.kh).add().get(v.PT).sub().get(v.W).mul();
  f.get(v.w0).add().get(v.kw).add().get(v.PL).sub().get(v.ci4).mul().add().get(v.cib).i32(4).mul().add().set(v.xrow);
  // dyrow = dy + ((n*HO + h0)*WO + w0)*(dy bytes per position) (+ dyOffset)
  f.get(v.DY).get(v.n).get(v.HO).mul().get(v.h0).add().get(v.WO).mul().get(v.w0).add();
  step.dy();
  f.mul().add();
  step.dyOffset?.();
  f.set(v.dyrow);
  f.get(v.h1).get(v.h0).sub().set(v.rows);
  f.countdown(v.rows, () => {
    f.get(v.xrow).set(v.xp);
    f.get(v.dyrow).set(v.dp);
    f.get(v.w1).get(v.w0).sub().set(v.cnt);
    f.countdown(v.cnt, () => {
      body();
      f.get(v.xp).get(v.ci4).add().set(v.xp);
      f.get(v.dp);
      step.dy();
      f.add().set(v.dp);
    });
    f.get(v.xrow);
    step.xRow();
    f.add().set(v.xrow);
    f.get(v.dyrow);
    step.dyRow();
    f.add().set(v.dyrow);
  });
}

/**
 * (x, dy, out, N, H, W, ci, co, Ho, Wo, KH, KW, pt, pl): byte addresses and sizes.
 * Loop order: image, tap (kh, kw), channel block, then the rows and columns of the image for which
 * the tap is inside the input. The accumulators stay in registers for a whole image (its x and dy
 * are L2-resident while all taps and blocks pass over them).
 */
function filterGradFn(ciB: number, coV: number, fma: boolean): Fn {
  const f = new Fn(variantName({ ciB, coV }), 14);
  const [X, DY, OUT, N, H, W, CI, CO, HO, WO, KH, KW, PT, PL] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [n, kh, kw, h0, h1, w0, w1, cib, cob, xp, dp, op, cnt, xrow, dyrow, rows, ci4, co4, xstep, dystep] = Array.from({ length: 20 }, () =>
    f.local(I32),
  );
  const acc: number[][] = [];
  for (let i = 0; i < ciB; i++) acc.push(Array.from({ length: coV }, () => f.local(V128)));
  const d = Array.from({ length: coV }, () => f.local(V128));
  const s = f.local(V128);
  const c = (v: number) => () => f.i32(v);
  const g = (v: number) => () => f.get(v);
  const win: TapWindow = { X, DY, H, W, HO, WO, PT, PL, n, kh, kw, h0, h1, w0, w1, cib, ci4, xrow, dyrow, xp, dp, rows, cnt };

  f.get(CI).i32(4).mul().set(ci4);
  f.get(CO).i32(4).mul().set(co4);
  f.get(W).get(ci4).mul().set(xstep);
  f.get(WO).get(co4).mul().set(dystep);
  f.forRange(n, c(0), g(N), () => {
    f.forRange(kh, c(0), g(KH), () => {
      // rows h with 0 <= h + kh - pt < H: h0 = max(0, pt - kh), h1 = min(Ho, H + pt - kh)
      tapRange(f, kh, PT, H, HO, h0, h1);
      f.get(h0).get(h1).ltS();
      f.ifThen(() => {
        f.forRange(kw, c(0), g(KW), () => {
          tapRange(f, kw, PL, W, WO, w0, w1);
          f.get(w0).get(w1).ltS();
          f.ifThen(() => {
            f.forRange(
              cib,
              c(0),
              g(CI),
              () => {
                f.forRange(
                  cob,
                  c(0),
                  g(CO),
                  () => {
                    // op = out + ((kh*KW + kw)*ci + cib)*co4 + cob*4
                    f.get(OUT).get(kh).get(KW).mul().get(kw).add().get(CI).mul().get(cib).add().get(co4).mul().add();
                    f.get(cob).i32(4).mul().add().set(op);
                    for (let i = 0; i < ciB; i++) {
                      for (let j = 0; j < coV; j++) {
                        f.get(op).get(co4).i32(i).mul().add().simd(SIMD.load, mem(j * 16)).set(acc[i]![j]!);
                      }
                    }
                    // dy: co4 bytes per position, this block's channels at + cob*4; rows of xstep / dystep bytes
                    const step = { dy: g(co4), xRow: g(xstep), dyRow: g(dystep), dyOffset: () => f.get(cob).i32(4).mul().add() };
                    forTapWindow(f, win, step, () => {
                      for (let j = 0; j < coV; j++) f.get(dp).simd(SIMD.load, mem(j * 16)).set(d[j]!);
                      for (let i = 0; i < ciB; i++) {
                        f.get(xp).simd(SIMD.load32_splat, mem(i * 4)).set(s);
                        for (let j = 0; j < coV; j++) maddInto(f, fma, acc[i]![j]!, () => f.get(s), () => f.get(d[j]!));
                      }
                    });
                    for (let i = 0; i < ciB; i++) {
                      for (let j = 0; j < coV; j++) {
                        f.get(op).get(co4).i32(i).mul().add().get(acc[i]![j]!).simd(SIMD.store, mem(j * 16));
                      }
                    }
                  },
                  4 * coV,
                );
              },
              ciB,
            );
          });
        });
      });
    });
  });
  return f;
}

/**
 * (x, dy, dx, N, H, W, C, OH, OW, sh, sw, fh, fw, pt, pl): max-pool gradient, NHWC, C % 4 == 0.
 * Per window and 4 channels: the first maximum (row-major, strict >) and its address are tracked
 * with f32x4.gt + bitselect, then dy is added at that address. Each image of dx is zeroed just
 * before its windows are scattered into it (while it is in the cache: no pass over the whole dx).
 *
 * `fused` ('pool_relu_bias_grad', two more parameters db, dbi): the gradient through
 * maxPool(relu(conv + b)) with respect to conv + b, and the bias gradient, in one pass. x is the
 * pool's input y = relu(...); a window's dy reaches its argmax only where that maximum is > 0 (the
 * ReLU mask, which is y > 0 at the argmax), and db += the dy that passed, summed per image in dbi
 * (C floats of scratch) and added to db (zeroed by the caller) once per image. The same values as
 * MaxPoolGrad followed by the ReLU mask (each position receives the same additions in the same
 * order), without writing, re-reading and masking that intermediate.
 */
function maxPoolGradFn(fused: boolean): Fn {
  const f = new Fn(fused ? 'pool_relu_bias_grad' : 'max_pool_grad', fused ? 17 : 15);
  const [X, DY, DX, N, H, W, C, OH, OW, SH, SW, FH, FW, PT, PL, DB, DBI] = Array.from({ length: 17 }, (_, i) => i);
  const [n, oh, ow, r, sc, r0, r1, c0, c1, cb, gp, addr, c4, a] = Array.from({ length: 14 }, () => f.local(I32));
  const best = f.local(V128);
  const bidx = f.local(V128);
  const v = f.local(V128);
  const m = f.local(V128);
  const g = f.local(V128);
  const zero = f.local(V128);
  const c = (k: number) => () => f.i32(k);
  const get = (k: number) => () => f.get(k);
  f.get(C).i32(4).mul().set(c4);
  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  f.forRange(n, c(0), get(N), () => {
    // zero image n of dx (memory.fill), and this image's bias sums
    f.get(DX).get(n).get(H).mul().get(W).mul().get(c4).mul().add().i32(0).get(H).get(W).mul().get(c4).mul().op(0xfc, 0x0b, 0x00);
    if (fused) f.get(DBI).i32(0).get(c4).op(0xfc, 0x0b, 0x00);
    f.forRange(oh, c(0), get(OH), () => {
      // r0 = max(0, oh*sh - pt); r1 = min(H, oh*sh - pt + fh)
      pushMax0(f, () => f.get(oh).get(SH).mul().get(PT).sub());
      f.set(r0);
      pushMin(f, get(H), () => f.get(oh).get(SH).mul().get(PT).sub().get(FH).add());
      f.set(r1);
      f.forRange(ow, c(0), get(OW), () => {
        pushMax0(f, () => f.get(ow).get(SW).mul().get(PL).sub());
        f.set(c0);
        pushMin(f, get(W), () => f.get(ow).get(SW).mul().get(PL).sub().get(FW).add());
        f.set(c1);
        // gp = dy + ((n*OH + oh)*OW + ow)*c4
        f.get(DY).get(n).get(OH).mul().get(oh).add().get(OW).mul().get(ow).add().get(c4).mul().add().set(gp);
        f.forRange(
          cb,
          c(0),
          get(c4),
          () => {
            f.f32const(-Infinity).simd(SIMD.f32x4_splat).set(best);
            f.i32(-1).simd(SIMD.i32x4_splat).set(bidx);
            f.forRange(r, get(r0), get(r1), () => {
              f.forRange(sc, get(c0), get(c1), () => {
                // addr = ((n*H + r)*W + sc)*c4 + cb (bytes, relative to x / dx)
                f.get(n).get(H).mul().get(r).add().get(W).mul().get(sc).add().get(c4).mul().get(cb).add().set(addr);
                f.get(X).get(addr).add().simd(SIMD.load, mem(0)).tee(v);
                f.get(best).simd(SIMD.f32x4_gt).set(m);
                f.get(v).get(best).get(m).simd(SIMD.v128_bitselect).set(best);
                f.get(addr).simd(SIMD.i32x4_splat).get(bidx).get(m).simd(SIMD.v128_bitselect).set(bidx);
              });
            });
            f.get(gp).get(cb).add().simd(SIMD.load, mem(0)).set(g);
            if (fused) {
              // the ReLU mask at the argmax, and the bias sum of what passes
              f.get(g).get(best).get(zero).simd(SIMD.f32x4_gt).simd(SIMD.v128_and).set(g);
              f.get(DBI).get(cb).add();
              f.get(DBI).get(cb).add().simd(SIMD.load, mem(0)).get(g).simd(SIMD.f32x4_add);
              f.simd(SIMD.store, mem(0));
            }
            for (let lane = 0; lane < 4; lane++) {
              f.get(bidx).lane(SIMD.i32x4_extract_lane, lane).tee(a);
              f.i32(0).geS();
              f.ifThen(() => {
                // dx[a + 4*lane] += g[lane]
                f.get(DX).get(a).add();
                f.get(DX).get(a).add().f32load(4 * lane);
                f.get(g).lane(SIMD.f32x4_extract_lane, lane);
                f.op(0x92); // f32.add
                f.f32store(4 * lane);
              });
            }
          },
          16,
        );
      });
    });
    if (fused) {
      // db += this image's sums
      f.forRange(
        cb,
        c(0),
        get(c4),
        () => {
          f.get(DB).get(cb).add();
          f.get(DB).get(cb).add().simd(SIMD.load, mem(0)).get(DBI).get(cb).add().simd(SIMD.load, mem(0)).simd(SIMD.f32x4_add);
          f.simd(SIMD.store, mem(0));
        },
        16,
      );
    }
  });
  return f;
}

/**
 * The loops of the column sums of an [M, C] matrix (sum_rows, relu_grad_bias): blocks of 256 rows
 * [m0, m1) and, in each, groups of 4 columns at byte offset cb (< c4 = 4C): body() sums the block's
 * rows of those columns into the v128 local `acc`, which is then added to out[cb] (out, M:
 * parameters; c4, cb, m0, m1, acc: locals).
 */
function forColumnBlocks(f: Fn, v: { out: number; M: number; c4: number; cb: number; m0: number; m1: number; acc: number }, body: () => void): void {
  const c = (k: number) => () => f.i32(k);
  const get = (k: number) => () => f.get(k);
  f.forRange(
    v.m0,
    c(0),
    get(v.M),
    () => {
      // m1 = min(M, m0 + 256)
      pushMin(f, get(v.M), () => f.get(v.m0).i32(256).add());
      f.set(v.m1);
      f.forRange(
        v.cb,
        c(0),
        get(v.c4),
        () => {
          body();
          f.get(v.out).get(v.cb).add();
          f.get(v.out).get(v.cb).add().simd(SIMD.load, mem()).get(v.acc).simd(SIMD.f32x4_add);
          f.simd(SIMD.store, mem());
        },
        16,
      );
    },
    256,
  );
}

/**
 * (x, out, M, C): out[c] = sum over M rows of x[m, c], C % 4 == 0, in blocks of 256 rows whose
 * partial sums are added to out (which must be zeroed): error ~ (256 + M/256) ulp, not M.
 */
function sumRowsFn(): Fn {
  const f = new Fn('sum_rows', 4);
  const [X, OUT, M, C] = [0, 1, 2, 3];
  const [c4, cb, m0, m1, p, cnt] = Array.from({ length: 6 }, () => f.local(I32));
  const acc = f.local(V128);
  f.get(C).i32(4).mul().set(c4);
  forColumnBlocks(f, { out: OUT, M, c4, cb, m0, m1, acc }, () => {
    f.f32const(0).simd(SIMD.f32x4_splat).set(acc);
    f.get(X).get(m0).get(c4).mul().add().get(cb).add().set(p);
    f.get(m1).get(m0).sub().set(cnt);
    f.countdown(cnt, () => {
      f.get(acc).get(p).simd(SIMD.load, mem()).simd(SIMD.f32x4_add).set(acc);
      f.get(p).get(c4).add().set(p);
    });
  });
  return f;
}

/**
 * (dy, y, g, db, M, C): the gradient through bias + ReLU of an [M, C] output y = relu(z):
 * g = dy where y > 0 else 0, and db (zeroed by the caller) += column sums of g, in one pass, in
 * blocks of 256 rows as sum_rows. C % 4 == 0.
 */
function reluGradBiasFn(): Fn {
  const f = new Fn('relu_grad_bias', 6);
  const [DY, Y, G, DB, M, C] = [0, 1, 2, 3, 4, 5];
  const [c4, cb, m0, m1, off, cnt] = Array.from({ length: 6 }, () => f.local(I32));
  const acc = f.local(V128);
  const zero = f.local(V128);
  const gv = f.local(V128);
  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  f.get(C).i32(4).mul().set(c4);
  forColumnBlocks(f, { out: DB, M, c4, cb, m0, m1, acc }, () => {
    f.get(zero).set(acc);
    f.get(m0).get(c4).mul().get(cb).add().set(off);
    f.get(m1).get(m0).sub().set(cnt);
    f.countdown(cnt, () => {
      // g = dy & (y > 0)
      f.get(DY).get(off).add().simd(SIMD.load, mem());
      f.get(Y).get(off).add().simd(SIMD.load, mem()).get(zero).simd(SIMD.f32x4_gt);
      f.simd(SIMD.v128_and).set(gv);
      f.get(G).get(off).add().get(gv).simd(SIMD.store, mem());
      f.get(acc).get(gv).simd(SIMD.f32x4_add).set(acc);
      f.get(off).get(c4).add().set(off);
    });
  });
  return f;
}

/** The sizes of a 2-D max pool (NHWC): input, output, strides, window and top/left padding. */
export interface PoolDims {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  sh: number;
  sw: number;
  fh: number;
  fw: number;
  pt: number;
  pl: number;
}

export interface SimdKernels {
  /** g = dy * (y > 0), db (zeroed by the caller) = column sums of g; [M, C], C % 4 == 0. */
  reluGradBias(dy: number, y: number, g: number, db: number, m: number, c: number): void;
  /**
   * dW (zeroed by the caller) += filter gradient. Addresses in bytes on the shared heap. Needs
   * co % 4 == 0; picks the widest register blocking the channel counts allow.
   */
  filterGrad(
    x: number,
    dy: number,
    out: number,
    dims: { n: number; h: number; w: number; ci: number; co: number; ho: number; wo: number; kh: number; kw: number; pt: number; pl: number },
  ): void;
  canFilterGrad(ci: number, co: number): boolean;
  /** dx of a max pool, NHWC, C % 4 == 0 (the kernel zeroes dx). */
  maxPoolGrad(x: number, dy: number, dx: number, d: PoolDims): void;
  /**
   * The gradient through maxPool(relu(z)) with respect to z (g, written whole) and its column sums
   * added to db (zeroed by the caller); x is relu(z); dbi is scratch for C floats. C % 4 == 0.
   */
  poolReluBiasGrad(x: number, dy: number, g: number, db: number, dbi: number, d: PoolDims): void;
  /** out (zeroed by the caller) = column sums of an [M, C] matrix, C % 4 == 0. */
  sumRows(x: number, out: number, m: number, c: number): void;
}

const cache = new WeakMap<WebAssembly.Memory, SimdKernels>();

/** Instantiates the kernels against a tfjs wasm heap (once per memory). */
export function simdKernelsFor(memory: WebAssembly.Memory): SimdKernels {
  const hit = cache.get(memory);
  if (hit) return hit;
  const fma = fmaAvailable();
  const bytes = assemble([...VARIANTS.map((v) => filterGradFn(v.ciB, v.coV, fma)), maxPoolGradFn(false), maxPoolGradFn(true), sumRowsFn(), reluGradBiasFn()], isSharedMemory(memory));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const fns = VARIANTS.map((v) => ({ ...v, fn: instance.exports[variantName(v)] as (...a: number[]) => void }));
  const pick = (ci: number, co: number) => fns.find((v) => ci % v.ciB === 0 && co % (4 * v.coV) === 0);
  const k: SimdKernels = {
    canFilterGrad: (ci, co) => pick(ci, co) !== undefined,
    filterGrad(x, dy, out, d) {
      const v = pick(d.ci, d.co);
      if (!v) throw new Error(`filterGrad: unsupported channels ${d.ci}->${d.co}`);
      v.fn(x, dy, out, d.n, d.h, d.w, d.ci, d.co, d.ho, d.wo, d.kh, d.kw, d.pt, d.pl);
    },
    maxPoolGrad(x, dy, dx, d) {
      if (d.c % 4 !== 0) throw new Error(`maxPoolGrad: channels ${d.c} not a multiple of 4`);
      (instance.exports.max_pool_grad as (...a: number[]) => void)(x, dy, dx, d.n, d.h, d.w, d.c, d.oh, d.ow, d.sh, d.sw, d.fh, d.fw, d.pt, d.pl);
    },
    poolReluBiasGrad(x, dy, g, db, dbi, d) {
      if (d.c % 4 !== 0) throw new Error(`poolReluBiasGrad: channels ${d.c} not a multiple of 4`);
      (instance.exports.pool_relu_bias_grad as (...a: number[]) => void)(x, dy, g, d.n, d.h, d.w, d.c, d.oh, d.ow, d.sh, d.sw, d.fh, d.fw, d.pt, d.pl, db, dbi);
    },
    reluGradBias(dy, y, g, db, m, c) {
      if (c % 4 !== 0) throw new Error(`reluGradBias: columns ${c} not a multiple of 4`);
      (instance.exports.relu_grad_bias as (...a: number[]) => void)(dy, y, g, db, m, c);
    },
    sumRows(x, out, m, c) {
      if (c % 4 !== 0) throw new Error(`sumRows: columns ${c} not a multiple of 4`);
      (instance.exports.sum_rows as (...a: number[]) => void)(x, out, m, c);
    },
  };
  cache.set(memory, k);
  return k;
}

/** The heap (WebAssembly memory) of a tfjs wasm backend object, undefined if it cannot be found. */
export function heapMemoryOf(backend: unknown): WebAssembly.Memory | undefined {
  const wasm = (backend as { wasm?: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } } }).wasm;
  return wasm?.wasmMemory ?? wasm?.asm?.memory;
}

/** The kernels for a tfjs wasm backend object (undefined if its heap cannot be found). */
export function simdKernelsOf(backend: unknown): SimdKernels | undefined {
  const memory = heapMemoryOf(backend);
  return memory ? simdKernelsFor(memory) : undefined;
}

/** Byte address of a tensor's data on the wasm heap. */
export function heapAddress(backend: unknown, t: { dataId: object }): number {
  return (backend as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(t.dataId).memoryOffset;
}
