/**
 * Student's t-distribution (CDF, survival, two-sided p, quantile) and the Pearson-r p-value that
 * rests on it, plus the special functions they need: log-gamma, log-beta and the regularized
 * incomplete beta function (the Numerical Recipes expansion, evaluated as in ACM TOMS 708).
 *
 * Written here rather than pulled from a package so that the temporal score's p-value is exactly
 * the textbook one, with no dependency. test/scores.test.ts checks it against scipy.stats (t.cdf,
 * t.sf, pearsonr agree to ~1e-12; t.ppf, which SciPy 1.10 computes only to ~2e-9, by round trip
 * through SciPy's CDF) and against mpmath where SciPy is not accurate. The front factor
 * x^a·y^b/B(a,b) is formed in log space from logs the callers compute without overflow, so
 * t-tails stay right out to |t| ~ 1e300 (df = 1: P(T > 1e200) = 3.2e-201, not 0).
 */

/** ½·ln(2π). */
const HALF_LN_2PI = 0.91893853320467274178;

/**
 * Stirling-series remainder: lnΓ(x) − [(x−½)ln x − x + ½ln 2π], for x ≥ 10.
 * Terms B₂ₖ / (2k(2k−1)x^{2k−1}) up to k = 8; the first omitted term is < 2e-18 at x = 10.
 */
function stirlingCorrection(x: number): number {
  const x2 = 1 / (x * x);
  // Horner in 1/x², coefficients B₂ₖ/(2k(2k−1)).
  const s =
    1 / 12 +
    x2 * (-1 / 360 + x2 * (1 / 1260 + x2 * (-1 / 1680 + x2 * (1 / 1188 + x2 * (-691 / 360360 + x2 * (1 / 156 + x2 * (-3617 / 122400)))))));
  return s / x;
}

/**
 * Natural log of the gamma function for x > 0.
 *
 * For x ≥ 10 the Stirling series with eight correction terms (error < 1e-17 relative to the
 * series' leading part); below 10 the recurrence Γ(x) = Γ(x+k)/(x(x+1)…(x+k−1)) shifts the
 * argument up first, which keeps the absolute error at a few ulp of the result everywhere.
 *
 * @param x argument, > 0
 * @returns ln Γ(x); NaN for x ≤ 0 or NaN; +Infinity for x = +Infinity
 */
export function logGamma(x: number): number {
  if (!(x > 0)) return NaN;
  if (x === Infinity) return Infinity;
  if (x >= 10) return (x - 0.5) * Math.log(x) - x + HALF_LN_2PI + stirlingCorrection(x);
  let prod = 1;
  let z = x;
  while (z < 10) {
    prod *= z;
    z += 1;
  }
  return (z - 0.5) * Math.log(z) - z + HALF_LN_2PI + stirlingCorrection(z) - Math.log(prod);
}

/**
 * Natural log of the beta function B(a, b) = Γ(a)Γ(b)/Γ(a+b).
 *
 * The naive lnΓ(a) + lnΓ(b) − lnΓ(a+b) cancels catastrophically when one argument is large (the
 * t-distribution with df = 1000 needs B(500, ½): three terms of size ~2600 for a result of ~−2.5).
 * So when the larger argument is ≥ 10 the Stirling forms are combined algebraically first, leaving
 * only well-conditioned terms (log1p of a small ratio).
 *
 * @param a first argument, > 0
 * @param b second argument, > 0
 * @returns ln B(a, b); NaN for non-positive arguments
 */
export function logBeta(a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) return NaN;
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (big < 10) return logGamma(a) + logGamma(b) - logGamma(a + b);
  const s = big + small;
  if (small < 10) {
    // lnΓ(big) − lnΓ(big+small) = −(big−½)·log1p(small/big) − small·ln(s) + small + cor(big) − cor(s)
    return (
      logGamma(small) -
      (big - 0.5) * Math.log1p(small / big) -
      small * Math.log(s) +
      small +
      stirlingCorrection(big) -
      stirlingCorrection(s)
    );
  }
  // Both ≥ 10: ½ln2π − ½ln s + (big−½)ln(big/s) + (small−½)ln(small/s) + corrections, with
  // ln(big/s) = −log1p(small/big): big/s is near 1 when small ≪ big, and ln of a rounded number
  // near 1, multiplied by big, would cost ~big·1e-16 in absolute error.
  return (
    HALF_LN_2PI -
    0.5 * Math.log(s) -
    (big - 0.5) * Math.log1p(small / big) +
    (small - 0.5) * Math.log(small / s) +
    stirlingCorrection(big) +
    stirlingCorrection(small) -
    stirlingCorrection(s)
  );
}

/** Relative convergence target of the continued fraction (TOMS 708 uses max(ε, 1e-15)). */
const CF_EPS = 1e-15;
/** Iteration cap; convergence takes O(√max(a,b)) steps at worst, a few dozen in practice. */
const CF_MAX_ITER = 100000;

/**
 * The continued fraction for I_x(a, b) in DiDonato & Morris's arrangement (ACM TOMS 708 `bfrac`):
 * returns r with I_x(a, b) = x^a y^b / B(a, b) · r, valid for λ = a − (a+b)x ≥ 0.
 *
 * Preferred over Numerical Recipes' modified-Lentz `betacf` (same expansion, different
 * evaluation) because NR's first denominators are 1 − (a+b)x/(a+1) and 1 + aa·d with aa ≈ −1,
 * which cancel catastrophically when a is large and x close to 1: the t-distribution with
 * df = 1e8 lost 9 digits that way. Here λ enters precomputed from y (no cancellation) and the
 * three-term recurrence is rescaled every step.
 */
function betaContinuedFraction(a: number, b: number, x: number, y: number, lambda: number): number {
  const c = lambda + 1;
  const c0 = b / a;
  const c1 = 1 / a + 1;
  const yp1 = y + 1;
  let p = 1;
  let s = a + 1;
  let an = 0;
  let bn = 1;
  let anp1 = 1;
  let bnp1 = c / c1;
  let r = c1 / c;
  for (let n = 1; n <= CF_MAX_ITER; n++) {
    let t = n / a;
    const w = n * (b - n) * x;
    let e = a / s;
    const alpha = p * (p + c0) * e * e * (w * x);
    e = (t + 1) / (c1 + t + t);
    const beta = n + w / s + e * (c + n * yp1);
    p = t + 1;
    s += 2;
    // Three-term recurrence for numerator and denominator.
    t = alpha * an + beta * anp1;
    an = anp1;
    anp1 = t;
    t = alpha * bn + beta * bnp1;
    bn = bnp1;
    bnp1 = t;
    const r0 = r;
    r = anp1 / bnp1;
    if (Math.abs(r - r0) <= CF_EPS * r) break;
    // Rescale so the recurrence never overflows.
    an /= bnp1;
    bn /= bnp1;
    anp1 = r;
    bnp1 = 1;
  }
  return r;
}

/**
 * I_x(a, b) from x, y = 1 − x and their logs, each supplied by the caller in the most accurate
 * form it has (y and ln x without cancellation or underflow). This is what lets the t tails go
 * below the double range of x itself.
 */
function incompleteBetaCore(a: number, b: number, x: number, y: number, lnx: number, lny: number): number {
  if (lnx === -Infinity) return 0;
  if (lny === -Infinity) return 1;
  const front = Math.exp(a * lnx + b * lny - logBeta(a, b));
  // λ = a − (a+b)x, formed from y when a > b so that x ≈ 1 does not cancel.
  const lambda = a > b ? (a + b) * y - b : a - (a + b) * x;
  // The expansion converges fast below the mean a/(a+b); above it use I_x(a,b) = 1 − I_y(b,a),
  // whose λ is −λ.
  if (lambda >= 0) return front * betaContinuedFraction(a, b, x, y, lambda);
  return 1 - front * betaContinuedFraction(b, a, y, x, -lambda);
}

/**
 * Regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b).
 *
 * @param a first shape, > 0
 * @param b second shape, > 0
 * @param x point in [0, 1]
 * @returns I_x(a, b) in [0, 1]; NaN for invalid arguments
 */
export function regularizedIncompleteBeta(a: number, b: number, x: number): number {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) return NaN;
  return incompleteBetaCore(a, b, x, 1 - x, Math.log(x), Math.log1p(-x));
}

/**
 * x = df/(df+t²) and y = t²/(df+t²) with their logs, computed without overflow of t² (|t| up to
 * the double maximum) and without cancellation in y for small t.
 */
function tBetaArgs(t: number, df: number): { x: number; y: number; lnx: number; lny: number } {
  const at = Math.abs(t);
  if (at <= Math.sqrt(df)) {
    const ratio = (at * at) / df; // t²/df ≤ 1
    const l = Math.log1p(ratio);
    return { x: 1 / (1 + ratio), y: ratio / (1 + ratio), lnx: -l, lny: at === 0 ? -Infinity : 2 * Math.log(at) - Math.log(df) - l };
  }
  const u = df / at / at; // df/t² < 1, formed without squaring t
  const l = Math.log1p(u);
  return { x: u / (1 + u), y: 1 / (1 + u), lnx: at === Infinity ? -Infinity : Math.log(df) - 2 * Math.log(at) - l, lny: -l };
}

/** P(|T| ≥ |t|) for valid arguments = I_{df/(df+t²)}(df/2, ½). */
function twoSidedTail(t: number, df: number): number {
  const { x, y, lnx, lny } = tBetaArgs(t, df);
  return Math.min(1, incompleteBetaCore(df / 2, 0.5, x, y, lnx, lny));
}

function validArgs(t: number, df: number): boolean {
  // Infinite df (the normal limit) is not supported: return NaN rather than a wrong number.
  return !Number.isNaN(t) && df > 0 && Number.isFinite(df);
}

/**
 * Probability density of Student's t.
 *
 * @param t point
 * @param df degrees of freedom, finite and > 0 (need not be an integer)
 * @returns f(t); NaN for invalid arguments
 */
export function studentTPdf(t: number, df: number): number {
  if (!validArgs(t, df)) return NaN;
  const at = Math.abs(t);
  // ln(1 + t²/df), split so t² never overflows.
  const l = at <= Math.sqrt(df) ? Math.log1p((at * at) / df) : 2 * Math.log(at) - Math.log(df) + Math.log1p(df / at / at);
  return Math.exp(-logBeta(df / 2, 0.5) - 0.5 * Math.log(df) - ((df + 1) / 2) * l);
}

/**
 * Cumulative distribution function of Student's t, P(T ≤ t).
 *
 * @param t point (±Infinity allowed)
 * @param df degrees of freedom, finite and > 0 (need not be an integer)
 * @returns P(T ≤ t); accurate to ~1e-13 relative in the lower tail; NaN for invalid arguments
 */
export function studentTCdf(t: number, df: number): number {
  if (!validArgs(t, df)) return NaN;
  const half = 0.5 * twoSidedTail(t, df);
  return t < 0 ? half : 1 - half;
}

/**
 * Survival function of Student's t, P(T > t) = studentTCdf(−t, df), with full relative accuracy
 * in the upper tail (where 1 − cdf would round to 0).
 *
 * @param t point (±Infinity allowed)
 * @param df degrees of freedom, finite and > 0
 * @returns P(T > t); NaN for invalid arguments
 */
export function studentTSf(t: number, df: number): number {
  return studentTCdf(-t, df);
}

/**
 * Two-sided p-value of a t statistic, P(|T| ≥ |t|).
 *
 * @param t the statistic
 * @param df degrees of freedom, finite and > 0
 * @returns p in [0, 1]; NaN for invalid arguments (including df ≤ 0, e.g. fewer than 3 layers)
 */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!validArgs(t, df)) return NaN;
  return twoSidedTail(t, df);
}

/**
 * Quantile (inverse CDF) of Student's t: the t with P(T ≤ t) = p.
 *
 * Works on the smaller tail q = min(p, 1−p) (1 − p is exact for p ≥ ½), brackets the root by
 * doubling, then runs Newton on ln sf(t) − ln q (nearly linear in the tails, so a few steps
 * suffice) with bisection whenever a step leaves the bracket.
 *
 * @param p probability in [0, 1]
 * @param df degrees of freedom, finite and > 0
 * @returns t (±Infinity at p = 0 or 1); NaN for invalid arguments
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p >= 0 && p <= 1) || !validArgs(0, df)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  const sign = p < 0.5 ? -1 : 1;
  const q = p < 0.5 ? p : 1 - p; // upper-tail target, < ½
  const sf = (t: number): number => 0.5 * twoSidedTail(t, df); // P(T > t) for t ≥ 0
  const lnq = Math.log(q);
  let lo = 0; // sf(lo) > q
  let hi = 1;
  while (sf(hi) > q) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return sign * Infinity;
  }
  // sf(lo) > q ≥ sf(hi). Start Newton from the bracket end nearer in log-probability.
  let t = hi;
  for (let iter = 0; iter < 500; iter++) {
    const s = sf(t);
    if (s === q) break;
    if (s > q) lo = t;
    else hi = t;
    let next = NaN;
    if (s > 0) {
      const f = studentTPdf(t, df);
      // d ln sf / dt = −f/s, so the Newton step on ln sf − ln q is (ln s − ln q)·s/f.
      if (f > 0) next = t + ((Math.log(s) - lnq) * s) / f;
    }
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const done = Math.abs(next - t) <= 1e-15 * Math.abs(next) || hi - lo <= 1e-15 * hi;
    t = next;
    if (done) break;
  }
  return sign * t;
}

/**
 * Two-sided p-value of a Pearson correlation r over n pairs (H₀: ρ = 0), as scipy.stats.pearsonr:
 * t = r·√((n−2)/(1−r²)) with df = n − 2.
 *
 * Evaluated without forming t: df/(df+t²) is exactly 1 − r² = (1−r)(1+r), which keeps full
 * accuracy as |r| → 1.
 *
 * @param r correlation coefficient; |r| ≥ 1 (rounding included) gives p = 0
 * @param n number of pairs; must be > 2
 * @returns p in [0, 1]; NaN when r is NaN or n ≤ 2 (no degrees of freedom)
 */
export function pearsonPValue(r: number, n: number): number {
  if (Number.isNaN(r) || !(n > 2) || !Number.isFinite(n)) return NaN;
  const ar = Math.abs(r);
  if (ar >= 1) return 0;
  const df = n - 2;
  const x = (1 - ar) * (1 + ar);
  const lnx = Math.log1p(-ar) + Math.log1p(ar);
  const lny = ar === 0 ? -Infinity : 2 * Math.log(ar);
  return Math.min(1, incompleteBetaCore(df / 2, 0.5, x, ar * ar, lnx, lny));
}
