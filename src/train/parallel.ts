/**
 * Data-parallel training steps in worker threads, for the CPU backends (wasm): each worker holds a
 * replica of the feature network and runs the forward and backward pass of its share of the batch;
 * this thread runs only the loss head on the whole batch and the optimizer.
 *
 * One step:
 *   1. the network weights (when they changed) and the batch go to shared memory; each worker
 *      computes the embeddings of its slice and publishes them;
 *   2. this thread evaluates the loss on the full batch of embeddings (so losses that couple the
 *      samples of a batch, such as triplet mining or the center update, see exactly what they see
 *      in one process) and differentiates it with respect to the embeddings and the loss's own
 *      variables;
 *   3. each worker, still inside its gradient tape, receives d(loss)/d(embeddings) of its slice and
 *      back-propagates the surrogate sum(embeddings * dEmbeddings), whose gradient with respect to
 *      the network is exactly its share of the full-batch gradient; the shares are summed here.
 *
 * The result equals the single-process gradient up to float summation order. Steps are synchronous
 * (Atomics.wait on shared memory, microseconds per hand-over), so `computeGradients` / `trainStep`
 * are drop-in replacements for the ones in step.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../backend.js';
import type { Loss } from '../losses/types.js';
import type { FeatureNet } from '../model/net.js';
import type { Adam } from './optimizer.js';
import type { StepResult } from './step.js';

export interface DataParallelOptions {
  /** Worker threads (default: the number of cores). */
  workers?: number;
  /** Largest batch that will be passed (default 128). */
  maxBatch?: number;
  /** Image shape [H, W, C] (default [28, 28, 1]). */
  imageShape?: [number, number, number];
  /** Backend of the workers (default 'wasm'); each worker uses one thread. */
  backend?: BackendName;
  /** Longest wait for a worker, in ms, before giving up (default 10 minutes). */
  timeoutMs?: number;
}

/** Layout of the shared control block (Int32). Per worker: CTRL_BASE + i * CTRL_STRIDE + field. */
export const CTRL = {
  weightsVersion: 0,
  base: 16,
  stride: 8,
  go: 0, // main -> worker: step sequence number
  cmd: 1, // main -> worker: what to do
  embReady: 2, // worker -> main: sequence number (negative: failed)
  dembReady: 3, // main -> worker
  done: 4, // worker -> main (negative: failed)
  start: 5, // slice of the batch
  size: 6,
} as const;

export const CMD = { step: 1, forward: 2, exit: 3 } as const;
export const ERROR_BYTES = 4096;

/** Everything a worker needs (structured-cloned into workerData). */
export interface WorkerSetup {
  index: number;
  backend: BackendName;
  embeddingDim: number;
  imageShape: [number, number, number];
  maxBatch: number;
  /** Variable names in the order of the shared weight and gradient buffers, with their sizes. */
  varNames: string[];
  varShapes: number[][];
  ctrl: SharedArrayBuffer;
  data: SharedArrayBuffer;
  errors: SharedArrayBuffer;
  /** Float offsets into `data`. */
  offsets: { weights: number; x: number; emb: number; demb: number; grads: number; params: number };
}

/**
 * The values of a float32 tensor: on wasm (the engine with `typedArrayFromHeap`) a view of its heap,
 * with no copy and no garbage (`dataSync` allocates a new buffer per call, and a step read 140,000
 * floats back that way); elsewhere `dataSync()`. The view is valid until the engine allocates
 * again: copy out of it at once.
 */
export function floatView(t: tf.Tensor): Float32Array {
  const b = tf.backend() as unknown as { typedArrayFromHeap?: (info: { dataId: object; shape: number[]; dtype: string }) => unknown };
  if (t.dtype === 'float32' && typeof b.typedArrayFromHeap === 'function') {
    return b.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array;
  }
  return t.dataSync() as Float32Array;
}

export class DataParallelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataParallelError';
  }
}

function workerEntry(): { url: string; tsx?: string } {
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(ts ? './parallel-worker.ts' : './parallel-worker.js', import.meta.url).href;
  return ts ? { url, tsx: import.meta.resolve('tsx/esm/api') } : { url };
}

// The worker starts from this CommonJS snippet: it registers tsx when running from the TypeScript
// sources (the CLI does the same in bin/facelosses.js) and imports the real worker module.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.entry.tsx) {
    const { register } = await import(workerData.entry.tsx);
    register();
  }
  await import(workerData.entry.url);
})().catch((e) => {
  require('node:worker_threads').parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) });
});
`;

export class DataParallel {
  private seq = 0;
  private weightsDirty = true;
  private disposed = false;
  private broken: string | undefined;
  private readonly ctrl: Int32Array;
  private readonly data: Float32Array;
  private readonly errors: Uint8Array;
  private readonly netNames: string[];
  private readonly sizes: number[];

  private constructor(
    private readonly net: FeatureNet,
    private readonly workers: Worker[],
    private readonly setup: Omit<WorkerSetup, 'index'>,
    private readonly timeoutMs: number,
  ) {
    this.ctrl = new Int32Array(setup.ctrl);
    this.data = new Float32Array(setup.data);
    this.errors = new Uint8Array(setup.errors);
    this.netNames = setup.varNames;
    this.sizes = setup.varShapes.map((s) => s.reduce((a, b) => a * b, 1));
  }

  /** Starts the workers (each loads the backend and builds a replica of `net`'s architecture). */
  static async create(net: FeatureNet, opts: DataParallelOptions = {}): Promise<DataParallel> {
    const workers = opts.workers ?? os.cpus().length;
    if (!Number.isInteger(workers) || workers < 1) throw new DataParallelError(`workers must be a positive integer, got ${workers}`);
    const maxBatch = opts.maxBatch ?? 128;
    const imageShape = opts.imageShape ?? [28, 28, 1];
    const varNames = Object.keys(net.variables);
    const varShapes = varNames.map((n) => net.variables[n]!.shape.slice());
    const params = varShapes.reduce((a, s) => a + s.reduce((p, q) => p * q, 1), 0);
    const pixels = imageShape[0] * imageShape[1] * imageShape[2];
    const d = net.embeddingDim;
    const offsets = { weights: 0, x: params, emb: 0, demb: 0, grads: 0, params };
    offsets.emb = offsets.x + maxBatch * pixels;
    offsets.demb = offsets.emb + maxBatch * d;
    offsets.grads = offsets.demb + maxBatch * d;
    const total = offsets.grads + workers * params;
    const setup: Omit<WorkerSetup, 'index'> = {
      backend: opts.backend ?? 'wasm',
      embeddingDim: d,
      imageShape,
      maxBatch,
      varNames,
      varShapes,
      ctrl: new SharedArrayBuffer(4 * (CTRL.base + workers * CTRL.stride)),
      data: new SharedArrayBuffer(4 * total),
      errors: new SharedArrayBuffer(ERROR_BYTES * workers),
      offsets,
    };
    const entry = workerEntry();
    const started: Worker[] = [];
    try {
      await Promise.all(
        Array.from({ length: workers }, (_, index) => {
          const w = new Worker(BOOTSTRAP, { eval: true, execArgv: [], workerData: { entry, setup: { ...setup, index } } });
          started.push(w);
          return new Promise<void>((resolve, reject) => {
            w.once('error', reject);
            w.once('exit', (code) => reject(new DataParallelError(`worker ${index} exited (code ${code}) while starting`)));
            w.on('message', (m: { type: string; message?: string }) => {
              if (m.type === 'ready') resolve();
              else if (m.type === 'error') reject(new DataParallelError(`worker ${index} failed to start: ${m.message}`));
            });
          });
        }),
      );
    } catch (e) {
      await Promise.all(started.map((w) => w.terminate()));
      throw e;
    }
    for (const w of started) {
      w.removeAllListeners();
      w.unref();
    }
    return new DataParallel(net, started, setup, opts.timeoutMs ?? 600_000);
  }

  get numWorkers(): number {
    return this.workers.length;
  }

  /** Call after the network's variables were changed by something other than `trainStep`. */
  markWeightsChanged(): void {
    this.weightsDirty = true;
  }

  private syncWeights(): void {
    if (!this.weightsDirty) return;
    let off = this.setup.offsets.weights;
    for (const name of this.netNames) {
      const v = this.net.variables[name]!;
      this.data.set(floatView(v), off);
      off += v.size;
    }
    Atomics.add(this.ctrl, CTRL.weightsVersion, 1);
    this.weightsDirty = false;
  }

  private slot(i: number, field: number): number {
    return CTRL.base + i * CTRL.stride + field;
  }

  private waitFor(i: number, field: number, seq: number, what: string): void {
    try {
      this.waitForOrThrow(i, field, seq, what);
    } catch (e) {
      // Workers may be left waiting inside a step: this instance cannot be used any more.
      this.broken = (e as Error).message;
      throw e;
    }
  }

  private waitForOrThrow(i: number, field: number, seq: number, what: string): void {
    const idx = this.slot(i, field);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const v = Atomics.load(this.ctrl, idx);
      if (v === seq) return;
      if (v === -seq) {
        const bytes = this.errors.slice(i * ERROR_BYTES, (i + 1) * ERROR_BYTES);
        const end = bytes.indexOf(0);
        const msg = Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('utf8');
        throw new DataParallelError(`worker ${i} failed during ${what}: ${msg}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new DataParallelError(`worker ${i} did not finish ${what} within ${this.timeoutMs} ms`);
      Atomics.wait(this.ctrl, idx, v, Math.min(left, 1000));
    }
  }

  /** Splits the batch, writes the images, starts `cmd` on every worker with a non-empty slice. */
  private dispatch(x: tf.Tensor4D, cmd: number): { seq: number; active: number[]; batch: number } {
    if (this.disposed) throw new DataParallelError('this DataParallel was disposed');
    if (this.broken) throw new DataParallelError(`a worker failed earlier (${this.broken}); dispose() this DataParallel and create a new one`);
    const [b, h, w, c] = x.shape;
    const [eh, ew, ec] = this.setup.imageShape;
    if (h !== eh || w !== ew || c !== ec) throw new DataParallelError(`images must be [N, ${eh}, ${ew}, ${ec}], got [${x.shape}]`);
    if (b > this.setup.maxBatch) throw new DataParallelError(`batch ${b} exceeds maxBatch ${this.setup.maxBatch}; create with a larger maxBatch`);
    this.syncWeights();
    this.data.set(floatView(x), this.setup.offsets.x);
    const seq = ++this.seq;
    const n = this.workers.length;
    const active: number[] = [];
    let start = 0;
    for (let i = 0; i < n; i++) {
      const size = Math.floor(b / n) + (i < b % n ? 1 : 0);
      if (size === 0) continue;
      active.push(i);
      this.ctrl[this.slot(i, CTRL.cmd)] = cmd;
      this.ctrl[this.slot(i, CTRL.start)] = start;
      this.ctrl[this.slot(i, CTRL.size)] = size;
      start += size;
    }
    for (const i of active) {
      Atomics.store(this.ctrl, this.slot(i, CTRL.go), seq);
      Atomics.notify(this.ctrl, this.slot(i, CTRL.go));
    }
    return { seq, active, batch: b };
  }

  private embeddings(batch: number): tf.Tensor2D {
    const d = this.setup.embeddingDim;
    const off = this.setup.offsets.emb;
    return tf.tensor2d(this.data.slice(off, off + batch * d), [batch, d]);
  }

  /** The network's embeddings of x (forward only, no gradients), computed by the workers. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    const { seq, active, batch } = this.dispatch(x, CMD.forward);
    for (const i of active) this.waitFor(i, CTRL.embReady, seq, 'forward');
    return this.embeddings(batch);
  }

  /**
   * Same contract as step.ts `computeGradients` (the network's forward and backward run in the
   * workers; the loss here). `vars` must hold the network's variables under the names of
   * `net.variables` and may hold the loss's variables under any other names.
   */
  computeGradients(
    loss: Loss,
    vars: Record<string, tf.Variable>,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
  ): StepResult & { grads: Record<string, tf.Tensor> } {
    const { seq, active, batch } = this.dispatch(x, CMD.step);
    for (const i of active) this.waitFor(i, CTRL.embReady, seq, 'the forward pass');
    const netVarNames = new Set(this.netNames.map((n) => this.net.variables[n]!.name));
    const headNames = Object.keys(vars).filter((k) => !netVarNames.has(vars[k]!.name));
    const emb = this.embeddings(batch);
    const embVar = tf.variable(emb, true);
    let logits: tf.Tensor2D | undefined;
    let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      result = tf.variableGrads(
        () => {
          const out = loss.compute(embVar as tf.Tensor2D, y, { training: true });
          if (out.logits) logits = tf.keep(out.logits);
          return out.loss;
        },
        [embVar, ...headNames.map((k) => vars[k]!)],
      );
    } catch (e) {
      // Release the workers, which wait inside their gradient tape.
      this.data.fill(0, this.setup.offsets.demb, this.setup.offsets.demb + batch * this.setup.embeddingDim);
      this.releaseBackward(seq, active);
      embVar.dispose();
      emb.dispose();
      throw e;
    }
    const dEmb = result.grads[embVar.name];
    this.data.set(dEmb ? floatView(dEmb) : new Float32Array(batch * this.setup.embeddingDim), this.setup.offsets.demb);
    dEmb?.dispose();
    embVar.dispose();
    this.releaseBackward(seq, active);
    const grads: Record<string, tf.Tensor> = {};
    for (const k of headNames) {
      const g = result.grads[vars[k]!.name];
      if (g) grads[k] = g;
    }
    // Sum the workers' shares of the network gradient.
    const p = this.setup.offsets.params;
    let off = 0;
    for (let j = 0; j < this.netNames.length; j++) {
      const size = this.sizes[j]!;
      const sum = new Float32Array(size);
      for (const i of active) {
        const base = this.setup.offsets.grads + i * p + off;
        const part = this.data.subarray(base, base + size);
        for (let q = 0; q < size; q++) sum[q] = sum[q]! + part[q]!;
      }
      const name = this.netNames[j]!;
      const key = Object.keys(vars).find((k) => vars[k]!.name === this.net.variables[name]!.name);
      if (key !== undefined) grads[key] = tf.tensor(sum, this.setup.varShapes[j]);
      off += size;
    }
    const lg = logits ? tf.clone(logits) : undefined;
    (logits as tf.Tensor | undefined)?.dispose();
    return { loss: result.value, embeddings: emb, logits: lg, grads };
  }

  private releaseBackward(seq: number, active: number[]): void {
    for (const i of active) {
      Atomics.store(this.ctrl, this.slot(i, CTRL.dembReady), seq);
      Atomics.notify(this.ctrl, this.slot(i, CTRL.dembReady));
    }
    for (const i of active) this.waitFor(i, CTRL.done, seq, 'the backward pass');
  }

  /** Same contract as step.ts `trainStep`. */
  trainStep(loss: Loss, optimizer: Adam, vars: Record<string, tf.Variable>, x: tf.Tensor4D, y: tf.Tensor1D): StepResult {
    const r = this.computeGradients(loss, vars, x, y);
    optimizer.apply(r.grads);
    tf.dispose(Object.values(r.grads));
    this.weightsDirty = true;
    loss.afterStep?.(r.embeddings, y);
    return { loss: r.loss, embeddings: r.embeddings, logits: r.logits };
  }

  /** Stops the workers. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const seq = ++this.seq;
    for (let i = 0; i < this.workers.length; i++) {
      this.ctrl[this.slot(i, CTRL.cmd)] = CMD.exit;
      Atomics.store(this.ctrl, this.slot(i, CTRL.go), seq);
      Atomics.notify(this.ctrl, this.slot(i, CTRL.go));
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
