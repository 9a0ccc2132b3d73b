/**
 * Uncertainty of the exact scores from the K outer folds' decoding curves (README, Method §5):
 * an interval for each layer's Tmax and for the temporal score, and tests of the temporal score
 * that stay calibrated when the layers are correlated. The folds are the only replicates a
 * streaming analysis keeps (statistics per word block would cost ~260 MB each), so everything
 * here is a function of foldR [fold][layer][time] alone, computed at each refit.
 *
 * Tmax interval (delete-one-fold jackknife ⊕ the time grid's resolution):
 *   θ̂ = Tmax of the all-fold mean curve (the reported estimate); θ₍ₖ₎ = Tmax of the mean of the
 *   other K−1 folds; se² = (K−1)/K · Σₖ(θ₍ₖ₎ − θ̄)². Tmax is a mean of grid times, so besides its
 *   sampling error it carries a rounding error of up to half a sample that no resampling of the
 *   same grid can see (every replicate rounds alike: at high SNR all θ₍ₖ₎ are equal and se = 0).
 *   It is counted as the GUM counts a digital resolution: a rectangular error of width Δ
 *   (Δ = the time step), standard uncertainty Δ/√12, combined in quadrature. The interval is
 *   θ̂ ± t_{K−1, (1+level)/2} · √(se² + Δ²/12), clipped to the epoch: ±0.8 Δ (27 ms at 30 Hz)
 *   when se = 0. That margin also absorbs the few ms by which the causal filters shift the peak
 *   (BENCHMARKS.md measures both and the coverage that results).
 *
 * Temporal-score interval: the jackknife of the same replicates on Fisher's z scale, with the grid
 *   resolution carried into r by the delta method (∂r/∂Tmax_l, each layer's rounding independent):
 *   tanh(z(r̂) ± t_{K−1} · √(se_z² + Σₗ(∂z/∂Tmaxₗ)²Δ²/12)).
 *
 * Tests of the temporal score: the paper's p (t on L−2 df) treats the L Tmax as independent,
 *   which correlated layers are not (their Tmax move together, so chance orderings are common).
 *   The jackknife test is the one the interval inverts: t = z(r̂)/√(se_z² + resolution_z²) on K−1
 *   df, so 0 lies outside the interval exactly when p < 1 − level; between-layer correlation is
 *   inside every replicate. The fold test (for comparison) takes each fold's own curve, its
 *   Spearman ρ of Tmax with depth (a single wild Tmax in a noisy one-fold curve would swing Pearson
 *   r), and t-tests the K values against 0. BENCHMARKS.md measures both under no coupling.
 *
 * Owns: these formulas. Must not: resample words (the statistics are per fold) or do I/O.
 */
import { spearman } from './pearson.js';
import { studentTQuantile, studentTTwoSidedP } from './studentT.js';
import { DEFAULT_TMAX_THRESHOLD, temporalScore } from './temporal.js';

export type TmaxSeMethod = 'jackknife' | 'folds' | 'pooled';

export interface FoldUncertaintyOptions {
  /** Coverage level in (0, 1), default 0.95. */
  level?: number;
  /** Tmax threshold (as temporal.ts), default 0.95. */
  threshold?: number;
  /** Width of a time step, seconds; default the spacing of `times`. 0 ignores the grid. */
  resolutionSec?: number;
  /** Which sampling standard error the Tmax interval uses (default `jackknife`; the others are measured against it in bench/uncertaintyCalibration). */
  tmaxSe?: TmaxSeMethod;
}

/** Names of the methods, as snapshots and results state them. */
export const TMAX_INTERVAL_METHOD = 'delete-one-fold jackknife, t(K−1), ⊕ time-grid resolution Δ/√12';
export const SCORE_INTERVAL_METHOD = 'fold jackknife on Fisher z, t(K−1), ⊕ time-grid resolution';
export const JACKKNIFE_TEST_METHOD = 'fold jackknife t-test on Fisher z, K−1 df (0 outside the interval ⇔ p < 1 − level)';
export const FOLD_TEST_METHOD = 'one-sample t-test of the folds\' Spearman ρ(Tmax, depth), K−1 df';

export interface FoldUncertainty {
  level: number;
  nFolds: number;
  /** Time step used as the grid resolution, seconds. */
  resolutionSec: number;
  /** t quantile the intervals use, t_{K−1, (1+level)/2}. */
  tQuantile: number;
  tmax: {
    /** Tmax of the all-fold mean curve, per layer (as temporalScore). */
    estimate: number[];
    low: number[];
    high: number[];
    /** Sampling standard error per layer (seconds) that the interval used (`tmaxSe`). */
    se: number[];
    /** Delete-one-fold jackknife standard error per layer. */
    seJackknife: number[];
    /** sd of the folds' own Tmax / √K per layer. */
    seFolds: number[];
    /** Leave-one-fold-out Tmax, [fold][layer]. */
    replicates: number[][];
    /** Each fold's own Tmax, [fold][layer]. */
    foldTmax: number[][];
  };
  temporalScore: {
    estimate: number;
    low: number;
    high: number;
    /** Jackknife standard error of atanh(r) (sampling part). */
    seZ: number;
    /** Standard uncertainty of atanh(r) from the grid resolution (delta method). */
    resolutionZ: number;
    /** Leave-one-fold-out temporal scores, in fold order. */
    replicates: number[];
  };
  /** z(r̂) / √(seZ² + resolutionZ²) on K−1 df: the test the interval inverts. */
  jackknifeTest: { t: number; df: number; p: number };
  /** Spearman ρ of each fold's own Tmax with depth, t-tested against 0 on K−1 df. */
  foldTest: { foldScores: number[]; t: number; df: number; p: number };
}

/** out = foldR[k], flat [layer][time]. */
function foldSlice(foldR: ArrayLike<number>, k: number, size: number, out: Float64Array): Float64Array {
  for (let i = 0; i < size; i++) out[i] = foldR[k * size + i];
  return out;
}

/** Fisher-z clamp: atanh(±1) is infinite. */
const R_CLAMP = 1 - 1e-12;
const fisherZ = (r: number): number => Math.atanh(Math.max(-R_CLAMP, Math.min(R_CLAMP, r)));

/** out = mean over the folds other than `skip` (−1: all) of foldR[f], flat [layer][time]. */
function foldMean(foldR: ArrayLike<number>, skip: number, K: number, size: number, out: Float64Array): Float64Array {
  out.fill(0);
  let n = 0;
  for (let f = 0; f < K; f++) {
    if (f === skip) continue;
    n++;
    const base = f * size;
    for (let i = 0; i < size; i++) out[i] += foldR[base + i];
  }
  for (let i = 0; i < size; i++) out[i] /= n;
  return out;
}

const meanOf = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;

/** Jackknife standard error from the K leave-one-out replicates: √((K−1)/K · Σ(θₖ − θ̄)²). */
function jackknifeSe(replicates: readonly number[]): number {
  const K = replicates.length;
  const m = meanOf(replicates);
  return Math.sqrt(((K - 1) / K) * replicates.reduce((s, v) => s + (v - m) * (v - m), 0));
}

/** Standard error of a mean of K values: sd (K − 1 denominator) / √K. */
function meanSe(values: readonly number[]): number {
  const K = values.length;
  const m = meanOf(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) * (v - m), 0) / (K - 1) / K);
}

/** One-sample t-test of values against 0 (identical values: p = 1 at 0, 0 elsewhere). */
function oneSampleT(values: readonly number[]): { t: number; df: number; p: number } {
  const n = values.length;
  if (n < 2) return { t: NaN, df: n - 1, p: NaN };
  const m = meanOf(values);
  const se = meanSe(values);
  const t = se > 0 ? m / se : m === 0 ? 0 : Math.sign(m) * Infinity;
  return { t, df: n - 1, p: studentTTwoSidedP(t, n - 1) };
}

/**
 * ∂r/∂Tₗ of r = corr(T, d): (bₗ/√Sbb − r·aₗ/√Saa)/√Saa with a = T − T̄, b = d − d̄ (the centring
 * terms vanish). Returns Σₗ(∂r/∂Tₗ)², or NaN when Tmax is constant.
 */
function pearsonGradientSquared(tmax: readonly number[], depths: ArrayLike<number>, r: number): number {
  const L = tmax.length;
  let mt = 0;
  let md = 0;
  for (let l = 0; l < L; l++) {
    mt += tmax[l] / L;
    md += depths[l] / L;
  }
  let saa = 0;
  let sbb = 0;
  for (let l = 0; l < L; l++) {
    saa += (tmax[l] - mt) ** 2;
    sbb += (depths[l] - md) ** 2;
  }
  if (!(saa > 0) || !(sbb > 0)) return NaN;
  let g2 = 0;
  for (let l = 0; l < L; l++) {
    const g = ((depths[l] - md) / Math.sqrt(sbb) - (r * (tmax[l] - mt)) / Math.sqrt(saa)) / Math.sqrt(saa);
    g2 += g * g;
  }
  return g2;
}

/**
 * Intervals for every layer's Tmax and for the temporal score, and two tests of the temporal
 * score (see the module comment for the formulas).
 *
 * @param foldR per-fold decoding scores, flat [fold][layer][time]
 * @param nFolds K (≥ 2 for any interval; with K < 2 the intervals and tests are NaN)
 * @param nLayers L
 * @param times sample times, seconds (length T, evenly spaced)
 * @param depths relative depth of each layer (length L)
 * @param options level (0.95), threshold (0.95), resolutionSec (the time step), tmaxSe ('jackknife')
 * @returns estimates, intervals, standard errors, replicates and the tests
 * @throws RangeError on inconsistent sizes or invalid options
 */
export function foldUncertainty(
  foldR: ArrayLike<number>,
  nFolds: number,
  nLayers: number,
  times: ArrayLike<number>,
  depths: ArrayLike<number>,
  options: FoldUncertaintyOptions = {},
): FoldUncertainty {
  const T = times.length;
  const K = nFolds;
  const L = nLayers;
  const { level = 0.95, threshold = DEFAULT_TMAX_THRESHOLD, tmaxSe = 'jackknife' } = options;
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`fold uncertainty: nFolds must be a positive integer, got ${K}`);
  if (foldR.length !== K * L * T) throw new RangeError(`fold uncertainty: foldR has ${foldR.length} values, expected ${K} folds × ${L} layers × ${T} times`);
  if (depths.length !== L) throw new RangeError(`fold uncertainty: ${depths.length} depths for ${L} layers`);
  if (!(level > 0 && level < 1)) throw new RangeError(`fold uncertainty: level must be in (0, 1), got ${level}`);
  const resolutionSec = options.resolutionSec ?? (T >= 2 ? Math.abs(times[1] - times[0]) : 0);
  if (!(resolutionSec >= 0)) throw new RangeError(`fold uncertainty: resolutionSec must be ≥ 0, got ${resolutionSec}`);
  const size = L * T;
  const scratch = new Float64Array(size);
  const score = (R: Float64Array) => temporalScore(R, L, times, depths, threshold);
  const all = score(foldMean(foldR, -1, K, size, scratch));
  const enough = K >= 2;
  const loo = Array.from({ length: K }, (_, k) => (enough ? score(foldMean(foldR, k, K, size, scratch)) : null));
  const own = Array.from({ length: K }, (_, k) => score(foldSlice(foldR, k, size, scratch)).tmax);
  const tq = enough ? studentTQuantile((1 + level) / 2, K - 1) : NaN;
  const resVar = (resolutionSec * resolutionSec) / 12;
  const tFirst = Math.min(times[0], times[T - 1]);
  const tLast = Math.max(times[0], times[T - 1]);

  const replicates = loo.map((s) => (s ? s.tmax : new Array<number>(L).fill(NaN)));
  const tmax: FoldUncertainty['tmax'] = { estimate: all.tmax, low: [], high: [], se: [], seJackknife: [], seFolds: [], replicates, foldTmax: own };
  for (let l = 0; l < L; l++) {
    const reps = replicates.map((r) => r[l]);
    const mine = own.map((r) => r[l]);
    const jk = enough && reps.every(Number.isFinite) ? jackknifeSe(reps) : NaN;
    const folds = enough && mine.every(Number.isFinite) ? meanSe(mine) : NaN;
    const se = tmaxSe === 'jackknife' ? jk : tmaxSe === 'folds' ? folds : Math.sqrt((jk * jk + folds * folds) / 2);
    const half = tq * Math.sqrt(se * se + resVar);
    const est = all.tmax[l];
    const ok = Number.isFinite(half) && Number.isFinite(est);
    tmax.seJackknife.push(jk);
    tmax.seFolds.push(folds);
    tmax.se.push(se);
    tmax.low.push(ok ? Math.max(tFirst, est - half) : NaN);
    tmax.high.push(ok ? Math.min(tLast, est + half) : NaN);
  }

  const scoreReplicates = loo.map((s) => (s ? s.r : NaN));
  const r = all.r;
  const temporal: FoldUncertainty['temporalScore'] = { estimate: r, low: NaN, high: NaN, seZ: NaN, resolutionZ: NaN, replicates: scoreReplicates };
  let jackknifeTest = { t: NaN, df: K - 1, p: NaN };
  if (enough && Number.isFinite(r) && scoreReplicates.every(Number.isFinite)) {
    temporal.seZ = jackknifeSe(scoreReplicates.map(fisherZ));
    const g2 = pearsonGradientSquared(all.tmax, depths, r);
    const dzdr = 1 / Math.max(1 - r * r, 1 - R_CLAMP * R_CLAMP);
    temporal.resolutionZ = Number.isFinite(g2) ? Math.sqrt(g2 * resVar) * dzdr : 0;
    const u = Math.hypot(temporal.seZ, temporal.resolutionZ);
    const z0 = fisherZ(r);
    // min/max keep the estimate inside despite the tanh(atanh(r)) round trip at the clamp.
    temporal.low = Math.min(r, Math.tanh(z0 - tq * u));
    temporal.high = Math.max(r, Math.tanh(z0 + tq * u));
    const t = u > 0 ? z0 / u : z0 === 0 ? 0 : Math.sign(z0) * Infinity;
    jackknifeTest = { t, df: K - 1, p: studentTTwoSidedP(t, K - 1) };
  }

  // A fold whose layers all share one Tmax has no ordering at all: ρ = 0.
  const foldScores = own.map((tm) => spearman(tm, depths)).map((rho) => (Number.isNaN(rho) ? 0 : rho));
  const foldTest = { foldScores, ...oneSampleT(foldScores) };
  return { level, nFolds: K, resolutionSec, tQuantile: tq, tmax, temporalScore: temporal, jackknifeTest, foldTest };
}
