/**
 * The one module that chooses and imports a TensorFlow.js backend. Nothing else in the project
 * imports a backend package.
 */
import * as tf from '@tensorflow/tfjs-core';
import './tfjs-gradients.js';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import { UserError } from './util/errors.js';

export type BackendName = 'auto' | 'wasm' | 'webgpu' | 'cpu' | 'tensorflow' | 'tensorflow-gpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'wasm', 'webgpu', 'cpu', 'tensorflow', 'tensorflow-gpu'];

export interface BackendInfo {
  /** tfjs backend name actually in use ('wasm', 'webgpu', 'cpu', 'tensorflow'). */
  name: string;
  /** What was asked for and what was found, for the start-up line. */
  detail: string;
  /** Threads the backend computes with (wasm: XNNPACK's thread pool; 1 when single-threaded). */
  threads?: number;
  /** webgpu: the adapter the device was taken from. */
  adapter?: GpuAdapterSummary;
}

/** What a WebGPU adapter says about itself (GPUAdapterInfo), for the start-up line. */
export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software fallback (for example Mesa's lavapipe/llvmpipe), not a GPU. */
  fallback: boolean;
}

export interface BackendOptions {
  /**
   * wasm: threads for XNNPACK (default: the FACELOSSES_THREADS environment variable, else 1).
   * 1 loads the single-threaded SIMD build; more loads the threaded SIMD build.
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

/** The tfjs-backend-wasm release whose start-up the patches of startThreadedWasm were written for. */
export const PATCHED_WASM_VERSION = /^4\.22\./;

/**
 * Throws unless `version` (of @tensorflow/tfjs-backend-wasm) is one the threaded start-up patches
 * were written for: they replace internals (the pthread worker's messages, the core count read at
 * start-up) that another release may change without notice.
 */
export function checkPatchedWasmVersion(version: string): void {
  if (!PATCHED_WASM_VERSION.test(version)) {
    throw new Error(
      `the threaded wasm engine is patched for @tensorflow/tfjs-backend-wasm 4.22.x, and ${version} is installed; ` +
        'use one thread (FACELOSSES_THREADS=1, or train --threads, which uses one-thread workers) or install @tensorflow/tfjs-backend-wasm@4.22',
    );
  }
}

async function startThreadedWasm(threads: number): Promise<void> {
  const wasmPkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json').replace(/package\.json$/, '');
  checkPatchedWasmVersion((require(`${wasmPkg}package.json`) as { version: string }).version);
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

/** The one line that says how to install a missing engine package (exit 2, a usage error). */
function missingEngine(engine: string, pkg: string): UserError {
  return new UserError(`--backend ${engine} needs ${pkg}, which is not installed; run: npm install ${pkg}`);
}

async function useWasm(opts: BackendOptions): Promise<BackendInfo> {
  if (!installed('@tensorflow/tfjs-backend-wasm')) throw missingEngine('wasm', '@tensorflow/tfjs-backend-wasm');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmGradKernels } = await import('./kernels/wasm-conv-grad.js');
  const { registerWasmTrainKernels } = await import('./kernels/wasm-train-kernels.js');
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
  if (!installed('@tensorflow/tfjs-backend-cpu')) throw missingEngine('cpu', '@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  await tf.ready();
  return { name: 'cpu', detail: 'cpu (pure JavaScript, slow)' };
}

async function useNode(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): Promise<BackendInfo> {
  if (!installed(pkg)) throw missingEngine(pkg === '@tensorflow/tfjs-node' ? 'tensorflow' : 'tensorflow-gpu', pkg);
  await import(pkg);
  await tf.setBackend('tensorflow');
  await tf.ready();
  return { name: 'tensorflow', detail: `tensorflow (${pkg}, native libtensorflow)` };
}

// ---------------------------------------------------------------------------------------------
// WebGPU through Dawn's Node binding (the optional `webgpu` package): Vulkan on Linux, Metal on
// macOS, D3D12 on Windows. Traps handled here:
//  - tfjs-backend-webgpu registers itself only when `navigator.gpu` exists at import, and its
//    WebGPUBackend constructor checks `navigator.gpu` again: the property is defined (Node 21+
//    has a built-in `navigator` that cannot be assigned) before the package is imported;
//  - its own factory asks for an adapter inside setBackend, and with none leaves tfjs half-switched:
//    the adapter and device are taken here first, and the backend is registered on that device;
//  - dataSync()/arraySync() throw in Node on webgpu (they need OffscreenCanvas): nothing in the
//    project reads tensors synchronously on this engine (the trainer, evaluation, optimizer and
//    checkpoints read with data()).

const GPU_API: Record<string, string> = { linux: 'Vulkan', darwin: 'Metal', win32: 'D3D12' };

interface GpuLike {
  requestAdapter(o?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}
interface GpuDeviceLike {
  addEventListener(type: 'uncapturederror', listener: (e: { error?: { message?: string } }) => void): void;
  lost: Promise<{ reason: string; message: string }>;
}
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  features: ReadonlySet<string>;
  limits: Record<string, number>;
  requestDevice(d?: unknown): Promise<unknown>;
}

/** Linux: whether the Vulkan loader Dawn opens (libvulkan.so.1) can be found at all. */
function vulkanLoaderPresent(): boolean {
  const arch = os.arch() === 'arm64' ? 'aarch64' : 'x86_64';
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    `/usr/lib/${arch}-linux-gnu`,
    `/lib/${arch}-linux-gnu`,
    '/usr/lib64',
    '/lib64',
    '/usr/lib',
    '/lib',
    '/usr/local/lib',
  ];
  if (dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) return true;
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

function summarize(a: GpuAdapterLike): GpuAdapterSummary {
  const i = a.info ?? {};
  return {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    fallback: Boolean(i.isFallbackAdapter ?? a.isFallbackAdapter),
  };
}

/** "mesa software (llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)), software fallback" */
export function describeAdapter(a: GpuAdapterSummary): string {
  const head = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown vendor';
  const body = a.description || a.device;
  return `${head}${body ? ` (${body})` : ''}${a.fallback ? ', software fallback' : ''}`;
}

let fault: Error | undefined;

/**
 * An error the engine reported outside any call (WebGPU: a validation error, a lost device), after
 * which its results cannot be trusted; undefined while there is none (always, on the CPU engines).
 */
export function engineFault(): Error | undefined {
  return fault;
}

type Probe = { ok: true; gpu: GpuLike; adapter: GpuAdapterLike } | { ok: false; why: string };

/** Loads Dawn and asks for an adapter, without touching tfjs. */
async function probeWebGPU(): Promise<Probe> {
  const api = GPU_API[process.platform] ?? 'the native GPU API';
  const missing = webgpuPrerequisite();
  if (missing) return { ok: false, why: missing };
  let dawn: { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (e) {
    return { ok: false, why: `the webgpu package (Dawn) cannot load on ${process.platform}-${process.arch}: ${(e as Error).message}` };
  }
  // WebGPU's constants (GPUBufferUsage, GPUMapMode, ...) as browsers have them; nothing is replaced.
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) Object.defineProperty(g, k, { value: v, configurable: true, writable: true });
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { ok: false, why: `Dawn found no ${api} adapter (is the GPU driver with ${api} support installed?)` };
  return { ok: true, gpu, adapter };
}

/**
 * For `auto`: the adapter Dawn would give, asked in a child process whose stderr is dropped, so
 * that a machine with only a software adapter (lavapipe) neither loads Dawn here nor prints its
 * start-up warnings ("maxDynamicUniformBuffersPerPipelineLayout artificially reduced ..."). About
 * half a second. Undefined when the child finds no adapter or fails.
 */
async function adapterInChild(): Promise<GpuAdapterSummary | undefined> {
  const url = pathToFileURL(require.resolve('webgpu')).href;
  const script = `const d = await import(${JSON.stringify(url)}); const a = await d.create([]).requestAdapter({ powerPreference: 'high-performance' }); const i = a?.info ?? {};
process.stdout.write(JSON.stringify(a ? { vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '', description: i.description ?? '', fallback: Boolean(i.isFallbackAdapter ?? a.isFallbackAdapter) } : null)); process.exit(0);`;
  return new Promise((done) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, encoding: 'utf8' }, (err, stdout) => {
      try {
        done(err ? undefined : ((JSON.parse(stdout) as GpuAdapterSummary | null) ?? undefined));
      } catch {
        done(undefined);
      }
    });
  });
}

/** The checks of probeWebGPU that need no Dawn: the packages and the Vulkan loader. */
function webgpuPrerequisite(): string | undefined {
  if (!installed('webgpu')) return 'the optional package webgpu (Dawn) is not installed; run: npm install webgpu';
  if (!installed('@tensorflow/tfjs-backend-webgpu')) return 'the package @tensorflow/tfjs-backend-webgpu is not installed; run: npm install @tensorflow/tfjs-backend-webgpu';
  if (process.platform === 'linux' && !vulkanLoaderPresent()) return 'no Vulkan loader (libvulkan.so.1) on this machine: install the GPU driver with its Vulkan support (Debian/Ubuntu: libvulkan1 and the vendor driver)';
  return undefined;
}

async function useWebGPU(probe: Probe): Promise<BackendInfo> {
  // What is missing for an engine asked for by name is a usage error: one line, exit 2.
  if (!probe.ok) throw new UserError(`--backend webgpu: ${probe.why}`);
  const { gpu, adapter } = probe;
  const g = globalThis as Record<string, unknown>;
  const nav = g.navigator as Record<string, unknown> | undefined;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, enumerable: true, writable: true });
  else Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, enumerable: true, writable: true });
  // The device as tfjs-backend-webgpu's own factory asks for it.
  const limits = adapter.limits;
  const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter.features.has(f));
  const device = (await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      // tfjs's AddN binds one buffer per input and does not split at the default limit of 8.
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  })) as GpuDeviceLike;
  // Errors that no call reports (an invalid pipeline, a lost device) would otherwise only be
  // printed, and training would go on with wrong numbers: kept for engineFault().
  device.addEventListener('uncapturederror', (e) => {
    fault ??= new Error(`webgpu: the device reported an error: ${String(e.error?.message ?? e.error).trim()}`);
  });
  void device.lost.then((info) => {
    if (info.reason !== 'destroyed') fault ??= new Error(`webgpu: the device was lost (${info.reason}): ${info.message}`);
  });
  const webgpu = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new webgpu.WebGPUBackend(device as never, adapter.info as never), 0);
  if (!(await tf.setBackend('webgpu'))) throw new Error('webgpu: tf.setBackend returned false');
  await tf.ready();
  const summary = summarize(adapter);
  const api = GPU_API[process.platform] ?? 'native';
  return { name: 'webgpu', detail: `webgpu (Dawn, ${api}; adapter ${describeAdapter(summary)})`, adapter: summary };
}

let current: BackendInfo | undefined;

/**
 * Selects the backend once per process. `auto`: a hardware WebGPU adapter (not a software fallback
 * such as lavapipe), else tfjs-node-gpu, else tfjs-node, else wasm.
 */
export async function initBackend(name: BackendName = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  if (current) return current;
  switch (name) {
    case 'wasm':
      current = await useWasm(opts);
      break;
    case 'webgpu':
      current = await useWebGPU(await probeWebGPU());
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
    case 'auto': {
      // Dawn is loaded here only when a hardware adapter was seen (adapterInChild).
      const missing = webgpuPrerequisite();
      const seen = missing ? undefined : await adapterInChild();
      const probe: Probe | undefined = seen && !seen.fallback ? await probeWebGPU() : undefined;
      const gpu = probe?.ok === true && !summarize(probe.adapter).fallback;
      if (gpu) current = await useWebGPU(probe);
      else if (installed('@tensorflow/tfjs-node-gpu')) current = await useNode('@tensorflow/tfjs-node-gpu');
      else if (installed('@tensorflow/tfjs-node')) current = await useNode('@tensorflow/tfjs-node');
      else if (installed('@tensorflow/tfjs-backend-wasm')) current = await useWasm(opts);
      else current = { ...(await useCpu()), detail: 'cpu (pure JavaScript, slow: @tensorflow/tfjs-backend-wasm is not installed)' };
      // Why no GPU was taken, in one phrase.
      const why = gpu
        ? ''
        : missing
          ? `; no GPU: ${missing.replace(/[;:].*$/, '')}`
          : seen
            ? `; no GPU: WebGPU offers only ${describeAdapter(seen)}`
            : probe && !probe.ok
              ? `; no GPU: ${probe.why.replace(/[;:].*$/, '')}`
              : '; no GPU: Dawn found no adapter';
      current = { ...current, detail: `auto -> ${current.detail}${why}` };
      break;
    }
    default:
      throw new Error(`unknown backend '${name as string}'; choose one of ${BACKEND_NAMES.join(', ')}`);
  }
  return current;
}
