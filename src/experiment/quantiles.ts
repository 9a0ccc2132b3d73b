/**
 * Quantile bins of a per-word measure (the predictability experiment splits words into surprisal
 * quartiles under one model): the inner edges, and which bin a value falls in.
 *
 * Edges are numpy's default quantiles (`np.quantile(values, k/q)`, method "linear": the value at
 * fractional position k/q·(n−1) of the sorted values, interpolated). A value equal to an edge goes
 * to the lower bin, so bin b holds edges[b−1] < v ≤ edges[b].
 *
 * Owns: edges and binning. Must not: choose the words (callers pass the measure of the words they
 * decode) or treat NaN as a value (a word without surprisal is in no bin).
 */

/**
 * The q − 1 inner edges that cut `values` into q bins of (nearly) equal counts.
 * @example quantileEdges([1, 2, 3, 4, 5], 4) // [2, 3, 4]
 * @throws RangeError when q < 2 or no value is finite
 */
export function quantileEdges(values: ArrayLike<number>, q: number): number[] {
  if (!Number.isInteger(q) || q < 2) throw new RangeError(`quantileEdges: q must be an integer ≥ 2, got ${q}`);
  const sorted = Array.from(values).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantileEdges: no finite value to cut into quantiles');
  const edges: number[] = [];
  for (let k = 1; k < q; k++) {
    const pos = (k / q) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    edges.push(sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]));
  }
  return edges;
}

/** The bin (0 … edges.length) of `value`; −1 for NaN or ±Infinity. */
export function quantileBin(value: number, edges: readonly number[]): number {
  if (!Number.isFinite(value)) return -1;
  let b = 0;
  while (b < edges.length && value > edges[b]) b++;
  return b;
}

/** The condition name of bin b of q: "q1" (lowest values) … "qQ". */
export function quantileName(bin: number): string {
  return `q${bin + 1}`;
}
