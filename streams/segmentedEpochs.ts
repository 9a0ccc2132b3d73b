/**
 * `segmentedEpochs`: raw MEG chunks → word epochs, the whole preprocessing of the paper in one
 * operator: non-finite guard → (notch) → band-pass → resample to 30 Hz → epochs −2.5…+3.0 s with
 * the filters' delay compensated. Each recording segment (`SampleChunk.segment`: replayed runs and
 * sessions on one clock) gets fresh filter state and its own epoch buffer, and receives only its
 * own words: filter state must not ring across the jump between two recordings.
 *
 * Owns: the composition per segment. Must not: hold any step's logic (the operators it composes).
 */
import { filter, groupBy, mergeMap, type Observable, type OperatorFunction } from 'rxjs';
import { PAPER_EPOCH } from '../src/epochGrid.js';
import type { DataGap, DataGapLog } from '../src/quality/dataGapLog.js';
import type { SampleChunk, WordEpoch, WordEvent } from '../src/types.js';
import { epochs, type EpochOutsideReason } from './epochs.js';
import { nonFiniteGuard } from './nonFiniteGuard.js';
import { preprocess, preprocessDelaySec, type PreprocessOptions } from './preprocess.js';

export interface SegmentedEpochsOptions {
  /** Input rate, Hz (for the delay compensation). */
  sfreqHz: number;
  /** Preprocessing; default the paper's (0.1–20 Hz band-pass, 30 Hz). */
  preprocess?: PreprocessOptions;
  /** Spans of repaired non-finite data, shared by all segments. */
  gaps: DataGapLog;
  onGap?: (gap: DataGap) => void;
  onOutside: (word: WordEvent, reason: EpochOutsideReason, detail: string) => void;
}

/** The paper's preprocessing options (band-pass 0.1–20 Hz, resample to the epoch rate), with overrides. */
export function paperPreprocessing(overrides: PreprocessOptions = {}): PreprocessOptions {
  return { bandpass: { lowHz: 0.1, highHz: 20 }, ...overrides, toHz: PAPER_EPOCH.sfreqHz };
}

/**
 * @example
 *   chunks$.pipe(segmentedEpochs(words$, { sfreqHz: 1200, gaps: new DataGapLog(), onOutside: report }))
 * @param words$ words in the chunks' clock, each with its `segment` (absent = 0); subscribed once per
 *   segment, so pass a replaying observable when words may come before their segment's first chunk
 */
export function segmentedEpochs(words$: Observable<WordEvent>, o: SegmentedEpochsOptions): OperatorFunction<SampleChunk, WordEpoch> {
  const prep = paperPreprocessing(o.preprocess);
  const delaySec = preprocessDelaySec(prep, o.sfreqHz);
  return (chunks$) =>
    chunks$.pipe(
      groupBy((c) => c.segment ?? 0),
      mergeMap((segment$) =>
        segment$.pipe(
          nonFiniteGuard({ log: o.gaps, onGap: o.onGap }),
          preprocess(prep),
          epochs(
            words$.pipe(filter((w) => (w.segment ?? 0) === segment$.key)),
            { tminSec: PAPER_EPOCH.tStartSec, tmaxSec: PAPER_EPOCH.tEndSec, delaySec, gaps: o.gaps, onOutside: o.onOutside },
          ),
        ),
      ),
    );
}
