/**
 * One checker for every value a user writes: the keys of a config (src/config/schema.ts), the
 * parameters of a loss (src/losses/registry.ts) and the command-line overrides
 * (src/config/overrides.ts). It returns the message, and the caller says where the value came
 * from (a file, a flag).
 */

/**
 * What a value must be. The loss parameters declare theirs with the same fields (ParamSpec in
 * src/losses/types.ts).
 */
export interface ValueSpec {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'number[]' | 'integer[]' | 'mapping';
  /** null is allowed. */
  nullable?: boolean;
  /** Inclusive bounds of a number, or of every element of an integer list. */
  min?: number;
  max?: number;
  /** Exclusive lower bound (e.g. a scale that must be > 0). */
  gt?: number;
  /** Allowed values of a string. */
  choices?: readonly string[];
  /** A string or a list must not be empty. */
  nonEmpty?: boolean;
  /** An example for the message about a list, e.g. '[100, 300, 500]'. */
  example?: string;
}

/** A YAML value as a person reads it in a message: NaN and Infinity by name, lists as lists. */
export function showValue(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? '.nan (not a number)' : Number.isFinite(v) ? String(v) : v > 0 ? '.inf (infinity)' : '-.inf (minus infinity)';
  if (Array.isArray(v)) return `a list ${JSON.stringify(v)}`;
  if (v === null) return 'nothing (null)';
  if (v === undefined) return 'nothing';
  return JSON.stringify(v);
}

/** A bound as a person reads it: π/2, π and 2π by name (1.5707963267948966 is π/2). */
export function showBound(n: number): string {
  for (const [v, name] of [[Math.PI / 2, 'π/2'], [Math.PI, 'π'], [2 * Math.PI, '2π'], [Math.PI / 4, 'π/4']] as const) {
    if (n === v) return `${name} (${n.toFixed(4)})`;
  }
  return String(n);
}

function checkRange(key: string, spec: ValueSpec, n: number): string | null {
  if (spec.min !== undefined && n < spec.min) return `${key} must be >= ${showBound(spec.min)}, got ${n}`;
  if (spec.max !== undefined && n > spec.max) return `${key} must be <= ${showBound(spec.max)}, got ${n}`;
  if (spec.gt !== undefined && n <= spec.gt) return `${key} must be > ${showBound(spec.gt)}, got ${n}`;
  return null;
}

/** What is wrong with `v` as the value of `key` (e.g. 'train.lr', 'loss.params.m', '--lr'), or null when it fits. */
export function checkValue(key: string, spec: ValueSpec, v: unknown): string | null {
  const orNull = spec.nullable ? ' or null' : '';
  if (v === null && spec.nullable) return null;
  switch (spec.type) {
    case 'boolean':
      return typeof v === 'boolean' ? null : `${key} must be true or false, got ${showValue(v)}`;
    case 'mapping':
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? null : `${key} must be a mapping (key: value), got ${showValue(v)}`;
    case 'string':
      if (spec.choices && (typeof v !== 'string' || !spec.choices.includes(v))) return `${key} must be one of ${spec.choices.join(', ')}, got ${typeof v === 'string' ? `'${v}'` : showValue(v)}`;
      if (typeof v !== 'string' || (spec.nonEmpty && v === '')) return `${key} must be a ${spec.nonEmpty ? 'non-empty ' : ''}string${orNull}, got ${showValue(v)}`;
      return null;
    case 'number':
    case 'integer': {
      const int = spec.type === 'integer';
      if (typeof v !== 'number' || !Number.isFinite(v)) return `${key} must be a ${int ? 'whole number' : 'number'}${orNull}, got ${showValue(v)}`;
      if (int && !Number.isInteger(v)) return `${key} must be an integer, got ${v}`;
      return checkRange(key, spec, v);
    }
    case 'number[]':
      if (!Array.isArray(v) || (spec.nonEmpty && v.length === 0) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        return `${key} must be a ${spec.nonEmpty ? 'non-empty ' : ''}list of numbers${orNull}, got ${showValue(v)}`;
      }
      return null;
    case 'integer[]': {
      if (!Array.isArray(v) || (spec.nonEmpty && v.length === 0)) {
        return `${key} must be a ${spec.nonEmpty ? 'non-empty ' : ''}list of whole numbers${spec.example ? ` like ${spec.example}` : ''}${orNull}, got ${showValue(v)}`;
      }
      const i = v.findIndex((x) => typeof x !== 'number' || !Number.isInteger(x) || checkRange('', spec, x) !== null);
      if (i < 0) return null;
      const bounds = [spec.min !== undefined ? `>= ${spec.min}` : '', spec.max !== undefined ? `<= ${spec.max}` : ''].filter(Boolean).join(' and ');
      return `${key}[${i}] must be a whole number${bounds ? ' ' + bounds : ''}, got ${showValue(v[i])}`;
    }
  }
}
