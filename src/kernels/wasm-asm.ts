/**
 * A very small WebAssembly assembler: just enough to emit a module that imports the tfjs wasm
 * backend's memory and exports a few SIMD kernels (see simd-kernels.ts). Functions take i32
 * parameters and return nothing; the body is written with the `Fn` builder below, and
 * `compiledKernel` compiles a one-function module once per heap.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function str(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** SIMD opcodes (after the 0xfd prefix) used by the kernels. */
export const SIMD = {
  load: 0x00,
  load32_splat: 0x09,
  store: 0x0b,
  i32x4_splat: 0x11,
  f32x4_splat: 0x13,
  i32x4_extract_lane: 0x1b,
  f32x4_extract_lane: 0x1f,
  f32x4_gt: 0x44,
  v128_and: 0x4e,
  v128_bitselect: 0x52,
  f32x4_add: 0xe4,
  f32x4_mul: 0xe6,
  f32x4_max: 0xe9,
  f64x2_splat: 0x14,
  v128_load64_zero: 0x5d,
  v128_store64_lane: 0x5b,
  f32x4_demote_f64x2_zero: 0x5e,
  f64x2_promote_low_f32x4: 0x5f,
  f64x2_add: 0xf0,
  f64x2_mul: 0xf2,
  /** relaxed SIMD: a*b + c, one fused multiply-add where the CPU has FMA. */
  f32x4_relaxed_madd: 0x105,
} as const;

/** The memory immediate of a load or store: no alignment hint, a constant byte offset. */
export function mem(offset = 0): { align: number; offset: number } {
  return { align: 0, offset };
}

/** Builder for one function body. Locals are numbered after the parameters. */
export class Fn {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];
  constructor(
    readonly name: string,
    readonly numParams: number,
  ) {}

  local(type: ValType): number {
    this.locals.push(type);
    return this.numParams + this.locals.length - 1;
  }

  get(i: number): this {
    this.code.push(0x20, ...uleb(i));
    return this;
  }
  set(i: number): this {
    this.code.push(0x21, ...uleb(i));
    return this;
  }
  tee(i: number): this {
    this.code.push(0x22, ...uleb(i));
    return this;
  }
  i32(v: number): this {
    this.code.push(0x41, ...sleb(v | 0));
    return this;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  ltS(): this {
    return this.op(0x48);
  }
  geS(): this {
    return this.op(0x4e);
  }
  ne(): this {
    return this.op(0x47);
  }
  select(): this {
    return this.op(0x1b);
  }
  /** SIMD instruction with an optional memarg (align, offset). */
  simd(opcode: number, mem?: { align: number; offset: number }): this {
    this.code.push(0xfd, ...uleb(opcode));
    if (mem) this.code.push(...uleb(mem.align), ...uleb(mem.offset));
    return this;
  }
  f32const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  f64const(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    return this.op(0x44, ...b);
  }
  /** f32x4/i32x4.extract_lane (or, with a memarg, a v128 load/store_lane) with its lane immediate. */
  lane(opcode: number, lane: number, memarg?: { align: number; offset: number }): this {
    this.code.push(0xfd, ...uleb(opcode));
    if (memarg) this.code.push(...uleb(memarg.align), ...uleb(memarg.offset));
    this.code.push(lane);
    return this;
  }
  f32load(offset = 0): this {
    return this.op(0x2a, 2, ...uleb(offset));
  }
  f32store(offset = 0): this {
    return this.op(0x38, 2, ...uleb(offset));
  }
  /** block { loop { body } }: `br 1` leaves, `br 0` repeats. */
  blockLoop(body: () => void): this {
    this.op(0x02, 0x40, 0x03, 0x40);
    body();
    return this.op(0x0b, 0x0b);
  }
  brIf(depth: number): this {
    return this.op(0x0d, ...uleb(depth));
  }
  br(depth: number): this {
    return this.op(0x0c, ...uleb(depth));
  }
  /** if (cond on stack) { body } */
  ifThen(body: () => void): this {
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }
  /** for (v = start; v < end; v += step) body; start/end/step are pushers. */
  forRange(v: number, start: () => void, end: () => void, body: () => void, step = 1): this {
    start();
    this.set(v);
    this.blockLoop(() => {
      this.get(v);
      end();
      this.geS().brIf(1);
      body();
      this.get(v).i32(step).add().set(v);
      this.br(0);
    });
    return this;
  }
  /**
   * v = 0; full blocks of `size`: while (v + size <= end) { body(size); v += size }; then single
   * steps: while (v < end) { body(1); v += 1 }. `end` is a pusher.
   */
  forBlocks(v: number, end: () => void, size: number, body: (n: number) => void): this {
    this.i32(0).set(v);
    this.blockLoop(() => {
      this.get(v).i32(size).add();
      end();
      this.op(0x4a).brIf(1); // i32.gt_s: v + size > end, done
      body(size);
      this.get(v).i32(size).add().set(v);
      this.br(0);
    });
    return this.blockLoop(() => {
      this.get(v);
      end();
      this.geS().brIf(1);
      body(1);
      this.get(v).i32(1).add().set(v);
      this.br(0);
    });
  }
  /** do { body } while (--counter != 0): the i32 local `counter` must be set (> 0) before. */
  countdown(counter: number, body: () => void): this {
    this.op(0x03, 0x40);
    body();
    this.get(counter).i32(1).sub().tee(counter).brIf(0);
    return this.op(0x0b);
  }

  encode(): number[] {
    const groups: number[][] = [];
    let i = 0;
    while (i < this.locals.length) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      groups.push([...uleb(j - i), this.locals[i]!]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module importing memory `env.memory` (shared when the tfjs build is threaded) and exporting
 * the given functions, each of type (i32 x numParams) -> ().
 */
export function assemble(fns: Fn[], sharedMemory: boolean): Uint8Array<ArrayBuffer> {
  const arities = [...new Set(fns.map((f) => f.numParams))];
  const types = arities.map((n) => [0x60, ...uleb(n), ...new Array<number>(n).fill(I32), 0]);
  const limits = sharedMemory ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = [[...str('env'), ...str('memory'), 0x02, ...limits]];
  const funcs = fns.map((f) => uleb(arities.indexOf(f.numParams)));
  const exports = fns.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs)),
    ...section(7, vec(exports)),
    ...section(10, vec(fns.map((f) => f.encode()))),
  ];
  return Uint8Array.from(bytes);
}

/** Whether a heap is shared memory (the threaded tfjs build): modules must import it as shared. */
export function isSharedMemory(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * The function that `build()` emits, as a module instantiated against `memory`: assembled and
 * compiled on first use, then taken from `cache` (per memory, by `key`).
 */
export function compiledKernel<T>(cache: WeakMap<WebAssembly.Memory, Map<string, T>>, memory: WebAssembly.Memory, key: string, build: () => Fn): T {
  let m = cache.get(memory);
  if (!m) {
    m = new Map();
    cache.set(memory, m);
  }
  let fn = m.get(key);
  if (!fn) {
    const f = build();
    const bytes = assemble([f], isSharedMemory(memory));
    fn = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports[f.name] as T;
    m.set(key, fn);
  }
  return fn;
}
