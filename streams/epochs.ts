/**
 * `epochs`: cut one epoch per word from preprocessed SampleChunks (at the epoch rate, 30 Hz), as
 * soon as the data cover the word's window. Words may arrive before or after the data that cover
 * them; every word either yields an epoch or is reported through `onOutside` with a reason.
 *
 * Owns: the ring buffer of recent samples, the source-clock → sample mapping, and the fate of each
 * word. Must not: filter or resample (the preceding operators), or decide which words matter.
 *
 * Sample alignment (the rounding, documented once): the clock is fixed by the first chunk
 * (sample s₀ at time t₀, nominal rate fs; de-jittering a live clock is the source's job). A word's
 * epoch starts at sample
 *     start = s₀ + round((onsetSec + tminSec + delaySec − t₀) · fs)
 * and takes nTimes = round((tmaxSec − tminSec)·fs) + 1 consecutive samples (166 for −2.5…+3.0 s at
 * 30 Hz). Epoch sample i (time τ = tmin + i/fs) is therefore the sample nearest to
 * onset + τ + delay, within half a sample; exact half-sample ties go to the later sample
 * (Math.round). `delaySec` is the group delay of the causal filters before this operator: their
 * output at time t shows the signal of time t − delay, so reading delay later lines the epochs up
 * with the true onsets.
 */
import type { Observable, OperatorFunction } from 'rxjs';
import type { DataGapLog } from '../src/quality/dataGapLog.js';
import type { SampleChunk, WordEpoch, WordEvent } from '../src/types.js';
import { checkChunkFollows, type ChunkShape } from './chunkChecks.js';
import { operate } from './operate.js';

/** Why a word got no epoch. */
export type EpochOutsideReason =
  /** The window starts before the first sample of the stream. */
  | 'starts-before-recording'
  /** The word arrived after its window's first sample had left the ring buffer (raise bufferSec). */
  | 'left-ring-buffer'
  /** The stream completed before the window's last sample. */
  | 'ends-after-recording'
  /** The onset is not a finite number. */
  | 'invalid-onset'
  /** The window overlaps a span of bad data logged by nonFiniteGuard (or a source's gap). */
  | 'overlaps-data-gap';

export interface EpochsOptions {
  /** Epoch start relative to the onset, s. Default −2.5 (paper). */
  tminSec?: number;
  /** Epoch end relative to the onset (inclusive), s. Default 3.0 (paper). */
  tmaxSec?: number;
  /** Total group delay of the preceding causal filters, s (preprocessDelaySec). Default 0. */
  delaySec?: number;
  /**
   * How much recent data to keep for words that arrive late, s (at least one epoch window is
   * always kept). Default 30 s: 900 samples × channels at 30 Hz, ≈ 1 MB for 270 channels.
   */
  bufferSec?: number;
  /**
   * Called for each word that gets no epoch, with the reason and a sentence for people.
   * Default: console.warn (words are never dropped silently).
   */
  onOutside?: (word: WordEvent, reason: EpochOutsideReason, detail: string) => void;
  /**
   * Spans of repaired or missing data (from `nonFiniteGuard`), in the source clock of the raw
   * chunks: a word is reported as 'overlaps-data-gap' instead of being cut when a span touches the
   * raw data its epoch depends on, [onset + tmin − the log's margin, onset + tmax + delaySec].
   */
  gaps?: DataGapLog;
}

interface PendingWord {
  word: WordEvent;
  /** First and last sample of the window (absolute indices). */
  start: number;
  end: number;
  /** The sample after which the word is decided (its window's last sample). */
  readyAt: number;
}

/**
 * Epochs around word onsets, channel-major `[channel][time]`, emitted when the data cover
 * onset + tmax + delay. Completes when both the chunks and the words have completed (words that
 * arrive after the chunks completed are still cut if their data are in the buffer); errors if
 * either errors or a chunk does not follow the previous one.
 *
 * @example
 *   const delaySec = preprocessDelaySec(opts, 1200);
 *   meg$.pipe(preprocess(opts), epochs(words$, { delaySec, onOutside: (w, why) => log(w.word, why) }))
 *     .subscribe(({ word, epoch }) => decoder.add(word, epoch)); // epoch: 270 × 166
 * @param words$ word onsets in the chunks' source clock, in any order relative to the data
 * @param opts tminSec (−2.5), tmaxSec (3.0), delaySec (0), bufferSec (30), onOutside
 * @returns an operator from chunks at the epoch rate to word epochs
 */
export function epochs(words$: Observable<WordEvent>, opts: EpochsOptions = {}): OperatorFunction<SampleChunk, WordEpoch> {
  const { tminSec = -2.5, tmaxSec = 3.0, delaySec = 0, bufferSec = 30 } = opts;
  if (!(Number.isFinite(tminSec) && Number.isFinite(tmaxSec) && tminSec < tmaxSec)) {
    throw new RangeError(`epochs: need finite tminSec < tmaxSec, got ${tminSec} and ${tmaxSec}`);
  }
  if (!Number.isFinite(delaySec)) throw new RangeError(`epochs: delaySec must be finite, got ${delaySec}`);
  if (!(bufferSec >= 0)) throw new RangeError(`epochs: bufferSec must be ≥ 0, got ${bufferSec}`);
  const onOutside =
    opts.onOutside ?? ((w: WordEvent, reason: EpochOutsideReason, detail: string) => console.warn(`epochs: word ${w.wordIndex} "${w.word}" at ${w.onsetSec} s: ${reason}: ${detail}`));

  return operate<SampleChunk, WordEpoch>((subscriber) => {
    let shape: ChunkShape | undefined;
    // Clock and buffer, fixed by the first chunk.
    let s0 = 0;
    let t0 = 0;
    let fs = 0;
    let nTimes = 0;
    let nChannels = 0;
    let capacity = 0;
    let ring: Float32Array | undefined; // [slot][channel], slot = (sample − s0) mod capacity
    /** One past the last sample in the ring (= s0 before any data). */
    let endSample = 0;
    let early: WordEvent[] = []; // words that came before the first chunk
    const pending: PendingWord[] = []; // sorted by end sample, then arrival
    let samplesDone = false;
    let wordsDone = false;

    const outside = (w: WordEvent, reason: EpochOutsideReason, detail: string) => {
      try {
        onOutside(w, reason, detail);
      } catch (e) {
        subscriber.error(e);
      }
    };

    const emit = (p: PendingWord) => {
      // The filters are causal: the epoch depends on raw data up to onset + tmax + delay only, all
      // of which the guard upstream has already seen; before the window, the log's margin covers
      // the filters' memory.
      const gap = opts.gaps?.overlapping(p.word.onsetSec + tminSec, p.word.onsetSec + tmaxSec + delaySec);
      if (gap) {
        outside(p.word, 'overlaps-data-gap', `its window overlaps bad data (${gap.why}, ${gap.startSec.toFixed(3)}–${gap.endSec.toFixed(3)} s, ${gap.nSamples} samples)`);
        return;
      }
      const epoch = new Float32Array(nChannels * nTimes); // [channel][time]
      for (let i = 0; i < nTimes; i++) {
        const slot = (p.start + i - s0) % capacity;
        const src = slot * nChannels;
        for (let c = 0; c < nChannels; c++) epoch[c * nTimes + i] = ring![src + c];
      }
      subscriber.next({ word: p.word, epoch });
    };

    /** Decide a word's fate now that the clock is known. */
    const place = (word: WordEvent) => {
      if (!Number.isFinite(word.onsetSec)) {
        outside(word, 'invalid-onset', `onset ${word.onsetSec} is not a number of seconds`);
        return;
      }
      const start = s0 + Math.round((word.onsetSec + tminSec + delaySec - t0) * fs);
      const end = start + nTimes - 1;
      const oldest = Math.max(s0, endSample - capacity);
      if (start < s0) {
        outside(word, 'starts-before-recording', `its window starts at sample ${start}, before the first sample ${s0} (t = ${t0} s)`);
      } else if (start < oldest) {
        outside(word, 'left-ring-buffer', `its window starts at sample ${start} but the buffer now begins at ${oldest}; the word came too late (raise bufferSec above ${bufferSec} s)`);
      } else if (end < endSample) {
        emit({ word, start, end, readyAt: end });
      } else if (samplesDone) {
        outside(word, 'ends-after-recording', `its window ends at sample ${end}, after the last sample ${endSample - 1}`);
      } else {
        // Insert after every word ready no later: readiness order, ties in arrival order.
        const readyAt = end;
        let lo = 0;
        let hi = pending.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (pending[mid].readyAt <= readyAt) lo = mid + 1;
          else hi = mid;
        }
        pending.splice(lo, 0, { word, start, end, readyAt });
      }
    };

    const flushReady = () => {
      let n = 0;
      while (n < pending.length && pending[n].readyAt < endSample) n++;
      for (const p of pending.splice(0, n)) emit(p);
    };

    const append = (chunk: SampleChunk) => {
      // Append in slices short enough that a word that becomes ready is emitted before its
      // first sample can be overwritten: slice ≤ capacity − nTimes + 1.
      const maxSlice = capacity - nTimes + 1;
      for (let off = 0; off < chunk.nSamples; off += maxSlice) {
        const n = Math.min(maxSlice, chunk.nSamples - off);
        for (let t = 0; t < n; t++) {
          const slot = (endSample + t - s0) % capacity;
          ring!.set(chunk.data.subarray((off + t) * nChannels, (off + t + 1) * nChannels), slot * nChannels);
        }
        endSample += n;
        flushReady();
      }
    };

    const maybeComplete = () => {
      if (samplesDone && wordsDone) subscriber.complete();
    };

    const wordSub = words$.subscribe({
      next: (w) => {
        if (ring) place(w);
        else if (samplesDone) outside(w, 'ends-after-recording', 'the stream completed without any data');
        else early.push(w);
      },
      error: (e) => subscriber.error(e),
      complete: () => {
        wordsDone = true;
        maybeComplete();
      },
    });

    // operate subscribes the chunks after this returns, and not at all if words$ has already
    // errored synchronously above (then there is nothing to cut).
    return {
      next: (chunk) => {
        shape = checkChunkFollows('epochs', shape, chunk);
        if (!ring) {
          s0 = chunk.firstSample;
          t0 = chunk.tStartSec;
          fs = chunk.sfreqHz;
          nChannels = chunk.nChannels;
          nTimes = Math.round((tmaxSec - tminSec) * fs) + 1;
          capacity = Math.max(nTimes, Math.round(bufferSec * fs));
          ring = new Float32Array(capacity * nChannels);
          endSample = s0;
          const waiting = early;
          early = [];
          for (const w of waiting) place(w);
        }
        append(chunk);
      },
      complete: () => {
        samplesDone = true;
        // Without data no clock: every word that came is outside the (empty) recording.
        for (const w of early) outside(w, 'ends-after-recording', 'the stream completed without any data');
        early = [];
        for (const p of pending.splice(0)) {
          outside(p.word, 'ends-after-recording', `its window ends at sample ${p.end}, after the last sample ${endSample - 1}`);
        }
        maybeComplete();
      },
      finalize: () => wordSub.unsubscribe(),
    };
  });
}
