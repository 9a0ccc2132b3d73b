/**
 * Confidence intervals of the temporal score over cross-validation folds. The K folds' decoding
 * curves are the only replicates the analysis has without refitting, so uncertainty comes from
 * resampling them: a percentile bootstrap (resample folds with replacement) and a jackknife
 * (leave one fold out) on Fisher's z scale. Both rescore the fold-averaged curves with
 * temporal.ts, exactly as the point estimate is scored.
 *
 * With the default 5 folds either interval is coarse (a bootstrap over 5 units has only 126
 * distinct resamples); treat it as a stability indicator, not an exact coverage guarantee.
 */
import { mulberry32, randomInt } from './prng.js';
import { studentTQuantile } from './studentT.js';
import { DEFAULT_TMAX_THRESHOLD, temporalScore } from './temporal.js';

/** Options of the fold-resampling intervals. */
export interface FoldCIOptions {
  /** Bootstrap resamples (ignored by the jackknife), default 1000. */
  reps?: number;
  /** PRNG seed of the bootstrap (ignored by the jackknife), default 0. */
  seed?: number;
  /** Coverage level in (0, 1), default 0.95. */
  level?: number;
  /** Tmax threshold passed to the temporal score, default 0.95. */
  threshold?: number;
}

/** An interval for the temporal score r. */
export interface FoldCI {
  method: 'bootstrap' | 'jackknife';
  level: number;
  /** The point estimate: temporal score of the mean over all folds. */
  estimate: number;
  low: number;
  high: number;
  /** Temporal score of each resample (bootstrap) or each leave-one-out set (jackknife), in draw / fold order; may contain NaN. */
  replicates: number[];
  /** Number of finite replicates the interval was computed from. */
  n: number;
}

/** Fisher-z clamp: atanh(±1) is infinite, and a perfectly ordered resample is common. */
const R_CLAMP = 1 - 1e-12;

function checkShape(foldR: ArrayLike<number>, nFolds: number, nLayers: number, nTimes: number, level: number): void {
  if (!Number.isInteger(nFolds) || nFolds < 1) throw new RangeError(`fold CI: nFolds must be a positive integer, got ${nFolds}`);
  if (foldR.length !== nFolds * nLayers * nTimes) {
    throw new RangeError(`fold CI: foldR has ${foldR.length} values, expected ${nFolds} folds × ${nLayers} layers × ${nTimes} times`);
  }
  if (!(level > 0 && level < 1)) throw new RangeError(`fold CI: level must be in (0, 1), got ${level}`);
}

/** out[i] = Σ_f weight[f]·foldR[f][i] / Σ weight: the curves averaged over a (multi)set of folds. */
function weightedFoldMean(foldR: ArrayLike<number>, weights: ArrayLike<number>, size: number, out: Float64Array): Float64Array {
  out.fill(0);
  let total = 0;
  for (let f = 0; f < weights.length; f++) {
    const w = weights[f];
    if (w === 0) continue;
    total += w;
    const base = f * size;
    for (let i = 0; i < size; i++) out[i] += w * foldR[base + i];
  }
  for (let i = 0; i < size; i++) out[i] /= total;
  return out;
}

/** Quantile with linear interpolation between order statistics (numpy's default, "type 7"). */
function quantileSorted(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile-bootstrap interval of the temporal score over folds: draw K folds with replacement,
 * average their curves, rescore; the interval is the (1−level)/2 and (1+level)/2 quantiles of
 * the replicate scores.
 *
 * Resamples whose score is NaN (all chosen folds give a constant Tmax across layers, so r is
 * undefined) are kept in `replicates` but left out of the quantiles; `n` says how many remained.
 *
 * @param foldR per-fold decoding scores, flat [fold][layer][time]
 * @param nFolds number of folds K
 * @param nLayers number of layers L
 * @param times sample times in seconds (length T)
 * @param depths relative depth of each layer (length L)
 * @param options reps (default 1000), seed (default 0), level (default 0.95), threshold (default 0.95)
 * @returns the interval, the point estimate and the replicate scores; deterministic for a given seed
 * @throws RangeError on inconsistent sizes or invalid options
 */
export function foldBootstrapCI(
  foldR: ArrayLike<number>,
  nFolds: number,
  nLayers: number,
  times: ArrayLike<number>,
  depths: ArrayLike<number>,
  options: FoldCIOptions = {},
): FoldCI {
  const { reps = 1000, seed = 0, level = 0.95, threshold = DEFAULT_TMAX_THRESHOLD } = options;
  const T = times.length;
  checkShape(foldR, nFolds, nLayers, T, level);
  if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`fold bootstrap: reps must be a positive integer, got ${reps}`);
  const size = nLayers * T;
  const mean = new Float64Array(size);
  const weights = new Float64Array(nFolds);
  const estimate = temporalScore(weightedFoldMean(foldR, weights.fill(1), size, mean), nLayers, times, depths, threshold).r;
  const rng = mulberry32(seed);
  const replicates: number[] = new Array(reps);
  for (let b = 0; b < reps; b++) {
    // Multiplicity of each fold in this resample of K draws.
    weights.fill(0);
    for (let k = 0; k < nFolds; k++) weights[randomInt(rng, nFolds)] += 1;
    replicates[b] = temporalScore(weightedFoldMean(foldR, weights, size, mean), nLayers, times, depths, threshold).r;
  }
  const finite = replicates.filter((r) => !Number.isNaN(r)).sort((x, y) => x - y);
  return {
    method: 'bootstrap',
    level,
    estimate,
    low: quantileSorted(finite, (1 - level) / 2),
    high: quantileSorted(finite, (1 + level) / 2),
    replicates,
    n: finite.length,
  };
}

/**
 * Jackknife interval of the temporal score over folds. Leave each fold out in turn, average the
 * other K−1 folds' curves and rescore; on Fisher's z scale (z = atanh r, r clamped to
 * ±(1 − 1e-12)) the jackknife standard error is se = √((K−1)/K · Σ(z_k − z̄)²), and the interval
 * is tanh(z ± t_{K−1, (1+level)/2} · se) around z of the all-fold estimate. The z scale makes the
 * interval respect [−1, 1] and is closer to symmetric for r near ±1.
 *
 * Needs K ≥ 2 and every leave-one-out score finite; otherwise low and high are NaN (the
 * replicates are still returned for inspection).
 *
 * Caveat as r → 1: z stretches without bound, so leave-one-out scores of 0.9999 and 0.9990 are
 * already 1.2 apart in z, and an exactly perfect ordering (r = 1, common with Tmax on a 33 ms
 * grid and clean data) sits at the clamp, z ≈ 14.2. A mix of such replicates gives an interval
 * spanning most of [−1, 1]. That is the honest z-scale answer with K = 5, but prefer the
 * bootstrap (whose percentiles are unaffected) when scores are that close to 1.
 *
 * @param foldR per-fold decoding scores, flat [fold][layer][time]
 * @param nFolds number of folds K
 * @param nLayers number of layers L
 * @param times sample times in seconds (length T)
 * @param depths relative depth of each layer (length L)
 * @param options level (default 0.95) and threshold (default 0.95); reps and seed are ignored
 * @returns the interval, the point estimate and the K leave-one-out scores (in fold order)
 * @throws RangeError on inconsistent sizes or invalid options
 */
export function foldJackknifeCI(
  foldR: ArrayLike<number>,
  nFolds: number,
  nLayers: number,
  times: ArrayLike<number>,
  depths: ArrayLike<number>,
  options: FoldCIOptions = {},
): FoldCI {
  const { level = 0.95, threshold = DEFAULT_TMAX_THRESHOLD } = options;
  const T = times.length;
  checkShape(foldR, nFolds, nLayers, T, level);
  const size = nLayers * T;
  const mean = new Float64Array(size);
  const weights = new Float64Array(nFolds);
  const estimate = temporalScore(weightedFoldMean(foldR, weights.fill(1), size, mean), nLayers, times, depths, threshold).r;
  const replicates: number[] = new Array(nFolds);
  for (let k = 0; k < nFolds; k++) {
    weights.fill(1);
    weights[k] = 0;
    replicates[k] = nFolds < 2 ? NaN : temporalScore(weightedFoldMean(foldR, weights, size, mean), nLayers, times, depths, threshold).r;
  }
  const n = replicates.filter((r) => !Number.isNaN(r)).length;
  const result: FoldCI = { method: 'jackknife', level, estimate, low: NaN, high: NaN, replicates, n };
  if (nFolds < 2 || n < nFolds || Number.isNaN(estimate)) return result;
  const fisherZ = (r: number): number => Math.atanh(Math.max(-R_CLAMP, Math.min(R_CLAMP, r)));
  const z = replicates.map(fisherZ);
  const zBar = z.reduce((s, v) => s + v, 0) / nFolds;
  const ss = z.reduce((s, v) => s + (v - zBar) * (v - zBar), 0);
  const se = Math.sqrt(((nFolds - 1) / nFolds) * ss);
  const half = studentTQuantile((1 + level) / 2, nFolds - 1) * se;
  const z0 = fisherZ(estimate);
  // min/max keep the estimate inside its own interval despite the tanh(atanh(r)) round trip and
  // the clamp at |r| = 1 (se = 0 happens when every leave-one-out set orders the layers alike).
  result.low = Math.min(estimate, Math.tanh(z0 - half));
  result.high = Math.max(estimate, Math.tanh(z0 + half));
  return result;
}
