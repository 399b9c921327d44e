/**
 * Figure titles in the style of the reference figures, which Python printed with `f'{k}={v}'`:
 * `alpha=1.0, trainable=True, epoch=100`.
 */

export interface TitleFormatOptions {
  /** Keys whose integer values print without '.0' (parameters of integer type, e.g. L-Softmax m=3). */
  integerKeys?: Iterable<string>;
  /** Separator between entries; the README figures use ', '. */
  separator?: string;
}

/** A float the way Python's repr() prints it: 1.0, 0.1, 1e-05, 1e+16, inf, nan. */
export function pyFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  // Shortest round-trip digits and the decimal exponent.
  const [mant, expStr] = v.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    const e = String(Math.abs(exp)).padStart(2, '0');
    return `${mant}e${sign}${e}`;
  }
  // Fixed notation from the same digits.
  const neg = mant!.startsWith('-');
  const digits = mant!.replace('-', '').replace('.', '');
  let s: string;
  if (exp >= 0) {
    const intLen = exp + 1;
    s =
      digits.length <= intLen
        ? digits.padEnd(intLen, '0') + '.0'
        : `${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  } else {
    s = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return neg ? `-${s}` : s;
}

/** One value as Python would print it inside an f-string. */
export function pyValue(v: unknown, integer = false): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'number') return integer && Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const items = Array.from(v as ArrayLike<unknown>, (x) => (typeof x === 'string' ? `'${x}'` : pyValue(x, integer)));
    return `[${items.join(', ')}]`;
  }
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * `formatTitleParams({ alpha: 1, trainable: true }, 100)` → `alpha=1.0, trainable=True, epoch=100`.
 * Numbers print as Python floats unless their key is listed in `integerKeys`; the epoch is an
 * integer. Entries keep the object's key order; the epoch comes last.
 */
export function formatTitleParams(
  params: Record<string, unknown>,
  epoch?: number,
  opts: TitleFormatOptions = {},
): string {
  const ints = new Set(opts.integerKeys ?? []);
  const parts = Object.entries(params).map(([k, v]) => `${k}=${pyValue(v, ints.has(k))}`);
  if (epoch !== undefined) parts.push(`epoch=${Number.isInteger(epoch) ? String(epoch) : pyFloat(epoch)}`);
  return parts.join(opts.separator ?? ', ');
}
