/**
 * When two resolved configs are "the same config": one definition for `reproduce` (is the run in
 * this folder up to date? which collected run is this config's? which job id?) and for
 * `train --resume` (does the config given now fit the run?).
 *
 * A run is identified by what decides its training (name, profile, loss, how many images, the
 * schedule, the snapshot epochs) and, for a batch, how its figures are drawn. Not by where the
 * config file or the data lie (a resumed run checks its data by their fingerprint), its
 * description or the profiles it did not use.
 */
import { createHash } from 'node:crypto';
import type { ResolvedConfig } from './config.js';

/** 'training': what decides the trained network; 'run': that and how the figures are drawn. */
export type IdentityScope = 'training' | 'run';

/** The parts of a resolved config that make its identity, as a plain object. */
export function identityOf(c: ResolvedConfig, scope: IdentityScope = 'run'): Record<string, unknown> {
  // The feature dimension joins the identity only when it is not the default 2, so a 2-D run keeps
  // the hash it always had.
  const model = c.model.embeddingDim !== 2 ? { model: c.model } : {};
  const training = { name: c.name, profile: c.profile, loss: c.loss, ...model, data: { trainLimit: c.data.trainLimit, validLimit: c.data.validLimit }, train: c.train, snapshots: c.snapshots };
  return scope === 'training' ? training : { ...training, plot: c.plot };
}

/** JSON with the keys of every object sorted: equal for equal values whatever the key order. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

/** A short hash of a config's identity and of anything else that names the work (e.g. the code version). */
export function configHash(c: ResolvedConfig, scope: IdentityScope = 'run', extra: Record<string, unknown> = {}): string {
  return createHash('sha256').update(canonicalJson({ config: identityOf(c, scope), ...extra })).digest('hex').slice(0, 16);
}

/** The first dotted key where two plain values differ, with both values; undefined when equal. */
export function firstDifference(a: unknown, b: unknown, key = ''): { key: string; a: unknown; b: unknown } | undefined {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const d = firstDifference(a[k], b[k], key ? `${key}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? undefined : { key, a, b };
}

/** Where two configs differ in identity (the first dotted key, with both values); undefined when they are the same. */
export function configDifference(a: ResolvedConfig, b: ResolvedConfig, scope: IdentityScope = 'run'): { key: string; a: unknown; b: unknown } | undefined {
  return firstDifference(identityOf(a, scope), identityOf(b, scope));
}

/** Same config (by default including how its figures are drawn). */
export function sameConfig(a: ResolvedConfig, b: ResolvedConfig, scope: IdentityScope = 'run'): boolean {
  return configDifference(a, b, scope) === undefined;
}
