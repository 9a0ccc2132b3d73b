/**
 * `bandpass`: the causal Butterworth band-pass of the paper's preprocessing (0.1–20 Hz, order 4),
 * applied chunk by chunk with the filter state carried across chunks. Also the two helpers every
 * SampleChunk operator here shares: `sosFilter` (any SOS cascade as an operator; `notch` is one) and
 * `checkChunkFollows` (sample-exact bookkeeping).
 *
 * Owns: chunk validation, when the filter is designed (at the first chunk, from its rate) and how
 * it is started. Must not: hold filter math (src/filters/butterworth.ts).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { butter, createSosFilterState, groupDelaySec, setSteadyState, sosfiltState, type SosFilterState } from '../src/filters/butterworth.js';
import type { SampleChunk } from '../src/types.js';

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

/** The shape a stream must keep from chunk to chunk. */
export interface ChunkShape {
  sfreqHz: number;
  nChannels: number;
  /** Index of the sample expected next. */
  nextSample: number;
}

/**
 * Check that `chunk` is well formed and continues `prev` (same rate and channels, no gap or
 * overlap), and return the shape to check the next chunk against.
 * @param who the operator, for the message
 * @throws Error naming the operator, the chunk's first sample and what to do
 */
export function checkChunkFollows(who: string, prev: ChunkShape | undefined, chunk: SampleChunk): ChunkShape {
  const at = `${who}: chunk at sample ${chunk.firstSample}`;
  if (!(chunk.sfreqHz > 0)) throw new Error(`${at} has sfreqHz ${chunk.sfreqHz}; it must be > 0`);
  if (!Number.isInteger(chunk.nChannels) || chunk.nChannels < 1) throw new Error(`${at} has nChannels ${chunk.nChannels}`);
  if (chunk.data.length !== chunk.nSamples * chunk.nChannels) {
    throw new Error(`${at} has ${chunk.data.length} values for ${chunk.nSamples} samples × ${chunk.nChannels} channels`);
  }
  if (prev) {
    if (chunk.sfreqHz !== prev.sfreqHz) throw new Error(`${at} changes the rate from ${prev.sfreqHz} to ${chunk.sfreqHz} Hz; restart the pipeline for a new stream`);
    if (chunk.nChannels !== prev.nChannels) throw new Error(`${at} changes the channel count from ${prev.nChannels} to ${chunk.nChannels}; restart the pipeline for a new stream`);
    if (chunk.firstSample !== prev.nextSample) {
      // Filters carry state from sample to sample: a gap or overlap would silently shift everything after it.
      throw new Error(`${at} does not follow the previous chunk (expected sample ${prev.nextSample}: ${chunk.firstSample > prev.nextSample ? 'samples were lost' : 'samples repeat'}); fill gaps upstream or restart the pipeline`);
    }
  }
  return { sfreqHz: chunk.sfreqHz, nChannels: chunk.nChannels, nextSample: chunk.firstSample + chunk.nSamples };
}

/**
 * Any causal SOS cascade as an operator: designed at the first chunk from its rate, state kept per
 * channel across chunks (one state per subscription), chunk boundaries never change the output.
 *
 * @example
 *   chunks$.pipe(sosFilter('lowpass', (fs) => butter(4, 40, 'lowpass', fs)))
 * @param who name used in error messages
 * @param design SOS array for a sampling rate (may throw a RangeError naming the bad option)
 * @param start 'zero' or 'steady' (see BandpassOptions.start)
 */
export function sosFilter(who: string, design: (sfreqHz: number) => Float64Array, start: FilterStart): OperatorFunction<SampleChunk, SampleChunk> {
  return (source) =>
    new Observable<SampleChunk>((subscriber) => {
      let shape: ChunkShape | undefined;
      let state: SosFilterState | undefined;
      return source.subscribe({
        next: (chunk) => {
          let out: SampleChunk;
          try {
            shape = checkChunkFollows(who, shape, chunk);
            if (chunk.nSamples === 0) return;
            if (!state) {
              state = createSosFilterState(design(chunk.sfreqHz), chunk.nChannels);
              if (start === 'steady') setSteadyState(state, chunk.data.subarray(0, chunk.nChannels));
            }
            // A new array: the input chunk may be shared with other subscribers.
            out = { ...chunk, data: sosfiltState(state, chunk.data) };
          } catch (e) {
            subscriber.error(e);
            return;
          }
          subscriber.next(out);
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}

function bandpassSos(opts: BandpassOptions, sfreqHz: number): Float64Array {
  const { lowHz = 0.1, highHz = 20, order = 4 } = opts;
  return butter(order, [lowHz, highHz], 'bandpass', sfreqHz);
}

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
  return sosFilter('bandpass', (fs) => bandpassSos(opts, fs), opts.start ?? 'steady');
}

/**
 * Group delay of the band-pass at `atHz` (default 5 Hz, see preprocess.ts for why), seconds.
 * @example
 *   bandpassDelaySec({}, 1200); // ≈ 0.0231
 */
export function bandpassDelaySec(opts: BandpassOptions, sfreqHz: number, atHz = 5): number {
  return groupDelaySec(bandpassSos(opts, sfreqHz), sfreqHz, atHz);
}
