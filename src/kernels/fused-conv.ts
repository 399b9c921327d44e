/**
 * conv2d + bias + ReLU (+ a max pool) that stays fused while training.
 *
 * tf.fused.conv2d falls back to three separate ops (Conv2D, Add, Relu) whenever a gradient is being
 * recorded, so training pays for a bias pass, a ReLU pass and, backwards, Step + Cast + Multiply
 * for the ReLU and a broadcast Add gradient. This op runs the FusedConv2D kernel (one pass; on
 * wasm the SIMD kernel of simd-conv.ts) and has its own gradient: the ReLU mask applied once to
 * dy, then the two convolution gradients and the bias sum. Works on every backend (it only uses
 * registered kernels); stride 1 and NHWC, like the reference network.
 */
import * as tf from '@tensorflow/tfjs-core';
import { POOL_RELU_BIAS_GRAD, RELU_BIAS_GRAD, poolReluBiasGradAvailable, reluBiasGradAvailable } from './wasm-train-kernels.js';

export interface Conv2dBiasActOptions {
  /** 'relu' or 'linear' (default 'linear'). */
  activation?: 'relu' | 'linear';
  /** 'same' (default) or 'valid'. */
  pad?: 'same' | 'valid';
  /**
   * Whether the gradient with respect to x is needed (default true). The first layer of a network
   * whose input is the image does not need it: false skips that convolution (zeros are returned).
   */
  inputGradient?: boolean;
  /**
   * A max pool after the activation (window, stride, padding as tf.maxPool's): one op whose
   * gradient goes through the pool, the ReLU and the bias in one pass on wasm
   * (FaceLossesPoolReluBiasGrad) instead of MaxPoolGrad, then the ReLU mask, each over the whole
   * pre-pool tensor.
   */
  pool?: { filterSize: number; strides: number; pad: 'same' | 'valid' };
}

export function conv2dBiasAct(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, opts: Conv2dBiasActOptions = {}): tf.Tensor4D {
  const relu = (opts.activation ?? 'linear') === 'relu';
  const pad = opts.pad ?? 'same';
  const inputGradient = opts.inputGradient ?? true;
  const engine = tf.engine();
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xs, ws, bs, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
    const y = engine.runKernel('FusedConv2D', { x: xs, filter: ws, bias: bs }, {
      strides: [1, 1],
      pad,
      dataFormat: 'NHWC',
      dilations: [1, 1],
      activation: relu ? 'relu' : 'linear',
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    const poolAttrs = opts.pool ? ({ ...opts.pool, dimRoundingMode: undefined } as unknown as tf.NamedAttrMap) : undefined;
    const pooled = poolAttrs ? (engine.runKernel('MaxPool', { x: y }, poolAttrs) as tf.Tensor4D) : undefined;
    save(pooled ? [xs, ws, y, pooled] : relu ? [xs, ws, y] : [xs, ws]);
    return {
      value: pooled ?? y,
      gradFunc: (dyOut: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [sx, sw, sy, sp] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D | undefined, tf.Tensor4D | undefined];
        // y = relu(z) > 0 exactly where z > 0, so the saved output gives the ReLU mask.
        let g: tf.Tensor4D;
        let db: tf.Tensor;
        if (poolAttrs && relu && poolReluBiasGradAvailable(sy!)) {
          [g, db] = engine.runKernel(POOL_RELU_BIAS_GRAD, { dy: dyOut, y: sy! }, poolAttrs) as [tf.Tensor4D, tf.Tensor];
        } else {
          const dy = poolAttrs ? (engine.runKernel('MaxPoolGrad', { dy: dyOut, input: sy!, output: sp! }, poolAttrs) as tf.Tensor4D) : dyOut;
          if (relu && reluBiasGradAvailable(sy!)) {
            [g, db] = engine.runKernel(RELU_BIAS_GRAD, { dy, y: sy! }, {}) as [tf.Tensor4D, tf.Tensor];
          } else {
            g = relu ? tf.mul(dy, tf.step(sy!)) : dy;
            db = tf.sum(g, [0, 1, 2]);
          }
        }
        const dx = inputGradient
          ? (engine.runKernel('Conv2DBackpropInput', { dy: g, filter: sw }, {
              strides: [1, 1],
              pad,
              dataFormat: 'NHWC',
              inputShape: sx.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor)
          : tf.zerosLike(sx);
        const dw = engine.runKernel('Conv2DBackpropFilter', { x: sx, dy: g }, {
          strides: [1, 1],
          pad,
          dataFormat: 'NHWC',
          filterShape: sw.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [dx, dw, db];
      },
    };
  });
  return f(x, filter, bias) as tf.Tensor4D;
}
