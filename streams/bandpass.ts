/**
 * `bandpass`: the causal Butterworth band-pass of the paper's preprocessing (0.1–20 Hz, order 4),
 * applied chunk by chunk with the filter state carried across chunks.
 *
 * Owns: nothing but the wiring of the design (src/filters/preprocessPlan.ts) to `sosFilter`.
 * Must not: hold filter math (src/filters/butterworth.ts) or chunk handling (sosFilter.ts).
 */
import type { OperatorFunction } from 'rxjs';
import { groupDelaySec } from '../src/filters/butterworth.js';
import { designBandpass, type BandpassOptions } from '../src/filters/preprocessPlan.js';
import type { SampleChunk } from '../src/types.js';
import { sosFilter } from './sosFilter.js';

/**
 * Causal Butterworth band-pass over SampleChunks (scipy `butter(order, [lowHz, highHz],
 * 'bandpass', output='sos')` + `sosfilt` with state across chunks). Output chunks keep the input's
 * sample indices and times: the output is *late* by the filter's group delay (about 23 ms at 5 Hz
 * for the defaults at 1200 Hz; see `bandpassDelaySec`), which `epochs({ delaySec })` compensates.
 *
 * @example
 *   meg$.pipe(bandpass({ lowHz: 0.1, highHz: 20, order: 4 }), resample({ toHz: 30 }))
 * @param opts edges, order, start (defaults: 0.1, 20, 4, 'steady')
 * @returns an operator from chunks to filtered chunks (same shape, new arrays)
 */
export function bandpass(opts: BandpassOptions = {}): OperatorFunction<SampleChunk, SampleChunk> {
  return sosFilter('bandpass', (fs) => designBandpass(opts, fs), opts.start ?? 'steady');
}

/**
 * Group delay of the band-pass at `atHz` (default 5 Hz, see src/filters/preprocessPlan.ts for why), seconds.
 * @example
 *   bandpassDelaySec({}, 1200); // ≈ 0.0231
 */
export function bandpassDelaySec(opts: BandpassOptions, sfreqHz: number, atHz = 5): number {
  return groupDelaySec(designBandpass(opts, sfreqHz), sfreqHz, atHz);
}
