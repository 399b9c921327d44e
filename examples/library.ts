/**
 * facelosses as a TensorFlow.js library: a loss head of the collection on top of your own model,
 * trained with a TF.js optimizer. Tiny synthetic data (3 classes of 4-D points), a few steps.
 *
 *   npx tsx examples/library.ts                  # arcface and center
 *   npx tsx examples/library.ts cosface 50       # one loss, 50 steps
 *
 * The test suite type-checks this file and runs it (test/examples.test.ts).
 */
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createLoss } from 'facelosses';

const NUM_CLASSES = 3;
const EMBEDDING_DIM = 2;

/** 32 points per class in 4-D, around a different axis per class (deterministic). */
function syntheticData(): { x: tf.Tensor2D; y: tf.Tensor1D } {
  let seed = 1;
  const noise = () => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let c = 0; c < NUM_CLASSES; c++) {
    for (let i = 0; i < 32; i++) {
      xs.push([0, 1, 2, 3].map((d) => (d === c ? 2 : 0) + noise()));
      ys.push(c);
    }
  }
  return { x: tf.tensor2d(xs), y: tf.tensor1d(ys, 'int32') };
}

export interface ExampleResult {
  loss: string;
  first: number;
  last: number;
  accuracy: number;
}

/** Trains a 4 → 16 → 2 network with the named loss head; returns the first and last loss. */
export async function trainExample(lossName = 'arcface', steps = 30): Promise<ExampleResult> {
  await tf.ready();
  const { x, y } = syntheticData();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 16, activation: 'tanh', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: EMBEDDING_DIM, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  // Defaults are filled in and every parameter is checked; an error names the key (loss.params.m).
  const head = createLoss(lossName, {}, { numClasses: NUM_CLASSES, embeddingDim: EMBEDDING_DIM });
  // The head's own trainable variables (class weights W, a ring radius, ...) train with the model.
  const vars = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...Object.values(head.trainableVariables())];
  const optimizer = tf.train.adam(0.02);

  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    let embeddings!: tf.Tensor2D;
    const cost = optimizer.minimize(
      () => {
        // Kept: minimize disposes what this function creates, and afterStep needs the embeddings.
        embeddings = tf.keep(model.apply(x, { training: true }) as tf.Tensor2D);
        return head.compute(embeddings, y).loss; // pure: changes no state, safe inside the gradient
      },
      true,
      vars,
    )!;
    // Once per training step: the center loss moves its centers, L-Softmax / SphereFace anneal.
    head.afterStep?.(embeddings, y);
    embeddings.dispose();
    losses.push((await cost.data())[0]!);
    cost.dispose();
  }

  // Prediction: class scores without the margin (predict, or compute's logits).
  const accuracy = tf.tidy(() => {
    const embeddings = model.predict(x) as tf.Tensor2D;
    const logits = head.predict ? head.predict(embeddings) : head.compute(embeddings, y, { training: false }).logits!;
    return tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')).dataSync()[0]!;
  });
  head.dispose();
  model.dispose();
  optimizer.dispose();
  tf.dispose([x, y]);
  return { loss: lossName, first: losses[0]!, last: losses[losses.length - 1]!, accuracy };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [name, steps] = process.argv.slice(2);
  for (const n of name ? [name] : ['arcface', 'center']) {
    const r = await trainExample(n, steps ? Number(steps) : undefined);
    console.log(`${r.loss}: loss ${r.first.toFixed(4)} -> ${r.last.toFixed(4)}, train accuracy ${(100 * r.accuracy).toFixed(1)}%`);
  }
}
