/**
 * `notch`: causal IIR notch(es) against mains interference (scipy `iirnotch`), state kept across
 * chunks. Owns only the option defaults and harmonics; the filter is src/filters/butterworth.ts,
 * the chunk handling `sosFilter` in bandpass.ts.
 */
import type { OperatorFunction } from 'rxjs';
import { cascadeSos, groupDelaySec, notchSos } from '../src/filters/butterworth.js';
import type { SampleChunk } from '../src/types.js';
import { sosFilter, type FilterStart } from './bandpass.js';

export interface NotchOptions {
  /** Mains frequency, Hz, or several (harmonics: [50, 100, 150]). Default 50 (the paper's recordings, Netherlands). */
  freqHz?: number | number[];
  /** Quality factor: −3 dB width = freqHz / q. Default 30 (≈ 1.7 Hz at 50 Hz). */
  q?: number;
  /** 'steady' (default) or 'zero', as for bandpass. */
  start?: FilterStart;
}

function notchCascade(opts: NotchOptions, sfreqHz: number): Float64Array {
  const { freqHz = 50, q = 30 } = opts;
  const freqs = Array.isArray(freqHz) ? freqHz : [freqHz];
  if (freqs.length === 0) throw new RangeError('notch: freqHz is an empty list; give at least one frequency or leave the notch out');
  return cascadeSos(...freqs.map((f) => notchSos(f, q, sfreqHz)));
}

/**
 * Remove mains interference with a narrow causal notch (one second-order section per frequency).
 * Output is late by the notch's group delay, negligible below 20 Hz (≈ 0.1 ms at 5 Hz).
 *
 * @example
 *   meg$.pipe(notch({ freqHz: [50, 100], q: 30 }), bandpass())
 * @param opts freqHz (default 50), q (default 30), start (default 'steady')
 * @returns an operator from chunks to filtered chunks (same shape, new arrays)
 */
export function notch(opts: NotchOptions = {}): OperatorFunction<SampleChunk, SampleChunk> {
  return sosFilter('notch', (fs) => notchCascade(opts, fs), opts.start ?? 'steady');
}

/** Group delay of the notch cascade at `atHz` (default 5 Hz), seconds. */
export function notchDelaySec(opts: NotchOptions, sfreqHz: number, atHz = 5): number {
  return groupDelaySec(notchCascade(opts, sfreqHz), sfreqHz, atHz);
}
