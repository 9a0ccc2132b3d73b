/**
 * Pearson correlation of two equal-length series. Owns only the coefficient itself; its p-value
 * lives in studentT.ts (`pearsonPValue`), next to the t-distribution it needs.
 */

/**
 * Pearson product-moment correlation coefficient.
 *
 * Two-pass (means first, then centred sums) rather than the one-pass Σxy − n·x̄·ȳ form, because
 * decoding scores are small numbers with small spreads and the one-pass form loses digits to
 * cancellation. The result is clamped to [−1, 1] so rounding can never push it outside the range
 * the p-value formula accepts.
 *
 * @param a first series
 * @param b second series, same length as `a`
 * @returns r in [−1, 1]; NaN when either series has zero variance, when fewer than 2 points are
 *   given, or when any value is NaN (propagated by the arithmetic)
 * @throws RangeError when the lengths differ
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`pearson: lengths differ (${n} vs ${b.length})`);
  if (n < 2) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // Exactly-zero centred sum of squares = constant series: correlation undefined.
  if (saa === 0 || sbb === 0) return NaN;
  const r = sab / Math.sqrt(saa * sbb);
  if (Number.isNaN(r)) return NaN;
  return Math.max(-1, Math.min(1, r));
}
