/**
 * A word's vector from its tokens' vectors: the mean over the word's tokens (the default, method §3)
 * or the last token's vector (the state that has seen the whole word).
 *
 * Owns: the reduction over tokens. Must not: decide which tokens belong to a word.
 */

export type TokenAggregation = 'mean' | 'last';

/**
 * Writes one word's vector into `out`.
 *
 * @param states token states of a window, [token][dim] row-major, row r = token `rowOffset + r`
 * @param nDims dimensions per token
 * @param rowOffset story token index of row 0 (the window's first token, after any BOS row the caller skipped)
 * @param tokens the word's story token range [first, stop)
 * @param mode 'mean' or 'last'
 * @param out length nDims
 */
export function aggregateWordTokens(
  states: Float32Array,
  nDims: number,
  rowOffset: number,
  tokens: readonly [number, number],
  mode: TokenAggregation,
  out: Float32Array,
): Float32Array {
  const [first, stop] = tokens;
  if (!(stop > first)) throw new RangeError(`aggregateWordTokens: empty token range [${first}, ${stop})`);
  const nRows = states.length / nDims;
  if (first - rowOffset < 0 || stop - rowOffset > nRows) {
    throw new RangeError(`aggregateWordTokens: tokens [${first}, ${stop}) are outside the window rows [${rowOffset}, ${rowOffset + nRows})`);
  }
  if (out.length !== nDims) throw new RangeError(`aggregateWordTokens: out has ${out.length} values, expected ${nDims}`);
  if (mode === 'last') {
    out.set(states.subarray((stop - 1 - rowOffset) * nDims, (stop - rowOffset) * nDims));
    return out;
  }
  // Accumulate in float64: long words (numbers spelled in byte-fallback tokens) have many tokens.
  const acc = new Float64Array(nDims);
  for (let t = first; t < stop; t++) {
    const base = (t - rowOffset) * nDims;
    for (let d = 0; d < nDims; d++) acc[d]! += states[base + d]!;
  }
  const n = stop - first;
  for (let d = 0; d < nDims; d++) out[d] = acc[d]! / n;
  return out;
}
