/**
 * The filter plan of the paper's preprocessing: from the options and the input rate, every design
 * the chain runs (mains notch, first-stage decimation FIR, band-pass sections, anti-alias FIR), the
 * rate each runs at, and each one's delay, built by one pure function. `preprocess()`
 * (streams/preprocess.ts) runs the plan's designs and `preprocessDelaySec` reports the plan's
 * delays, so the delay compensated in the epochs is that of the filters that ran.
 *
 * Owns: the option defaults, the choice of one or two stages, the designs and their delays.
 * Must not: hold filter state, know about chunks or RxJS, or do I/O.
 *
 * Two-stage resampling (default, `stages: 'two'`). Band-passing at 1200 Hz costs more than all the
 * rest (4 sections × 1200 samples/s × 273 channels), and it does not need that rate: only the final
 * 0–15 Hz survives the anti-alias filter. So the chain is picks → notch (full rate) → decimate to
 * an intermediate rate `midHz` (default 4 × toHz = 120 Hz) with a short FIR → band-pass 0.1–20 Hz at
 * `midHz` (20 Hz < its 60 Hz Nyquist) → the anti-alias FIR to `toHz`. The first FIR is flat to
 * toHz/2 (15 Hz) and ≥ 60 dB down from midHz − toHz/2 (105 Hz): whatever it lets alias lands at
 * 15–60 Hz, which the last FIR removes, so nothing folds into the analysed band above −60 dB, as in
 * the single-stage chain. The band-pass is the same Butterworth design (corners pre-warped at its
 * own rate), and the end-to-end response matches the single-stage chain to < 0.1 dB over 0.1–12 Hz
 * (test/streams.preprocess.test.ts); the cost falls ~8× (bench/preprocess.ts). `stages: 'single'`
 * keeps the original band-pass at the input rate followed by one FIR.
 *
 * Which frequency the delay is quoted at: the IIR filters' group delay depends on frequency (the
 * FIR's does not). We quote it at 5 Hz by default, the middle of the 1–12 Hz band that carries the
 * word-evoked responses the decoder reads; with the defaults at 1200 Hz the band-pass delay is
 * 31 ms at 2 Hz, 23 ms at 5 Hz, 24 ms at 10 Hz, 26 ms at 12 Hz: across 2–12 Hz it stays between 23
 * and 31 ms, i.e. within a quarter of a 33 ms sample at 30 Hz of the 5 Hz value. Slow drifts are
 * delayed more (63 ms at 1 Hz, 1.2 s at 0.2 Hz): causal high-passes cannot avoid that. Measured
 * end to end (test/streams.preprocess.test.ts), impulses through the whole chain peak within
 * ~5 ms of onset + the total delay.
 * Single stage at 1200 Hz: notch (if any) ≈ 0.1 ms + band-pass 23.1 ms + resample FIR 633.3 ms
 * = 0.6564 s without the notch; two stages (default): decimation FIR 25 ms + band-pass at 120 Hz
 * 21.4 ms + FIR 633.3 ms = 0.6797 s.
 */
import { butter, cascadeSos, groupDelaySec, notchSos } from './butterworth.js';
import { designResampler, type PolyphaseKernel, type ResamplerDesign, type ResamplerOptions } from './polyphase.js';

/** How a causal filter starts: from rest (scipy `sosfilt`) or as if the first sample had lasted forever. */
export type FilterStart = 'zero' | 'steady';

export interface BandpassOptions {
  /** Lower edge (−3 dB), Hz. Default 0.1 (paper). */
  lowHz?: number;
  /** Upper edge (−3 dB), Hz. Default 20 (paper). */
  highHz?: number;
  /** Butterworth prototype order: 4 gives 8 poles, 4 sections, 24 dB/octave at each edge. Default 4. */
  order?: number;
  /**
   * Default 'steady': each channel's state starts at the steady state for its first value
   * (scipy `sosfilt_zi` × x[0]), so a DC offset, huge in raw MEG next to the signal, does not ring
   * through the 0.1 Hz high-pass for tens of seconds. 'zero' reproduces scipy `sosfilt` exactly.
   */
  start?: FilterStart;
}

export interface NotchOptions {
  /** Mains frequency, Hz, or several (harmonics: [50, 100, 150]). Default 50 (the paper's recordings, Netherlands). */
  freqHz?: number | number[];
  /** Quality factor: −3 dB width = freqHz / q. Default 30 (≈ 1.7 Hz at 50 Hz). */
  q?: number;
  /** 'steady' (default) or 'zero', as for the band-pass. */
  start?: FilterStart;
}

export interface ResampleOptions extends Partial<Omit<ResamplerOptions, 'fromHz' | 'toHz'>> {
  /** Output rate, Hz; must be the input rate × up/down with small integers. Default 30 (paper). */
  toHz?: number;
  /**
   * Arithmetic of the FIR (src/filters/polyphase.ts): 'auto' (default) uses OpenBLAS dgemm when a
   * BLAS library loads, else JavaScript; 'blas' requires the library; 'js' never loads it. The
   * outputs agree to rounding; each is chunk-invariant bit for bit.
   */
  kernel?: PolyphaseKernel;
}

/** The filter options of the preprocessing (streams/preprocess.ts adds channel picks). */
export interface FilterOptions {
  /** Mains notch; default none (the 20 Hz band-pass already takes ≈ 32 dB off 50 Hz). */
  notch?: NotchOptions | false;
  /** Band-pass; default {} = the paper's 0.1–20 Hz, order 4. `false` skips it. */
  bandpass?: BandpassOptions | false;
  /** Output rate, Hz. Default 30 (paper). */
  toHz?: number;
  /** Anti-alias FIR options (passHz, stopHz, attenuationDb, alignDelay, kernel). */
  resample?: Omit<ResampleOptions, 'toHz'>;
  /**
   * 'two' (default): decimate to `midHz` first and band-pass there (see the file comment); 'single':
   * band-pass at the input rate, then one FIR. 'two' falls back to 'single' when the input rate is
   * not above `midHz`.
   */
  stages?: 'two' | 'single';
  /** Intermediate rate of the two-stage chain, Hz. Default 4 × toHz (120 Hz for the paper). */
  midHz?: number;
}

/** Butterworth band-pass sections for `sfreqHz`, with the paper's defaults (0.1–20 Hz, order 4). */
export function designBandpass(opts: BandpassOptions, sfreqHz: number): Float64Array {
  const { lowHz = 0.1, highHz = 20, order = 4 } = opts;
  return butter(order, [lowHz, highHz], 'bandpass', sfreqHz);
}

/** The notch cascade for `sfreqHz`: one `iirnotch` section per frequency (default 50 Hz, q 30). */
export function designNotch(opts: NotchOptions, sfreqHz: number): Float64Array {
  const { freqHz = 50, q = 30 } = opts;
  const freqs = Array.isArray(freqHz) ? freqHz : [freqHz];
  if (freqs.length === 0) throw new RangeError('notch: freqHz is an empty list; give at least one frequency or leave the notch out');
  return cascadeSos(...freqs.map((f) => notchSos(f, q, sfreqHz)));
}

/**
 * The anti-alias FIR from `fromHz` to `opts.toHz` (default 30), or undefined when the rates are
 * equal (the resampler then passes chunks through).
 */
export function designResample(opts: ResampleOptions, fromHz: number): ResamplerDesign | undefined {
  const toHz = opts.toHz ?? 30;
  return fromHz === toHz ? undefined : designResampler({ ...opts, fromHz, toHz });
}

/** An IIR step of the plan: its sections, the rate they were designed for, how they start. */
export interface SosStep {
  sfreqHz: number;
  /** `[section][b0 b1 b2 a0 a1 a2]`, row-major. */
  sos: Float64Array;
  start: FilterStart;
}

/** Each step's delay and the total, seconds, at `atHz`. */
export interface PreprocessDelays {
  atHz: number;
  notchSec: number;
  /** First-stage decimation FIR (0 for a single stage). */
  decimateSec: number;
  bandpassSec: number;
  resampleSec: number;
  totalSec: number;
}

/** What `preprocess(opts)` runs on a stream at `fromHz`, in order, and how late its output is. */
export interface PreprocessPlan {
  fromHz: number;
  toHz: number;
  stages: 'two' | 'single';
  /** The mains notch at fromHz (absent without `notch`). */
  notch?: SosStep;
  /** First-stage decimation FIR fromHz → midHz (two stages only). */
  decimate?: ResamplerDesign;
  /** Rate the band-pass runs at (and the final FIR's input rate). */
  bandpassHz: number;
  /** The band-pass at bandpassHz (absent with `bandpass: false`). */
  bandpass?: SosStep;
  /** The anti-alias FIR bandpassHz → toHz (absent when they are equal: chunks pass through). */
  resample?: ResamplerDesign;
  delays: PreprocessDelays;
}

/**
 * The plan of `preprocess(opts)` for input at `fromHz`, its delays quoted at `atHz` (default 5 Hz,
 * see the file comment).
 * @example
 *   const plan = preprocessPlan({}, 1200);
 *   // plan.stages 'two', plan.bandpassHz 120, plan.decimate: 1200 → 120 Hz, 61 taps (pass 15 Hz, stop 105 Hz),
 *   // plan.resample: 120 → 30 Hz, plan.delays.totalSec ≈ 0.6797
 * @throws RangeError when an option does not fit the rate (e.g. a notch above the Nyquist frequency)
 */
export function preprocessPlan(opts: FilterOptions, fromHz: number, atHz = 5): PreprocessPlan {
  const toHz = opts.toHz ?? 30;
  const final: ResampleOptions = { ...opts.resample, toHz };
  const midHz = opts.midHz ?? 4 * toHz;
  const highHz = opts.bandpass === false ? 0 : (opts.bandpass?.highHz ?? 20);
  const stages = (opts.stages ?? 'two') === 'two' && fromHz > midHz && midHz > 2 * toHz && highHz < midHz / 2 ? 'two' : 'single';
  const bandpassHz = stages === 'two' ? midHz : fromHz;

  // Designed in the order the chain runs them, so the first bad option is the one reported.
  const notch: SosStep | undefined = opts.notch ? { sfreqHz: fromHz, sos: designNotch(opts.notch, fromHz), start: opts.notch.start ?? 'steady' } : undefined;
  const decimate =
    stages === 'two'
      // Flat over the output band; stop where aliases would land back in it.
      ? designResample({ attenuationDb: opts.resample?.attenuationDb, toHz: midHz, passHz: toHz / 2, stopHz: midHz - toHz / 2 }, fromHz)
      : undefined;
  const bandpass: SosStep | undefined =
    opts.bandpass === false ? undefined : { sfreqHz: bandpassHz, sos: designBandpass(opts.bandpass ?? {}, bandpassHz), start: opts.bandpass?.start ?? 'steady' };
  const resample = designResample(final, bandpassHz);

  const notchSec = notch ? groupDelaySec(notch.sos, notch.sfreqHz, atHz) : 0;
  const decimateSec = decimate ? decimate.delaySec : 0;
  const bandpassSec = bandpass ? groupDelaySec(bandpass.sos, bandpass.sfreqHz, atHz) : 0;
  const resampleSec = resample ? resample.delaySec : 0;
  return {
    fromHz, toHz, stages, notch, decimate, bandpassHz, bandpass, resample,
    delays: { atHz, notchSec, decimateSec, bandpassSec, resampleSec, totalSec: notchSec + decimateSec + bandpassSec + resampleSec },
  };
}
