/**
 * LSL's clock and number formatting: `localClock()` is liblsl's `lsl_local_clock()`
 * (steady_clock = CLOCK_MONOTONIC on Linux, seconds), and `formatLslDouble` writes doubles the way
 * liblsl does in stream info XML and time-sync replies (C's `%#.16g`).
 *
 * Owns: the clock source of every timestamp this library produces. Must not: de-jitter or correct
 * timestamps (the inlet and consumers decide that).
 */

/** Seconds on the monotonic clock, as liblsl's `lsl_local_clock()` on the same machine. */
export function localClock(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** C's `printf("%#.16g", v)`: 16 significant digits, decimal point always shown, exponent for < 1e-4 or ≥ 1e16. */
export function formatLslDouble(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.000000000000000' : '0.000000000000000';
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(16)))));
  if (exp < -4 || exp >= 16) {
    const [mant, e] = v.toExponential(15).split('e');
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = v.toPrecision(16);
  return s.includes('.') ? s : `${s}.`;
}

/**
 * C++ `ostream << setprecision(16)` (C's `%.16g`): 16 significant digits without trailing zeros,
 * as liblsl prints numbers in `LSL:timedata` probes and replies (`427.196661306`).
 */
export function formatLslTime(v: number): string {
  if (!Number.isFinite(v)) return formatLslDouble(v);
  const full = formatLslDouble(v);
  const [mant, exp] = full.split('e');
  const trimmed = mant!.includes('.') ? mant!.replace(/0+$/, '').replace(/\.$/, '') : mant!;
  return exp === undefined ? trimmed : `${trimmed}e${exp}`;
}
