/**
 * Shared helpers of the losses tests (not a test file itself): the cpu backend, evaluation of a
 * loss on plain arrays, autodiff and central finite-difference gradients, closeness checks, and
 * plain-number building blocks (dot, norm, cross-entropy) for the independent re-computations.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createLoss } from '../src/losses/registry.js';
import type { Loss, LossParams } from '../src/losses/types.js';

export type Mat = number[][];

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** createLoss with warnings collected instead of printed; 2-D features unless `embeddingDim` says otherwise. */
export function make(name: string, params: LossParams = {}, numClasses = 3, warnings: string[] = [], embeddingDim = 2): Loss {
  return createLoss(name, params, { numClasses, embeddingDim }, (m) => warnings.push(m));
}

/** make(), then the class weights set to `W` (a fixture of the test). */
export function makeWithW(name: string, params: LossParams, numClasses: number, W: Mat): Loss {
  const loss = make(name, params, numClasses);
  setVar(loss, 'W', W);
  return loss;
}

/** Assigns a trainable or state variable of the loss by name. */
export function setVar(loss: Loss, name: string, value: Mat | number): void {
  const v = loss.trainableVariables()[name] ?? loss.stateVariables()[name];
  assert.ok(v, `loss ${loss.name} has no variable '${name}'`);
  const t = typeof value === 'number' ? tf.scalar(value) : tf.tensor2d(value);
  v.assign(t);
  t.dispose();
}

export function getVar(loss: Loss, name: string): Mat {
  const v = loss.trainableVariables()[name] ?? loss.stateVariables()[name];
  assert.ok(v, `loss ${loss.name} has no variable '${name}'`);
  return v.arraySync() as Mat;
}

/** W [D, C] given as class vectors [[w0x, w0y], [w1x, w1y], ...]. */
export function weightsFromClassVectors(vs: Mat): Mat {
  return [vs.map((v) => v[0]!), vs.map((v) => v[1]!)];
}

export function lossValue(loss: Loss, x: Mat, y: number[], training = true): number {
  return tf.tidy(() => loss.compute(tf.tensor2d(x), tf.tensor1d(y, 'int32'), { training }).loss.dataSync()[0]!);
}

export function autoGradX(loss: Loss, x: Mat, y: number[]): Mat {
  return tf.tidy(() => {
    const yt = tf.tensor1d(y, 'int32');
    const g = tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, yt).loss)(tf.tensor2d(x));
    return g.arraySync() as Mat;
  });
}

export function fdGradX(loss: Loss, x: Mat, y: number[], h = 1e-3): Mat {
  return x.map((row, i) =>
    row.map((_, d) => {
      const xp = x.map((r) => [...r]);
      const xm = x.map((r) => [...r]);
      xp[i]![d]! += h;
      xm[i]![d]! -= h;
      return (lossValue(loss, xp, y) - lossValue(loss, xm, y)) / (2 * h);
    }),
  );
}

/** Autodiff gradient of each trainable variable, flattened, by variable name. */
export function autoGradVars(loss: Loss, x: Mat, y: number[]): Record<string, number[]> {
  const vars = loss.trainableVariables();
  const byId = Object.fromEntries(Object.entries(vars).map(([k, v]) => [v.name, k]));
  const { value, grads } = tf.variableGrads(
    () => tf.tidy(() => loss.compute(tf.tensor2d(x), tf.tensor1d(y, 'int32')).loss),
    Object.values(vars),
  );
  const out: Record<string, number[]> = {};
  for (const [id, g] of Object.entries(grads)) out[byId[id]!] = Array.from(g.dataSync());
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

export function fdGradVar(loss: Loss, name: string, x: Mat, y: number[], h = 1e-3): number[] {
  const v = loss.trainableVariables()[name]!;
  const orig = v.dataSync().slice();
  const out: number[] = [];
  for (let k = 0; k < orig.length; k++) {
    const at = (delta: number) => {
      const p = orig.slice();
      p[k]! += delta;
      const t = tf.tensor(p, v.shape);
      v.assign(t);
      t.dispose();
      return lossValue(loss, x, y);
    };
    out.push((at(h) - at(-h)) / (2 * h));
  }
  const t = tf.tensor(orig, v.shape);
  v.assign(t);
  t.dispose();
  return out;
}

export interface Tol {
  abs?: number;
  rel?: number;
}

export function assertClose(actual: number, expected: number, tol: Tol = {}, msg = ''): void {
  const abs = tol.abs ?? 1e-5;
  const rel = tol.rel ?? 1e-4;
  const bound = abs + rel * Math.max(Math.abs(actual), Math.abs(expected));
  assert.ok(
    Number.isFinite(actual) && Math.abs(actual - expected) <= bound,
    `${msg}: got ${actual}, expected ${expected} (|diff| ${Math.abs(actual - expected)} > ${bound})`,
  );
}

export function assertAllClose(actual: number[], expected: number[], tol: Tol = {}, msg = ''): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  actual.forEach((a, i) => assertClose(a, expected[i]!, tol, `${msg}[${i}]`));
}

/** Gradients w.r.t. embeddings and every trainable variable against central differences. */
export function checkGradients(loss: Loss, x: Mat, y: number[], tol: Tol = { abs: 1e-2, rel: 3e-2 }, h = 1e-3): void {
  assertAllClose(autoGradX(loss, x, y).flat(), fdGradX(loss, x, y, h).flat(), tol, `${loss.name} d/dx`);
  const auto = autoGradVars(loss, x, y);
  const names = Object.keys(loss.trainableVariables());
  assert.deepEqual(Object.keys(auto).sort(), [...names].sort(), `${loss.name}: a gradient for every trainable variable`);
  for (const n of names) assertAllClose(auto[n]!, fdGradVar(loss, n, x, y, h), tol, `${loss.name} d/d${n}`);
}

/** Every number finite: loss, logits, and gradients w.r.t. x and the trainable variables. */
export function assertFiniteEverywhere(loss: Loss, x: Mat, y: number[], msg = ''): void {
  const what = `${loss.name}${msg ? ` (${msg})` : ''}`;
  const v = lossValue(loss, x, y);
  assert.ok(Number.isFinite(v), `${what}: loss ${v}`);
  const logits = tf.tidy(() => {
    const out = loss.compute(tf.tensor2d(x), tf.tensor1d(y, 'int32'));
    return out.logits ? Array.from(out.logits.dataSync()) : [];
  });
  assert.ok(logits.every(Number.isFinite), `${what}: logits ${logits}`);
  const gx = autoGradX(loss, x, y).flat();
  assert.ok(gx.every(Number.isFinite), `${what}: d/dx ${gx}`);
  for (const [k, g] of Object.entries(autoGradVars(loss, x, y))) assert.ok(g.every(Number.isFinite), `${what}: d/d${k} ${g}`);
}

// ---- plain-number building blocks for the independent re-computations ----

export const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
export const norm = (a: number[]) => Math.sqrt(dot(a, a));
export const unit = (a: number[]) => a.map((v) => v / norm(a));
/** Column j of W [D, C]. */
export const col = (W: Mat, j: number) => W.map((r) => r[j]!);
export const numCols = (W: Mat) => W[0]!.length;

/** −log softmax(z)_y, computed stably. */
export function crossEntropyRow(z: number[], y: number): number {
  const mx = Math.max(...z);
  const lse = mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0));
  return lse - z[y]!;
}

export function meanCrossEntropy(logits: Mat, y: number[]): number {
  return logits.reduce((s, z, i) => s + crossEntropyRow(z, y[i]!), 0) / logits.length;
}

export const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** Vector at angle `deg` degrees with length r. */
export const polar = (deg: number, r = 1): number[] => [r * Math.cos((deg * Math.PI) / 180), r * Math.sin((deg * Math.PI) / 180)];

/** Tensor count before/after `fn` (which must clean up after itself). */
export function tensorsLeaked(fn: () => void): number {
  const before = tf.memory().numTensors;
  fn();
  return tf.memory().numTensors - before;
}
