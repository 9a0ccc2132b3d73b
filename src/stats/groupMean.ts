/**
 * Group statistics over subjects, as the paper reports them: the mean of per-subject values and its
 * standard error (SEM = sample standard deviation / √n, the sample standard deviation with n − 1 in
 * the denominator, as `scipy.stats.sem` with its default ddof = 1).
 *
 * Owns: the arithmetic of one group summary. Must not: decide what is grouped (callers pass the
 * per-subject values of one cell) or drop values silently (non-finite values are counted apart).
 */

export interface GroupMeanSem {
  /** Mean over the finite values; NaN when there is none. */
  mean: number;
  /** Standard error of the mean (ddof = 1); NaN with fewer than 2 finite values. */
  sem: number;
  /** Finite values used. */
  n: number;
  /** Values left out because they were NaN or ±Infinity (a subject with no score). */
  nonFinite: number;
}

/**
 * Mean ± SEM over subjects.
 * @example
 *   groupMeanSem([0.9, 0.8, 0.95]) // { mean: 0.8833…, sem: 0.0441…, n: 3, nonFinite: 0 }
 * @param values one value per subject
 */
export function groupMeanSem(values: readonly number[]): GroupMeanSem {
  const finite = values.filter((v) => Number.isFinite(v));
  const n = finite.length;
  const nonFinite = values.length - n;
  if (n === 0) return { mean: NaN, sem: NaN, n, nonFinite };
  // Two passes (mean, then centred squares): per-subject scores are close together, and the
  // one-pass form would lose digits to cancellation.
  let sum = 0;
  for (const v of finite) sum += v;
  const mean = sum / n;
  if (n < 2) return { mean, sem: NaN, n, nonFinite };
  let ss = 0;
  for (const v of finite) ss += (v - mean) * (v - mean);
  const sd = Math.sqrt(ss / (n - 1));
  return { mean, sem: sd / Math.sqrt(n), n, nonFinite };
}

/**
 * Element-wise mean ± SEM of per-subject vectors (e.g. Tmax per layer): one summary per position.
 * @throws RangeError when the vectors differ in length
 */
export function groupMeanSemOfVectors(vectors: readonly (readonly number[])[]): GroupMeanSem[] {
  if (vectors.length === 0) return [];
  const len = vectors[0].length;
  const bad = vectors.findIndex((v) => v.length !== len);
  if (bad >= 0) throw new RangeError(`groupMeanSemOfVectors: vector ${bad} has ${vectors[bad].length} values, the first ${len}`);
  return Array.from({ length: len }, (_, i) => groupMeanSem(vectors.map((v) => v[i])));
}
