/** Evaluation of an experiment over a split: features, predictions, mean loss and accuracy. */
import * as tf from '@tensorflow/tfjs-core';
import { engineFault } from '../backend.js';
import { gatherImages, gatherLabels, type Split } from '../data/mnist.js';
import type { Snapshot } from '../run/snapshot.js';
import type { Experiment } from './experiment.js';
import type { DataParallel } from './parallel.js';

/** Images per evaluation batch (the trainer sizes its data-parallel workers to take it). */
export const EVAL_BATCH = 500;

/**
 * Features, predictions and mean loss over a split, in evaluation mode (no state changes). One
 * asynchronous read-back per batch (a GPU engine cannot read synchronously). With `dp`, the
 * network's forward pass runs on the data-parallel workers (each image's features are the same as
 * in this thread: no layer mixes the images of a batch) and only the loss head here.
 */
export async function evaluate(
  exp: Experiment,
  split: Split,
  numClasses: number,
  opts: { batchSize?: number; dp?: DataParallel } = {},
): Promise<{ snapshot: Omit<Snapshot, 'epoch' | 'split'>; loss: number; accuracy: number }> {
  const batchSize = opts.batchSize ?? EVAL_BATCH;
  const dp = opts.dp;
  const n = split.count;
  const d = exp.net.embeddingDim;
  const features = new Float32Array(n * d);
  const predicted = new Uint8Array(n);
  const labels = new Uint8Array(split.labels.subarray(0, n));
  let lossSum = 0;
  let correct = 0;
  for (let s = 0; s < n; s += batchSize) {
    const idx = new Uint32Array(Math.min(batchSize, n - s)).map((_, i) => s + i);
    const b = idx.length;
    // [loss, features (d·b), predicted class (b, or none without logits)]
    const readout = tf.tidy(() => {
      const x = tf.tensor4d(gatherImages(split, idx), [b, split.height, split.width, 1]);
      const y = tf.tensor1d(gatherLabels(split, idx), 'int32');
      const emb = dp ? dp.forward(x) : exp.net.forward(x);
      const out = exp.loss.compute(emb, y, { training: false });
      const logits = exp.loss.predict ? exp.loss.predict(emb) : out.logits;
      const parts = [tf.reshape(out.loss, [1]), tf.reshape(emb, [-1])];
      if (logits) parts.push(tf.cast(tf.argMax(logits, 1), 'float32'));
      return tf.concat(parts);
    });
    const v = (await readout.data()) as Float32Array;
    readout.dispose();
    const fault = engineFault();
    if (fault) throw fault;
    lossSum += v[0]! * b;
    features.set(v.subarray(1, 1 + d * b), s * d);
    if (v.length > 1 + d * b) for (let k = 0; k < b; k++) predicted[s + k] = v[1 + d * b + k]!;
  }
  for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
  return {
    snapshot: { numClasses, embeddingDim: d, count: n, features, labels, predicted },
    loss: lossSum / n,
    accuracy: n ? correct / n : 0,
  };
}
