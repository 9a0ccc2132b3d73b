/**
 * The checks every SampleChunk operator makes on its input: each chunk well formed (positive
 * rate, whole channels, data length = samples × channels) and following the previous one exactly
 * (same rate and channel count, no gap or overlap of samples).
 *
 * Owns: those checks and their messages. Must not: repair anything (a gap is the source's or
 * nonFiniteGuard's business) or emit.
 */
import type { SampleChunk } from '../src/types.js';

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
 * @example
 *   let shape: ChunkShape | undefined;
 *   chunks$.subscribe((c) => { shape = checkChunkFollows('myOperator', shape, c); … });
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
