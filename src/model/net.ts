/**
 * The reference feature network: six 3x3 convolutions (stride 1, same padding)
 * 1→16, 16→16, maxpool(3, stride 2), 16→32, 32→32, maxpool(3, stride 2), 32→64, 64→D,
 * ReLU after each but the last, then global average pooling to the D-dimensional feature.
 * He-normal initialisation (fan_out), zero biases.
 *
 * Max pooling uses TensorFlow's 'same' padding (28→14→7, as PyTorch's padding=1 gives); the window
 * sits one pixel lower/right than PyTorch's, which changes nothing that matters here.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs-gradients.js';
import { conv2dBiasAct } from '../kernels/fused-conv.js';
import { Rng } from '../rng.js';

export interface FeatureNet {
  /** Trainable variables by name, in a fixed order (conv1.w, conv1.b, ...). */
  variables: Record<string, tf.Variable>;
  /** x: [N, 28, 28, 1] normalised images → [N, embeddingDim] features. */
  forward(x: tf.Tensor4D): tf.Tensor2D;
  embeddingDim: number;
  dispose(): void;
}

export const CONV_CHANNELS: ReadonlyArray<[number, number]> = [
  [1, 16],
  [16, 16],
  [16, 32],
  [32, 32],
  [32, 64],
];

/** After which convolutions (0-based) `forward` max-pools with stride 2. */
const POOL_AFTER: ReadonlySet<number> = new Set([1, 3]);
/** The reference network's max pool: 3x3 windows, stride 2, 'same' padding. */
const POOL = { filterSize: 3, strides: 2, pad: 'same' } as const;

/**
 * [input height and width, input channels, output channels] of each convolution for square images
 * of `size` (28 for MNIST): what the kernels' tests and micro-benchmarks run.
 */
export function convLayerShapes(embeddingDim = 2, size = 28): Array<[number, number, number]> {
  let s = size;
  return [...CONV_CHANNELS, [64, embeddingDim] as [number, number]].map(([ci, co], i) => {
    const shape: [number, number, number] = [s, ci, co];
    if (POOL_AFTER.has(i)) s = Math.ceil(s / 2);
    return shape;
  });
}

let instance = 0;

export interface FeatureNetOptions {
  /** How a convolution + bias + ReLU is expressed: tf.fused.conv2d, or facelosses'
   *  conv2dBiasAct, which stays one op under a gradient tape (no bias Add and ReLU passes forward;
   *  backward one fused ReLU-mask + bias-sum kernel on wasm instead of Step, Multiply, Sum).
   *  'auto' (default): conv2dBiasAct on the wasm backend, where it is faster (docs/speed.md),
   *  tf.fused.conv2d elsewhere. */
  convOp?: 'auto' | 'fused' | 'biasAct';
}

export function createFeatureNet(rng: Rng = new Rng(0), embeddingDim = 2, opts: FeatureNetOptions = {}): FeatureNet {
  instance += 1;
  const layers: Array<[number, number]> = [...CONV_CHANNELS, [64, embeddingDim]];
  const variables: Record<string, tf.Variable> = {};
  const convs: Array<{ w: tf.Variable; b: tf.Variable }> = [];
  layers.forEach(([cin, cout], i) => {
    const std = Math.sqrt(2 / (3 * 3 * cout)); // kaiming_normal_, mode='fan_out', relu
    // tidy: the initial values are copies the variables do not need (they would stay counted).
    const w = tf.tidy(() => tf.variable(tf.tensor4d(rng.normalArray(9 * cin * cout, std), [3, 3, cin, cout]), true, `net${instance}.conv${i + 1}.w`));
    const b = tf.tidy(() => tf.variable(tf.zeros([cout]), true, `net${instance}.conv${i + 1}.b`));
    variables[`conv${i + 1}.w`] = w;
    variables[`conv${i + 1}.b`] = b;
    convs.push({ w, b });
  });

  // conv i (+ ReLU), then the max pool when one follows layer i
  const conv = (x: tf.Tensor4D, i: number, relu: boolean): tf.Tensor4D => {
    const { w, b } = convs[i]!;
    const activation = relu ? 'relu' : 'linear';
    const op = opts.convOp ?? 'auto';
    const pool = POOL_AFTER.has(i) ? POOL : undefined;
    if (op === 'biasAct' || (op === 'auto' && tf.getBackend() === 'wasm')) {
      // The first layer needs no gradient with respect to the image; the pool is part of the op.
      return conv2dBiasAct(x, w as tf.Tensor4D, b as tf.Tensor1D, { activation, inputGradient: i > 0, pool });
    }
    const y = tf.fused.conv2d({ x, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias: b, activation });
    return pool ? tf.maxPool(y, pool.filterSize, pool.strides, pool.pad) : y;
  };

  return {
    variables,
    embeddingDim,
    forward(x: tf.Tensor4D): tf.Tensor2D {
      return tf.tidy(() => {
        let h = x;
        for (let i = 0; i < convs.length; i++) {
          h = conv(h, i, i < convs.length - 1); // ReLU after all but the last; the pools inside
        }
        return tf.mean(h, [1, 2]) as tf.Tensor2D;
      });
    },
    dispose() {
      for (const v of Object.values(variables)) v.dispose();
    },
  };
}
