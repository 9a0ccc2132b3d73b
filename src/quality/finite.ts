/** Finiteness checks on sample data (pure; used by the guard and, off-thread, by readers). */

/** True when no value is NaN or ±Infinity (x − x is 0 exactly for finite x). */
export function allFinite(x: Float32Array | Float64Array): boolean {
  let acc = 0;
  // Summing x − x keeps the loop branch-free; any NaN/Infinity makes the sum NaN.
  for (let i = 0; i < x.length; i++) acc += x[i] - x[i];
  return acc === 0;
}
