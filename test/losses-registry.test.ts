/**
 * The registry and the contract every loss keeps: names, order, aliases, display names and
 * figure folders; parameter validation errors that name the key; compute inside tf.grad /
 * variableGrads / optimizer.minimize without leaking tensors; state that moves only in
 * afterStep; variables readable and settable; no NaN/Inf at the edges; predict = logits.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  LossConfigError,
  createLoss,
  findLoss,
  getLossDefinition,
  lossDefinitions,
  lossNames,
  resolveParams,
} from '../src/losses/registry.js';
import { lossDisplayName } from '../src/losses/types.js';
import { type Mat, assertFiniteEverywhere, polar, tensorsLeaked, useCpu } from './losses-helpers.js';

before(useCpu);

const CTX = { numClasses: 10, embeddingDim: 2 };
const ORDER = [
  'softmax',
  'l2softmax',
  'ring',
  'lsoftmax',
  'sphereface',
  'normface',
  'cosface',
  'arcface',
  'magface',
  'subcenter_arcface',
  'adacos',
  'curricularface',
  'adaface',
  'elasticface',
  'circle',
  'center',
  'contrastive',
  'triplet',
  'triplet_center',
  'focal',
];

/** A batch with every class twice, some classes close together (active pair/triplet terms). */
function batch(): { x: Mat; y: number[] } {
  const x: Mat = [];
  const y: number[] = [];
  for (let c = 0; c < 10; c++) {
    x.push(polar(36 * c + 5, 0.8 + 0.1 * c), polar(36 * c + 40, 1.5));
    y.push(c, c);
  }
  return { x, y };
}

function expectConfigError(fn: () => unknown, key: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LossConfigError, String(e));
    assert.equal(e.key, key);
    assert.match(e.message, re);
    return true;
  });
}

describe('registry', () => {
  test('every loss, in the documented order; aliases resolve', () => {
    assert.deepEqual(lossNames(), ORDER);
    assert.equal(findLoss('amsoftmax')?.name, 'cosface');
    assert.equal(findLoss('AMSoftmax')?.name, 'cosface');
    assert.equal(findLoss('nope'), undefined);
    expectConfigError(() => getLossDefinition('nope'), 'loss.name', /unknown loss 'nope'; known losses: softmax, .*cosface \(amsoftmax\)/);
  });
  test('display names and figure folders follow the reference figures', () => {
    const expected: Record<string, [string, string]> = {
      softmax: ['SoftmaxLoss', 'Softmax'],
      l2softmax: ['L2-SoftmaxLoss', 'L2Softmax'],
      ring: ['RingLoss', 'RingLoss'],
      lsoftmax: ['L-SoftmaxLoss', 'LSoftmax'],
      sphereface: ['SphereFaceLoss', 'SphereFace'],
      normface: ['NormFaceLoss', 'NormFace'],
      cosface: ['CosFaceLoss', 'CosFace'],
      arcface: ['ArcFaceLoss', 'ArcFace'],
      magface: ['MagFaceLoss', 'MagFace'],
      subcenter_arcface: ['SubCenterArcFaceLoss', 'SubCenterArcFace'],
      adacos: ['AdaCosLoss', 'AdaCos'],
      curricularface: ['CurricularFaceLoss', 'CurricularFace'],
      adaface: ['AdaFaceLoss', 'AdaFace'],
      elasticface: ['ElasticFaceLoss', 'ElasticFace'],
      circle: ['CircleLoss', 'Circle'],
      center: ['CenterLoss', 'CenterLoss'],
      contrastive: ['ContrastiveLoss', 'Contrastive'],
      triplet: ['TripletLoss', 'Triplet'],
      triplet_center: ['Triplet_CenterLoss', 'TripletCenter'],
      focal: ['FocalLoss', 'Focal'],
    };
    for (const def of lossDefinitions()) {
      assert.deepEqual([def.displayName, def.figureFolder], expected[def.name], def.name);
      const loss = def.create(resolveParams(def, {}, CTX), CTX);
      assert.equal(loss.displayName, def.displayName, `${def.name}: instance display name with defaults`);
      assert.equal(loss.name, def.name);
      loss.dispose();
    }
  });
  test('a definition gives the display name and title parameters without building the loss', () => {
    const variants: Record<string, Array<Record<string, unknown>>> = {
      softmax: [{}, { bias: true }],
      contrastive: [{}, { normalize: true }],
      triplet: [{ normalize: true, strategy: 'semi_hard' }],
      triplet_center: [{ normalize: true, w_ctr: 0.3 }],
      arcface: [{ s: 16, m: 0.3 }],
      adacos: [{}, { variant: 'fixed' }],
      elasticface: [{}, { variant: 'cos', m: 0.1 }, { plus: true }],
    };
    for (const def of lossDefinitions()) {
      for (const given of variants[def.name] ?? [{}]) {
        const params = resolveParams(def, given, CTX);
        const before = tf.memory().numTensors;
        const name = lossDisplayName(def, params);
        const title = def.titleParams(params);
        assert.equal(tf.memory().numTensors, before, `${def.name}: no tensors`);
        const loss = def.create(params, CTX);
        assert.equal(name, loss.displayName, `${def.name} ${JSON.stringify(given)}`);
        assert.deepEqual(title, loss.titleParams(), `${def.name} ${JSON.stringify(given)}`);
        loss.dispose();
      }
    }
  });
  test('title parameters (raw values, in the reference order)', () => {
    const expected: Record<string, Record<string, unknown>> = {
      softmax: {},
      l2softmax: { alpha: 1, trainable: true },
      ring: { init_R: 1, loss_weight: 0.1 },
      lsoftmax: { m: 3 },
      sphereface: { m: 3 },
      normface: {},
      cosface: { s: 32, m: 0.1 },
      arcface: { s: 32, m: 0.5 },
      magface: { s: 32, l_m: 0.2, u_m: 0.5, lambda_g: 2 },
      subcenter_arcface: { s: 32, m: 0.5, k: 3 },
      adacos: { variant: 'dynamic' },
      curricularface: { s: 32, m: 0.5 },
      adaface: { s: 32, m: 0.08, h: 0.333 },
      elasticface: { variant: 'arc', s: 32, m: 0.5, sigma: 0.05, plus: false },
      circle: { m: 1, gamma: 1 },
      center: { loss_weight: 0.01 },
      contrastive: { m: 0.5, loss_weight: 0.01 },
      triplet: { m: 0.25, loss_weight: 0.1, strategy: 'batch_hard' },
      triplet_center: { m: 0.25, w_ctr: 0.1, w_trp: 0.1, strategy: 'batch_hard' },
      focal: { alpha: null, gamma: 2 },
    };
    for (const name of ORDER) {
      const loss = createLoss(name, {}, CTX);
      const tp = loss.titleParams();
      assert.deepEqual(tp, expected[name], name);
      assert.deepEqual(Object.keys(tp), Object.keys(expected[name]!), `${name}: key order`);
      loss.dispose();
    }
  });
  test('every parameter has a description and a default that passes its own check', () => {
    for (const def of lossDefinitions()) {
      for (const [k, spec] of Object.entries(def.params)) assert.ok(spec.description.length > 10, `${def.name}.${k}`);
      assert.doesNotThrow(() => resolveParams(def, {}, CTX, (m) => assert.fail(`${def.name} defaults warn: ${m}`)), def.name);
    }
  });
  test('unknown, mistyped and out-of-range parameters are refused naming the key', () => {
    const def = (n: string) => getLossDefinition(n);
    expectConfigError(() => resolveParams(def('arcface'), { margin: 0.5 }, CTX), 'loss.params.margin', /unknown parameter 'margin' for loss 'arcface'; its parameters are: s, m, boundary/);
    expectConfigError(() => resolveParams(def('softmax'), { s: 1 }, CTX), 'loss.params.s', /its parameters are: bias/);
    expectConfigError(() => resolveParams(def('arcface'), { m: -0.1 }, CTX), 'loss.params.m', /loss\.params\.m must be >= 0, got -0\.1/);
    expectConfigError(() => resolveParams(def('arcface'), { s: 0 }, CTX), 'loss.params.s', /loss\.params\.s must be > 0, got 0/);
    expectConfigError(() => resolveParams(def('arcface'), { s: '32' }, CTX), 'loss.params.s', /must be a number/);
    expectConfigError(() => resolveParams(def('lsoftmax'), { m: 2.5 }, CTX), 'loss.params.m', /must be an integer, got 2\.5/);
    expectConfigError(() => resolveParams(def('triplet'), { strategy: 'hard' }, CTX), 'loss.params.strategy', /batch_hard, batch_all, semi_hard, got 'hard'/);
    expectConfigError(() => resolveParams(def('center'), { alpha: 1.5 }, CTX), 'loss.params.alpha', /must be <= 1/);
    expectConfigError(() => resolveParams(def('l2softmax'), { trainable: 'yes' }, CTX), 'loss.params.trainable', /true or false/);
    expectConfigError(() => resolveParams(def('focal'), { alpha: [1, 'a'] }, CTX), 'loss.params.alpha', /list of numbers/);
    expectConfigError(() => resolveParams(def('cosface'), { m: 0.3 }, CTX, undefined, 'experiments[2].loss.params.'), 'experiments[2].loss.params.m', /^experiments\[2\]\.loss\.params\.m = 0\.3 is above/);
  });
});

describe('every loss keeps the contract', () => {
  for (const name of ORDER) {
    test(name, () => {
      const loss = createLoss(name, {}, CTX);
      const { x, y } = batch();
      const xt = tf.tensor2d(x);
      const yt = tf.tensor1d(y, 'int32');

      // compute: a scalar loss, logits [N, C] equal to predict(); no leaked tensors.
      const leak1 = tensorsLeaked(() => {
        const out = loss.compute(xt, yt, { training: false });
        assert.deepEqual(out.loss.shape, []);
        assert.ok(out.logits, 'every loss here has a classifier');
        assert.deepEqual(out.logits.shape, [20, 10]);
        const p = loss.predict!(xt);
        const a = out.logits.dataSync();
        const b = p.dataSync();
        a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 1e-4 * Math.max(1, Math.abs(v)), `${name}: logits = predict at ${i}`));
        tf.dispose([out.loss, out.logits, p]);
      });
      assert.equal(leak1, 0, `${name}: compute/predict leak`);

      // Inside tf.grad, tf.variableGrads and optimizer.minimize, plus afterStep: no leak, state moves only in afterStep.
      const emb = tf.variable(xt.clone(), true);
      const vars = [emb, ...Object.values(loss.trainableVariables())];
      const opt = tf.train.adam(1e-2);
      const snapshot = () => ({
        counters: loss.getCounters(),
        state: Object.fromEntries(Object.entries(loss.stateVariables()).map(([k, v]) => [k, Array.from(v.dataSync())])),
      });
      const stateBefore = snapshot();
      const step = () => {
        const g = tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, yt).loss)(xt);
        const vg = tf.variableGrads(() => loss.compute(emb, yt).loss, Object.values(loss.trainableVariables()));
        tf.dispose([g, vg.value, ...Object.values(vg.grads)]);
        const l = opt.minimize(() => loss.compute(emb, yt, { training: true }).loss, true, vars);
        l?.dispose();
      };
      step(); // the optimizer creates its slots on the first step
      assert.deepEqual(snapshot(), stateBefore, `${name}: gradients and optimizer steps leave counters and state alone`);
      const leak2 = tensorsLeaked(() => {
        for (let i = 0; i < 3; i++) {
          step();
          loss.afterStep?.(emb, yt);
        }
      });
      assert.equal(leak2, 0, `${name}: training steps leak`);
      const l0 = tf.tidy(() => loss.compute(emb, yt).loss.dataSync()[0]!);
      for (let i = 0; i < 5; i++) opt.minimize(() => loss.compute(emb, yt).loss, false, vars);
      const l1 = tf.tidy(() => loss.compute(emb, yt).loss.dataSync()[0]!);
      assert.ok(l1 < l0, `${name}: a few Adam steps lower the loss (${l0} → ${l1})`);

      // Variables: readable by name, assignable, trainable flags as declared.
      for (const [k, v] of Object.entries(loss.trainableVariables())) assert.equal(v.trainable, true, `${name}.${k} trainable`);
      for (const [k, v] of Object.entries(loss.stateVariables())) assert.equal(v.trainable, false, `${name}.${k} is state`);
      // W is [2, classes], or [2, classes·K] for Sub-center ArcFace's K = 3 sub-centers a class.
      const W = loss.trainableVariables().W!;
      const cols = name === 'subcenter_arcface' ? 30 : 10;
      assert.deepEqual(W.shape, [2, cols]);
      const w = tf.ones([2, cols]);
      W.assign(w);
      assert.deepEqual(Array.from(W.dataSync()), new Array(2 * cols).fill(1));
      w.dispose();
      const counters = loss.getCounters();
      loss.setCounters(counters);
      assert.deepEqual(loss.getCounters(), counters);

      // Edges: x = 0, x parallel and anti-parallel to W_y.
      const Wv = (loss.trainableVariables().W!.arraySync() as number[][]);
      const wy = (j: number) => [Wv[0]![j]!, Wv[1]![j]!];
      assertFiniteEverywhere(loss, [[0, 0], [0, 0], wy(1).map((v) => 2 * v), wy(2).map((v) => -3 * v)], [0, 0, 1, 2], 'edges');

      opt.dispose();
      emb.dispose();
      tf.dispose([xt, yt]);
      loss.dispose();
      assert.ok(Object.values(loss.trainableVariables()).every((v) => v.isDisposed), `${name}: dispose frees the variables`);
    });
  }
});
