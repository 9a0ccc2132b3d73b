/**
 * Finds the stretches of a recording where any picked channel is NaN or ±Inf (one streaming
 * pass over `chunks()`), so the pipeline can drop every epoch that overlaps one. A NaN run in a
 * float FIF is valid FIF, not a format error: it is reported here, not thrown.
 *
 * Owns: the span bookkeeping. Must not: change data.
 */
import type { ChunkOptions, RawRecording } from '../rawRecording.js';

export interface NonFiniteSpan {
  /** First bad sample (relative to sample 0) and one past the last. */
  startSample: number;
  stopSample: number;
  startSec: number;
  stopSec: number;
  /** Names of the channels with a non-finite value in the span. */
  channels: string[];
}

/** Spans of consecutive samples with at least one non-finite value among `opts.picks` (default all). */
export async function scanNonFinite(rec: RawRecording, opts: Omit<ChunkOptions, 'chunkSamples'> = {}): Promise<NonFiniteSpan[]> {
  const h = rec.header;
  const picks = opts.picks ?? h.channels.map((_, i) => i);
  const spans: NonFiniteSpan[] = [];
  let open: { start: number; chans: Set<number> } | null = null;
  let end = opts.start ?? 0;
  const close = (stop: number): void => {
    if (!open) return;
    spans.push({
      startSample: open.start,
      stopSample: stop,
      startSec: open.start / h.sfreqHz,
      stopSec: stop / h.sfreqHz,
      channels: [...open.chans].sort((a, b) => a - b).map((p) => h.channels[picks[p]].name),
    });
    open = null;
  };
  for await (const chunk of rec.chunks({ ...opts, picks })) {
    const P = chunk.nChannels;
    const d = chunk.data;
    for (let r = 0; r < chunk.nSamples; r++) {
      let bad = false;
      for (let p = 0; p < P; p++) {
        if (!Number.isFinite(d[r * P + p])) {
          if (!open) open = { start: chunk.firstSample + r, chans: new Set() };
          open.chans.add(p);
          bad = true;
        }
      }
      if (!bad) close(chunk.firstSample + r);
    }
    end = chunk.firstSample + chunk.nSamples;
  }
  close(end);
  return spans;
}
