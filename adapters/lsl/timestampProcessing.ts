/**
 * Optional inlet post-processing of timestamps, liblsl's `processing_flags` (doc §10): local only,
 * nothing on the wire.
 *  - clocksync: add the latest time correction (sender clock → local clock).
 *  - dejitter: replace each timestamp by a recursive-least-squares line t ≈ w0 + w1·n over the
 *    sample count n, with exponential forgetting (half-life `halftimeSec`, liblsl's
 *    SmoothingHalftime = 90 s), i.e. the weighted least-squares fit with weights λ^(N−n),
 *    λ = 2^(−1/(srate·halftime)). Regular streams only.
 *  - monotonize: never let a timestamp go below the previous one.
 * Order: clocksync, dejitter, monotonize (as liblsl). `reset()` after a recovery (new outlet or gap).
 *
 * Owns: the RLS state. Must not: touch samples or sockets.
 */

export interface ProcessingFlags {
  clocksync?: boolean;
  dejitter?: boolean;
  monotonize?: boolean;
  /** Dejitter half-life, seconds (90). */
  halftimeSec?: number;
}

export class TimestampProcessor {
  private n = 0;
  private t0 = 0;
  private w0 = 0;
  private w1 = 0;
  private p00 = 0;
  private p01 = 0;
  private p11 = 0;
  private lambda = 1;
  private last = -Infinity;

  constructor(
    readonly flags: ProcessingFlags,
    readonly nominalSrate: number,
  ) {
    this.reset();
  }

  get active(): boolean {
    return Boolean(this.flags.clocksync || this.flags.dejitter || this.flags.monotonize);
  }

  reset(): void {
    this.n = 0;
    this.last = -Infinity;
    const half = this.flags.halftimeSec ?? 90;
    this.lambda = this.nominalSrate > 0 ? Math.pow(2, -1 / (this.nominalSrate * half)) : 1;
    // A weak prior (P = 1e10·I): the fit is the weighted least-squares line from the first samples on.
    this.w0 = 0;
    this.w1 = this.nominalSrate > 0 ? 1 / this.nominalSrate : 0;
    this.p00 = 1e10;
    this.p01 = 0;
    this.p11 = 1e10;
  }

  /** Processes timestamps in place. `timeCorrection` is used with clocksync (null = not known yet: 0). */
  process(ts: Float64Array, timeCorrection: number | null): void {
    const f = this.flags;
    for (let i = 0; i < ts.length; i++) {
      let t = ts[i]!;
      if (f.clocksync) t += timeCorrection ?? 0;
      if (f.dejitter && this.nominalSrate > 0) t = this.dejitter(t);
      if (f.monotonize) {
        if (t < this.last) t = this.last;
        this.last = t;
      }
      ts[i] = t;
    }
  }

  private dejitter(t: number): number {
    if (this.n === 0) this.t0 = t;
    const y = t - this.t0; // baseline removed for numerical accuracy
    const x = this.n++;
    // RLS with forgetting: u = [1, x]; k = P·u / (λ + uᵀ·P·u); w += k·(y − wᵀu); P = (P − k·(P·u)ᵀ)/λ.
    const pu0 = this.p00 + this.p01 * x;
    const pu1 = this.p01 + this.p11 * x;
    const denom = this.lambda + pu0 + pu1 * x;
    const k0 = pu0 / denom;
    const k1 = pu1 / denom;
    const e = y - (this.w0 + this.w1 * x);
    this.w0 += k0 * e;
    this.w1 += k1 * e;
    const l = this.lambda;
    this.p00 = (this.p00 - k0 * pu0) / l;
    this.p01 = (this.p01 - k0 * pu1) / l;
    this.p11 = (this.p11 - k1 * pu1) / l;
    return this.w0 + this.w1 * x + this.t0;
  }
}
