import { checkValue } from '../util/values.js';
import type { Loss, LossContext, LossDefinition, LossParams, ParamSchema } from './types.js';
import { adacosLoss } from './adacos.js';
import { adafaceLoss } from './adaface.js';
import { arcfaceLoss } from './arcface.js';
import { centerLoss } from './center.js';
import { circleLoss } from './circle.js';
import { contrastiveLoss } from './contrastive.js';
import { cosfaceLoss } from './cosface.js';
import { curricularfaceLoss } from './curricularface.js';
import { elasticfaceLoss } from './elasticface.js';
import { focalLoss } from './focal.js';
import { l2softmaxLoss } from './l2softmax.js';
import { lsoftmaxLoss, spherefaceLoss } from './lsoftmax.js';
import { magfaceLoss } from './magface.js';
import { normfaceLoss } from './normface.js';
import { ringLoss } from './ring.js';
import { softmaxLoss } from './softmax.js';
import { subcenterArcfaceLoss } from './subcenter_arcface.js';
import { tripletCenterLoss, tripletLoss } from './triplet.js';

/**
 * Every loss the toolkit knows, in the order `facelosses losses` lists them. Adding a loss is one
 * file under src/losses/, one line here, one config and one test.
 */
const DEFINITIONS: LossDefinition[] = [
  softmaxLoss,
  l2softmaxLoss,
  ringLoss,
  lsoftmaxLoss,
  spherefaceLoss,
  normfaceLoss,
  cosfaceLoss,
  arcfaceLoss,
  magfaceLoss,
  subcenterArcfaceLoss,
  adacosLoss,
  curricularfaceLoss,
  adafaceLoss,
  elasticfaceLoss,
  circleLoss,
  centerLoss,
  contrastiveLoss,
  tripletLoss,
  tripletCenterLoss,
  focalLoss,
];

export class LossConfigError extends Error {
  constructor(
    message: string,
    /** Dotted key the error is about, e.g. 'loss.params.m'. */
    readonly key?: string,
  ) {
    super(message);
    this.name = 'LossConfigError';
  }
}

export function lossDefinitions(): readonly LossDefinition[] {
  return DEFINITIONS;
}

/** Canonical names of all losses (aliases excluded). */
export function lossNames(): string[] {
  return DEFINITIONS.map((d) => d.name);
}

export function findLoss(name: string): LossDefinition | undefined {
  const n = name.toLowerCase();
  return DEFINITIONS.find((d) => d.name === n || (d.aliases ?? []).includes(n));
}

export function getLossDefinition(name: string): LossDefinition {
  const def = findLoss(name);
  if (!def) {
    throw new LossConfigError(
      `unknown loss '${name}'; known losses: ${DEFINITIONS.map((d) => d.name + (d.aliases?.length ? ` (${d.aliases.join(', ')})` : '')).join(', ')}`,
      'loss.name',
    );
  }
  return def;
}

/**
 * Fills defaults and checks every given parameter against the loss's schema. Throws
 * LossConfigError naming the key (`keyPrefix` + name) on an unknown key, a wrong type or a value
 * out of range. Warnings (e.g. an L2-Softmax alpha below its bound) go to `warn`.
 */
export function resolveParams(
  def: LossDefinition,
  given: LossParams | undefined,
  ctx: LossContext,
  warn: (msg: string) => void = () => {},
  keyPrefix = 'loss.params.',
): LossParams {
  const schema: ParamSchema = def.params;
  const out: LossParams = {};
  for (const k of Object.keys(given ?? {})) {
    if (!(k in schema)) {
      const known = Object.keys(schema);
      throw new LossConfigError(
        `unknown parameter '${k}' for loss '${def.name}'; ${known.length ? `its parameters are: ${known.join(', ')}` : 'it takes no parameters'}`,
        keyPrefix + k,
      );
    }
  }
  for (const [k, spec] of Object.entries(schema)) {
    const v = given && k in given ? given[k] : spec.default;
    const err = checkValue(keyPrefix + k, spec, v);
    if (err) throw new LossConfigError(err, keyPrefix + k);
    out[k] = Array.isArray(v) ? [...v] : v;
  }
  // A validate message that starts with a parameter name ("m = 0.3 is above ...") is about that
  // key: report it under the full key, e.g. 'loss.params.m'.
  const named = (msg: string) => {
    const k = /^([A-Za-z_][A-Za-z0-9_]*)\b/.exec(msg)?.[1];
    return k !== undefined && k in schema ? k : undefined;
  };
  const err = def.validate?.(out, ctx, (msg) => {
    const k = named(msg);
    warn(k ? keyPrefix + msg : msg);
  });
  if (err) {
    const k = named(err);
    if (k) throw new LossConfigError(keyPrefix + err, keyPrefix + k);
    throw new LossConfigError(`${keyPrefix.replace(/\.$/, '')}: ${err}`, keyPrefix.replace(/\.$/, ''));
  }
  return out;
}

/**
 * Creates a loss by name. `params` may omit any parameter (its default is used).
 *
 *   const loss = createLoss('arcface', { s: 32, m: 0.5 }, { numClasses: 10, embeddingDim: 2 });
 *   const { loss: value, logits } = loss.compute(embeddings, labels);
 */
export function createLoss(
  name: string,
  params: LossParams = {},
  ctx: LossContext = { numClasses: 10, embeddingDim: 2 },
  warn: (msg: string) => void = (m) => process.emitWarning(m),
): Loss {
  const def = getLossDefinition(name);
  return def.create(resolveParams(def, params, ctx, warn), ctx);
}
