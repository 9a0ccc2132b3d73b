/**
 * `LslChunk`: a block of samples as inlets deliver them — one timestamp per sample (sender's
 * clock, seconds) and the values [sample][channel] row-major, in the stream's own typed array
 * (Float32Array for float32 streams, string[] for marker streams).
 *
 * Owns: the chunk shape and its concat/slice helpers. Must not: decode bytes or apply clock
 * corrections.
 */
import { allocate, type ChannelFormat, type ChunkData } from './channelFormat.js';

export interface LslChunk<D extends ChunkData = ChunkData> {
  /** Sender-clock timestamps, seconds; add the inlet's timeCorrection for the local clock. */
  timestamps: Float64Array;
  /** [sample][channel], row-major. */
  data: D;
  nSamples: number;
  nChannels: number;
}

export function emptyChunk(format: ChannelFormat, nChannels: number): LslChunk {
  return { timestamps: new Float64Array(0), data: allocate(format, 0), nSamples: 0, nChannels };
}

export function sliceChunk(c: LslChunk, start: number, end: number): LslChunk {
  const n = c.nChannels;
  return { timestamps: c.timestamps.slice(start, end), data: c.data.slice(start * n, end * n) as ChunkData, nSamples: end - start, nChannels: n };
}

/** Concatenates chunks of one stream (same format and channel count). */
export function concatChunks(format: ChannelFormat, nChannels: number, chunks: LslChunk[]): LslChunk {
  if (chunks.length === 1) return chunks[0]!;
  const total = chunks.reduce((s, c) => s + c.nSamples, 0);
  const out = { timestamps: new Float64Array(total), data: allocate(format, total * nChannels), nSamples: total, nChannels };
  let at = 0;
  for (const c of chunks) {
    out.timestamps.set(c.timestamps, at);
    if (Array.isArray(out.data)) {
      const src = c.data as string[];
      for (let i = 0; i < src.length; i++) out.data[at * nChannels + i] = src[i]!;
    } else (out.data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(c.data as ArrayLike<number | bigint>, at * nChannels);
    at += c.nSamples;
  }
  return out;
}
