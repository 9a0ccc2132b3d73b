/**
 * Tests of src/scores/: Pearson r, the t-distribution and Pearson p-values (SciPy as the oracle,
 * through Debian's /usr/bin/python3), Tmax on hand-made curves, the temporal score on planted
 * latencies, and the fold-resampling confidence intervals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';

import { averageRanks, pearson, spearman } from '../src/scores/pearson.js';
import {
  logGamma,
  pearsonPValue,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
  studentTSf,
  studentTTwoSidedP,
} from '../src/scores/studentT.js';
import { temporalScore, tmaxOf } from '../src/scores/temporal.js';
import { foldUncertainty } from '../src/scores/foldUncertainty.js';
import { ksUniform } from '../src/scores/ks.js';
import { plantedRecovery } from '../src/scores/recovery.js';
import { mulberry32, randomNormal, type Rng } from '../src/scores/prng.js';

// ---------------------------------------------------------------------------------------------
// SciPy oracle

const PYTHON = '/usr/bin/python3';
const havePython = spawnSync(PYTHON, ['-c', 'import scipy, numpy'], { stdio: 'ignore' }).status === 0;
const skipNoScipy = havePython ? false : `${PYTHON} with scipy and numpy is not available`;

/**
 * Run `body` in Python with `data` (the parsed JSON input) in scope; the script must assign its
 * result to `out`. Floats travel as repr() strings so that inf/nan and every bit survive.
 */
function python(body: string, input: unknown): unknown {
  const script = [
    'import json, sys, math',
    'import numpy as np',
    'from scipy import stats, special',
    'data = json.loads(sys.stdin.read())',
    'def F(x): return repr(float(x))',
    body,
    'print(json.dumps(out))',
  ].join('\n');
  const stdout = execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(input), stdio: ['pipe', 'pipe', 'inherit'] });
  return JSON.parse(stdout.toString());
}

/** Parse a Python float repr ('inf', '-inf' and 'nan' included). */
function num(s: string): number {
  if (s === 'inf') return Infinity;
  if (s === '-inf') return -Infinity;
  if (s === 'nan') return NaN;
  return Number(s);
}

/** |a − b| ≤ rel·max(|a|, |b|) + abs (exact equality always passes, NaN matches NaN). */
function assertClose(actual: number, expected: number, rel: number, abs = 0, what = ''): void {
  if (Number.isNaN(expected)) return assert.ok(Number.isNaN(actual), `${what}: expected NaN, got ${actual}`);
  if (actual === expected) return;
  const tol = rel * Math.max(Math.abs(actual), Math.abs(expected)) + abs;
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected} (diff ${Math.abs(actual - expected)}, tol ${tol})`);
}

/** Doubles below this are subnormal: their relative precision is gone in SciPy and here alike. */
const SUBNORMAL = 2.3e-308;

// ---------------------------------------------------------------------------------------------
// Pearson

test('pearson: exact cases, constant input, length mismatch', () => {
  assert.equal(pearson([1, 2, 3, 4], [2, 4, 6, 8]), 1);
  assert.equal(pearson([1, 2, 3, 4], [8, 6, 4, 2]), -1);
  assert.ok(Number.isNaN(pearson([1, 2, 3], [5, 5, 5])));
  assert.ok(Number.isNaN(pearson([7, 7, 7], [1, 2, 3])));
  assert.ok(Number.isNaN(pearson([1], [2])));
  assert.throws(() => pearson([1, 2], [1, 2, 3]), RangeError);
  // Small spread on a large offset: the two-pass form keeps it exact.
  assertClose(pearson([1e8 + 1, 1e8 + 2, 1e8 + 3], [1, 2, 3]), 1, 1e-15);
});

test('pearson r and pearsonPValue agree with scipy.stats.pearsonr', { skip: skipNoScipy }, () => {
  const rng = mulberry32(42);
  const pairs: { x: number[]; y: number[] }[] = [];
  for (const [n, coupling] of [
    [3, 0.5],
    [4, 0],
    [5, 1],
    [9, 2],
    [9, 0.1],
    [30, 0.3],
    [200, 0.2],
    [200, 20], // r very close to 1: p far in the tail
    [1000, 0.05],
  ] as const) {
    const x = Array.from({ length: n }, () => randomNormal(rng));
    const y = x.map((v) => coupling * v + randomNormal(rng));
    pairs.push({ x, y });
  }
  const ref = python('out = [[F(v) for v in stats.pearsonr(p["x"], p["y"])] for p in data]', pairs) as string[][];
  pairs.forEach(({ x, y }, i) => {
    const [rRef, pRef] = ref[i].map(num);
    assertClose(pearson(x, y), rRef, 0, 1e-13, `r, case ${i}`);
    // p from SciPy's own r isolates the p-value function from r's last-bit differences.
    assertClose(pearsonPValue(rRef, x.length), pRef, 1e-9, SUBNORMAL, `p, case ${i} (r = ${rRef}, n = ${x.length})`);
  });
});

test('pearsonPValue: edge cases', () => {
  assert.equal(pearsonPValue(1, 9), 0);
  assert.equal(pearsonPValue(-1, 9), 0);
  assert.equal(pearsonPValue(1 + 1e-16, 9), 0);
  assert.equal(pearsonPValue(0, 9), 1);
  assert.ok(Number.isNaN(pearsonPValue(NaN, 9)));
  assert.ok(Number.isNaN(pearsonPValue(0.5, 2)), 'no degrees of freedom');
  // Symmetric in r.
  assert.equal(pearsonPValue(-0.7, 12), pearsonPValue(0.7, 12));
  // Same as the t statistic route it is defined by.
  const r = 0.83;
  const n = 9;
  assertClose(pearsonPValue(r, n), studentTTwoSidedP(r * Math.sqrt((n - 2) / (1 - r * r)), n - 2), 1e-13);
});

// ---------------------------------------------------------------------------------------------
// Student's t

const DFS = [1, 2, 7, 30, 1000, 0.5, 3.5];
const TS = [-1e6, -300, -50, -10, -3, -1, -0.1, 0, 1e-8, 0.5, 2, 5, 20, 100, 1e3, 1e10];

test('studentTCdf / studentTSf / studentTTwoSidedP agree with scipy.stats.t (1e-9 relative)', { skip: skipNoScipy }, () => {
  const ref = python('out = [[[F(stats.t.cdf(t, df)), F(stats.t.sf(t, df))] for t in data["ts"]] for df in data["dfs"]]', { dfs: DFS, ts: TS }) as string[][][];
  DFS.forEach((df, i) =>
    TS.forEach((t, j) => {
      const [cdf, sf] = ref[i][j].map(num);
      assertClose(studentTCdf(t, df), cdf, 1e-9, SUBNORMAL, `cdf(${t}, ${df})`);
      assertClose(studentTSf(t, df), sf, 1e-9, SUBNORMAL, `sf(${t}, ${df})`);
      // Two-sided p = 2·sf(|t|), capped at 1.
      const twoSided = Math.min(1, 2 * (t >= 0 ? sf : cdf));
      assertClose(studentTTwoSidedP(t, df), twoSided, 1e-9, SUBNORMAL, `two-sided p(${t}, ${df})`);
    }),
  );
});

test('studentT tails beyond the double range of t² (closed forms for df = 1 and 2)', () => {
  for (const t of [1e20, 1e100, 1e200, 1e300]) {
    // df = 1 (Cauchy): P(T > t) = atan(1/t)/π.
    assertClose(studentTSf(t, 1), Math.atan(1 / t) / Math.PI, 1e-13, 0, `cauchy sf(${t})`);
    assertClose(studentTCdf(-t, 1), Math.atan(1 / t) / Math.PI, 1e-13, 0, `cauchy cdf(${-t})`);
  }
  for (const t of [1e20, 1e100, 1e150]) {
    // df = 2: P(T > t) = 1/(√(2+t²)(√(2+t²) + t)).
    const s = Math.sqrt(2 + t * t);
    assertClose(studentTSf(t, 2), 1 / (s * (s + t)), 1e-13, 0, `df 2 sf(${t})`);
  }
  assert.equal(studentTCdf(-Infinity, 5), 0);
  assert.equal(studentTCdf(Infinity, 5), 1);
  assert.equal(studentTTwoSidedP(Infinity, 5), 0);
  assert.equal(studentTTwoSidedP(0, 5), 1);
  assert.ok(Number.isNaN(studentTCdf(NaN, 5)));
  assert.ok(Number.isNaN(studentTCdf(1, 0)));
  assert.ok(Number.isNaN(studentTTwoSidedP(1, -1)));
});

const PS = [1e-300, 1e-100, 1e-12, 1e-6, 1e-3, 0.025, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975, 0.999, 1 - 1e-12];

test('studentTQuantile inverts scipy.stats.t.cdf/sf and agrees with scipy.stats.t.ppf', { skip: skipNoScipy }, () => {
  const qs = DFS.map((df) => PS.map((p) => studentTQuantile(p, df)));
  const ref = python(
    'out = [[[F(stats.t.ppf(p, df)), F(stats.t.cdf(float(q), df)), F(stats.t.sf(float(q), df))] for p, q in zip(data["ps"], qs)] for df, qs in zip(data["dfs"], data["qs"])]',
    // As strings: JSON has no Infinity, and Python's float() reads JavaScript's 'Infinity'.
    { dfs: DFS, ps: PS, qs: qs.map((row) => row.map(String)) },
  ) as string[][][];
  for (const [i, df] of DFS.entries()) {
    for (const [j, p] of PS.entries()) {
      const q = qs[i][j];
      const [ppf, cdfAtQ, sfAtQ] = ref[i][j].map(num);
      if (!Number.isFinite(q)) {
        // Only where the true quantile is beyond the double range (df = ½: |t| ~ p^−2 = 1e600).
        assert.ok(df < 1 && p < 1e-100, `quantile(${p}, ${df}) = ${q}`);
        continue;
      }
      // Round trip through SciPy's CDF, on the smaller tail so that relative error means something.
      // SciPy's CDF itself fails beyond |t| ~ 1e10 (it returns 0 for t = −3e299, df = 1, where
      // the answer is 1e-300); there the round trip goes through our CDF, which the closed-form
      // test above checks out to |t| = 1e300.
      const cdfRef = Math.abs(q) <= 1e10 ? cdfAtQ : studentTCdf(q, df);
      const sfRef = Math.abs(q) <= 1e10 ? sfAtQ : studentTSf(q, df);
      if (p < 0.5) assertClose(cdfRef, p, 1e-10, 0, `cdf(quantile(${p}, ${df}))`);
      else if (p > 0.5) assertClose(sfRef, 1 - p, 1e-10, 0, `sf(quantile(${p}, ${df}))`);
      else assert.equal(q, 0);
      // Direct comparison where SciPy's own ppf (cephes stdtrit) is reliable. It is only good to
      // ~2e-9 (e.g. df = 30, p = 0.1: its ppf maps back through its own cdf to 0.1000000004715,
      // ours to 0.1000000000000005), returns 7e-17 for p = 0.5 and breaks down below p ~ 1e-100,
      // hence the looser tolerance and the restricted p range.
      if (p >= 1e-12 && p <= 1 - 1e-12 && p !== 0.5) assertClose(q, ppf, 5e-9, 0, `ppf(${p}, ${df})`);
    }
  }
});

test('studentTQuantile: closed forms, symmetry, edges', () => {
  // df = 1: t_p = tan(π(p − ½)); df = 2: t_p = (2p − 1)/√(2p(1 − p)).
  for (const p of [1e-300, 1e-12, 0.01, 0.2, 0.975]) {
    assertClose(studentTQuantile(p, 1), p < 1e-10 ? -1 / (Math.PI * p) : Math.tan(Math.PI * (p - 0.5)), 1e-12, 0, `df 1, p ${p}`);
    assertClose(studentTQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-12, 0, `df 2, p ${p}`);
  }
  assert.equal(studentTQuantile(0.3, 7), -studentTQuantile(0.7, 7));
  assert.equal(studentTQuantile(0, 7), -Infinity);
  assert.equal(studentTQuantile(1, 7), Infinity);
  assert.equal(studentTQuantile(0.5, 7), 0);
  assert.ok(Number.isNaN(studentTQuantile(1.5, 7)));
  assert.ok(Number.isNaN(studentTQuantile(0.5, 0)));
  // t_{0.975, 7} (mpmath, 25 digits: 2.364624251592785341680901; SciPy 1.10's ppf says 2.3646242510103).
  assertClose(studentTQuantile(0.975, 7), 2.364624251592785, 1e-13);
});

test('logGamma and regularizedIncompleteBeta agree with scipy.special', { skip: skipNoScipy }, () => {
  const xs = [1e-10, 0.1, 0.5, 1, 1.5, 2, 2.5, 9.99, 10, 10.5, 50, 500, 1e6, 1e15];
  const cases: [number, number, number][] = [];
  for (const a of [0.25, 0.5, 1, 3.5, 15, 500]) for (const b of [0.5, 2, 40]) for (const x of [1e-6, 0.01, 0.3, 0.5, 0.9, a / (a + b)]) cases.push([a, b, x]);
  const ref = python('out = {"g": [F(special.gammaln(x)) for x in data["xs"]], "b": [F(special.betainc(a, b, x)) for a, b, x in data["cases"]]}', { xs, cases }) as {
    g: string[];
    b: string[];
  };
  xs.forEach((x, i) => assertClose(logGamma(x), num(ref.g[i]), 1e-14, 1e-14, `lgamma(${x})`));
  cases.forEach(([a, b, x], i) => assertClose(regularizedIncompleteBeta(a, b, x), num(ref.b[i]), 1e-10, SUBNORMAL, `I_${x}(${a}, ${b})`));
  assert.ok(Number.isNaN(logGamma(0)));
  assert.equal(regularizedIncompleteBeta(2, 3, 0), 0);
  assert.equal(regularizedIncompleteBeta(2, 3, 1), 1);
});

const haveMpmath = havePython && spawnSync(PYTHON, ['-c', 'import mpmath'], { stdio: 'ignore' }).status === 0;

test('regularizedIncompleteBeta with large parameters (t with df up to 1e8) against mpmath', { skip: haveMpmath ? false : 'mpmath is not available' }, () => {
  // SciPy's betainc loses digits here (I_x(5e5, 2) at x = a/(a+b): 0.40600639084 against the
  // exact 0.40600639105518), so the reference is mpmath at 40 digits, evaluated on the side of
  // the mean where its hypergeometric series converges.
  const cases: [number, number, number][] = [];
  for (const a of [5e3, 5e5, 5e7]) {
    for (const b of [0.5, 2, 40]) {
      // The mean, ±2 and −4 standard deviations of Beta(a, b), and fixed points near 1.
      const mean = a / (a + b);
      const sd = Math.sqrt((a * b) / ((a + b) * (a + b) * (a + b + 1)));
      for (const x of [1 - 1e-7, 1 - 1e-5, mean, mean - 4 * sd, mean - 2 * sd, Math.min(mean + 2 * sd, 1 - 1e-12)]) cases.push([a, b, x]);
    }
  }
  const ref = python(
    [
      'import mpmath as mp',
      'mp.mp.dps = 40',
      'def I(a, b, x):',
      '    a, b, X = mp.mpf(a), mp.mpf(b), mp.mpf(x)',
      '    return mp.betainc(a, b, 0, X, regularized=True) if x <= 0.5 else 1 - mp.betainc(b, a, 0, 1 - X, regularized=True)',
      'def S(a, b, x):',
      '    try:',
      '        return mp.nstr(I(a, b, x), 20)',
      '    except mp.libmp.NoConvergence:',
      "        return 'nan'",
      'out = [S(a, b, x) for a, b, x in data]',
    ].join('\n'),
    cases,
  ) as string[];
  cases.forEach(([a, b, x], i) => {
    const expected = num(ref[i]);
    // mpmath gives up on some far-tail points (its series needs too many terms), and below ~1e-15
    // the 40-digit complement 1 − I_y(b, a) has too few digits left: skip those.
    if (Number.isNaN(expected) || Math.abs(expected) < 1e-15) return;
    assertClose(regularizedIncompleteBeta(a, b, x), expected, 1e-12, 0, `I_${x}(${a}, ${b})`);
  });
});

// ---------------------------------------------------------------------------------------------
// Tmax

test('tmaxOf on hand-made curves', () => {
  const times = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
  // Single sharp peak: the peak's own time.
  assert.equal(tmaxOf([0, 0.1, 0.2, 1, 0.3, 0.1, 0, 0], times), 0.3);
  // Plateau: the mean of the plateau's times.
  assertClose(tmaxOf([0, 0.5, 1, 1, 1, 1, 0.5, 0], times), (0.2 + 0.3 + 0.4 + 0.5) / 4, 1e-15);
  // Samples at ≥ 95 % of the peak count, 94 % does not.
  assertClose(tmaxOf([0, 0.94, 1, 0.95, 0, 0, 0, 0], times), (0.2 + 0.3) / 2, 1e-15);
  // Two separate peaks above 0.95: averaged together (paper definition), Tmax falls between them.
  assertClose(tmaxOf([0, 1, 0.2, 0, 0, 0, 0.96, 0], times), (0.1 + 0.6) / 2, 1e-15);
  // All-negative curve: no meaningful normalisation, the time of the maximum (least negative).
  assert.equal(tmaxOf([-3, -2, -0.5, -1, -4, -4, -4, -4], times), 0.2);
  // Maximum exactly 0: also the time of the (first) maximum.
  assert.equal(tmaxOf([-1, 0, 0, -1, -1, -1, -1, -1], times), 0.1);
  // NaN samples are ignored; an all-NaN curve has no Tmax.
  assert.equal(tmaxOf([NaN, 0, 1, NaN, 0, 0, 0, 0], times), 0.2);
  assert.ok(Number.isNaN(tmaxOf(new Array(8).fill(NaN), times)));
  // Custom threshold.
  assertClose(tmaxOf([0, 0, 0.8, 1, 0.85, 0, 0, 0], times, 0.8), (0.2 + 0.3 + 0.4) / 3, 1e-15);
  assert.throws(() => tmaxOf([1, 2], times), RangeError);
  assert.throws(() => tmaxOf([1, 2], [0, 1], 1.5), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Temporal score on planted data

const T = 166;
const TIMES = Array.from({ length: T }, (_, i) => -2.5 + i / 30);
const DEPTHS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const L = DEPTHS.length;

/**
 * Synthetic R: per layer a Gaussian bump (σ = 0.15 s) on a floor, centred on the sample
 * `peakIndex[l]`, scaled so the peak is highest at depth 0.6 (as in the paper). In every layer the
 * ±1 samples sit at ≥ 98 % of the peak and the ±2 samples at ≤ 93.5 %, so the peak region is
 * exactly the 3 samples around the planted latency and Tmax equals it.
 */
function plantedR(peakIndex: readonly number[], noiseSd = 0, rng?: Rng): Float64Array {
  const R = new Float64Array(L * T);
  for (let l = 0; l < L; l++) {
    const lat = TIMES[peakIndex[l]];
    const amp = 0.2 - 0.15 * Math.abs(DEPTHS[l] - 0.6);
    for (let t = 0; t < T; t++) {
      const d = TIMES[t] - lat;
      R[l * T + t] = (0.05 + amp * Math.exp(-(d * d) / (2 * 0.15 * 0.15))) * (amp / 0.2) + (noiseSd > 0 && rng ? noiseSd * randomNormal(rng) : 0);
    }
  }
  return R;
}

/** Latencies rising linearly with depth: 0 s at depth 0.1, +1/6 s per layer (5 samples). */
const LINEAR_PEAKS = DEPTHS.map((_, l) => 75 + 5 * l);

test('temporalScore recovers planted latencies rising with depth', () => {
  const R = plantedR(LINEAR_PEAKS);
  const s = temporalScore(R, L, TIMES, DEPTHS);
  s.tmax.forEach((tm, l) => assertClose(tm, TIMES[LINEAR_PEAKS[l]], 0, 1e-12, `tmax of layer ${l}`));
  assert.ok(s.r > 0.99, `r = ${s.r}`);
  assertClose(s.r, 1, 1e-12);
  assert.equal(s.df, 7);
  assert.ok(s.p < 1e-9, `p = ${s.p}`);
  // Best layer at depth 0.6 (largest amplitude), peaking at its planted latency.
  assert.equal(s.bestLayer, 5);
  assertClose(s.peakTime, TIMES[LINEAR_PEAKS[5]], 0, 1e-12);
  assert.equal(s.alignmentScore, Math.max(...R));
  // A plain array gives the same result as the Float64Array.
  assert.deepEqual(temporalScore(Array.from(R), L, TIMES, DEPTHS), s);
});

test('temporalScore: irregular latencies match scipy.stats.pearsonr of Tmax vs depth', { skip: skipNoScipy }, () => {
  const peaks = [75, 84, 78, 96, 87, 105, 90, 99, 93];
  const s = temporalScore(plantedR(peaks), L, TIMES, DEPTHS);
  s.tmax.forEach((tm, l) => assertClose(tm, TIMES[peaks[l]], 0, 1e-12, `tmax of layer ${l}`));
  const [r, p] = (python('out = [F(v) for v in stats.pearsonr(data["tmax"], data["depths"])]', { tmax: s.tmax, depths: DEPTHS }) as string[]).map(num);
  assertClose(s.r, r, 0, 1e-13, 'r');
  assertClose(s.p, p, 1e-9, 0, 'p');
  assert.ok(s.r > 0.6 && s.r < 0.95, `r = ${s.r}`);
});

test('temporalScore: constant Tmax gives r and p NaN; size checks', () => {
  const s = temporalScore(plantedR(DEPTHS.map(() => 90)), L, TIMES, DEPTHS);
  assert.ok(Number.isNaN(s.r));
  assert.ok(Number.isNaN(s.p));
  assert.equal(s.bestLayer, 5);
  assert.throws(() => temporalScore(new Float64Array(10), L, TIMES, DEPTHS), RangeError);
  assert.throws(() => temporalScore(new Float64Array(L * T), L, TIMES, DEPTHS.slice(1)), RangeError);
  // All-NaN R: no alignment score.
  const nan = temporalScore(new Float64Array(L * T).fill(NaN), L, TIMES, DEPTHS);
  assert.ok(Number.isNaN(nan.alignmentScore) && Number.isNaN(nan.peakTime) && nan.bestLayer === -1 && Number.isNaN(nan.r));
});

// ---------------------------------------------------------------------------------------------
// Fold uncertainty: Tmax and temporal-score intervals, fold tests (calibration: test/uncertainty.test.ts)

const K = 5;
const T4 = 2.7764451051977934; // scipy.stats.t.ppf(0.975, 4)

/** Latencies rising with depth but not exactly linearly (r ≈ 0.99). */
const CI_PEAKS = [75, 78, 84, 86, 93, 95, 102, 103, 110];

/** Per-fold curves [fold][layer][time]: the planted R plus independent noise of sd `noiseSd[f]`. */
function plantedFolds(noiseSd: readonly number[], seed: number, peaks: readonly number[] = CI_PEAKS): Float64Array {
  const rng = mulberry32(seed);
  const out = new Float64Array(K * L * T);
  for (let f = 0; f < K; f++) out.set(plantedR(peaks, noiseSd[f], rng), f * L * T);
  return out;
}

/** Mean of the folds' curves (what the point estimate is computed from). */
function foldMean(foldR: Float64Array, skip = -1): Float64Array {
  const m = new Float64Array(L * T);
  const n = skip < 0 ? K : K - 1;
  for (let f = 0; f < K; f++) if (f !== skip) for (let i = 0; i < L * T; i++) m[i] += foldR[f * L * T + i] / n;
  return m;
}

const CLEAN_SD = [0.006, 0.006, 0.006, 0.006, 0.006];
const NOISY_SD = [0.006, 0.006, 0.08, 0.006, 0.006];

test('fold uncertainty: identical folds leave only the grid term, t(4)·Δ/√12 either side', () => {
  const one = plantedR(CI_PEAKS);
  const same = new Float64Array(K * L * T);
  for (let f = 0; f < K; f++) same.set(one, f * L * T);
  const u = foldUncertainty(same, K, L, TIMES, DEPTHS);
  const half = (T4 * (1 / 30)) / Math.sqrt(12);
  assertClose(u.tQuantile, T4, 1e-9);
  assertClose(u.resolutionSec, 1 / 30, 1e-12);
  u.tmax.estimate.forEach((tm, l) => {
    assertClose(tm, TIMES[CI_PEAKS[l]], 0, 1e-12, `estimate ${l}`);
    assertClose(u.tmax.se[l], 0, 0, 1e-12, `se ${l}`);
    assertClose(u.tmax.low[l], tm - half, 0, 1e-12, `low ${l}`);
    assertClose(u.tmax.high[l], tm + half, 0, 1e-12, `high ${l}`);
  });
  // The temporal score keeps only the resolution carried through r: positive width, estimate inside.
  const ts = u.temporalScore;
  assertClose(ts.seZ, 0, 0, 1e-9, 'seZ');
  assert.ok(ts.resolutionZ > 0);
  assert.ok(ts.low < ts.estimate && ts.estimate < ts.high && ts.high < 1, `[${ts.low}, ${ts.high}] around ${ts.estimate}`);
  // Without the grid term the interval collapses onto the estimate (what a pure resampling method gives).
  const bare = foldUncertainty(same, K, L, TIMES, DEPTHS, { resolutionSec: 0 });
  bare.tmax.low.forEach((lo, l) => assertClose(lo, bare.tmax.estimate[l], 0, 1e-12, `bare low ${l}`));
});

test('fold uncertainty: jackknife and per-fold standard errors match their formulas', () => {
  const foldR = plantedFolds(NOISY_SD, 7);
  const u = foldUncertainty(foldR, K, L, TIMES, DEPTHS);
  const all = temporalScore(foldMean(foldR), L, TIMES, DEPTHS);
  assert.deepEqual(u.tmax.estimate, all.tmax);
  assert.equal(u.temporalScore.estimate, all.r);
  for (let l = 0; l < L; l++) {
    const loo = Array.from({ length: K }, (_, k) => temporalScore(foldMean(foldR, k), L, TIMES, DEPTHS).tmax[l]);
    const own = Array.from({ length: K }, (_, k) => temporalScore(foldR.subarray(k * L * T, (k + 1) * L * T), L, TIMES, DEPTHS).tmax[l]);
    const m = loo.reduce((a, b) => a + b) / K;
    const jk = Math.sqrt(((K - 1) / K) * loo.reduce((a, b) => a + (b - m) ** 2, 0));
    const mo = own.reduce((a, b) => a + b) / K;
    const fo = Math.sqrt(own.reduce((a, b) => a + (b - mo) ** 2, 0) / (K - 1) / K);
    assertClose(u.tmax.seJackknife[l], jk, 1e-12, 1e-15, `jackknife se ${l}`);
    assertClose(u.tmax.seFolds[l], fo, 1e-12, 1e-15, `fold se ${l}`);
    assert.equal(u.tmax.se[l], u.tmax.seJackknife[l], 'the interval uses the jackknife by default');
    const half = T4 * Math.sqrt(u.tmax.se[l] ** 2 + (1 / 30) ** 2 / 12);
    assertClose(u.tmax.high[l] - u.tmax.low[l], 2 * half, 1e-9, 1e-12, `width ${l}`);
    assert.ok(u.tmax.low[l] <= u.tmax.estimate[l] && u.tmax.estimate[l] <= u.tmax.high[l]);
  }
  // The noisy fold moves every layer's per-fold Tmax more than the leave-one-out ones.
  assert.ok(u.tmax.seFolds.reduce((a, b) => a + b) > u.tmax.seJackknife.reduce((a, b) => a + b));
  assert.deepEqual(foldUncertainty(foldR, K, L, TIMES, DEPTHS, { tmaxSe: 'folds' }).tmax.se, u.tmax.seFolds);
  const pooled = foldUncertainty(foldR, K, L, TIMES, DEPTHS, { tmaxSe: 'pooled' }).tmax.se;
  pooled.forEach((v, l) => assertClose(v, Math.hypot(u.tmax.seJackknife[l], u.tmax.seFolds[l]) / Math.SQRT2, 1e-12, 1e-15, `pooled se ${l}`));
});

test('fold uncertainty: intervals widen with a noisy fold; the interval and the jackknife test agree', () => {
  const clean = foldUncertainty(plantedFolds(CLEAN_SD, 7), K, L, TIMES, DEPTHS);
  const noisy = foldUncertainty(plantedFolds(NOISY_SD, 7), K, L, TIMES, DEPTHS);
  const width = (u: typeof clean) => u.tmax.high.reduce((a, h, l) => a + h - u.tmax.low[l], 0);
  assert.ok(width(noisy) > 1.5 * width(clean), `widths ${width(clean)} → ${width(noisy)}`);
  for (const u of [clean, noisy]) {
    const ts = u.temporalScore;
    assert.ok(ts.low <= ts.estimate && ts.estimate <= ts.high && ts.low >= -1 && ts.high <= 1);
    // 0 outside the 95 % interval ⇔ jackknife p < 0.05 (same z, same standard uncertainty).
    assert.equal(ts.low > 0 || ts.high < 0, u.jackknifeTest.p < 0.05);
    assert.ok(u.jackknifeTest.p < 0.05 && u.foldTest.p < 0.05, `planted: p ${u.jackknifeTest.p}, ${u.foldTest.p}`);
    assert.equal(u.foldTest.df, K - 1);
  }
  // The folds' own Spearman ρ, t-tested.
  const rho = noisy.foldTest.foldScores;
  assert.equal(rho.length, K);
  const m = rho.reduce((a, b) => a + b) / K;
  const se = Math.sqrt(rho.reduce((a, b) => a + (b - m) ** 2, 0) / (K - 1) / K);
  assertClose(noisy.foldTest.t, m / se, 1e-12);
});

test('fold uncertainty: no ordering at all gives a null temporal score', () => {
  // Every layer peaks at the same time in every fold: Tmax is constant, r undefined, ρ = 0.
  const flat = plantedFolds(CLEAN_SD.map(() => 0), 1, DEPTHS.map(() => 90));
  const u = foldUncertainty(flat, K, L, TIMES, DEPTHS);
  assert.ok(Number.isNaN(u.temporalScore.estimate) && Number.isNaN(u.temporalScore.low) && Number.isNaN(u.jackknifeTest.p));
  assert.deepEqual(u.foldTest.foldScores, [0, 0, 0, 0, 0]);
  assert.equal(u.foldTest.p, 1);
  assert.throws(() => foldUncertainty(new Float64Array(3), K, L, TIMES, DEPTHS), RangeError);
  assert.throws(() => foldUncertainty(flat, K, L, TIMES, DEPTHS, { level: 1 }), RangeError);
  // One fold: no replicates, no interval.
  const one = foldUncertainty(plantedR(CI_PEAKS), 1, L, TIMES, DEPTHS);
  assert.ok(one.tmax.low.every(Number.isNaN) && Number.isNaN(one.temporalScore.low));
});

test('spearman and averageRanks as scipy (ties averaged)', () => {
  assert.deepEqual(averageRanks([0.3, 0.3, 0.5, 0.2, 0.9]), [2.5, 2.5, 4, 1, 5]);
  assertClose(spearman([1, 2, 2, 3], [1, 2, 3, 4]), 0.9486832980505139, 1e-14); // scipy.stats.spearmanr
  assertClose(spearman([0.3, 0.3, 0.5, 0.2, 0.9], [1, 2, 3, 4, 5]), 0.35909242322980395, 1e-14);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])) && Number.isNaN(spearman([1, NaN, 2], [1, 2, 3])));
});

test('ksUniform agrees with scipy.stats.kstest(x, "uniform")', () => {
  const three = ksUniform([0.1, 0.5, 0.9]);
  assertClose(three.statistic, 7 / 30, 1e-14);
  assertClose(three.p, 0.9857777777777778, 1e-12);
  const x50 = Array.from({ length: 50 }, (_, i) => ((i + 1) / 51) ** 1.5);
  assertClose(ksUniform(x50).statistic, 0.15717913384939514, 1e-12);
  assertClose(ksUniform(x50).p, 0.15171939495743392, 1e-9);
  const x400 = Array.from({ length: 400 }, (_, i) => ((i + 1) / 401) ** 1.2);
  assertClose(ksUniform(x400).statistic, 0.06799054133590221, 1e-12);
  assertClose(ksUniform(x400).p, 0.04725657262366667, 1e-5); // scipy uses an approximation here
  assert.equal(ksUniform([0.2, NaN]).n, 1);
  assert.throws(() => ksUniform([1.5]), RangeError);
});

test('mulberry32 is deterministic and uniform-looking', () => {
  const a = mulberry32(0);
  const b = mulberry32(0);
  const xs = Array.from({ length: 10000 }, () => a());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
});

test('plantedRecovery: Tmax against the planted latencies, null when nothing was planted', () => {
  const planted = [0.3, 0.35, 0.4, 0.45];
  const rec = plantedRecovery([0.3, 0.4, 0.4, 0.45], planted)!;
  assert.ok(Math.abs(rec.maxAbsErrorSec - 0.05) < 1e-12);
  assert.deepEqual(rec.errorsSec.map((e) => Math.round(e * 1000)), [0, 50, 0, 0]);
  assert.ok(Math.abs(rec.r! - pearson([0.3, 0.4, 0.4, 0.45], planted)) < 1e-15 && rec.r! > 0.9);
  assert.equal(plantedRecovery([0.3, 0.4, 0.4, 0.45], [NaN, NaN, NaN, NaN]), null, '--null');
  assert.equal(plantedRecovery([0.4, 0.4, 0.4, 0.4], planted)!.r, null, 'constant Tmax: r undefined');
  assert.equal(plantedRecovery([0.3], planted), null, 'lengths differ');
});

test('plantedRecovery: the permutation p of r counts the orderings at least as correlated', () => {
  // 4 layers: 24 orderings. [0.3, 0.4, 0.4, 0.45] against 0.30…0.45: the planted order and the one
  // swapping the two tied Tmax reach the same r; no other ordering does.
  const planted = [0.3, 0.35, 0.4, 0.45];
  assert.equal(plantedRecovery([0.3, 0.4, 0.4, 0.45], planted)!.pPermutation, 2 / 24);
  // 9 layers in the planted order: only the identity reaches r = 1 (1 of 9! orderings).
  const lat9 = Array.from({ length: 9 }, (_, l) => 0.3 + 0.04375 * l);
  assert.equal(plantedRecovery(lat9, lat9)!.pPermutation, 1 / 362880);
  // Reversed: every ordering is at least as correlated.
  assert.equal(plantedRecovery([...lat9].reverse(), lat9)!.pPermutation, 1);
  // Against a brute-force count over all orderings of 6 layers with ties.
  const t6 = [0.4, 0.3, 0.5, 0.5, 0.35, 0.6];
  const p6 = [0.31, 0.29, 0.44, 0.52, 0.4, 0.58];
  const r0 = pearson(t6, p6);
  let atLeast = 0;
  let total = 0;
  const walk = (rest: number[], acc: number[]) => {
    if (rest.length === 0) {
      total++;
      if (pearson(t6, acc) >= r0 - 1e-12) atLeast++;
      return;
    }
    rest.forEach((v, i) => walk([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, v]));
  };
  walk(p6, []);
  assert.equal(total, 720);
  assert.equal(plantedRecovery(t6, p6)!.pPermutation, atLeast / total);
  // More than 9 layers: sampled orderings, seeded (the same p every time), never 0.
  const lat12 = Array.from({ length: 12 }, (_, l) => 0.25 + 0.04 * l);
  const p12 = plantedRecovery(lat12, lat12)!.pPermutation!;
  assert.equal(p12, plantedRecovery(lat12, lat12)!.pPermutation);
  assert.ok(p12 > 0 && p12 < 1e-4, `p ${p12}`);
  assert.equal(plantedRecovery([0.4, 0.4, 0.4, 0.4], planted)!.pPermutation, null);
});
