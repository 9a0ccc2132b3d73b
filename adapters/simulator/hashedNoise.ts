/**
 * Stateless, seeded noise for the simulator: every random value is a pure function of
 * (key, index), so any stretch of simulated time can be generated on its own, in any order and any
 * chunking, and come out bit-identical. Also the smooth "value noise" (random knots joined by a
 * cubic B-spline) that the slow components (1/f background, drift, alpha envelopes, the context
 * part of synthetic activations) are built from.
 *
 * Owns: the hash, the normal tables, value noise and its variance normalisation. Must not: keep
 * state between calls (that would break chunking invariance) or know about MEG.
 */
import { mulberry32, randomNormal } from '../../src/scores/prng.js';

/**
 * Mixes two 32-bit integers into one well-scrambled 32-bit integer (murmur3's finaliser applied
 * to a combination of both), so hash32(key, i) for consecutive i look independent.
 */
export function hash32(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Derives a sub-stream key from a parent key and any number of integer labels. */
export function subKey(key: number, ...labels: number[]): number {
  let h = key >>> 0;
  for (const l of labels) h = hash32(h, l >>> 0);
  return h;
}

/** FNV-1a over UTF-16 code units: a stable 32-bit id for a string (a word's identity). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Uniform in (0, 1) from (key, index). */
export function hashedUniform(key: number, index: number): number {
  return (hash32(key, index) + 0.5) / 4294967296;
}

/** An exact N(0, 1) draw from (key, index), by Box–Muller on two hashed uniforms. */
export function hashedNormal(key: number, index: number): number {
  const h1 = hash32(key, index);
  const h2 = hash32(h1, 0x2545f491);
  const u1 = (h1 + 0.5) / 4294967296;
  const u2 = h2 / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Bits used to index the normal table. */
export const NORMAL_TABLE_BITS = 16;

/**
 * 2¹⁶ standard normal values, standardised to mean 0 and variance 1 exactly. Bulk noise (white
 * sensor noise, value-noise knots) picks from it with a hash instead of calling log/cos per value,
 * which is what makes 100× real time possible.
 */
export const NORMAL_TABLE: Float32Array = (() => {
  const n = 1 << NORMAL_TABLE_BITS;
  const rng = mulberry32(0x6c6f636b); // "lock": a fixed table, independent of any subject's seed
  const t = new Float64Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    t[i] = randomNormal(rng);
    mean += t[i];
  }
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (t[i] - mean) ** 2;
  const sd = Math.sqrt(ss / n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (t[i] - mean) / sd;
  return out;
})();

/** A table normal for (key, index): fast, 2¹⁶ distinct values. */
export function tableNormal(key: number, index: number): number {
  return NORMAL_TABLE[hash32(key, index) >>> (32 - NORMAL_TABLE_BITS)];
}

/**
 * Uniform cubic B-spline weights at fraction u ∈ [0, 1) between knots m and m+1, for the knots
 * m−1, m, m+1, m+2. They sum to 1 and give a C² curve.
 */
export function bsplineWeights(u: number, out: Float64Array, offset = 0): void {
  const u2 = u * u;
  const u3 = u2 * u;
  out[offset] = (1 - 3 * u + 3 * u2 - u3) / 6;
  out[offset + 1] = (4 - 6 * u2 + 3 * u3) / 6;
  out[offset + 2] = (1 + 3 * u + 3 * u2 - 3 * u3) / 6;
  out[offset + 3] = u3 / 6;
}

/**
 * Precomputed B-spline weights for knots every `spacing` integer positions: [phase][4], scaled
 * so that value noise with N(0, 1) knots has variance 1 on average over phases (a B-spline
 * averages its knots, so the raw variance is only ~0.48). With `exact`, each phase is scaled to
 * variance exactly 1 instead (unit variance at every position, at the cost of a small
 * phase-locked ripple in smoothness; used where a per-position guarantee matters more than a
 * clean spectrum).
 */
export function splineTable(spacing: number, exact = false): Float64Array {
  if (!Number.isInteger(spacing) || spacing < 1) throw new RangeError(`value-noise spacing must be a positive integer, got ${spacing}`);
  const w = new Float64Array(spacing * 4);
  let meanVar = 0;
  for (let p = 0; p < spacing; p++) {
    bsplineWeights(p / spacing, w, p * 4);
    const v = w[p * 4] ** 2 + w[p * 4 + 1] ** 2 + w[p * 4 + 2] ** 2 + w[p * 4 + 3] ** 2;
    if (exact) {
      const s = 1 / Math.sqrt(v);
      for (let i = 0; i < 4; i++) w[p * 4 + i] *= s;
    }
    meanVar += v;
  }
  if (!exact) {
    const s = 1 / Math.sqrt(meanVar / spacing);
    for (let i = 0; i < w.length; i++) w[i] *= s;
  }
  return w;
}

/**
 * Adds `amp` × value noise, evaluated at the integer positions j0 … j0+n−1, into
 * out[offset + (j − j0)·stride]. Knots sit every `spacing` positions with table-normal values
 * keyed by (key, knot index); `table` is splineTable(spacing).
 */
export function addValueNoise(
  out: Float64Array | Float32Array,
  offset: number,
  stride: number,
  j0: number,
  n: number,
  spacing: number,
  table: Float64Array,
  key: number,
  amp: number,
): void {
  if (n <= 0 || amp === 0) return;
  let m = Math.floor(j0 / spacing);
  let phase = j0 - m * spacing;
  // Four knots in flight: m−1, m, m+1, m+2.
  let g0 = tableNormal(key, m - 1);
  let g1 = tableNormal(key, m);
  let g2 = tableNormal(key, m + 1);
  let g3 = tableNormal(key, m + 2);
  let o = offset;
  for (let i = 0; i < n; i++) {
    const w = phase * 4;
    out[o] += amp * (table[w] * g0 + table[w + 1] * g1 + table[w + 2] * g2 + table[w + 3] * g3);
    o += stride;
    if (++phase === spacing) {
      phase = 0;
      m++;
      g0 = g1;
      g1 = g2;
      g2 = g3;
      g3 = tableNormal(key, m + 2);
    }
  }
}

/**
 * Octave spacings for 1/f ("pink") value noise: powers of two from `minSpacing` up to
 * `maxSpacing`. Octaves of equal variance give equal power per octave, i.e. a 1/f spectrum
 * between ≈ rate/(2·maxSpacing) and ≈ rate/(2·minSpacing).
 */
export function pinkOctaves(minSpacing: number, maxSpacing: number): number[] {
  const out: number[] = [];
  for (let s = minSpacing; s <= maxSpacing; s *= 2) out.push(s);
  return out;
}

/**
 * Adds `amp` × unit-variance pink value noise (a sum of equal-variance octaves) at positions
 * j0 … j0+n−1 into out[offset + (j − j0)·stride].
 */
export function addPinkNoise(
  out: Float64Array | Float32Array,
  offset: number,
  stride: number,
  j0: number,
  n: number,
  octaves: readonly number[],
  tables: readonly Float64Array[],
  key: number,
  amp: number,
): void {
  const perOctave = amp / Math.sqrt(octaves.length);
  for (let o = 0; o < octaves.length; o++) {
    addValueNoise(out, offset, stride, j0, n, octaves[o], tables[o], hash32(key, o), perOctave);
  }
}

/**
 * Adds value noise of its own on every column (knots keyed by keys[c], amplitude amp[c] × scale)
 * at positions j0 … j0+n−1 into out[(j − j0)·nCols + c]: the knots of all columns are drawn
 * first, into `knots` ([knot][column], at least valueNoiseKnots(n, spacing) × nCols values), so
 * that the inner loop runs over contiguous columns (many channels at once, fast).
 */
export function addValueNoiseColumns(
  out: Float64Array,
  nCols: number,
  j0: number,
  n: number,
  spacing: number,
  table: Float64Array,
  keys: Uint32Array,
  amp: Float64Array,
  scale: number,
  knots: Float64Array,
): void {
  const C = nCols;
  const G = knots;
  const mFirst = Math.floor(j0 / spacing) - 1;
  const mLast = Math.floor((j0 + n - 1) / spacing) + 2;
  if ((mLast - mFirst + 1) * C > G.length) throw new RangeError(`addValueNoiseColumns: knot buffer of ${G.length} values, ${(mLast - mFirst + 1) * C} needed`);
  for (let m = mFirst; m <= mLast; m++) {
    const row = (m - mFirst) * C;
    for (let c = 0; c < C; c++) G[row + c] = amp[c] * scale * tableNormal(keys[c], m);
  }
  for (let j = 0; j < n; j++) {
    const m = Math.floor((j0 + j) / spacing);
    const w = (j0 + j - m * spacing) * 4;
    const w0 = table[w];
    const w1 = table[w + 1];
    const w2 = table[w + 2];
    const w3 = table[w + 3];
    const g = (m - 1 - mFirst) * C;
    const lo = j * C;
    for (let c = 0; c < C; c++) {
      out[lo + c] += w0 * G[g + c] + w1 * G[g + C + c] + w2 * G[g + 2 * C + c] + w3 * G[g + 3 * C + c];
    }
  }
}

/** Knots that n consecutive positions of value noise with this spacing can touch, at most. */
export function valueNoiseKnots(n: number, spacing: number): number {
  return Math.ceil(n / spacing) + 4;
}
