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
import { Observable, type OperatorFunction } from 'rxjs';
import { createPolyphaseState, designResampler, polyphaseProcess, type PolyphaseKernel, type PolyphaseState, type ResamplerOptions } from '../src/filters/polyphase.js';
import type { SampleChunk } from '../src/types.js';
import { checkChunkFollows, type ChunkShape } from './bandpass.js';

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
  const toHz = opts.toHz ?? 30;
  return (source) =>
    new Observable<SampleChunk>((subscriber) => {
      let shape: ChunkShape | undefined;
      let state: PolyphaseState | undefined;
      let passThrough = false;
      return source.subscribe({
        next: (chunk) => {
          let out: SampleChunk | undefined;
          try {
            shape = checkChunkFollows('resample', shape, chunk);
            if (!state && !passThrough) {
              if (chunk.sfreqHz === toHz) passThrough = true;
              else {
                const design = designResampler({ ...opts, fromHz: chunk.sfreqHz, toHz });
                state = createPolyphaseState(design, chunk.nChannels, chunk.firstSample, { kernel: opts.kernel });
              }
            }
            if (passThrough) out = chunk;
            else {
              const { data, firstOutput, nOutputs } = polyphaseProcess(state!, chunk.data);
              if (nOutputs > 0) {
                const { up, down } = state!.design;
                // Time of the input position k·down/up, from this chunk's own clock.
                const inputPos = (firstOutput * down) / up;
                out = {
                  sfreqHz: toHz,
                  firstSample: firstOutput,
                  tStartSec: chunk.tStartSec + (inputPos - chunk.firstSample) / chunk.sfreqHz,
                  nChannels: chunk.nChannels,
                  nSamples: nOutputs,
                  data,
                };
              }
            }
          } catch (e) {
            subscriber.error(e);
            return;
          }
          if (out) subscriber.next(out);
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}

/**
 * The resampler's delay, seconds (the same at every frequency: linear phase); 0 when fromHz = toHz.
 * @example
 *   resampleDelaySec(1200, { toHz: 30 }); // 0.6333…
 */
export function resampleDelaySec(fromHz: number, opts: ResampleOptions = {}): number {
  const toHz = opts.toHz ?? 30;
  if (fromHz === toHz) return 0;
  return designResampler({ ...opts, fromHz, toHz }).delaySec;
}
