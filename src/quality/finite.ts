/**
 * Finiteness checks on sample data and decoder inputs (pure; used by the guard, off-thread by the
 * readers, and by the decoder before it accepts a word).
 */

/** True when no value is NaN or ±Infinity (x − x is 0 exactly for finite x); true for an empty array. */
export function allFinite(x: Float32Array | Float64Array): boolean {
  let acc = 0;
  // Summing x − x keeps the loop branch-free; any NaN/Infinity makes the sum NaN.
  for (let i = 0; i < x.length; i++) acc += x[i] - x[i];
  return acc === 0;
}
