/**
 * `nonFiniteGuard`: finds runs of non-finite samples (NaN, ±Infinity: dropped packets a source
 * filled with NaN, amplifier saturation flagged by the acquisition) in raw chunks, logs each run
 * with its time span, and replaces the values by each channel's last finite value so the causal
 * filters downstream are not poisoned (one NaN in an IIR state would spoil every later sample).
 * `epochs({ gaps })` then excludes the words whose window overlaps a logged span.
 *
 * Owns: detection and the hold-last-value repair. Must not: decide which words are affected
 * (epochs does, with the log's margin).
 */
import type { OperatorFunction } from 'rxjs';
import type { DataGapLog, DataGap } from '../src/quality/dataGapLog.js';
import { allFinite } from '../src/quality/finite.js';
import type { SampleChunk } from '../src/types.js';
import { operate } from './operate.js';

export interface NonFiniteGuardOptions {
  /** Where spans are recorded (shared with `epochs`). */
  log: DataGapLog;
  /** Called once per span as it closes (for the terminal / dashboard). */
  onGap?: (gap: DataGap) => void;
}

/**
 * Repairs non-finite samples and records their spans; finite chunks pass through untouched (same object).
 * @example
 *   const gaps = new DataGapLog();
 *   meg$.pipe(nonFiniteGuard({ log: gaps }), preprocess(opts), epochs(words$, { delaySec, gaps }))
 */
export function nonFiniteGuard(opts: NonFiniteGuardOptions): OperatorFunction<SampleChunk, SampleChunk> {
  return operate<SampleChunk, SampleChunk>((subscriber) => {
    let held: Float32Array | undefined; // last finite value per channel
    let open: DataGap | undefined; // the run in progress
    const close = () => {
      if (!open) return;
      opts.log.add(open);
      opts.onGap?.(opts.log.gaps.at(-1)!);
      open = undefined;
    };
    return {
      next: (chunk) => {
        const { nChannels, nSamples, sfreqHz } = chunk;
        if (!held || held.length !== nChannels) held = new Float32Array(nChannels);
        if (nSamples > 0 && (chunk.allFinite === true || allFinite(chunk.data))) {
          // The common case: one tight pass, no copy; remember the last row for later repairs.
          close();
          held.set(chunk.data.subarray((nSamples - 1) * nChannels, nSamples * nChannels));
          subscriber.next(chunk);
          return;
        }
        let data = chunk.data;
        let copied = false;
        for (let t = 0; t < nSamples; t++) {
          let bad = false;
          const row = t * nChannels;
          for (let c = 0; c < nChannels; c++) {
            const v = data[row + c];
            if (v - v !== 0) {
              // NaN or ±Infinity (v − v is NaN for both)
              if (!copied) {
                data = Float32Array.from(data);
                copied = true;
              }
              data[row + c] = held[c];
              if (!bad) {
                bad = true;
                const tSec = chunk.tStartSec + t / sfreqHz;
                if (!open) open = { startSec: tSec, endSec: tSec, nSamples: 0, channels: [], why: 'non-finite' };
                open.nSamples++;
                open.endSec = tSec + 1 / sfreqHz;
              }
              if (!open!.channels.includes(c) && open!.channels.length < 64) open!.channels.push(c);
            } else held[c] = v;
          }
          if (!bad) close();
        }
        subscriber.next(copied ? { ...chunk, data } : chunk);
      },
      complete: () => {
        close();
        subscriber.complete();
      },
    };
  });
}
