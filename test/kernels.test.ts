/**
 * The wasm convolution-gradient kernels (src/kernels/wasm-conv-grad.ts) against the cpu backend.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend.js';
import { configureWasmGradKernels, registerWasmGradKernels, winogradFilterChunk, winogradTileFor } from '../src/kernels/wasm-conv-grad.js';
import { configureWasmTrainKernels, registerWasmTrainKernels } from '../src/kernels/wasm-train-kernels.js';
import { Rng } from '../src/rng.js';
import { conv2dBiasAct } from '../src/kernels/fused-conv.js';
import { countPaths } from '../src/kernels/fast-path.js';
import { convLayerShapes } from '../src/model/net.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  pad: Pad;
  strides?: number;
  fused?: boolean;
}

const TOL = 1e-4;

before(async () => {
  await initBackend('wasm'); // also registers tfjs gradients and the cpu backend
});

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den === 0 ? num : num / den;
}

/** dL/dx and dL/dW of L = sum(conv(x, W) * r) (r random, so dy is random), on `backend`. */
async function convGrads(backend: string, c: Case, seed: number): Promise<{ y: Float32Array; dx: Float32Array; dw: Float32Array; db?: Float32Array }> {
  await tf.setBackend(backend);
  const rng = new Rng(seed);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => {
    const x = tf.tensor4d(rng.normalArray(size(c.x)), c.x);
    const w = tf.tensor4d(rng.normalArray(size(c.f)), c.f);
    const b = tf.tensor1d(rng.normalArray(c.f[3]));
    const y0 = tf.conv2d(x, w, c.strides ?? 1, c.pad);
    const r = tf.tensor(rng.normalArray(size(y0.shape)), y0.shape);
    if (c.fused) {
      const y = tf.fused.conv2d({ x, filter: w, strides: c.strides ?? 1, pad: c.pad, bias: b, activation: 'relu' }).dataSync() as Float32Array;
      const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: c.strides ?? 1, pad: c.pad, bias: bb, activation: 'relu' }), r)),
      );
      const [dx, dw, db] = g([x, w, b]);
      return { y, dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array, db: db!.dataSync() as Float32Array };
    }
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides ?? 1, c.pad), r)));
    const [dx, dw] = g([x, w]);
    return { y: y0.dataSync() as Float32Array, dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return out;
}

async function compare(c: Case, seed: number): Promise<void> {
  const w = await convGrads('wasm', c, seed);
  const r = await convGrads('cpu', c, seed);
  const label = `x=[${c.x}] f=[${c.f}] pad=${JSON.stringify(c.pad)} stride=${c.strides ?? 1}${c.fused ? ' fused' : ''}`;
  const ey = relErr(w.y, r.y);
  assert.ok(ey <= TOL, `${label}: forward relative error ${ey}`);
  const ex = relErr(w.dx, r.dx);
  const ew = relErr(w.dw, r.dw);
  assert.ok(ex <= TOL, `${label}: dx relative error ${ex}`);
  assert.ok(ew <= TOL, `${label}: dW relative error ${ew}`);
  if (r.db) assert.ok(relErr(w.db!, r.db) <= TOL, `${label}: db`);
}

function randomCases(n: number, seed: number): Case[] {
  const rng = new Rng(seed);
  const pick = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    cases.push({
      x: [pick(1, 5), pick(4, 12), pick(4, 12), pick(1, 8)],
      f: [pick(1, 3), pick(1, 3), 0, i % 3 === 0 ? 4 * pick(1, 4) : pick(1, 8)],
      pad: i % 2 === 0 ? 'same' : 'valid',
    });
    cases[i]!.f[2] = cases[i]!.x[3];
  }
  return cases;
}

test('Conv2DBackpropFilter and Conv2DBackpropInput match the cpu backend on random shapes', async () => {
  const cases = randomCases(16, 7);
  for (const [i, c] of cases.entries()) await compare(c, 100 + i);
});

test('the XNNPACK route of the filter gradient (SIMD kernel off) also matches the cpu backend', async () => {
  configureWasmGradKernels({ simd: false });
  try {
    const cases = randomCases(6, 11);
    cases.push({ x: [4, 12, 12, 16], f: [3, 3, 16, 16], pad: 'same' });
    for (const [i, c] of cases.entries()) await compare(c, 150 + i);
  } finally {
    configureWasmGradKernels({ simd: true });
  }
});

test('the reference network layer shapes (batch 3), SIMD kernels', async () => {
  const layers = convLayerShapes();
  assert.deepEqual(layers, [
    [28, 1, 16],
    [28, 16, 16],
    [14, 16, 32],
    [14, 32, 32],
    [7, 32, 64],
    [7, 64, 2],
  ]);
  for (const [i, [s, ci, co]] of layers.entries()) {
    await compare({ x: [3, s, s, ci], f: [3, 3, ci, co], pad: 'same', fused: i < 5 }, 600 + i);
  }
});

test('fixed shapes: 3x3 same (the model), even kernels, 1x1, batch 1, explicit pads', async () => {
  const cases: Case[] = [
    { x: [5, 12, 12, 8], f: [3, 3, 8, 8], pad: 'same' },
    { x: [1, 4, 4, 1], f: [3, 3, 1, 1], pad: 'same' },
    { x: [3, 7, 9, 2], f: [2, 2, 2, 3], pad: 'same' },
    { x: [2, 8, 5, 3], f: [2, 3, 3, 4], pad: 'valid' },
    { x: [4, 6, 6, 1], f: [1, 1, 1, 5], pad: 'same' },
    { x: [2, 6, 6, 4], f: [1, 1, 4, 1], pad: 'valid' },
    { x: [2, 9, 7, 3], f: [3, 3, 3, 2], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
    { x: [3, 10, 10, 4], f: [3, 3, 4, 6], pad: 'same', fused: true },
  ];
  for (const [i, c] of cases.entries()) await compare(c, 200 + i);
});

test('forward convolution: SIMD kernel (bias, ReLU, linear) and stock fallbacks match the cpu backend', async () => {
  const shapes: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; pad: Pad; strides?: number }> = [
    { x: [3, 9, 8, 5], f: [3, 3, 5, 16], pad: 'same' },
    { x: [2, 7, 7, 3], f: [2, 3, 3, 8], pad: 'valid' },
    { x: [2, 6, 6, 4], f: [1, 1, 4, 12], pad: 'same' },
    { x: [2, 6, 6, 4], f: [3, 3, 4, 6], pad: 'same' }, // co % 4 != 0: zero-padded channels
    { x: [2, 9, 9, 4], f: [3, 3, 4, 8], pad: 'same', strides: 2 }, // strided: stock kernel
    { x: [1, 5, 7, 2], f: [3, 3, 2, 4], pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  ];
  for (const [i, c] of shapes.entries()) {
    for (const activation of ['linear', 'relu'] as const) {
      for (const withBias of [true, false]) {
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          const rng = new Rng(700 + i);
          return tf.tidy(() => {
            const x = tf.tensor4d(rng.normalArray(c.x.reduce((a, b) => a * b, 1)), c.x);
            const w = tf.tensor4d(rng.normalArray(c.f.reduce((a, b) => a * b, 1)), c.f);
            const b = withBias ? tf.tensor1d(rng.normalArray(c.f[3])) : undefined;
            return tf.fused.conv2d({ x, filter: w, strides: c.strides ?? 1, pad: c.pad, bias: b, activation }).dataSync();
          });
        };
        const a = await run('wasm');
        const b = await run('cpu');
        assert.ok(relErr(a, b) <= TOL, `case ${i} ${activation} bias=${withBias}: ${relErr(a, b)}`);
      }
    }
  }
});

test('dot-product kernels for few output channels (co <= 4, ci % 16 == 0): forward (bias, ReLU) and filter gradient match cpu', async () => {
  const shapes: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; pad: Pad }> = [
    { x: [3, 7, 7, 64], f: [3, 3, 64, 2], pad: 'same' }, // the last layer
    { x: [2, 9, 6, 16], f: [3, 3, 16, 1], pad: 'same' },
    { x: [2, 8, 7, 32], f: [3, 3, 32, 3], pad: 'valid' },
    { x: [2, 6, 6, 16], f: [1, 1, 16, 4], pad: 'same' },
    { x: [1, 5, 9, 16], f: [2, 3, 16, 2], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  ];
  for (const [i, c] of shapes.entries()) {
    await compare({ ...c }, 1000 + i);
    await compare({ ...c, fused: true }, 1010 + i);
    const p = await pathsOfConv({ x: c.x, f: c.f, pad: c.pad });
    assert.ok(p['conv.dot']! >= 1 && p['backpropFilter.dot']! >= 1, `case ${i}: ${JSON.stringify(p)}`);
  }
});

test('Winograd F(2x2,3x3) filter gradient: odd sizes, valid, explicit pads, batch 1, against cpu and the direct SIMD kernel', async () => {
  const shapes: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; pad: Pad }> = [
    { x: [2, 7, 7, 32], f: [3, 3, 32, 64], pad: 'same' }, // layer 5 shape, odd: padded dy tiles
    { x: [3, 14, 14, 16], f: [3, 3, 16, 32], pad: 'same' },
    { x: [2, 9, 8, 4], f: [3, 3, 4, 16], pad: 'valid' },
    { x: [1, 5, 6, 8], f: [3, 3, 8, 16], pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  ];
  for (const [i, c] of shapes.entries()) {
    await compare(c, 1100 + i);
    const p = await pathsOfConv(c);
    assert.ok(p['backpropFilter.winograd']! >= 1, `case ${i}: ${JSON.stringify(p)}`);
  }
});

test('Winograd F(4x4,3x3) filter gradient: odd sizes, valid, explicit pads, batch 1 and chunks of images, against cpu', async () => {
  const shapes: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; pad: Pad }> = [
    { x: [2, 28, 28, 16], f: [3, 3, 16, 16], pad: 'same' }, // layer 2: 7x7 tiles exactly
    { x: [19, 7, 7, 32], f: [3, 3, 32, 64], pad: 'same' }, // layer 5: padded tiles, 16 images per call and a rest of 3
    { x: [2, 14, 14, 16], f: [3, 3, 16, 32], pad: 'same' },
    { x: [1, 9, 11, 4], f: [3, 3, 4, 16], pad: 'valid' },
    { x: [1, 6, 5, 8], f: [3, 3, 8, 16], pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  ];
  configureWasmGradKernels({ winogradFilterTile: 4 });
  try {
    for (const [i, c] of shapes.entries()) {
      await compare(c, 1300 + i);
      const p = await pathsOfConv(c);
      assert.ok(p['backpropFilter.winograd.f4']! >= 1, `case ${i}: ${JSON.stringify(p)}`);
    }
  } finally {
    configureWasmGradKernels({ winogradFilterTile: 'auto' });
  }
  assert.equal(winogradFilterChunk(4, 128), 16); // 7x7 with F(4x4): 2x2 tiles per image
  assert.equal(winogradFilterChunk(49, 128), 2);
  assert.equal(winogradFilterChunk(16, 3), 3);
});

test('Winograd F(4x4,3x3) forward and input gradient: odd sizes, valid, explicit pads, bias/ReLU, against cpu', async () => {
  const shapes: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; pad: Pad }> = [
    { x: [2, 28, 28, 16], f: [3, 3, 16, 16], pad: 'same' }, // layer 2: 7x7 tiles exactly
    { x: [2, 7, 7, 32], f: [3, 3, 32, 64], pad: 'same' }, // layer 5: one padded row and column
    { x: [2, 14, 14, 32], f: [3, 3, 32, 32], pad: 'same' }, // 14 = 3.5 tiles
    { x: [1, 9, 11, 4], f: [3, 3, 4, 16], pad: 'valid' },
    { x: [1, 6, 5, 8], f: [3, 3, 8, 16], pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  ];
  configureWasmGradKernels({ winogradTile: 4 });
  try {
    for (const [i, c] of shapes.entries()) {
      await compare(c, 1200 + i);
      await compare({ ...c, fused: true }, 1210 + i);
      const p = await pathsOfConv(c);
      assert.ok(p['conv.winograd.f4']! >= 1, `case ${i}: ${JSON.stringify(p)}`);
      // dx is the convolution of dy (co channels) with the flipped filter: Winograd when ci % 16 == 0
      if (c.f[2] % 16 === 0) assert.ok(p['backpropInput.winograd.f4']! >= 1, `case ${i}: ${JSON.stringify(p)}`);
    }
  } finally {
    configureWasmGradKernels({ winogradTile: 'auto' });
  }
  // auto: F(4x4) where its tiles cover the output with no more padding than F(2x2)'s
  assert.equal(winogradTileFor(28, 28), 4);
  assert.equal(winogradTileFor(7, 7), 4);
  assert.equal(winogradTileFor(14, 14), 2);
  assert.equal(winogradTileFor(28, 14), 2);
});

test('filter gradient accuracy against a float64 reference: Winograd F(2x2) at least as accurate as the direct kernel, F(4x4) within 2x', async () => {
  await tf.setBackend('wasm');
  // Post-ReLU inputs and signed output gradients, at batch sizes of a training step: the sums run over
  // N x H x W terms, where float32 rounding grows with the length of the addition chains.
  const shapes: Array<[number, number, number, number]> = [
    [64, 28, 16, 16],
    [48, 14, 32, 32],
    [48, 7, 32, 64],
  ];
  for (const [n, hw, ci, co] of shapes) {
    const rng = new Rng(n + hw + ci + co);
    const xs = Float32Array.from(rng.normalArray(n * hw * hw * ci), (v) => Math.max(0, v));
    const dys = Float32Array.from(rng.normalArray(n * hw * hw * co));
    const ref = new Float64Array(9 * ci * co);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < hw; i++)
        for (let j = 0; j < hw; j++)
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const yi = i + ky - 1;
              const xj = j + kx - 1;
              if (yi < 0 || yi >= hw || xj < 0 || xj >= hw) continue;
              const xo = ((b * hw + yi) * hw + xj) * ci;
              const dyo = ((b * hw + i) * hw + j) * co;
              const wo = (ky * 3 + kx) * ci * co;
              for (let c = 0; c < ci; c++) {
                const xv = xs[xo + c]!;
                if (xv !== 0) for (let o = 0; o < co; o++) ref[wo + c * co + o]! += xv * dys[dyo + o]!;
              }
            }
    const rmsRel = (winogradFilter: boolean, winogradFilterTile: 2 | 4 = 2): number => {
      configureWasmGradKernels({ winogradFilter, winogradFilterTile });
      try {
        const dw = tf.tidy(() => {
          const x = tf.tensor4d(xs, [n, hw, hw, ci]);
          const dy = tf.tensor4d(dys, [n, hw, hw, co]);
          const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, ci, co], dilations: [1, 1] };
          return (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as NamedAttrMap) as tf.Tensor).dataSync();
        });
        let e2 = 0;
        let r2 = 0;
        for (let k = 0; k < ref.length; k++) {
          e2 += (dw[k]! - ref[k]!) ** 2;
          r2 += ref[k]! ** 2;
        }
        return Math.sqrt(e2 / r2);
      } finally {
        configureWasmGradKernels({ winogradFilter: true, winogradFilterTile: 'auto' });
      }
    };
    const wino = rmsRel(true, 2);
    const wino4 = rmsRel(true, 4);
    const direct = rmsRel(false);
    assert.ok(wino <= 1e-6, `${n}x${hw}x${hw} ${ci}->${co}: Winograd F(2x2) rms relative error ${wino}`);
    assert.ok(wino <= direct * 1.5, `${n}x${hw}x${hw} ${ci}->${co}: Winograd F(2x2) ${wino} against direct ${direct}`);
    // F(4x4)'s transforms (coefficients up to 8) round more: measured 2.1e-6 (28x28, direct 2.8e-6),
    // 1.0e-6 (7x7, direct 0.55e-6); it is the default only for 28x28 and 7x7 outputs
    assert.ok(wino4 <= 3e-6, `${n}x${hw}x${hw} ${ci}->${co}: Winograd F(4x4) rms relative error ${wino4}`);
    assert.ok(wino4 <= direct * 2, `${n}x${hw}x${hw} ${ci}->${co}: Winograd F(4x4) ${wino4} against direct ${direct}`);
  }
});

test('Winograd F(2x2,3x3) path (3x3, ci % 4 == 0, co % 16 == 0): odd sizes, valid, bias/ReLU, gradients', async () => {
  const shapes: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; pad: Pad }> = [
    { x: [2, 7, 7, 8], f: [3, 3, 8, 16], pad: 'same' }, // odd output: partial last tiles
    { x: [3, 6, 9, 4], f: [3, 3, 4, 32], pad: 'same' },
    { x: [2, 9, 8, 4], f: [3, 3, 4, 16], pad: 'valid' },
    { x: [1, 5, 5, 16], f: [3, 3, 16, 16], pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  ];
  for (const [i, c] of shapes.entries()) {
    for (const activation of ['linear', 'relu'] as const) {
      for (const withBias of [true, false]) {
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          const rng = new Rng(900 + i);
          return tf.tidy(() => {
            const x = tf.tensor4d(rng.normalArray(c.x.reduce((a, b) => a * b, 1)), c.x);
            const w = tf.tensor4d(rng.normalArray(c.f.reduce((a, b) => a * b, 1)), c.f);
            const b = withBias ? tf.tensor1d(rng.normalArray(c.f[3])) : undefined;
            return tf.fused.conv2d({ x, filter: w, strides: 1, pad: c.pad, bias: b, activation }).dataSync();
          });
        };
        const a = await run('wasm');
        const b = await run('cpu');
        assert.ok(relErr(a, b) <= TOL, `case ${i} ${activation} bias=${withBias}: ${relErr(a, b)}`);
      }
    }
    // input gradient through Winograd too (dy has co = 16/32 channels, the flipped filter ci % 4 == 0)
    await compare({ x: c.x, f: c.f, pad: c.pad }, 950 + i);
  }
  // and the direct kernel for the same shapes (Winograd off)
  configureWasmGradKernels({ winograd: false });
  try {
    for (const [i, c] of shapes.entries()) await compare({ x: c.x, f: c.f, pad: c.pad }, 970 + i);
  } finally {
    configureWasmGradKernels({ winograd: true });
  }
});

test('strided convolutions: dilated filter gradient, stock input-gradient fallback', async () => {
  await compare({ x: [2, 9, 9, 3], f: [3, 3, 3, 4], pad: 'same', strides: 2 }, 300);
  await compare({ x: [3, 10, 11, 2], f: [3, 2, 2, 3], pad: 'valid', strides: 2 }, 301);
  await compare({ x: [1, 12, 12, 4], f: [3, 3, 4, 2], pad: 'same', strides: 3 }, 302);
});

test('unsupported attributes give a clear error naming the kernel and the attribute', async () => {
  await tf.setBackend('wasm');
  const before = tf.engine().backend.numDataIds();
  const xc = tf.ones([2, 3, 8, 8]);
  const dyc = tf.ones([2, 4, 8, 8]);
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] };
  assert.throws(
    () => tf.engine().runKernel('Conv2DBackpropFilter', { x: xc, dy: dyc }, attrs as unknown as tf.NamedAttrMap),
    (e: Error) => /Conv2DBackpropFilter/.test(e.message) && /dataFormat/.test(e.message) && /NHWC/.test(e.message),
  );
  const xi = tf.ones([2, 8, 8, 3], 'int32');
  const dyi = tf.ones([2, 8, 8, 4], 'int32');
  assert.throws(
    () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: xi, dy: dyi }, { ...attrs, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap),
    (e: Error) => /Conv2DBackpropFilter/.test(e.message) && /dtype/.test(e.message),
  );
  tf.dispose([xc, dyc, xi, dyi]);
  assert.equal(tf.engine().backend.numDataIds(), before, 'a failed kernel must not leak buffers');
});

test('NCHW input gradient falls back to the stock kernel and matches cpu', async () => {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const rng = new Rng(5);
    return tf.tidy(() => {
      const dy = tf.tensor4d(rng.normalArray(2 * 4 * 6 * 6), [2, 4, 6, 6]);
      const w = tf.tensor4d(rng.normalArray(3 * 3 * 3 * 4), [3, 3, 3, 4]);
      const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', inputShape: [2, 3, 6, 6] };
      return (tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync();
    });
  };
  const a = await run('wasm');
  const b = await run('cpu');
  assert.ok(relErr(a, b) <= TOL);
});

test('no tensor or backend-buffer leak across gradient computations', async () => {
  await tf.setBackend('wasm');
  const x = tf.ones([4, 10, 10, 3]) as tf.Tensor4D;
  const w = tf.variable(tf.ones([3, 3, 3, 5]));
  const step = () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.relu(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'))), [w]);
      return tf.sum(grads[w.name]!).dataSync()[0];
    });
  step();
  const tensors = tf.memory().numTensors;
  const dataIds = tf.engine().backend.numDataIds();
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.engine().backend.numDataIds(), dataIds);
  tf.dispose([x, w]);
});

for (const simd of [true, false]) {
test(`MaxPoolGrad (replaced, ${simd ? 'SIMD' : 'JavaScript'}) matches the cpu backend, ties included`, async () => {
  configureWasmTrainKernels({ simd });
  const cases: Array<{ x: [number, number, number, number]; f: number; s: number; pad: 'same' | 'valid'; ties?: boolean }> = [
    { x: [3, 28, 28, 5], f: 3, s: 2, pad: 'same' },
    { x: [2, 14, 14, 8], f: 3, s: 2, pad: 'same' },
    { x: [2, 9, 7, 3], f: 2, s: 2, pad: 'valid' },
    { x: [1, 8, 8, 4], f: 3, s: 1, pad: 'same' },
    { x: [2, 7, 7, 6], f: 3, s: 2, pad: 'same' },
    { x: [2, 10, 10, 3], f: 3, s: 2, pad: 'same', ties: true },
  ];
  for (const [i, c] of cases.entries()) {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const rng = new Rng(400 + i);
      const n = c.x.reduce((a, b) => a * b, 1);
      const xs = rng.normalArray(n);
      if (c.ties) for (let j = 0; j < n; j++) xs[j] = Math.round(xs[j]!); // many equal maxima
      return tf.tidy(() => {
        const x = tf.tensor4d(xs, c.x);
        const r = tf.tensor(rng.normalArray(tf.maxPool(x, c.f, c.s, c.pad).size), tf.maxPool(x, c.f, c.s, c.pad).shape);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.f, c.s, c.pad), r)))(x).dataSync();
      });
    };
    const a = await run('wasm');
    const b = await run('cpu');
    assert.ok(relErr(a, b) <= TOL, `maxPoolGrad case ${i}: ${relErr(a, b)}`);
  }
  configureWasmTrainKernels({ simd: true });
});

test(`Sum (replaced for leading axes, ${simd ? 'SIMD' : 'JavaScript'}) matches the cpu backend`, async () => {
  configureWasmTrainKernels({ simd });
  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims?: boolean; dtype?: 'int32' }> = [
    { shape: [32, 28, 28, 16], axis: [0, 1, 2] },
    { shape: [300, 6], axis: 0 },
    { shape: [4, 5, 6, 7], axis: [0, 1], keepDims: true },
    { shape: [4, 5, 6], axis: 0 },
    { shape: [4, 5, 6], axis: [2, 1, 0] },
    { shape: [4, 5, 6], axis: [1, 2] },
    { shape: [4, 5, 6], axis: -1 },
    { shape: [4, 5], axis: [0], dtype: 'int32' },
  ];
  for (const [i, c] of cases.entries()) {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const rng = new Rng(500 + i);
      const n = c.shape.reduce((a, b) => a * b, 1);
      return tf.tidy(() => {
        const x = c.dtype ? tf.tensor(Int32Array.from(rng.normalArray(n), (v) => Math.round(10 * v)), c.shape, 'int32') : tf.tensor(rng.normalArray(n), c.shape);
        const s = tf.sum(x, c.axis, c.keepDims);
        return { shape: s.shape, values: s.dataSync() };
      });
    };
    const a = await run('wasm');
    const b = await run('cpu');
    assert.deepEqual(a.shape, b.shape, `sum case ${i} shape`);
    assert.ok(relErr(a.values, b.values) <= TOL, `sum case ${i}: ${relErr(a.values, b.values)}`);
  }
  configureWasmTrainKernels({ simd: true });
});
}

test('Identity and same-dtype Cast share data without leaking; other casts still convert', async () => {
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const ids = tf.engine().backend.numDataIds();
  const x = tf.tensor([1.5, -2.5, 3.25]);
  const c = tf.clone(x);
  const k = tf.cast(x, 'float32');
  const i = tf.cast(x, 'int32');
  x.dispose();
  assert.deepEqual([...c.dataSync()], [1.5, -2.5, 3.25]);
  assert.deepEqual([...k.dataSync()], [1.5, -2.5, 3.25]);
  assert.equal(i.dtype, 'int32');
  assert.deepEqual([...i.dataSync()], [1, -2, 3]);
  tf.dispose([c, k, i]);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(tf.engine().backend.numDataIds(), ids);
});

test('conv2dBiasAct: value and gradients equal the unfused conv + bias + ReLU (+ max pool), on wasm and cpu', async () => {
  type PoolOpt = { filterSize: number; strides: number; pad: 'same' | 'valid' };
  const pool: PoolOpt = { filterSize: 3, strides: 2, pad: 'same' };
  const cases: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; act: 'relu' | 'linear'; pad: 'same' | 'valid'; ig: boolean; pool?: PoolOpt }> = [
    { x: [4, 10, 10, 3], f: [3, 3, 3, 8], act: 'relu', pad: 'same', ig: true },
    { x: [3, 7, 7, 8], f: [3, 3, 8, 2], act: 'linear', pad: 'same', ig: true },
    { x: [2, 9, 8, 1], f: [3, 3, 1, 4], act: 'relu', pad: 'valid', ig: false },
    // with the pool: the fused gradient (channels % 4 == 0), odd sizes, and the composed routes
    { x: [3, 12, 12, 4], f: [3, 3, 4, 16], act: 'relu', pad: 'same', ig: true, pool },
    { x: [2, 9, 7, 2], f: [3, 3, 2, 8], act: 'relu', pad: 'same', ig: true, pool },
    { x: [2, 8, 8, 3], f: [3, 3, 3, 6], act: 'relu', pad: 'same', ig: true, pool: { filterSize: 2, strides: 2, pad: 'valid' } },
    { x: [2, 8, 8, 4], f: [3, 3, 4, 8], act: 'linear', pad: 'same', ig: true, pool },
  ];
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    for (const [i, c] of cases.entries()) {
      const rng = new Rng(800 + i);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.tensor4d(rng.normalArray(c.x.reduce((a, b) => a * b, 1)), c.x);
        const w = tf.tensor4d(rng.normalArray(c.f.reduce((a, b) => a * b, 1)), c.f);
        const b = tf.tensor1d(rng.normalArray(c.f[3]));
        const y0 = tf.conv2d(x, w, 1, c.pad);
        const r = tf.randomUniform((c.pool ? tf.maxPool(y0, c.pool.filterSize, c.pool.strides, c.pool.pad) : y0).shape, -1, 1, 'float32', 3);
        const ref = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
          const z = tf.add(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, c.pad), bb) as tf.Tensor4D;
          const y = c.act === 'relu' ? tf.relu(z) : z;
          return tf.sum(tf.mul(c.pool ? tf.maxPool(y, c.pool.filterSize, c.pool.strides, c.pool.pad) : y, r));
        };
        const mine = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(conv2dBiasAct(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D, { activation: c.act, pad: c.pad, inputGradient: c.ig, pool: c.pool }), r));
        const [a0, a1, a2] = tf.grads(ref)([x, w, b]);
        const [m0, m1, m2] = tf.grads(mine)([x, w, b]);
        assert.ok(relErr(mine(x, w, b).dataSync(), ref(x, w, b).dataSync()) <= TOL, `${backend} case ${i} value`);
        if (c.ig) assert.ok(relErr(m0!.dataSync(), a0!.dataSync()) <= TOL, `${backend} case ${i} dx`);
        else assert.ok(m0!.dataSync().every((v) => v === 0), 'dx skipped: zeros');
        assert.ok(relErr(m1!.dataSync(), a1!.dataSync()) <= TOL, `${backend} case ${i} dW`);
        assert.ok(relErr(m2!.dataSync(), a2!.dataSync()) <= TOL, `${backend} case ${i} db`);
      });
      assert.equal(tf.memory().numTensors, before, `${backend} case ${i}: leak`);
    }
  }
});

test('the fused max-pool + ReLU + bias gradient equals MaxPoolGrad, then the ReLU mask, to the bit (db to float rounding)', async () => {
  await tf.setBackend('wasm');
  for (const [i, shape] of ([[3, 28, 28, 16], [2, 14, 14, 32], [2, 9, 7, 4]] as Array<[number, number, number, number]>).entries()) {
    const rng = new Rng(1400 + i);
    const attrs = { filterSize: 3, strides: 2, pad: 'same', dimRoundingMode: undefined } as unknown as NamedAttrMap;
    const p = countPaths(() =>
      tf.tidy(() => {
        // post-ReLU input with ties (zeros) and windows whose maximum is 0
        const y = tf.relu(tf.tensor4d(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape)) as tf.Tensor4D;
        const pooled = tf.maxPool(y, 3, 2, 'same');
        const dy = tf.tensor4d(rng.normalArray(pooled.size), pooled.shape as [number, number, number, number]);
        const [g, db] = tf.engine().runKernel('FaceLossesPoolReluBiasGrad', { dy, y }, attrs) as tf.Tensor[];
        const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input: y, output: pooled }, attrs) as tf.Tensor;
        const [g2, db2] = tf.engine().runKernel('FaceLossesReluBiasGrad', { dy: dx, y }, {}) as tf.Tensor[];
        const a = g!.dataSync();
        const b = g2!.dataSync();
        for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) assert.fail(`case ${i}: g[${k}] ${a[k]} against ${b[k]}`);
        assert.ok(relErr(db!.dataSync(), db2!.dataSync()) <= 1e-6, `case ${i}: db`);
      }),
    ).counts;
    assert.equal(p['poolReluBiasGrad.fused'], 1, JSON.stringify(p));
  }
});

test('kernel registration is idempotent', () => {
  registerWasmGradKernels();
  registerWasmGradKernels();
  registerWasmTrainKernels();
  registerWasmTrainKernels();
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
  assert.ok(tf.getKernel('Conv2DBackpropInput', 'wasm'));
});

/** Runs a forward + both gradients of conv (+ bias + ReLU when fused) on wasm; the paths taken. */
async function pathsOfConv(c: Case): Promise<Record<string, number>> {
  await tf.setBackend('wasm');
  const rng = new Rng(1);
  const size = (sh: number[]) => sh.reduce((a, b) => a * b, 1);
  return countPaths(() =>
    tf.tidy(() => {
      const x = tf.tensor4d(rng.normalArray(size(c.x)), c.x);
      const w = tf.tensor4d(rng.normalArray(size(c.f)), c.f);
      const b = tf.tensor1d(rng.normalArray(c.f[3]));
      const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: c.strides ?? 1, pad: c.pad, bias: bb, activation: 'relu' })),
      );
      tf.fused.conv2d({ x, filter: w, strides: c.strides ?? 1, pad: c.pad, bias: b, activation: 'relu' }).dataSync();
      for (const t of g([x, w, b])) t.dataSync();
    }),
  ).counts;
}

test('fast-path counters: each fast path of the reference network actually ran (and a declined shape is counted as a fallback)', async () => {
  await tf.setBackend('wasm');
  // 16 -> 32, 3x3 same: Winograd forward and input gradient, SIMD filter gradient
  let p = await pathsOfConv({ x: [2, 14, 14, 16], f: [3, 3, 16, 32], pad: 'same' });
  assert.ok(p['conv.winograd']! >= 1, `forward Winograd: ${JSON.stringify(p)}`);
  assert.ok(p['backpropInput.winograd']! >= 1, `input gradient Winograd: ${JSON.stringify(p)}`);
  assert.ok(p['backpropFilter.winograd']! >= 1 && (p['backpropFilter.simd'] ?? 0) === 0, `filter gradient Winograd: ${JSON.stringify(p)}`);
  assert.equal(p['conv.stock'] ?? 0, 0);
  assert.equal(p['backpropInput.xnnpack'] ?? 0, 0);
  assert.equal(p['backpropFilter.xnnpack'] ?? 0, 0);
  // 64 -> 2 (the last layer): the dot-product kernels, not the stock one
  p = await pathsOfConv({ x: [2, 7, 7, 64], f: [3, 3, 64, 2], pad: 'same' });
  assert.ok(p['conv.dot']! >= 1 && (p['conv.stock'] ?? 0) === 0, JSON.stringify(p));
  assert.ok(p['backpropFilter.dot']! >= 1, JSON.stringify(p));
  // Winograd off: the direct kernels
  configureWasmGradKernels({ winograd: false });
  try {
    p = await pathsOfConv({ x: [2, 14, 14, 16], f: [3, 3, 16, 32], pad: 'same' });
    assert.ok(p['conv.direct']! >= 1 && p['backpropInput.direct']! >= 1 && p['backpropFilter.simd']! >= 1, JSON.stringify(p));
    assert.equal((p['conv.winograd'] ?? 0) + (p['backpropInput.winograd'] ?? 0) + (p['backpropFilter.winograd'] ?? 0), 0);
  } finally {
    configureWasmGradKernels({ winograd: true });
  }
  configureWasmGradKernels({ winogradFilter: false });
  try {
    p = await pathsOfConv({ x: [2, 14, 14, 16], f: [3, 3, 16, 32], pad: 'same' });
    assert.ok(p['conv.winograd']! >= 1 && p['backpropFilter.simd']! >= 1 && (p['backpropFilter.winograd'] ?? 0) === 0, JSON.stringify(p));
  } finally {
    configureWasmGradKernels({ winogradFilter: true });
  }
  // declined: strided -> stock forward and input gradient, XNNPACK filter gradient
  p = await pathsOfConv({ x: [2, 9, 9, 4], f: [3, 3, 4, 8], pad: 'same', strides: 2 });
  assert.ok(p['conv.stock']! >= 1 && p['backpropInput.stock']! >= 1 && p['backpropFilter.xnnpack']! >= 1, JSON.stringify(p));
  // max-pool gradient and the bias sum (channels % 4 == 0: SIMD)
  const rng = new Rng(2);
  p = countPaths(() =>
    tf.tidy(() => {
      const x = tf.tensor4d(rng.normalArray(2 * 28 * 28 * 16), [2, 28, 28, 16]);
      tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 3, 2, 'same')))(x).dataSync();
      tf.sum(x, [0, 1, 2]).dataSync();
    }),
  ).counts;
  assert.ok(p['maxPoolGrad.simd']! >= 1 && p['sum.simd']! >= 1, JSON.stringify(p));
  // (the full reduction tf.sum(maxPool(a)) is not a leading-axes sum: stock, as intended)
  assert.equal((p['maxPoolGrad.stock'] ?? 0) + (p['maxPoolGrad.js'] ?? 0), 0);
});

test('the reference network on wasm (default convOp auto) takes the fused paths: conv2dBiasAct, fused ReLU + bias gradient, Winograd', async () => {
  await tf.setBackend('wasm');
  const { createFeatureNet } = await import('../src/model/net.js');
  const net = createFeatureNet(new Rng(3), 2);
  const rng = new Rng(4);
  const p = countPaths(() =>
    tf.tidy(() => {
      const x = tf.tensor4d(rng.normalArray(4 * 28 * 28), [4, 28, 28, 1]);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(net.forward(x))) as tf.Scalar, Object.values(net.variables));
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
    }),
  ).counts;
  net.dispose();
  assert.equal(p['reluBiasGrad.fused'], 3, JSON.stringify(p)); // the ReLU layers without a pool after them (1, 3, 5)
  assert.equal(p['poolReluBiasGrad.fused'], 2, JSON.stringify(p)); // layers 2 and 4: pool, ReLU and bias in one pass
  assert.equal(p['maxPoolGrad.simd'] ?? 0, 0, JSON.stringify(p));
  assert.equal(p['conv.winograd'], 4, JSON.stringify(p)); // layers 2-5 forward
  assert.equal(p['conv.winograd.f4'], 2, JSON.stringify(p)); // of which F(4x4): layers 2 (28x28) and 5 (7x7)
  assert.equal(p['backpropInput.winograd'], 4, JSON.stringify(p)); // layers 2-6 need dx; 6 (64->2 flipped: 2->64) is direct
  assert.equal(p['backpropInput.winograd.f4'], 2, JSON.stringify(p)); // dx of layers 2 (28x28) and 5 (7x7)
  assert.equal(p['backpropFilter.winograd'], 4, JSON.stringify(p)); // layers 2-5
  assert.equal(p['backpropFilter.winograd.f4'], 2, JSON.stringify(p)); // of which F(4x4): layers 2 (28x28) and 5 (7x7)
  assert.equal(p['backpropFilter.simd'], 1, JSON.stringify(p)); // layer 1 (ci = 1); 6 dot
  assert.equal(p['backpropFilter.dot'], 1, JSON.stringify(p));
  assert.equal(p['conv.dot'], 1, JSON.stringify(p));
  assert.equal((p['conv.stock'] ?? 0) + (p['backpropInput.stock'] ?? 0) + (p['backpropFilter.xnnpack'] ?? 0), 0, JSON.stringify(p));
});
