/**
 * Sufficient statistics of one set of words (one fold) for every time sample of the epoch:
 * n, Σx, Σxxᵀ (channels × channels) and, for all targets (layers × dims) together, Σy, Σy², Σxyᵀ.
 * Everything in float64, raw units (tesla): z-scoring is applied algebraically at refit time.
 * The arrays may live in shared memory (SharedArrayBuffer), so that worker threads accumulate into
 * them and refits read them without copies.
 *
 * Owns: the arrays and their element-wise algebra (add, subtract, copy). Must not: decide batching
 * or folds (see statsAccumulator.ts) or solve anything (see ridge/).
 */
import { nTargets, type DecoderDims } from '../types.js';

export interface SufficientStats {
  dims: DecoderDims;
  /** Number of words. */
  n: number;
  /** [time][channel] Σx */
  sx: Float64Array;
  /**
   * [time][channel][channel] Σxxᵀ. Symmetric, and only the lower triangle (column ≤ row) is
   * maintained by batched accumulation (a rank-k update does half the work); readers that need
   * the full square mirror it (`mirrorLower`), as the refit does per time sample.
   */
  sxx: Float64Array;
  /** [target] Σy (target = layer·nDims + dim) */
  sy: Float64Array;
  /** [target] Σy² */
  syy: Float64Array;
  /** [time][channel][target] Σxyᵀ */
  sxy: Float64Array;
}

/** Where arrays are allocated: this thread's heap, or shared memory that worker threads can use in place. */
export type ArrayMemory = 'local' | 'shared';

/** A zeroed Float64Array of `length` elements in `memory`. */
export function float64Array(length: number, memory: ArrayMemory = 'local'): Float64Array {
  return memory === 'shared' ? new Float64Array(new SharedArrayBuffer(8 * length)) : new Float64Array(length);
}

export function emptyStats(dims: DecoderDims, memory: ArrayMemory = 'local'): SufficientStats {
  const { nChannels: C, nTimes: T } = dims;
  const P = nTargets(dims);
  return {
    dims,
    n: 0,
    sx: float64Array(T * C, memory),
    sxx: float64Array(T * C * C, memory),
    sy: float64Array(P, memory),
    syy: float64Array(P, memory),
    sxy: float64Array(T * C * P, memory),
  };
}

/**
 * dst (C×C, full square) = the symmetric matrix whose lower triangle is src[offset…] (C×C); the
 * strict upper triangle of the source is not read.
 */
export function mirrorLower(src: Float64Array, offset: number, C: number, dst: Float64Array): void {
  for (let i = 0; i < C; i++) {
    const row = offset + i * C;
    for (let j = 0; j <= i; j++) {
      const v = src[row + j];
      dst[i * C + j] = v;
      dst[j * C + i] = v;
    }
  }
}

const ARRAY_KEYS = ['sx', 'sxx', 'sy', 'syy', 'sxy'] as const;
export type StatsArrayKey = (typeof ARRAY_KEYS)[number];
export const STATS_ARRAY_KEYS: readonly StatsArrayKey[] = ARRAY_KEYS;

/** target += source (used to merge partial accumulations and to form totals). */
export function addStatsInto(target: SufficientStats, source: SufficientStats): void {
  target.n += source.n;
  for (const key of ARRAY_KEYS) {
    const t = target[key];
    const s = source[key];
    for (let i = 0; i < t.length; i++) t[i] += s[i];
  }
}

export function sumStats(parts: readonly SufficientStats[]): SufficientStats {
  const total = emptyStats(parts[0].dims);
  for (const p of parts) addStatsInto(total, p);
  return total;
}

/**
 * Adds one word directly (no batching). Readable and exact; the accumulator batches words through a
 * backend instead, and tests check both give the same sums.
 * @param epoch [channel][time]
 * @param y [target]
 */
export function addWordDirect(stats: SufficientStats, epoch: ArrayLike<number>, y: ArrayLike<number>): void {
  const { nChannels: C, nTimes: T } = stats.dims;
  const P = y.length;
  stats.n += 1;
  for (let p = 0; p < P; p++) {
    stats.sy[p] += y[p];
    stats.syy[p] += y[p] * y[p];
  }
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < C; i++) {
      const xi = epoch[i * T + t];
      stats.sx[t * C + i] += xi;
      const rowXX = (t * C + i) * C;
      for (let j = 0; j < C; j++) stats.sxx[rowXX + j] += xi * epoch[j * T + t];
      const rowXY = (t * C + i) * P;
      for (let p = 0; p < P; p++) stats.sxy[rowXY + p] += xi * y[p];
    }
  }
}

/** Bytes held by one fold's statistics. */
export function statsBytes(dims: DecoderDims): number {
  const { nChannels: C, nTimes: T } = dims;
  const P = nTargets(dims);
  return 8 * (T * C + T * C * C + 2 * P + T * C * P);
}
