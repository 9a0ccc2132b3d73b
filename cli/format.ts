/**
 * Numbers in command output as people read them: counts with the right noun ("1 recording",
 * "2 recordings", never "1 recordings") and fixed decimals without negative zeros.
 * Owns these two wordings; must not print.
 */

/**
 * `n` and the noun, singular for exactly 1.
 * @param plural the plural when it is not `singular` + "s" (e.g. "samples" is regular, "data" is not)
 * @example countOf(1, 'MEG recording') // "1 MEG recording"
 * @example countOf(273, 'channel')     // "273 channels"
 */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/**
 * `v.toFixed(digits)` without negative zeros: a value that rounds to 0 prints as 0.000, never -0.000.
 * @example fixed(-0.0002, 3) // "0.000"
 */
export function fixed(v: number, digits: number): string {
  const text = v.toFixed(digits);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}
