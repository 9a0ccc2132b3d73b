/**
 * Small seeded pseudo-random generators for resampling (fold bootstrap) and synthetic test data.
 * Reproducibility across runs and machines matters more here than statistical quality, so a
 * 32-bit mulberry32 is enough: it is tiny, fast, and its stream depends only on the seed.
 */

/** A generator of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit state generator (Tommy Ettinger's), period 2³².
 *
 * @param seed any number; only its low 32 bits are used (so 0 and 2³² give the same stream)
 * @returns a function returning uniform doubles in [0, 1) with 32 random bits each
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Uniform integer in [0, n).
 *
 * @param rng the generator to draw from
 * @param n exclusive upper bound, a positive integer
 * @returns an integer 0 … n−1
 */
export function randomInt(rng: Rng, n: number): number {
  // floor(u·n) with u < 1 is always < n; the bias is ~n/2³², irrelevant for fold counts.
  return Math.floor(rng() * n);
}

/**
 * Standard normal deviate by the Box–Muller transform (one of the pair is discarded, which keeps
 * the generator stateless beyond `rng`).
 *
 * @param rng the generator to draw from
 * @returns a draw from N(0, 1)
 */
export function randomNormal(rng: Rng): number {
  // 1 − u lies in (0, 1], so the logarithm is finite.
  const u1 = 1 - rng();
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
