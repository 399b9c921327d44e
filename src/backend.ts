/**
 * The one module that chooses and imports a TensorFlow.js backend. Nothing else in the project
 * imports a backend package.
 */
import * as tf from '@tensorflow/tfjs-core';
import './tfjs-gradients.js';
import { createRequire } from 'node:module';

export type BackendName = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'];

export interface BackendInfo {
  /** tfjs backend name actually in use ('wasm', 'cpu', 'tensorflow'). */
  name: string;
  /** What was asked for and what was found, for the start-up line. */
  detail: string;
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

async function useWasm(): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmGradKernels } = await import('./kernels/wasm_conv_grad.js');
  registerWasmGradKernels();
  await tf.setBackend('wasm');
  await tf.ready();
  return { name: 'wasm', detail: 'wasm (XNNPACK, SIMD; facelosses conv-gradient kernels)' };
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

let gradientsReady: Promise<void> | undefined;

/**
 * Registers tfjs's gradient functions (MaxPool, Mean, Relu, ...). The Node build of
 * `@tensorflow/tfjs-core` ships without them; the union package `@tensorflow/tfjs` registers them
 * into the same global registry on import (it also registers the cpu backend, nothing else in
 * Node). Idempotent; `initBackend` calls it.
 */
export function registerGradients(): Promise<void> {
  gradientsReady ??= import('@tensorflow/tfjs').then(() => undefined);
  return gradientsReady;
}

let current: BackendInfo | undefined;

/** Selects the backend once per process. `auto`: tfjs-node-gpu, else tfjs-node, else wasm. */
export async function initBackend(name: BackendName = 'auto'): Promise<BackendInfo> {
  if (current) return current;
  await registerGradients();
  switch (name) {
    case 'wasm':
      current = await useWasm();
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
      else current = await useWasm();
      current = { ...current, detail: `auto -> ${current.detail}` };
      break;
    default:
      throw new Error(`unknown backend '${name as string}'; choose one of ${BACKEND_NAMES.join(', ')}`);
  }
  return current;
}
