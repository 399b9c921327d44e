/**
 * Which kernel path ran: a counter per path, incremented by the wasm kernels of this directory
 * (and the fused optimizer) each time they take it. A kernel that declines a shape falls back to
 * the stock (correct, slow) kernel, so a test that only compares values cannot tell whether the
 * fast path ran; tests run the op inside countPaths and assert the path they meant to test.
 *
 * Paths (the counted name, then when it is taken):
 *   conv.winograd / conv.dot / conv.direct / conv.stock      Conv2D, FusedConv2D forward
 *   backpropInput.winograd / .dot / .direct / .xnnpack / .stock   Conv2DBackpropInput
 *   conv.winograd.f4 / backpropInput.winograd.f4       ... of which Winograd F(4x4, 3x3) (also
 *                                                     counted as .winograd)
 *   backpropFilter.winograd / .dot / .simd / .xnnpack  Conv2DBackpropFilter
 *   maxPoolGrad.simd / .js / .stock                   MaxPoolGrad
 *   sum.simd / .js / .stock                           Sum
 *   identity.shared                                   Identity, same-dtype Cast
 *   adam.fused / adam.composed                        optimizer update, per variable
 *   reluBiasGrad.fused                                conv2dBiasAct's ReLU mask + bias sum
 *
 * Counting costs one Map update per kernel call (a few per layer and step).
 */
const counts = new Map<string, number>();

export function countPath(name: string): void {
  counts.set(name, (counts.get(name) ?? 0) + 1);
}

/** Runs fn and returns how many times each path ran during it (and fn's result). */
export function countPaths<T>(fn: () => T): { result: T; counts: Record<string, number> } {
  const before = new Map(counts);
  const result = fn();
  const out: Record<string, number> = {};
  for (const [k, v] of counts) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return { result, counts: out };
}
