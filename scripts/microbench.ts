/**
 * Interleaved A/B micro-benchmark of the wasm convolution kernels on the reference network's layer
 * shapes, in CPU time of this (single-threaded) process, so that it means something on a busy
 * machine too (compare variants measured in the same run only).
 *
 *   node --import tsx scripts/microbench.ts [--batch 64] [--rounds 7] [--variants wino,direct] [--ops fwd,dx,dw]
 *
 * Variants: wino (default kernels), nowdw (Winograd but not for the filter gradient), dw2 / dw4
 * (the Winograd filter gradient with F(2x2) / F(4x4) on every layer), direct (Winograd off),
 * xnnpack (SIMD kernels off).
 * Each round runs every variant once per layer and op (interleaved); prints the median CPU ms.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend.js';
import { configureWasmGradKernels } from '../src/kernels/wasm-conv-grad.js';
import { countPaths } from '../src/kernels/fast-path.js';
import { Rng } from '../src/rng.js';
import { convLayerShapes } from '../src/model/net.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '7' },
    variants: { type: 'string', default: 'wino,direct' },
    ops: { type: 'string', default: 'fwd,dx,dw' },
    layers: { type: 'string' },
  },
});
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const variants = values.variants!.split(',');
const ops = values.ops!.split(',');
await initBackend('wasm', { threads: 1 });

const LAYERS = convLayerShapes();
const layers = values.layers ? values.layers.split(',').map((i) => LAYERS[Number(i)]!) : LAYERS;

function setVariant(v: string): void {
  configureWasmGradKernels({
    simd: v !== 'xnnpack',
    winograd: v === 'wino' || v === 'nowdw' || v === 'dw2' || v === 'dw4',
    winogradFilter: v !== 'nowdw',
    winogradFilterTile: v === 'dw2' ? 2 : v === 'dw4' ? 4 : 'auto',
  });
}

const rng = new Rng(3);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const results = new Map<string, number[]>();
const paths = new Map<string, string>();
for (let r = 0; r < rounds + 1; r++) {
  for (const [s, ci, co] of layers) {
    const x = tf.tensor4d(rng.normalArray(batch * s * s * ci), [batch, s, s, ci]);
    const w = tf.tensor4d(rng.normalArray(9 * ci * co), [3, 3, ci, co]);
    const b = tf.tensor1d(rng.normalArray(co));
    const dy = tf.tensor4d(rng.normalArray(batch * s * s * co), [batch, s, s, co]);
    for (const op of ops) {
      if (op === 'dx' && ci === 1) continue;
      for (const v of variants) {
        setVariant(v);
        const run = () => {
          let out: tf.Tensor;
          if (op === 'fwd') {
            out = tf.engine().runKernel('FusedConv2D', { x, filter: w, bias: b }, {
              strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu',
            } as unknown as tf.NamedAttrMap) as tf.Tensor;
          } else if (op === 'dx') {
            out = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
              strides: [1, 1], pad: 'same', dataFormat: 'NHWC', inputShape: x.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor;
          } else {
            out = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
              strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: w.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor;
          }
          out.dispose();
        };
        const t0 = cpuMs();
        const { counts } = countPaths(run);
        const ms = cpuMs() - t0;
        const key = `${op} ${s}x${s} ${ci}->${co} ${v}`;
        paths.set(key, Object.keys(counts).join('+'));
        if (r > 0) results.set(key, [...(results.get(key) ?? []), ms]);
      }
    }
    tf.dispose([x, w, b, dy]);
  }
}
setVariant('wino');
const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
for (const [k, a] of results) {
  process.stdout.write(`${k.padEnd(32)} ${median(a).toFixed(2).padStart(8)} ms CPU (min ${Math.min(...a).toFixed(2)})  ${paths.get(k)}\n`);
}
