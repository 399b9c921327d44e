/**
 * Adam as PyTorch implements it, with weight decay added to the gradient (L2, not AdamW):
 *   g ← g + wd·w;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
 *   w ← w − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
 * Its whole state (t, m, v) can be read and restored for checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_KERNEL, adamKernelAvailable, registerAdamKernel } from '../kernels/adam-kernel.js';
import { countPath } from '../kernels/fast-path.js';

/** `fused: false` forces the composed update (13 kernels per variable), for comparisons and tests. */
let useFused = true;
export function configureAdam(opts: { fused?: boolean }): void {
  if (opts.fused !== undefined) useFused = opts.fused;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Record<string, tf.Variable>,
    opts: AdamOptions,
  ) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    // The fused update kernel (wasm, cpu) is registered by the first optimizer, not by importing this module.
    registerAdamKernel();
    for (const [name, p] of Object.entries(params)) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** Applies one update from gradients keyed like `params` (missing keys are skipped). */
  apply(grads: Record<string, tf.Tensor>): void {
    this.step += 1;
    const t = this.step;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const stepSize = this.lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    // One kernel per variable where the backend has it (wasm, cpu; bit-identical results).
    const fused = useFused && adamKernelAvailable();
    tf.tidy(() => {
      for (const [name, p] of Object.entries(this.params)) {
        let g = grads[name];
        if (!g) continue;
        if (fused && p.dtype === 'float32' && g.dtype === 'float32') {
          const m = this.m.get(name)!;
          const v = this.v.get(name)!;
          const attrs = { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, sqrtBc2, stepSize };
          const [p1, m1, v1] = tf.engine().runKernel(ADAM_KERNEL, { p, g, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
          m.assign(m1!);
          v.assign(v1!);
          p.assign(p1!);
          countPath('adam.fused');
          continue;
        }
        countPath('adam.composed');
        if (this.weightDecay !== 0) g = tf.add(g, tf.mul(p, this.weightDecay));
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(m1);
        v.assign(v1);
        const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), this.eps);
        p.assign(tf.sub(p, tf.mul(tf.div(m1, denom), stepSize)));
      }
    });
  }

  /** Reads the moments back (asynchronously: a GPU engine cannot read synchronously). */
  async getState(): Promise<AdamState> {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    const step = this.step;
    await Promise.all(
      Object.keys(this.params).map(async (name) => {
        m[name] = (await this.m.get(name)!.data()) as Float32Array;
        v[name] = (await this.v.get(name)!.data()) as Float32Array;
      }),
    );
    return { step, m, v };
  }

  setState(state: AdamState): void {
    this.step = state.step;
    for (const name of Object.keys(this.params)) {
      const mv = this.m.get(name)!;
      const vv = this.v.get(name)!;
      tf.tidy(() => {
        if (state.m[name]) mv.assign(tf.tensor(state.m[name]!, mv.shape));
        if (state.v[name]) vv.assign(tf.tensor(state.v[name]!, vv.shape));
      });
    }
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/** Step decay: lr0 · gamma^floor((epoch−1)/stepEpochs), epochs counted from 1. */
export function stepDecayLr(lr0: number, epoch: number, stepEpochs: number, gamma: number): number {
  return lr0 * Math.pow(gamma, Math.floor((epoch - 1) / stepEpochs));
}

/**
 * Linear warm-up: the factor (0, 1] by which the learning rate of step `step` (0-based) of epoch
 * `epoch` (from 1) is multiplied, ramping from 1/W to 1 over the first W = warmupEpochs ·
 * stepsPerEpoch steps.
 */
export function warmupFactor(warmupEpochs: number, epoch: number, step: number, stepsPerEpoch: number): number {
  const total = warmupEpochs * stepsPerEpoch;
  if (!(total > 0)) return 1;
  const done = (epoch - 1) * stepsPerEpoch + step + 1;
  return Math.min(1, done / total);
}
