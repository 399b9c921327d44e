/**
 * facelosses as a TensorFlow.js library: every loss of the collection behind one interface.
 *
 *   import * as tf from '@tensorflow/tfjs';
 *   import { createLoss } from 'facelosses';
 *   const arc = createLoss('arcface', { s: 32, m: 0.5 }, { numClasses: 10, embeddingDim: 2 });
 *   const { loss, logits } = arc.compute(embeddings, labels);   // inside tf.grad / minimize
 *   arc.afterStep?.(embeddings, labels);                         // once per training step
 */
import './tfjs-gradients.js';

export { createLoss, findLoss, getLossDefinition, lossDefinitions, lossNames, resolveParams, LossConfigError } from './losses/registry.js';
export type {
  BooleanParamSpec,
  ChoiceParamSpec,
  ComputeOptions,
  Loss,
  LossContext,
  LossDefinition,
  LossOutput,
  LossParams,
  NumberListParamSpec,
  NumberParamSpec,
  ParamSchema,
  ParamSpec,
  ParamsOf,
} from './losses/types.js';
export { lossDisplayName } from './losses/types.js';
export { createFeatureNet, type FeatureNet } from './model/net.js';
export { Adam, stepDecayLr, type AdamOptions, type AdamState } from './train/optimizer.js';
export { applyGradients, computeGradients, trainStep, trainableVariables } from './train/step.js';
export { initBackend, BACKEND_NAMES, type BackendName, type BackendInfo } from './backend.js';
export { parseIdx, readIdxFile, encodeIdx } from './data/idx.js';
export { loadDataset, defaultMnistDir, type Dataset, type Split } from './data/mnist.js';
export { computeSeparability } from './metrics/separability.js';
export { renderScatterPng, writeScatterPng } from './plot/scatter.js';
export { drawHammer, drawSphere, hammer, oppositeCamera, prepareSphere, project, renderSphere, renderSpherePng, sphereCamera, sphereSizes } from './plot/sphere.js';
export type { PreparedSphere, SphereCamera, SphereDrawOptions, SphereInput, SphereView } from './plot/sphere.js';
export { maxMinAngle } from './losses/bounds.js';
export { formatTitleParams } from './plot/title.js';
export { Rng } from './rng.js';
