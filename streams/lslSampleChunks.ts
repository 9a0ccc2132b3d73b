/**
 * `lslSampleChunks`: the events of an LSL MEG inlet (`fromInlet`) as pipeline SampleChunks with
 * sample-exact bookkeeping. The first chunk anchors the clock: its first timestamp plus the inlet's
 * time correction (sender clock → local clock) is sample 0's time; later chunks are placed by
 * sample count at the nominal rate (de-jittering, as the epochs operator expects). A recovery after
 * an outage (the outlet restarted or the network dropped) inserts the missing samples as NaN, so
 * the count stays right and `nonFiniteGuard` logs the span and excludes the words around it.
 *
 * Owns: the LSL → SampleChunk mapping and the gap filling. Must not: filter or pick channels.
 */
import type { OperatorFunction } from 'rxjs';
import type { GapInfo } from '../adapters/lsl/inlet.js';
import type { SampleChunk } from '../src/types.js';
import type { InletEvent } from './fromInlet.js';
import { operate } from './operate.js';

export interface LslSampleChunksOptions {
  sfreqHz: number;
  nChannels: number;
  /** Longest outage filled with NaN, seconds (longer ones end the stream with an error). Default 600. */
  maxGapSec?: number;
  /** Each recovery's gap, with the samples inserted. */
  onGap?: (gap: GapInfo, insertedSamples: number) => void;
  /** Local-clock time of every chunk's last sample at arrival (latency bookkeeping). */
  onChunk?: (chunk: SampleChunk, lastSampleLocalSec: number) => void;
  /**
   * 'measured' (default): add the inlet's time correction. 'none': the sender shares this machine's
   * clock (same host): the true correction is exactly 0, and using 0 avoids the estimate's jitter.
   */
  correction?: 'measured' | 'none';
}

/**
 * @example
 *   fromInlet(inlet).pipe(lslSampleChunks({ sfreqHz: 1200, nChannels: 273 }))
 */
export function lslSampleChunks(o: LslSampleChunksOptions): OperatorFunction<InletEvent, SampleChunk> {
  const fs = o.sfreqHz;
  const maxGap = Math.round((o.maxGapSec ?? 600) * fs);
  return operate<InletEvent, SampleChunk>((subscriber) => {
    let t0: number | null = null;
    let next = 0;
    const emit = (data: Float32Array, n: number) => {
      const c: SampleChunk = { sfreqHz: fs, firstSample: next, tStartSec: t0! + next / fs, nChannels: o.nChannels, nSamples: n, data };
      next += n;
      subscriber.next(c);
      return c;
    };
    return {
      next: (e) => {
        if (e.kind === 'state') {
          const gap = e.change.gap;
          if (e.state === 'recovered' && gap && t0 !== null) {
            const missing = Math.max(0, gap.missingSamples ?? Math.round(gap.spanSec * fs) - 1);
            if (missing > maxGap) {
              throw new Error(`LSL MEG stream: an outage of ${gap.spanSec.toFixed(1)} s (${missing} samples) exceeds --max-gap ${o.maxGapSec ?? 600} s; restart the session`);
            }
            // In one-second pieces: bounded memory for long outages.
            for (let left = missing; left > 0; ) {
              const n = Math.min(left, Math.ceil(fs));
              emit(new Float32Array(n * o.nChannels).fill(NaN), n);
              left -= n;
            }
            o.onGap?.(gap, missing);
          }
          return;
        }
        const { chunk, timeCorrection } = e;
        if (chunk.nSamples === 0) return;
        if (chunk.nChannels !== o.nChannels) {
          throw new Error(`LSL MEG stream: a chunk with ${chunk.nChannels} channels, the stream declared ${o.nChannels}`);
        }
        const tc = o.correction === 'none' ? 0 : (timeCorrection ?? 0);
        if (t0 === null) t0 = chunk.timestamps[0] + tc;
        const d = chunk.data;
        const data = d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>, Number);
        const c = emit(data, chunk.nSamples);
        o.onChunk?.(c, chunk.timestamps[chunk.nSamples - 1] + tc);
      },
    };
  });
}
