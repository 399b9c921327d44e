/**
 * The engine and the number of training threads of a run: what was asked, else what a resumed run
 * used, else the machine's default. Says (through `warn`) when the choice will make a resumed run
 * differ from an uninterrupted one, or costs more than it gives.
 */
import { availableParallelism } from 'node:os';
import { type BackendInfo, type BackendName, describeAdapter, initBackend } from '../backend.js';

/** What a resumed run was trained with (its checkpoint). */
export interface TrainedWith {
  backend: string;
  threads?: number;
}

/** Starts the engine: the one asked for, else a resumed run's own (results match exactly only on the same one), else auto. */
export async function chooseBackend(asked: BackendName | undefined, resumed: TrainedWith | undefined, warn: (m: string) => void): Promise<BackendInfo> {
  const before = resumed?.backend;
  const backend = await initBackend(asked ?? (before === 'wasm' || before === 'cpu' || before === 'webgpu' ? before : 'auto'));
  if (before && before !== backend.name) warn(`the run was trained on ${before} and continues on ${backend.name}; it will not match an uninterrupted run exactly`);
  return backend;
}

/** A warning when the engine in use trains far slower than the default one, else undefined. */
export function slowEngineWarning(b: Pick<BackendInfo, 'name' | 'detail' | 'adapter'>): string | undefined {
  if (b.name === 'cpu') {
    return b.detail.includes('tfjs-backend-wasm is not installed')
      ? 'training on the cpu backend (plain JavaScript, about 1 image/s: days for one run) because the wasm engine is not installed; run: npm install @tensorflow/tfjs-backend-wasm'
      : 'the cpu backend is plain JavaScript: about 1 image/s on this network, days for one run; use the default engine (--backend auto or wasm)';
  }
  if (b.name === 'webgpu' && b.adapter?.fallback) {
    return `webgpu runs on a software adapter (${describeAdapter(b.adapter)}), not a GPU: many times slower than the wasm engine on this network; use --backend auto or wasm`;
  }
  return undefined;
}

/** The plain-JavaScript engine, or WebGPU on a software adapter, is far too slow to train on: says so. */
export function warnIfSlow(backend: BackendInfo, warn: (m: string) => void): void {
  const slow = slowEngineWarning(backend);
  if (slow) warn(slow);
}

export interface TrainingThreads {
  /** Data-parallel worker threads (wasm); 1 on the other engines, which use their own threads. */
  workers: number;
  /** Threads recorded with the run: the workers, else the engine's own. */
  threads: number | undefined;
}

/**
 * Training threads: data-parallel workers on wasm, as many as asked, else the resumed run's, else
 * the cores. More threads than cores is slower and costs memory (each worker holds the network):
 * capped, with a warning.
 */
export function chooseThreads(backend: BackendInfo, asked: number | undefined, resumed: TrainedWith | undefined, warn: (m: string) => void): TrainingThreads {
  const cores = availableParallelism();
  const capped = asked !== undefined && asked > cores ? cores : asked;
  if (capped !== asked) {
    warn(`--threads ${asked} is more than the ${cores} CPU core${cores === 1 ? '' : 's'} of this machine (slower and more memory, not faster); using ${cores}`);
  }
  const runThreads = resumed?.threads;
  const workers = backend.name === 'wasm' ? (capped ?? runThreads ?? cores) : 1;
  const threads = workers > 1 ? workers : backend.threads;
  if (runThreads && threads && runThreads !== threads) {
    warn(`the run was trained with ${runThreads} thread(s) and continues with ${threads}; it will not match an uninterrupted run exactly`);
  }
  return { workers, threads };
}
