/**
 * `preprocess`: the paper's MEG preprocessing as one operator (optional channel picks → optional
 * mains notch → band-pass → anti-aliased resample), and `preprocessDelaySec`, the total delay its
 * causal filters add, to hand to `epochs({ delaySec })`.
 *
 * Owns: the order of the steps and the delay bookkeeping. Must not: add steps of its own.
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
import type { OperatorFunction } from 'rxjs';
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
  /** Anti-alias FIR options (passHz, stopHz, attenuationDb, alignDelay). */
  resample?: Omit<ResampleOptions, 'toHz'>;
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
  const steps: OperatorFunction<SampleChunk, SampleChunk>[] = [];
  if (opts.picks) steps.push(pickChannels(opts.picks));
  if (opts.notch) steps.push(notch(opts.notch));
  if (opts.bandpass !== false) steps.push(bandpass(opts.bandpass ?? {}));
  steps.push(resample({ ...opts.resample, toHz: opts.toHz ?? 30 }));
  return (source) => steps.reduce((s, op) => s.pipe(op), source);
}

/** Each step's delay and the total, seconds, at `atHz`. */
export interface PreprocessDelays {
  atHz: number;
  notchSec: number;
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
  const notchSec = opts.notch ? notchDelaySec(opts.notch, fromHz, atHz) : 0;
  const bandpassSec = opts.bandpass === false ? 0 : bandpassDelaySec(opts.bandpass ?? {}, fromHz, atHz);
  const resampleSec = resampleDelaySec(fromHz, { ...opts.resample, toHz: opts.toHz ?? 30 });
  return { atHz, notchSec, bandpassSec, resampleSec, totalSec: notchSec + bandpassSec + resampleSec };
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
