/**
 * The one-sample Kolmogorov–Smirnov test against the uniform distribution on [0, 1]: are these
 * p-values what a calibrated test gives under its null? Used by the calibration benchmark and its
 * small version in the tests.
 *
 * Owns: the statistic and its p-value. Must not: know where the values come from.
 */

export interface KsResult {
  /** D = sup |F_n(x) − x|. */
  statistic: number;
  /** Two-sided p-value (exact distribution for n ≤ 1000 by Marsaglia–Tsang–Wang, else asymptotic). */
  p: number;
  n: number;
}

/**
 * @param values samples in [0, 1]; NaN values are left out (and counted out of n)
 * @returns D, its p-value and the number of values used
 * @throws RangeError when a value lies outside [0, 1] or none is left
 * @example ksUniform([0.1, 0.5, 0.9]).p // 0.99…
 */
export function ksUniform(values: readonly number[]): KsResult {
  const x = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const n = x.length;
  if (n === 0) throw new RangeError('KS test: no values');
  if (x[0] < 0 || x[n - 1] > 1) throw new RangeError(`KS test: values must lie in [0, 1], got ${x[0]} … ${x[n - 1]}`);
  let d = 0;
  for (let i = 0; i < n; i++) d = Math.max(d, (i + 1) / n - x[i], x[i] - i / n);
  return { statistic: d, p: n <= 1000 ? 1 - kolmogorovCdfExact(n, d) : kolmogorovSf(Math.sqrt(n) * d), n };
}

/** P(√n·D > λ) as n → ∞: 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}. */
function kolmogorovSf(lambda: number): number {
  if (lambda < 0.2) return 1;
  let s = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    s += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * s));
}

/**
 * P(D_n < d) exactly, by Marsaglia, Tsang & Wang (2003), "Evaluating Kolmogorov's distribution",
 * J. Stat. Softw. 8(18): the (n/n!)-scaled n-th power of a (2k−1)² matrix, with their exponent
 * bookkeeping against overflow. What scipy.stats.kstwo computes (to ~1e-14 for these n).
 */
function kolmogorovCdfExact(n: number, d: number): number {
  if (d <= 0) return 0;
  if (d >= 1) return 1;
  const k = Math.floor(n * d) + 1;
  const m = 2 * k - 1;
  const h = k - n * d;
  const H = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) H[i * m + j] = i - j + 1 < 0 ? 0 : 1;
  for (let i = 0; i < m; i++) {
    H[i * m] -= h ** (i + 1);
    H[(m - 1) * m + i] -= h ** (m - i);
  }
  H[(m - 1) * m] += 2 * h - 1 > 0 ? (2 * h - 1) ** m : 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i - j + 1 > 0) for (let g = 1; g <= i - j + 1; g++) H[i * m + j] /= g;
    }
  }
  const { matrix: Q, exponent } = matrixPower(H, m, n);
  let s = Q[(k - 1) * m + (k - 1)];
  let eQ = exponent;
  for (let i = 1; i <= n; i++) {
    s = (s * i) / n;
    if (s < 1e-140) {
      s *= 1e140;
      eQ -= 140;
    }
  }
  return s * 10 ** eQ;
}

/** A^n for an m×m matrix, scaled: returns (M, e) with A^n = M·10^e. */
function matrixPower(A: Float64Array, m: number, n: number): { matrix: Float64Array; exponent: number } {
  if (n === 1) return { matrix: A.slice(), exponent: 0 };
  const half = matrixPower(A, m, Math.floor(n / 2));
  let V = multiply(half.matrix, half.matrix, m);
  let e = 2 * half.exponent;
  if (n % 2 === 1) V = multiply(A, V, m);
  const centre = V[Math.floor(m / 2) * m + Math.floor(m / 2)];
  if (centre > 1e140) {
    for (let i = 0; i < m * m; i++) V[i] *= 1e-140;
    e += 140;
  }
  return { matrix: V, exponent: e };
}

function multiply(A: Float64Array, B: Float64Array, m: number): Float64Array {
  const C = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const a = A[i * m + k];
      if (a === 0) continue;
      for (let j = 0; j < m; j++) C[i * m + j] += a * B[k * m + j];
    }
  }
  return C;
}
