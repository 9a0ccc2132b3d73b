/**
 * `preprocess`: the paper's MEG preprocessing as one operator (optional channel picks → optional
 * mains notch → band-pass → anti-aliased resample), and `preprocessDelaySec`, the total delay its
 * causal filters add, to hand to `epochs({ delaySec })`.
 *
 * Owns: the order of the steps and the delay bookkeeping. Must not: add steps of its own.
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
 * ~5 ms of onset + preprocessDelaySec.
 * Defaults at 1200 Hz: notch (if any) ≈ 0.1 ms + band-pass 23.1 ms + resample FIR 633.3 ms
 * = 0.6564 s without the notch.
 */
import { Observable, Subject, Subscription, type OperatorFunction } from 'rxjs';
import type { SampleChunk } from '../src/types.js';
import { bandpass, bandpassDelaySec, type BandpassOptions } from './bandpass.js';
import { notch, notchDelaySec, type NotchOptions } from './notch.js';
import { pickChannels } from './pickChannels.js';
import { resample, resampleDelaySec, type ResampleOptions } from './resample.js';

export interface PreprocessOptions {
  /** Channels to keep, first (fewer channels to filter). Default: all. */
  picks?: number[];
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

/** How `preprocess(opts)` runs on a stream at `fromHz`: which rate the band-pass sees, and each FIR's options. */
export interface PreprocessPlan {
  stages: 'two' | 'single';
  /** Rate the band-pass runs at. */
  bandpassHz: number;
  /** First-stage decimation (two stages only). */
  decimate?: ResampleOptions & { toHz: number };
  final: ResampleOptions & { toHz: number };
}

/**
 * The plan `preprocess(opts)` follows for input at `fromHz`.
 * @example
 *   preprocessPlan({}, 1200); // { stages: 'two', bandpassHz: 120, decimate: { toHz: 120, passHz: 15, stopHz: 105 }, final: { toHz: 30 } }
 */
export function preprocessPlan(opts: PreprocessOptions, fromHz: number): PreprocessPlan {
  const toHz = opts.toHz ?? 30;
  const final = { ...opts.resample, toHz };
  const midHz = opts.midHz ?? 4 * toHz;
  const highHz = opts.bandpass === false ? 0 : (opts.bandpass?.highHz ?? 20);
  const two = (opts.stages ?? 'two') === 'two' && fromHz > midHz && midHz > 2 * toHz && highHz < midHz / 2;
  if (!two) return { stages: 'single', bandpassHz: fromHz, final };
  return {
    stages: 'two',
    bandpassHz: midHz,
    // Flat over the output band; stop where aliases would land back in it.
    decimate: { kernel: opts.resample?.kernel, attenuationDb: opts.resample?.attenuationDb, toHz: midHz, passHz: toHz / 2, stopHz: midHz - toHz / 2 },
    final,
  };
}

/**
 * The paper's preprocessing as one causal operator; output chunks are at `toHz`, late by
 * `preprocessDelaySec(opts, fromHz)`.
 *
 * @example
 *   const opts = { bandpass: { lowHz: 0.1, highHz: 20 }, notch: { freqHz: 50 }, toHz: 30 };
 *   meg$.pipe(preprocess(opts), epochs(words$, { delaySec: preprocessDelaySec(opts, 1200) }))
 * @returns an operator from raw chunks to preprocessed chunks
 */
export function preprocess(opts: PreprocessOptions = {}): OperatorFunction<SampleChunk, SampleChunk> {
  return (source) =>
    // The plan depends on the input rate, known at the first chunk.
    source.pipe(
      connectOnFirst((first) => {
        const plan = preprocessPlan(opts, first.sfreqHz);
        const steps: OperatorFunction<SampleChunk, SampleChunk>[] = [];
        if (opts.picks) steps.push(pickChannels(opts.picks));
        if (opts.notch) steps.push(notch(opts.notch));
        if (plan.decimate) steps.push(resample(plan.decimate));
        if (opts.bandpass !== false) steps.push(bandpass(opts.bandpass ?? {}));
        steps.push(resample(plan.final));
        return steps;
      }),
    );
}

/** Builds the step list from the first chunk, then runs every chunk (that one included) through it. */
function connectOnFirst(make: (first: SampleChunk) => OperatorFunction<SampleChunk, SampleChunk>[]): OperatorFunction<SampleChunk, SampleChunk> {
  return (source) =>
    new Observable<SampleChunk>((subscriber) => {
      let input: Subject<SampleChunk> | undefined;
      const sub = new Subscription();
      sub.add(
        source.subscribe({
          next: (chunk) => {
            if (!input) {
              let steps: OperatorFunction<SampleChunk, SampleChunk>[];
              try {
                steps = make(chunk);
              } catch (e) {
                subscriber.error(e);
                return;
              }
              input = new Subject<SampleChunk>();
              sub.add(steps.reduce((s: Observable<SampleChunk>, op) => s.pipe(op), input).subscribe(subscriber));
            }
            input.next(chunk);
          },
          error: (e) => (input ? input.error(e) : subscriber.error(e)),
          complete: () => (input ? input.complete() : subscriber.complete()),
        }),
      );
      return sub;
    });
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

/**
 * Delay of every step of `preprocess(opts)` on a stream at `fromHz`.
 * @example
 *   preprocessDelays({}, 1200); // { notchSec: 0, bandpassSec: 0.0231, resampleSec: 0.6333, totalSec: 0.6564, atHz: 5 }
 */
export function preprocessDelays(opts: PreprocessOptions, fromHz: number, atHz = 5): PreprocessDelays {
  const plan = preprocessPlan(opts, fromHz);
  const notchSec = opts.notch ? notchDelaySec(opts.notch, fromHz, atHz) : 0;
  const decimateSec = plan.decimate ? resampleDelaySec(fromHz, plan.decimate) : 0;
  const bandpassSec = opts.bandpass === false ? 0 : bandpassDelaySec(opts.bandpass ?? {}, plan.bandpassHz, atHz);
  const resampleSec = resampleDelaySec(plan.bandpassHz, plan.final);
  return { atHz, notchSec, decimateSec, bandpassSec, resampleSec, totalSec: notchSec + decimateSec + bandpassSec + resampleSec };
}

/**
 * Total delay of `preprocess(opts)` at `atHz` (default 5 Hz, see the file comment), seconds: the
 * `delaySec` for `epochs`.
 * @example
 *   preprocessDelaySec({}, 1200); // ≈ 0.6564
 */
export function preprocessDelaySec(opts: PreprocessOptions, fromHz: number, atHz = 5): number {
  return preprocessDelays(opts, fromHz, atHz).totalSec;
}
