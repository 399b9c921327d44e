/**
 * The one module that chooses and imports a TensorFlow.js backend. Nothing else in the project
 * imports a backend package.
 */
import * as tf from '@tensorflow/tfjs-core';
import './tfjs-gradients.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';

export type BackendName = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'];

export interface BackendInfo {
  /** tfjs backend name actually in use ('wasm', 'cpu', 'tensorflow'). */
  name: string;
  /** What was asked for and what was found, for the start-up line. */
  detail: string;
  /** Threads the backend computes with (wasm: XNNPACK's thread pool; 1 when single-threaded). */
  threads?: number;
}

export interface BackendOptions {
  /**
   * wasm: threads for XNNPACK (default: the FACELOSSES_THREADS environment variable, else all
   * cores). 1 loads the single-threaded SIMD build; more loads the threaded SIMD build.
   */
  threads?: number;
}

const require = createRequire(import.meta.url);

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes tfjs-backend-wasm's threaded SIMD build load in Node.
 *
 * tfjs turns threads off in Node (WASM_HAS_MULTITHREAD_SUPPORT is false there) because its
 * Emscripten pthread workers are started from a blob: URL (Node's Worker refuses those:
 * ERR_WORKER_PATH) and are sent the main script as a Blob built from a transpiled copy of the
 * factory that does not run on its own. Three fixes, all confined to backend start-up:
 *  1. the global `Worker` (which the Emscripten glue sets to worker_threads.Worker and then calls)
 *     is a subclass that runs the pthread worker source from its string (`eval: true`) and, in the
 *     'load' message, replaces the Blob by the path of the package's own untranspiled
 *     `wasm-out/tfjs-backend-wasm-threaded-simd.js`, which the worker reads with fs;
 *  2. the flag is forced on;
 *  3. the C++ side caps the pool at emscripten_num_logical_cores()/2 (it assumes
 *     hyper-threading), read once at start-up from os.cpus(): os.cpus() reports every core twice
 *     while the module starts, so N threads can be used on N cores.
 */
interface PThreadLike {
  runningWorkers?: Array<{ unref(): void }>;
  unusedWorkers?: Array<{ unref(): void }>;
}

async function startThreadedWasm(threads: number): Promise<void> {
  const wasmPkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json').replace(/package\.json$/, '');
  const mainScript = `${wasmPkg}wasm-out/tfjs-backend-wasm-threaded-simd.js`;
  const { wasmWorkerContents } = require(`${wasmPkg}wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) as {
    wasmWorkerContents: string;
  };
  // The source keeps "\n" escapes as real newlines inside string literals; tfjs escapes them too.
  const workerSource = wasmWorkerContents.replace(/\n/g, '\\n');
  class PthreadWorker extends NodeWorker {
    constructor(_url: string | URL, options?: WorkerOptions) {
      super(workerSource, { ...options, eval: true });
    }
    override postMessage(value: unknown, transferList?: Parameters<NodeWorker['postMessage']>[1]): void {
      const msg = value as { cmd?: string; urlOrBlob?: unknown } | null;
      if (msg && msg.cmd === 'load' && typeof msg.urlOrBlob !== 'string') value = { ...msg, urlOrBlob: mainScript };
      super.postMessage(value, transferList);
    }
  }
  const g = globalThis as Record<string, unknown>;
  const hadWorker = Object.prototype.hasOwnProperty.call(g, 'Worker');
  const savedWorker = g.Worker;
  Object.defineProperty(g, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => {} });
  const realCpus = os.cpus;
  os.cpus = () => {
    const c = realCpus();
    return [...c, ...c];
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount(threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend returned false');
    await tf.ready();
    // Emscripten ref()s the workers that run pthreads; XNNPACK's pool threads live for the whole
    // process, so without this Node would never exit on its own.
    const pthread = (tf.backend() as unknown as { wasm?: { PThread?: PThreadLike } }).wasm?.PThread;
    for (const w of [...(pthread?.runningWorkers ?? []), ...(pthread?.unusedWorkers ?? [])]) w.unref();
  } finally {
    os.cpus = realCpus;
    if (hadWorker) Object.defineProperty(g, 'Worker', { configurable: true, writable: true, value: savedWorker });
    else delete g.Worker;
  }
}

function defaultThreads(): number {
  const env = process.env.FACELOSSES_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`FACELOSSES_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return 1;
}

async function useWasm(opts: BackendOptions): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmGradKernels } = await import('./kernels/wasm_conv_grad.js');
  const { registerWasmTrainKernels } = await import('./kernels/wasm_train_kernels.js');
  registerWasmGradKernels();
  registerWasmTrainKernels();
  const wanted = opts.threads ?? defaultThreads();
  if (!Number.isInteger(wanted) || wanted < 1) throw new Error(`threads must be a positive integer, got ${wanted}`);
  if (wanted > 1) {
    try {
      await startThreadedWasm(Math.min(wanted, 8));
    } catch (e) {
      throw new Error(
        `could not start the threaded wasm backend (${(e as Error).message}); ` + 'run with threads 1 (FACELOSSES_THREADS=1) to use the single-threaded build',
      );
    }
  } else {
    await tf.setBackend('wasm');
    await tf.ready();
  }
  const threads = wasm.getThreadsCount();
  return { name: 'wasm', detail: `wasm (SIMD, ${threads} thread${threads === 1 ? '' : 's'}; facelosses SIMD conv kernels, XNNPACK)`, threads };
}

async function useCpu(): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  await tf.ready();
  return { name: 'cpu', detail: 'cpu (pure JavaScript, slow)' };
}

async function useNode(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): Promise<BackendInfo> {
  if (!installed(pkg)) {
    throw new Error(`backend needs ${pkg}, which is not installed; run: npm install ${pkg}`);
  }
  await import(pkg);
  await tf.setBackend('tensorflow');
  await tf.ready();
  return { name: 'tensorflow', detail: `tensorflow (${pkg}, native libtensorflow)` };
}

let current: BackendInfo | undefined;

/** Selects the backend once per process. `auto`: tfjs-node-gpu, else tfjs-node, else wasm. */
export async function initBackend(name: BackendName = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  if (current) return current;
  switch (name) {
    case 'wasm':
      current = await useWasm(opts);
      break;
    case 'cpu':
      current = await useCpu();
      break;
    case 'tensorflow':
      current = await useNode('@tensorflow/tfjs-node');
      break;
    case 'tensorflow-gpu':
      current = await useNode('@tensorflow/tfjs-node-gpu');
      break;
    case 'auto':
      if (installed('@tensorflow/tfjs-node-gpu')) current = await useNode('@tensorflow/tfjs-node-gpu');
      else if (installed('@tensorflow/tfjs-node')) current = await useNode('@tensorflow/tfjs-node');
      else current = await useWasm(opts);
      current = { ...current, detail: `auto -> ${current.detail}` };
      break;
    default:
      throw new Error(`unknown backend '${name as string}'; choose one of ${BACKEND_NAMES.join(', ')}`);
  }
  return current;
}
