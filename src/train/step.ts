/**
 * One training step: forward, loss, gradients of every trainable variable (network and loss
 * head) (`computeGradients`), then Adam with L2 weight decay and the loss's own per-step hook
 * (center update, annealing counter) (`applyGradients`); `trainStep` does both. The trainer runs
 * the two halves apart, to check a step's values before its update. Knows nothing of any
 * particular loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureNet } from '../model/net.js';
import type { Loss } from '../losses/types.js';
import type { Adam } from './optimizer.js';

export interface StepResult {
  loss: tf.Scalar;
  embeddings: tf.Tensor2D;
  logits?: tf.Tensor2D;
}

/** All trainable variables: the network's and the loss's (prefixed 'loss.'). */
export function trainableVariables(net: FeatureNet, loss: Loss): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = { ...net.variables };
  for (const [k, v] of Object.entries(loss.trainableVariables())) out[`loss.${k}`] = v;
  return out;
}

/** Computes the loss and gradients without updating anything. The caller disposes the result. */
export function computeGradients(
  net: FeatureNet,
  loss: Loss,
  vars: Record<string, tf.Variable>,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): StepResult & { grads: Record<string, tf.Tensor> } {
  const names = Object.keys(vars);
  const list = names.map((n) => vars[n]!);
  let embeddings: tf.Tensor2D | undefined;
  let logits: tf.Tensor2D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const emb = net.forward(x);
    const out = loss.compute(emb, y, { training: true });
    embeddings = tf.keep(emb);
    if (out.logits) logits = tf.keep(out.logits);
    return out.loss;
  }, list);
  // tf.keep() exempts a tensor from every enclosing tidy; hand the caller tracked clones instead.
  const emb = tf.clone(embeddings!);
  embeddings!.dispose();
  const lg = logits ? tf.clone(logits) : undefined;
  logits?.dispose();
  const byName: Record<string, tf.Tensor> = {};
  for (const n of names) {
    const g = grads[vars[n]!.name];
    if (g) byName[n] = g;
  }
  return { loss: value, embeddings: emb, logits: lg, grads: byName };
}

/**
 * Applies a step's gradients: one Adam update, then the loss's own per-step hook (center update,
 * annealing counter) on the batch's embeddings and labels. Disposes nothing.
 */
export function applyGradients(optimizer: Adam, loss: Loss, r: { grads: Record<string, tf.Tensor>; embeddings: tf.Tensor2D }, y: tf.Tensor1D): void {
  optimizer.apply(r.grads);
  loss.afterStep?.(r.embeddings, y);
}

/** One full training step. Returns the loss, the batch's embeddings and logits (caller disposes). */
export function trainStep(
  net: FeatureNet,
  loss: Loss,
  optimizer: Adam,
  vars: Record<string, tf.Variable>,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): StepResult {
  const r = computeGradients(net, loss, vars, x, y);
  applyGradients(optimizer, loss, r, y);
  tf.dispose(Object.values(r.grads));
  return { loss: r.loss, embeddings: r.embeddings, logits: r.logits };
}
