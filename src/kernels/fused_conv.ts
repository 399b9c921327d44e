/**
 * conv2d + bias + ReLU that stays fused while training.
 *
 * tf.fused.conv2d falls back to three separate ops (Conv2D, Add, Relu) whenever a gradient is being
 * recorded, so training pays for a bias pass, a ReLU pass and, backwards, Step + Cast + Multiply
 * for the ReLU and a broadcast Add gradient. This op runs the FusedConv2D kernel (one pass; on
 * wasm the SIMD kernel of simd_conv.ts) and has its own gradient: the ReLU mask applied once to
 * dy, then the two convolution gradients and the bias sum. Works on every backend (it only uses
 * registered kernels); stride 1 and NHWC, like the reference network.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RELU_BIAS_GRAD, reluBiasGradAvailable } from './wasm_train_kernels.js';

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
    save(relu ? [xs, ws, y] : [xs, ws]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [sx, sw, sy] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D | undefined];
        // y = relu(z) > 0 exactly where z > 0, so the saved output gives the ReLU mask.
        let g: tf.Tensor4D;
        let db: tf.Tensor;
        if (relu && reluBiasGradAvailable(sy!)) {
          [g, db] = engine.runKernel(RELU_BIAS_GRAD, { dy, y: sy! }, {}) as [tf.Tensor4D, tf.Tensor];
        } else {
          g = relu ? tf.mul(dy, tf.step(sy!)) : dy;
          db = tf.sum(g, [0, 1, 2]);
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
