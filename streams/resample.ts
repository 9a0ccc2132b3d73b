/**
 * `resample`: anti-aliased, causal rate reduction of SampleChunks (1200 → 30 Hz for the paper's
 * epochs) with the streaming polyphase FIR of src/filters/polyphase.ts.
 *
 * Owns: the mapping of output samples to indices and source-clock times. Must not: hold the FIR
 * design or arithmetic.
 *
 * Output sample k (its `firstSample` counts at the output rate) is computed at input sample
 * k·down/up (k·40 for 1200 → 30 Hz) and carries that input sample's time: like every causal
 * filter here, the output is *late*, by the FIR's constant delay (0.6333 s with the defaults,
 * `resampleDelaySec`); `epochs({ delaySec })` compensates.
 */
import type { OperatorFunction } from 'rxjs';
import { createPolyphaseState, polyphaseProcess, type PolyphaseKernel, type PolyphaseState, type ResamplerDesign } from '../src/filters/polyphase.js';
import { designResample, type ResampleOptions } from '../src/filters/preprocessPlan.js';
import type { SampleChunk } from '../src/types.js';
import { checkChunkFollows, type ChunkShape } from './chunkChecks.js';
import { operate } from './operate.js';

/**
 * Lower the sampling rate with a causal anti-alias FIR (default: flat to 12 Hz, ≥ 60 dB down from
 * 15 Hz, 1521 taps at 1200 Hz). A chunk yields the output samples whose input position it reaches,
 * possibly none; chunk boundaries never change the values. Equal rates pass chunks through.
 *
 * @example
 *   meg$.pipe(bandpass(), resample({ toHz: 30 })) // 30 Hz chunks, late by ≈ 0.656 s at 5 Hz in all
 * @param opts toHz (default 30); passHz, stopHz, attenuationDb, alignDelay as in designResampler;
 *   kernel ('auto' | 'blas' | 'js', default 'auto')
 * @returns an operator from chunks to chunks at toHz
 */
export function resample(opts: ResampleOptions = {}): OperatorFunction<SampleChunk, SampleChunk> {
  return resampleWith((fromHz) => designResample(opts, fromHz), opts.kernel);
}

/**
 * The resampler on a design chosen from the first chunk's rate (`resample` designs it from
 * options; `preprocess` hands in its plan's): undefined passes chunks through unchanged.
 * @param design the FIR for an input rate, or undefined for none (may throw a RangeError naming the bad option)
 * @param kernel 'auto' (default), 'blas' or 'js'
 */
export function resampleWith(design: (fromHz: number) => ResamplerDesign | undefined, kernel?: PolyphaseKernel): OperatorFunction<SampleChunk, SampleChunk> {
  return operate<SampleChunk, SampleChunk>((subscriber) => {
    let shape: ChunkShape | undefined;
    let state: PolyphaseState | undefined;
    let passThrough = false;
    return {
      next: (chunk) => {
        shape = checkChunkFollows('resample', shape, chunk);
        if (!state && !passThrough) {
          const d = design(chunk.sfreqHz);
          if (d) state = createPolyphaseState(d, chunk.nChannels, chunk.firstSample, { kernel });
          else passThrough = true;
        }
        if (passThrough) {
          subscriber.next(chunk);
          return;
        }
        const { data, firstOutput, nOutputs } = polyphaseProcess(state!, chunk.data);
        if (nOutputs === 0) return;
        const { up, down, toHz } = state!.design;
        // Time of the input position k·down/up, from this chunk's own clock.
        const inputPos = (firstOutput * down) / up;
        subscriber.next({
          sfreqHz: toHz,
          firstSample: firstOutput,
          tStartSec: chunk.tStartSec + (inputPos - chunk.firstSample) / chunk.sfreqHz,
          nChannels: chunk.nChannels,
          nSamples: nOutputs,
          data,
        });
      },
    };
  });
}

/**
 * The resampler's delay, seconds (the same at every frequency: linear phase); 0 when fromHz = toHz.
 * @example
 *   resampleDelaySec(1200, { toHz: 30 }); // 0.6333…
 */
export function resampleDelaySec(fromHz: number, opts: ResampleOptions = {}): number {
  return designResample(opts, fromHz)?.delaySec ?? 0;
}
