/**
 * `pickChannels`: keep some channels of every SampleChunk, in the order given (MNE's `pick`).
 * Owns only the copy; which indices mean which sensors is the source's business (ChannelInfo).
 */
import type { OperatorFunction } from 'rxjs';
import type { SampleChunk } from '../src/types.js';
import { operate } from './operate.js';

/**
 * Keep channels `indices` (0-based, in that order; repeats allowed) of every chunk. Pick early:
 * every later filter then runs on fewer channels.
 *
 * @example
 *   meg$.pipe(pickChannels(megIndices), bandpass()) // e.g. the ~270 `M…` channels of a CTF system
 * @param indices channel indices into the input chunks
 * @returns an operator from chunks to chunks with indices.length channels
 * @throws RangeError at once for a non-integer or negative index; the stream errors at the first
 *   chunk that lacks an index
 */
export function pickChannels(indices: readonly number[]): OperatorFunction<SampleChunk, SampleChunk> {
  if (indices.length === 0) throw new RangeError('pickChannels: no channel indices given');
  const bad = indices.find((i) => !Number.isInteger(i) || i < 0);
  if (bad !== undefined) throw new RangeError(`pickChannels: index ${bad} is not an integer ≥ 0`);
  const picks = Int32Array.from(indices);
  const maxIndex = Math.max(...indices);
  return operate<SampleChunk, SampleChunk>((subscriber) => ({
    next: (chunk) => {
      if (maxIndex >= chunk.nChannels) {
        throw new RangeError(`pickChannels: index ${maxIndex} is out of range for a chunk of ${chunk.nChannels} channels (at sample ${chunk.firstSample})`);
      }
      const nOut = picks.length;
      const data = new Float32Array(chunk.nSamples * nOut);
      for (let t = 0; t < chunk.nSamples; t++) {
        const src = t * chunk.nChannels;
        const dst = t * nOut;
        for (let j = 0; j < nOut; j++) data[dst + j] = chunk.data[src + picks[j]];
      }
      subscriber.next({ ...chunk, nChannels: nOut, data });
    },
  }));
}
