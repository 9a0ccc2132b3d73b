/**
 * `notch`: causal IIR notch(es) against mains interference (scipy `iirnotch`), state kept across
 * chunks. Owns nothing but the wiring: the design and its defaults are
 * src/filters/preprocessPlan.ts (`designNotch`), the chunk handling `sosFilter`.
 */
import type { OperatorFunction } from 'rxjs';
import { groupDelaySec } from '../src/filters/butterworth.js';
import { designNotch, type NotchOptions } from '../src/filters/preprocessPlan.js';
import type { SampleChunk } from '../src/types.js';
import { sosFilter } from './sosFilter.js';

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
  return sosFilter('notch', (fs) => designNotch(opts, fs), opts.start ?? 'steady');
}

/** Group delay of the notch cascade at `atHz` (default 5 Hz), seconds. */
export function notchDelaySec(opts: NotchOptions, sfreqHz: number, atHz = 5): number {
  return groupDelaySec(designNotch(opts, sfreqHz), sfreqHz, atHz);
}
