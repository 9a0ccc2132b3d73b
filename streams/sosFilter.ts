/**
 * `sosFilter`: any causal IIR cascade (second-order sections) as a SampleChunk operator, the
 * chunk handling that `bandpass`, `notch` and `preprocess` share.
 *
 * Owns: when the sections are designed (at the first chunk, from its rate), how the state starts,
 * and that chunk boundaries never change the output. Must not: hold filter math
 * (src/filters/butterworth.ts) or option defaults (src/filters/preprocessPlan.ts).
 */
import type { OperatorFunction } from 'rxjs';
import { createSosFilterState, setSteadyState, sosfiltState, type SosFilterState } from '../src/filters/butterworth.js';
import type { FilterStart } from '../src/filters/preprocessPlan.js';
import type { SampleChunk } from '../src/types.js';
import { checkChunkFollows, type ChunkShape } from './chunkChecks.js';
import { operate } from './operate.js';

/**
 * Any causal SOS cascade as an operator: designed at the first chunk from its rate, state kept per
 * channel across chunks (one state per subscription), chunk boundaries never change the output.
 *
 * @example
 *   chunks$.pipe(sosFilter('lowpass', (fs) => butter(4, 40, 'lowpass', fs)))
 * @param who name used in error messages
 * @param design SOS array for a sampling rate (may throw a RangeError naming the bad option)
 * @param start 'zero' (from rest, scipy `sosfilt`) or 'steady' (as if the first value had lasted forever)
 * @returns an operator from chunks to filtered chunks (same shape, new arrays)
 */
export function sosFilter(who: string, design: (sfreqHz: number) => Float64Array, start: FilterStart): OperatorFunction<SampleChunk, SampleChunk> {
  return operate<SampleChunk, SampleChunk>((subscriber) => {
    let shape: ChunkShape | undefined;
    let state: SosFilterState | undefined;
    return {
      next: (chunk) => {
        shape = checkChunkFollows(who, shape, chunk);
        if (chunk.nSamples === 0) return;
        if (!state) {
          state = createSosFilterState(design(chunk.sfreqHz), chunk.nChannels);
          if (start === 'steady') setSteadyState(state, chunk.data.subarray(0, chunk.nChannels));
        }
        // A new array: the input chunk may be shared with other subscribers.
        subscriber.next({ ...chunk, data: sosfiltState(state, chunk.data) });
      },
    };
  });
}
