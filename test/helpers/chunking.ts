/** Random chunk lengths for chunk-invariance tests. */
import type { Rng } from '../../src/scores/prng.js';

/** Random chunk lengths summing to n (zeros and ones included, so boundary cases occur). */
export function randomSplits(rng: Rng, n: number, maxLen: number): number[] {
  const out: number[] = [];
  let left = n;
  while (left > 0) {
    const r = rng();
    const len = Math.min(left, r < 0.1 ? 0 : r < 0.2 ? 1 : Math.floor(rng() * maxLen) + 1);
    out.push(len);
    left -= len;
  }
  return out;
}
