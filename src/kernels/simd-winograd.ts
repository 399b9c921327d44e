/**
 * Winograd convolution (stride 1, 3x3 filter, NHWC) as wasm SIMD kernels on the tfjs heap.
 * F(2x2, 3x3): 16 multiplications per 2x2 output tile instead of 36 (2.25x fewer multiply-adds than
 * the direct kernel of simd-conv.ts) for two cheap add-only transforms. F(4x4, 3x3) (`tile: 4`):
 * 36 per 4x4 tile instead of 144 (4x fewer), with 6x6 transforms whose coefficients (up to 8, and
 * 1/24 in the filter transform) cost more additions and about 5x the rounding error of F(2x2)
 * (rms relative 8e-7 against 1.5e-7 for float32 direct; docs/notes/2026-12-06-speed.md).
 *
 * Per image: (1) input transform V = Bᵀ d B of every (m+2)x(m+2) input tile (tiles overlap by 2),
 * stored as V[tile][k][ci] for the K = (m+2)² positions k (tile-major: every address in the
 * transforms is a constant offset); (2) K matrix products M[k] = V[k] · U[k] with the transformed
 * filter U[k][ci][co] = (G g Gᵀ)[k] (computed in JavaScript in float64, `winogradFilter`);
 * (3) output transform Y = Aᵀ M A (+ bias, ReLU) of every tile into the output. V and M of one image
 * stay in L2. Needs ci % 4 == 0 and co % 16 == 0; the input must be padded so that every tile is
 * inside it (`winogradPadding`).
 *
 * F(2x2, 3x3):
 *   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
 *   Aᵀ = [1 1 1 0; 0 1 -1 -1]
 * F(4x4, 3x3) (Lavin and Gray 2016):
 *   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G  = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 *
 * The filter gradient (`winogradFilterGradFn`) has both tiles too.
 */
import { Fn, I32, SIMD, V128, compiledKernel, mem } from './wasm-asm.js';
import { fmaAvailable, maddInto } from './simd-kernels.js';

const F32X4_SUB = 0xe5;

/**
 * Shorthands of the kernels below: c0(v) and g(v) are pushers of an i32 constant and of a local;
 * add(x, y) and sub(x, y) push x + y and x - y of two v128 locals.
 */
function emitters(f: Fn): { c0: (v: number) => () => void; g: (v: number) => () => void; add: (x: number, y: number) => Fn; sub: (x: number, y: number) => Fn } {
  return {
    c0: (v) => () => f.i32(v),
    g: (v) => () => f.get(v),
    add: (x, y) => f.get(x).get(y).simd(SIMD.f32x4_add),
    sub: (x, y) => f.get(x).get(y).simd(F32X4_SUB),
  };
}

/** Locals (n, t, th, tw, c, p, ximg, xrow, rowstep) and parameters (XP, HP, WP, TH, TW) of the tile loops. */
interface TileVars {
  n: number;
  t: number;
  th: number;
  tw: number;
  c: number;
  p: number;
  ximg: number;
  xrow: number;
  rowstep: number;
  XP: number;
  HP: number;
  WP: number;
  TH: number;
  TW: number;
}

/**
 * for th < TH, tw < TW, c < cBytes in steps of 16 (4 channels): body(), with the tile index
 * t = th*TW + tw (set from 0 here). at.row() runs at the start of each tile row th, at.tile() at
 * the start of each tile (th, tw).
 */
function forTiles(f: Fn, v: TileVars, cBytes: number, at: { row?: () => void; tile?: () => void }, body: () => void): void {
  const { c0, g } = emitters(f);
  f.i32(0).set(v.t);
  f.forRange(v.th, c0(0), g(v.TH), () => {
    at.row?.();
    f.forRange(v.tw, c0(0), g(v.TW), () => {
      at.tile?.();
      f.forRange(v.c, c0(0), c0(cBytes), body, 16);
      f.get(v.t).i32(1).add().set(v.t);
    });
  });
}

/**
 * The input tiles of image n: sets ximg = image n of xpad ([N, HP, WP, ci]), then for each tile t
 * (top-left corners m apart) and group of 4 channels c, body() with p = the tile's top-left element
 * + c (bytes). rowstep (WP*ci*4, bytes per padded row) must be set before.
 */
function forInputTiles(f: Fn, v: TileVars, m: number, ci4: number, body: () => void): void {
  f.get(v.XP).get(v.n).get(v.HP).mul().get(v.WP).mul().i32(ci4).mul().add().set(v.ximg);
  forTiles(f, v, ci4, { row: () => f.get(v.ximg).get(v.th).i32(m).mul().get(v.rowstep).mul().add().set(v.xrow) }, () => {
    // p = top-left of the tile + channel group
    f.get(v.xrow).get(v.tw).i32(m * ci4).mul().add().get(v.c).add().set(v.p);
    body();
  });
}

/**
 * Input transform of F(2x2, 3x3) for one 4x4 tile and 4 channels: loads d[4i + j] from
 * p + i*rowstep + j*ci4 (bytes; p and rowstep are locals), computes r = Bᵀ d, then V = r B and
 * calls store(k, push) for k = 4i + j = 0..15 in order, push() emitting V[k] onto the stack: store
 * emits the address, calls push and emits the store, so each kernel keeps its own layout of V.
 * d and r: 16 v128 locals each.
 */
function inputTransform2(f: Fn, p: number, rowstep: number, ci4: number, d: number[], r: number[], store: (k: number, push: () => void) => void): void {
  const { add, sub } = emitters(f);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      f.get(p);
      if (i > 0) f.get(rowstep).i32(i).mul().add();
      f.simd(SIMD.load, mem(j * ci4)).set(d[i * 4 + j]!);
    }
  }
  // r = Bᵀ d (rows)
  for (let j = 0; j < 4; j++) {
    sub(d[j]!, d[8 + j]!).set(r[j]!);
    add(d[4 + j]!, d[8 + j]!).set(r[4 + j]!);
    sub(d[8 + j]!, d[4 + j]!).set(r[8 + j]!);
    sub(d[4 + j]!, d[12 + j]!).set(r[12 + j]!);
  }
  // V = r B (columns)
  for (let i = 0; i < 4; i++) {
    const row = [r[i * 4]!, r[i * 4 + 1]!, r[i * 4 + 2]!, r[i * 4 + 3]!];
    const outs: Array<() => void> = [
      () => sub(row[0]!, row[2]!),
      () => add(row[1]!, row[2]!),
      () => sub(row[2]!, row[1]!),
      () => sub(row[1]!, row[3]!),
    ];
    for (let j = 0; j < 4; j++) store(i * 4 + j, outs[j]!);
  }
}

/**
 * The transforms of F(4x4, 3x3) on six (or four) v128 locals, for the kernels below; `init()` sets
 * their constants and must be emitted at the start of the function.
 */
function f4Transforms(f: Fn, fma: boolean) {
  const [k2, k4, k5, k8, w0, w1, w2, w3] = Array.from({ length: 8 }, () => f.local(V128));
  const init = () => {
    f.f32const(2).simd(SIMD.f32x4_splat).set(k2!);
    f.f32const(4).simd(SIMD.f32x4_splat).set(k4!);
    f.f32const(5).simd(SIMD.f32x4_splat).set(k5!);
    f.f32const(8).simd(SIMD.f32x4_splat).set(k8!);
  };
  // a * k + b (k a constant splat), fused when the engine has FMA
  const madd = (pushA: () => void, kc: number, pushB: () => void) => {
    if (fma) {
      pushA();
      f.get(kc);
      pushB();
      f.simd(SIMD.f32x4_relaxed_madd);
    } else {
      pushA();
      f.get(kc).simd(SIMD.f32x4_mul);
      pushB();
      f.simd(SIMD.f32x4_add);
    }
  };
  /**
   * Bᵀ of F(4x4, 3x3) on six values x0..x5 (locals), the results into out[0..5]:
   *   r0 = 4x0 - 5x2 + x4            r1 = (x3 + x4) - 4(x1 + x2)    r2 = (x4 - x3) + 4(x1 - x2)
   *   r3 = (x4 - x2) + 2(x3 - x1)    r4 = (x4 - x2) - 2(x3 - x1)    r5 = 4x1 - 5x3 + x5
   */
  const inputT6 = (x: number[], out: Array<(push: () => void) => void>) => {
    out[0]!(() => madd(() => f.get(x[0]!), k4!, () => f.get(x[4]!).get(x[2]!).get(k5!).simd(SIMD.f32x4_mul).simd(F32X4_SUB)));
    f.get(x[1]!).get(x[2]!).simd(SIMD.f32x4_add).set(w0!);
    f.get(x[1]!).get(x[2]!).simd(F32X4_SUB).set(w1!);
    f.get(x[3]!).get(x[1]!).simd(F32X4_SUB).get(k2!).simd(SIMD.f32x4_mul).set(w2!);
    f.get(x[4]!).get(x[2]!).simd(F32X4_SUB).set(w3!);
    out[1]!(() => f.get(x[3]!).get(x[4]!).simd(SIMD.f32x4_add).get(w0!).get(k4!).simd(SIMD.f32x4_mul).simd(F32X4_SUB));
    out[2]!(() => madd(() => f.get(w1!), k4!, () => f.get(x[4]!).get(x[3]!).simd(F32X4_SUB)));
    out[3]!(() => f.get(w3!).get(w2!).simd(SIMD.f32x4_add));
    out[4]!(() => f.get(w3!).get(w2!).simd(F32X4_SUB));
    out[5]!(() => madd(() => f.get(x[1]!), k4!, () => f.get(x[5]!).get(x[3]!).get(k5!).simd(SIMD.f32x4_mul).simd(F32X4_SUB)));
  };
  /**
   * Aᵀ of F(4x4, 3x3) on six values x0..x5, four results:
   *   y0 = x0 + (x1 + x2) + (x3 + x4)   y1 = (x1 - x2) + 2(x3 - x4)
   *   y2 = (x1 + x2) + 4(x3 + x4)       y3 = (x1 - x2) + 8(x3 - x4) + x5
   */
  const outputT6 = (x: number[], out: Array<(push: () => void) => void>) => {
    f.get(x[1]!).get(x[2]!).simd(SIMD.f32x4_add).set(w0!);
    f.get(x[1]!).get(x[2]!).simd(F32X4_SUB).set(w1!);
    f.get(x[3]!).get(x[4]!).simd(SIMD.f32x4_add).set(w2!);
    f.get(x[3]!).get(x[4]!).simd(F32X4_SUB).set(w3!);
    out[0]!(() => f.get(x[0]!).get(w0!).simd(SIMD.f32x4_add).get(w2!).simd(SIMD.f32x4_add));
    out[1]!(() => madd(() => f.get(w3!), k2!, () => f.get(w1!)));
    out[2]!(() => madd(() => f.get(w2!), k4!, () => f.get(w0!)));
    out[3]!(() => madd(() => f.get(w3!), k8!, () => f.get(w1!).get(x[5]!).simd(SIMD.f32x4_add)));
  };
  /**
   * A (6 x 4, the transpose of Aᵀ) on four values y0..y3 of a dY tile's column or row, six results:
   *   z0 = y0   z1 = (y0 + y2) + (y1 + y3)   z2 = (y0 + y2) - (y1 + y3)
   *   z3 = (y0 + 4y2) + 2(y1 + 4y3)   z4 = (y0 + 4y2) - 2(y1 + 4y3)   z5 = y3
   */
  const gradT4 = (y: number[], out: Array<(push: () => void) => void>) => {
    f.get(y[0]!).get(y[2]!).simd(SIMD.f32x4_add).set(w0!);
    f.get(y[1]!).get(y[3]!).simd(SIMD.f32x4_add).set(w1!);
    madd(() => f.get(y[2]!), k4!, () => f.get(y[0]!));
    f.set(w2!);
    madd(() => f.get(y[3]!), k4!, () => f.get(y[1]!));
    f.get(k2!).simd(SIMD.f32x4_mul).set(w3!);
    out[0]!(() => f.get(y[0]!));
    out[1]!(() => f.get(w0!).get(w1!).simd(SIMD.f32x4_add));
    out[2]!(() => f.get(w0!).get(w1!).simd(F32X4_SUB));
    out[3]!(() => f.get(w2!).get(w3!).simd(SIMD.f32x4_add));
    out[4]!(() => f.get(w2!).get(w3!).simd(F32X4_SUB));
    out[5]!(() => f.get(y[3]!));
  };
  /**
   * V = Bᵀ d B of one 6x6 input tile and 4 channels: d[i][j] loaded from p + i*rowstep + j*ci4
   * (bytes; p and rowstep locals), the columns into half[i*6 + j] = (Bᵀ d)[i][j], then the rows;
   * store(k, push) emits V[k] (k = i*6 + j) where the kernel keeps it. col6: 6 v128 locals, half 36.
   */
  const inputTile = (p: number, rowstep: number, ci4: number, col6: number[], half: number[], store: (k: number, push: () => void) => void) => {
    for (let j = 0; j < 6; j++) {
      for (let i = 0; i < 6; i++) {
        f.get(p);
        if (i > 0) f.get(rowstep).i32(i).mul().add();
        f.simd(SIMD.load, mem(j * ci4)).set(col6[i]!);
      }
      inputT6(col6, Array.from({ length: 6 }, (_, i) => (push: () => void) => (push(), f.set(half[i * 6 + j]!))));
    }
    for (let i = 0; i < 6; i++) {
      inputT6(half.slice(i * 6, i * 6 + 6), Array.from({ length: 6 }, (_, j) => (push: () => void) => store(i * 6 + j, push)));
    }
  };
  return { init, inputT6, outputT6, gradT4, inputTile };
}

export interface WinogradSpec {
  ci: number;
  co: number;
  bias: boolean;
  relu: boolean;
  /** Output tile: 2 for F(2x2, 3x3) (16 positions), 4 for F(4x4, 3x3) (36 positions). Default 2. */
  tile?: 2 | 4;
}

/**
 * (xpad, u, b, out, vbuf, mbuf, N, Hp, Wp, OH, OW, TH, TW): byte addresses and sizes. xpad is
 * [N, Hp, Wp, ci] with Hp >= 2*TH + 2 and Wp >= 2*TW + 2; out is [N, OH, OW, co]; vbuf holds
 * 16*TH*TW*ci floats, mbuf 16*TH*TW*co.
 */
function winogradFn(spec: WinogradSpec, fma: boolean): Fn {
  const { ci, co } = spec;
  const m = spec.tile ?? 2;
  const alpha = m + 2;
  const K = alpha * alpha; // transform positions per tile
  const ci4 = ci * 4;
  const co4 = co * 4;
  const P = 2;
  const coV = 4;
  const f = new Fn('winograd', 13);
  const [XP, U, B, OUT, VB, MB, N, HP, WP, OH, OW, TH, TW] = Array.from({ length: 13 }, (_, i) => i);
  const [n, th, tw, t, c, k, ximg, xrow, vk, mk, T, rowstep, p, q, cnt, up, vp, ybase, cob] = Array.from(
    { length: 19 },
    () => f.local(I32),
  );
  const d = Array.from({ length: 16 }, () => f.local(V128));
  const r = Array.from({ length: 16 }, () => f.local(V128));
  // F(4x4, 3x3): 6 column values, the 36 (input) or 24 (output) half-transformed values, constants
  const col6 = m === 4 ? Array.from({ length: 6 }, () => f.local(V128)) : [];
  const half = m === 4 ? Array.from({ length: 36 }, () => f.local(V128)) : [];
  const acc = Array.from({ length: P * coV }, () => f.local(V128));
  const uv = Array.from({ length: coV }, () => f.local(V128));
  const s = f.local(V128);
  const zero = f.local(V128);
  const { c0, g, add, sub } = emitters(f);
  const t4 = m === 4 ? f4Transforms(f, fma) : undefined;

  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  t4?.init();
  f.get(TH).get(TW).mul().set(T);
  f.get(WP).i32(ci4).mul().set(rowstep);

  const tiles: TileVars = { n, t, th, tw, c, p, ximg, xrow, rowstep, XP, HP, WP, TH, TW };
  f.forRange(n, c0(0), g(N), () => {
    // (1) input transform
    forInputTiles(f, tiles, m, ci4, () => {
      f.get(VB).get(t).i32(K * ci4).mul().add().get(c).add().set(vp);
      const store = (kk: number, push: () => void) => {
        f.get(vp);
        push();
        f.simd(SIMD.store, mem(kk * ci4));
      };
      if (t4) {
        t4.inputTile(p, rowstep, ci4, col6, half, store);
        return;
      }
      // V = Bᵀ d B, stored at V[t][k][c] (k as a constant offset)
      inputTransform2(f, p, rowstep, ci4, d, r, store);
    });
    // (2) M[k] = V[k] · U[k] for the K positions
    f.forRange(k, c0(0), c0(K), () => {
      f.get(VB).get(k).i32(ci4).mul().add().set(vk);
      f.get(MB).get(k).i32(co4).mul().add().set(mk);
      const block = (pb: number) => {
        f.forRange(
          cob,
          c0(0),
          c0(co4),
          () => {
            for (let x = 0; x < pb * coV; x++) f.get(zero).set(acc[x]!);
            f.get(vk).get(q).i32(K * ci4).mul().add().set(vp);
            f.get(U).get(k).i32(ci * co4).mul().add().get(cob).add().set(up);
            f.i32(ci).set(cnt);
            f.countdown(cnt, () => {
              for (let j = 0; j < coV; j++) f.get(up).simd(SIMD.load, mem(j * 16)).set(uv[j]!);
              for (let x = 0; x < pb; x++) {
                f.get(vp).simd(SIMD.load32_splat, mem(x * K * ci4)).set(s);
                for (let j = 0; j < coV; j++) maddInto(f, fma, acc[x * coV + j]!, () => f.get(s), () => f.get(uv[j]!));
              }
              f.get(vp).i32(4).add().set(vp);
              f.get(up).i32(co4).add().set(up);
            });
            f.get(mk).get(q).i32(K * co4).mul().add().get(cob).add().set(p);
            for (let x = 0; x < pb; x++) {
              for (let j = 0; j < coV; j++) f.get(p).get(acc[x * coV + j]!).simd(SIMD.store, mem(x * K * co4 + j * 16));
            }
          },
          16 * coV,
        );
      };
      // tiles q in blocks of P, then single tiles
      f.forBlocks(q, g(T), P, block);
    });
    // (3) output transform Y = Aᵀ M A (+ bias, ReLU)
    // ybase = out + ((n*OH + m*th)*OW + m*tw)*co4 at each tile
    const atTile = () => f.get(OUT).get(n).get(OH).mul().get(th).i32(m).mul().add().get(OW).mul().get(tw).i32(m).mul().add().i32(co4).mul().add().set(ybase);
    forTiles(f, tiles, co4, { tile: atTile }, () => {
      f.get(MB).get(t).i32(K * co4).mul().add().get(c).add().set(p);
      if (m === 4) {
        // columns: half[a*6 + j] = (Aᵀ M)[a][j]; then rows: Y[a][b] = (half A)[a][b]
        for (let j = 0; j < 6; j++) {
          for (let i = 0; i < 6; i++) {
            f.get(p).simd(SIMD.load, mem((i * 6 + j) * co4)).set(col6[i]!);
          }
          t4!.outputT6(
            col6,
            Array.from({ length: 4 }, (_, a) => (push: () => void) => {
              push();
              f.set(half[a * 6 + j]!);
            }),
          );
        }
        if (spec.bias) f.get(B).get(c).add().simd(SIMD.load, mem(0)).set(s);
        for (let a = 0; a < 4; a++) {
          // output row m*th + a exists?
          f.get(th).i32(4).mul().i32(a).add().get(OH).ltS();
          f.ifThen(() => {
            t4!.outputT6(
              half.slice(a * 6, a * 6 + 6),
              Array.from({ length: 4 }, (_, b) => (push: () => void) => {
                const store = () => {
                  f.get(ybase);
                  if (a > 0) f.get(OW).i32(co4 * a).mul().add();
                  f.get(c).add();
                  push();
                  if (spec.bias) f.get(s).simd(SIMD.f32x4_add);
                  if (spec.relu) f.get(zero).simd(SIMD.f32x4_max);
                  f.simd(SIMD.store, mem(b * co4));
                };
                if (b === 0) store();
                else {
                  f.get(tw).i32(4).mul().i32(b).add().get(OW).ltS();
                  f.ifThen(store);
                }
              }),
            );
          });
        }
        return;
      }
      for (let kk = 0; kk < 16; kk++) f.get(p).simd(SIMD.load, mem(kk * co4)).set(d[kk]!);
      // rows: r0j = m0j + m1j + m2j; r1j = m1j - m2j - m3j
      for (let j = 0; j < 4; j++) {
        add(d[j]!, d[4 + j]!).get(d[8 + j]!).simd(SIMD.f32x4_add).set(r[j]!);
        sub(d[4 + j]!, d[8 + j]!).get(d[12 + j]!).simd(F32X4_SUB).set(r[4 + j]!);
      }
      if (spec.bias) f.get(B).get(c).add().simd(SIMD.load, mem(0)).set(s);
      // y[a][b]: (row a) cols: y0 = r0 + r1 + r2, y1 = r1 - r2 - r3
      const y = (a: number, b: number) => {
        const base = a * 4;
        if (b === 0) add(r[base]!, r[base + 1]!).get(r[base + 2]!).simd(SIMD.f32x4_add);
        else sub(r[base + 1]!, r[base + 2]!).get(r[base + 3]!).simd(F32X4_SUB);
        if (spec.bias) f.get(s).simd(SIMD.f32x4_add);
        if (spec.relu) f.get(zero).simd(SIMD.f32x4_max);
      };
      const store = (a: number, b: number) => {
        // address: ybase + (a*OW + b)*co4 + c
        f.get(ybase);
        if (a === 1) f.get(OW).i32(co4).mul().add();
        f.get(c).add();
        y(a, b);
        f.simd(SIMD.store, mem(b * co4));
      };
      store(0, 0);
      // the right column exists unless OW is odd and this is the last tile column
      f.get(tw).i32(2).mul().i32(1).add().get(OW).ltS();
      f.ifThen(() => store(0, 1));
      f.get(th).i32(2).mul().i32(1).add().get(OH).ltS();
      f.ifThen(() => {
        store(1, 0);
        f.get(tw).i32(2).mul().i32(1).add().get(OW).ltS();
        f.ifThen(() => store(1, 1));
      });
    });
  });
  return f;
}

type WinogradFn = (
  xpad: number,
  u: number,
  b: number,
  out: number,
  vbuf: number,
  mbuf: number,
  n: number,
  hp: number,
  wp: number,
  oh: number,
  ow: number,
  th: number,
  tw: number,
) => void;

const compiled = new WeakMap<WebAssembly.Memory, Map<string, WinogradFn>>();

export function winogradEligible(kh: number, kw: number, ci: number, co: number): boolean {
  return kh === 3 && kw === 3 && ci % 4 === 0 && co % 16 === 0;
}

/** The Winograd kernel for `spec` on this heap (compiled on first use). */
export function winogradKernel(memory: WebAssembly.Memory, spec: WinogradSpec): WinogradFn {
  if (spec.ci % 4 !== 0 || spec.co % 16 !== 0) throw new Error(`winogradKernel: needs ci % 4 == 0 and co % 16 == 0, got ${spec.ci}, ${spec.co}`);
  const key = `${spec.ci}.${spec.co}.${spec.bias ? 1 : 0}.${spec.relu ? 1 : 0}.${spec.tile ?? 2}`;
  return compiledKernel(compiled, memory, key, () => winogradFn(spec, fmaAvailable()));
}

/** G of F(2x2, 3x3) (4 x 3) and of F(4x4, 3x3) (6 x 3). */
const G_TILE: Record<2 | 4, number[][]> = {
  2: [
    [1, 0, 0],
    [1 / 2, 1 / 2, 1 / 2],
    [1 / 2, -1 / 2, 1 / 2],
    [0, 0, 1],
  ],
  4: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
};

/**
 * (src, dst, cc): out = L · in · R for every element e < cc of cc-float planes, where in is s x t
 * planes at byte address src (plane i*t + j) and out p x q planes at dst: in float64 (f64x2, two
 * elements at a time, each float32 promoted) and rounded to float32 once, as a float64 reference
 * would. L (p x s) and R (t x q) are constants of the kernel; their zeros and ones cost nothing.
 * The Winograd filter transform (U = G g Gᵀ) and the filter gradient's last step (dW = Gᵀ dU G).
 * cc must be even.
 */
function sandwichFn(L: number[][], R: number[][]): Fn {
  const p = L.length;
  const sN = L[0]!.length;
  const tN = R.length;
  const q = R[0]!.length;
  const f = new Fn('winograd_sandwich', 3);
  const [SRC, DST, CC] = [0, 1, 2];
  const [e, sp, dp, bytes] = Array.from({ length: 4 }, () => f.local(I32));
  const x = Array.from({ length: sN * tN }, () => f.local(V128));
  const tmp = Array.from({ length: p * tN }, () => f.local(V128));
  const acc = f.local(V128);
  // Σ_k coef[k] * v[k] into `out` (coefficients 0 skipped, 1 not multiplied)
  const combine = (coefs: number[], vals: number[], out: number) => {
    let first = true;
    for (let k = 0; k < coefs.length; k++) {
      const c = coefs[k]!;
      if (c === 0) continue;
      f.get(vals[k]!);
      if (c !== 1) f.f64const(c).simd(SIMD.f64x2_splat).simd(SIMD.f64x2_mul);
      if (!first) f.simd(SIMD.f64x2_add);
      first = false;
    }
    if (first) f.f64const(0).simd(SIMD.f64x2_splat);
    f.set(out);
  };
  f.get(CC).i32(4).mul().set(bytes);
  f.get(SRC).set(sp);
  f.get(DST).set(dp);
  f.forRange(
    e,
    () => f.i32(0),
    () => f.get(CC),
    () => {
      for (let k = 0; k < sN * tN; k++) {
        f.get(sp);
        if (k > 0) f.get(bytes).i32(k).mul().add();
        f.simd(SIMD.v128_load64_zero, mem(0)).simd(SIMD.f64x2_promote_low_f32x4).set(x[k]!);
      }
      // tmp[r][j] = Σ_i L[r][i] x[i][j]
      for (let r = 0; r < p; r++) {
        for (let j = 0; j < tN; j++) combine(L[r]!, Array.from({ length: sN }, (_, i) => x[i * tN + j]!), tmp[r * tN + j]!);
      }
      // out[r][c] = Σ_j tmp[r][j] R[j][c]
      for (let r = 0; r < p; r++) {
        for (let c = 0; c < q; c++) {
          combine(
            R.map((row) => row[c]!),
            Array.from({ length: tN }, (_, j) => tmp[r * tN + j]!),
            acc,
          );
          f.get(dp);
          if (r * q + c > 0) f.get(bytes).i32(r * q + c).mul().add();
          f.get(acc).simd(SIMD.f32x4_demote_f64x2_zero);
          f.lane(SIMD.v128_store64_lane, 0, mem(0));
        }
      }
      f.get(sp).i32(8).add().set(sp);
      f.get(dp).i32(8).add().set(dp);
    },
    2,
  );
  return f;
}

type SandwichFn = (src: number, dst: number, cc: number) => void;
const sandwichCompiled = new WeakMap<WebAssembly.Memory, Map<string, SandwichFn>>();

const transpose = (a: number[][]): number[][] => a[0]!.map((_, j) => a.map((row) => row[j]!));

/**
 * U[k][ci][co] = (G g Gᵀ)[k] for a [3, 3, ci, co] filter g at byte address `src`, written at byte
 * address `dst` ((tile+2)² * ci * co floats), in float64 and rounded once.
 */
export function winogradFilter(memory: WebAssembly.Memory, src: number, dst: number, ci: number, co: number, tile: 2 | 4 = 2): void {
  const G = G_TILE[tile];
  compiledKernel(sandwichCompiled, memory, `filter${tile}`, () => sandwichFn(G, transpose(G)))(src, dst, ci * co);
}

/** Tiles and the extra bottom/right padding the input needs for an OH x OW output (tile 2 or 4). */
export function winogradPadding(oh: number, ow: number, tile: 2 | 4 = 2): { th: number; tw: number; extraBottom: number; extraRight: number } {
  const th = Math.ceil(oh / tile);
  const tw = Math.ceil(ow / tile);
  return { th, tw, extraBottom: tile * th - oh, extraRight: tile * tw - ow };
}

/**
 * Winograd filter gradient (stride 1, 3x3, NHWC), F(2x2, 3x3) (`m` 2) or F(4x4, 3x3) (`m` 4): with
 * Y = Aᵀ [Σ_ci U ⊙ V] A per tile,
 *   dM = A dY Aᵀ (K = (m+2)² values from each m x m output-gradient tile),
 *   dU[k] += Σ_tiles V[k]ᵀ · dM[k]  (ci x co),  dW = Gᵀ dU G (in JavaScript, `winogradFilterGradFinish`).
 * K products of T x ci x co per image instead of 9 x H x W x ci x co multiply-adds (F(2x2): 2.25x
 * fewer; F(4x4): 4x fewer), plus the input transform (as the forward) and the transform of dy.
 *
 * (xpad, dyp, du, vbuf, mbuf, N, Hp, Wp, TH, TW): xpad as the forward's (Hp >= m*TH + 2); dyp is dy
 * padded to [N, m*TH, m*TW, co] (zeros beyond the output); du [K, ci, co] must be zeroed; vbuf holds
 * K*(N*T*ci + WINOGRAD_DW_PLANE_PAD) floats, mbuf K*(N*T*co + WINOGRAD_DW_PLANE_PAD). The N images' tiles are transformed first, then each product sums
 * all N*T tiles from zero and adds the sum to dU once: the caller passes a few images at a time, so
 * that each chain of float32 additions stays about as long as one image's (the rounding stays near
 * the direct kernel's) while a small layer (7x7: T = 4 or 16) still has enough tiles per product.
 * ci % 4 == 0, co % 8 == 0 (compile-time).
 */
function winogradFilterGradFn(ci: number, co: number, fma: boolean, m: 2 | 4): Fn {
  const K = (m + 2) * (m + 2);
  const ci4 = ci * 4;
  const co4 = co * 4;
  const f = new Fn('winograd_dw', 10);
  const [XP, DYP, DU, VB, MB, N, HP, WP, TH, TW] = Array.from({ length: 10 }, (_, i) => i);
  const [n, th, tw, t, c, k, ximg, xrow, T, vstride, mstride, rowstep, p, vp, dyimg, dyrow, cib, cob, up, cnt, mp, nt] = Array.from(
    { length: 22 },
    () => f.local(I32),
  );
  const d = Array.from({ length: 16 }, () => f.local(V128));
  const r = Array.from({ length: 16 }, () => f.local(V128));
  const half = m === 4 ? Array.from({ length: 36 }, () => f.local(V128)) : [];
  const col6 = m === 4 ? Array.from({ length: 6 }, () => f.local(V128)) : [];
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const s = f.local(V128);
  const zero = f.local(V128);
  const { c0, g, add, sub } = emitters(f);
  const t4 = m === 4 ? f4Transforms(f, fma) : undefined;

  f.f32const(0).simd(SIMD.f32x4_splat).set(zero);
  t4?.init();
  f.get(TH).get(TW).mul().set(T);
  f.get(N).get(T).mul().set(nt);
  // planes k of V and M are 64 bytes more than their contents apart: at an exact multiple of 4 KiB
  // the K streams that the transforms write would all fall into the same L1 cache sets
  f.get(nt).i32(ci4).mul().i32(WINOGRAD_DW_PLANE_PAD * 4).add().set(vstride);
  f.get(nt).i32(co4).mul().i32(WINOGRAD_DW_PLANE_PAD * 4).add().set(mstride);
  f.get(WP).i32(ci4).mul().set(rowstep);

  // store(k, push) of the transforms: value k of the current slot vp into plane k (planes `stride` bytes apart)
  const storeAt = (stride: number) => (kk: number, push: () => void) => {
    f.get(vp);
    if (kk > 0) f.get(stride).i32(kk).mul().add();
    push();
    f.simd(SIMD.store, mem(0));
  };
  const tiles: TileVars = { n, t, th, tw, c, p, ximg, xrow, rowstep, XP, HP, WP, TH, TW };
  // vp / mp = the slot of tile t of image n, channel group c, position 0
  const slot = (base: number, c4: number, out: number) => f.get(base).get(n).get(T).mul().get(t).add().i32(c4).mul().add().get(c).add().set(out);
  f.forRange(n, c0(0), g(N), () => {
    // (1) input transform (as the forward kernel), V stored at V[k][n*T + t][c]
    forInputTiles(f, tiles, m, ci4, () => {
      slot(VB, ci4, vp);
      const store = storeAt(vstride);
      if (t4) {
        t4.inputTile(p, rowstep, ci4, col6, half, store);
        return;
      }
      inputTransform2(f, p, rowstep, ci4, d, r, store);
    });
    // (2) dy transform dM = A dY Aᵀ, stored at M[k][n*T + t][c]
    f.get(DYP).get(n).get(TH).mul().get(TW).mul().i32(m * m * co4).mul().add().set(dyimg);
    // dyrow: row m*th of [m*TH, m*TW, co]
    forTiles(f, tiles, co4, { row: () => f.get(dyimg).get(th).get(TW).mul().i32(m * m * co4).mul().add().set(dyrow) }, () => {
      // p = dy[m*th][m*tw] + c
      f.get(dyrow).get(tw).i32(m * co4).mul().add().get(c).add().set(p);
      slot(MB, co4, vp);
      const store = storeAt(mstride);
      // d[i*m + j] = dy[m*th + i][m*tw + j]
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          f.get(p);
          if (i > 0) f.get(TW).i32(m * co4 * i).mul().add();
          f.simd(SIMD.load, mem(j * co4)).set(d[i * m + j]!);
        }
      }
      if (t4) {
        // columns: half[i*4 + j] = (A dY)[i][j] (6 x 4); then rows: dM[i*6 + l] = (half Aᵀ)[i][l]
        for (let j = 0; j < 4; j++) {
          t4.gradT4([d[j]!, d[4 + j]!, d[8 + j]!, d[12 + j]!], Array.from({ length: 6 }, (_, i) => (push: () => void) => (push(), f.set(half[i * 4 + j]!))));
        }
        for (let i = 0; i < 6; i++) {
          t4.gradT4(half.slice(i * 4, i * 4 + 4), Array.from({ length: 6 }, (_, l) => (push: () => void) => store(i * 6 + l, push)));
        }
        return;
      }
      // F(2x2): a b / c d = d[0] d[1] / d[2] d[3]; rows of A dY: (a, b), (a+c, b+d), (a-c, b-d), (-c, -d)
      f.get(d[0]!).set(r[0]!);
      f.get(d[1]!).set(r[1]!);
      add(d[0]!, d[2]!).set(r[2]!);
      add(d[1]!, d[3]!).set(r[3]!);
      sub(d[0]!, d[2]!).set(r[4]!);
      sub(d[1]!, d[3]!).set(r[5]!);
      sub(zero, d[2]!).set(r[6]!);
      sub(zero, d[3]!).set(r[7]!);
      for (let i = 0; i < 4; i++) {
        const pp = r[2 * i]!;
        const qq = r[2 * i + 1]!;
        // (p, q) Aᵀ = (p, p+q, p-q, -q)
        const outs: Array<() => void> = [() => f.get(pp), () => add(pp, qq), () => sub(pp, qq), () => sub(zero, qq)];
        for (let j = 0; j < 4; j++) store(i * 4 + j, outs[j]!);
      }
    });
  });
  // (3) dU[k][ci][co] += Σ_tiles V[k][tile][ci] · M[k][tile][co]: blocks of 4 input x 8 output channels
  f.forRange(k, c0(0), c0(K), () => {
    f.forRange(
      cib,
      c0(0),
      c0(ci),
      () => {
        f.forRange(
          cob,
          c0(0),
          c0(co4),
          () => {
            // up = du + ((k*ci + cib)*co)*4 + cob
            f.get(DU).get(k).i32(ci).mul().get(cib).add().i32(co4).mul().add().get(cob).add().set(up);
            for (let i = 0; i < 8; i++) f.get(zero).set(acc[i]!);
            f.get(VB).get(k).get(vstride).mul().add().get(cib).i32(4).mul().add().set(vp);
            f.get(MB).get(k).get(mstride).mul().add().get(cob).add().set(mp);
            f.get(nt).set(cnt);
            f.countdown(cnt, () => {
              f.get(mp).simd(SIMD.load, mem(0)).set(d[0]!);
              f.get(mp).simd(SIMD.load, mem(16)).set(d[1]!);
              for (let i = 0; i < 4; i++) {
                f.get(vp).simd(SIMD.load32_splat, mem(i * 4)).set(s);
                for (let j = 0; j < 2; j++) maddInto(f, fma, acc[i * 2 + j]!, () => f.get(s), () => f.get(d[j]!));
              }
              f.get(vp).i32(ci4).add().set(vp);
              f.get(mp).i32(co4).add().set(mp);
            });
            for (let i = 0; i < 4; i++) {
              for (let j = 0; j < 2; j++) {
                f.get(up).get(up).simd(SIMD.load, mem(i * co4 + j * 16)).get(acc[i * 2 + j]!).simd(SIMD.f32x4_add).simd(SIMD.store, mem(i * co4 + j * 16));
              }
            }
          },
          32,
        );
      },
      4,
    );
  });
  return f;
}

/** Floats between the end of one plane k of the filter gradient's V and M buffers and the next. */
export const WINOGRAD_DW_PLANE_PAD = 16;

type WinogradDwFn = (xpad: number, dyp: number, du: number, vbuf: number, mbuf: number, n: number, hp: number, wp: number, th: number, tw: number) => void;
const dwCompiled = new WeakMap<WebAssembly.Memory, Map<string, WinogradDwFn>>();

export function winogradFilterGradEligible(kh: number, kw: number, ci: number, co: number): boolean {
  return kh === 3 && kw === 3 && ci % 4 === 0 && co % 16 === 0;
}

/** The Winograd filter-gradient kernel for ci -> co and output tile m on this heap (compiled on first use). */
export function winogradFilterGradKernel(memory: WebAssembly.Memory, ci: number, co: number, m: 2 | 4 = 2): WinogradDwFn {
  if (ci % 4 !== 0 || co % 8 !== 0) throw new Error(`winogradFilterGradKernel: needs ci % 4 == 0 and co % 8 == 0, got ${ci}, ${co}`);
  return compiledKernel(dwCompiled, memory, `${ci}.${co}.${m}`, () => winogradFilterGradFn(ci, co, fmaAvailable(), m));
}

/** dW[3][3][ci][co] = Gᵀ dU G from dU[(m+2)²][ci][co] (byte addresses), in float64 and rounded once. */
export function winogradFilterGradFinish(memory: WebAssembly.Memory, du: number, dw: number, ci: number, co: number, m: 2 | 4 = 2): void {
  const G = G_TILE[m];
  compiledKernel(sandwichCompiled, memory, `finish${m}`, () => sandwichFn(transpose(G), G))(du, dw, ci * co);
}
