/**
 * The analysis pipeline, whatever feeds it: MEG chunks and word events (from the simulator, a
 * replayed recording or live LSL streams) → preprocessing → epochs → word pairs with their layer
 * activations → decoder → score snapshots. `demo`, `replay` and `live` differ only in the sources
 * they pass in; the commands (cli/) add the dashboard, printing and stop rules around it.
 *
 * Owns: the composition and the pipeline's counters (what was received, what was excluded and why).
 * Must not: know where the data come from, pace them, print, or serve anything.
 */
import { defer, filter, share, shareReplay, tap, type Observable } from 'rxjs';
import { epochTimes, PAPER_EPOCH, samplesBetween } from '../src/epochGrid.js';
import type { BackendName } from '../src/linalg/backend.js';
import { DataGapLog, type DataGap } from '../src/quality/dataGapLog.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import type { DecoderHost } from './decoderHost.js';
import type { RefitSummary } from './decoderSession.js';
import { FlowControl } from './flowControl.js';
import { joinActivations, type ActivationLookup } from './joinActivations.js';
import type { PreprocessOptions } from './preprocess.js';
import { scoreSnapshots } from './scoreSnapshots.js';
import { segmentedEpochs } from './segmentedEpochs.js';

export interface AnalysisPipelineOptions {
  /** MEG at the source rate; subscribed once (the pipeline shares it). */
  chunks$: Observable<SampleChunk>;
  /** Word events in the chunks' clock, in any order relative to the data. */
  words$: Observable<WordEvent>;
  /** Input rate, Hz, and channels after `preprocess.picks`. */
  sfreqHz: number;
  nChannels: number;
  /**
   * Layer activations of a word ([layer][dim]); undefined = the word is not decoded (counted); a
   * promise = not extracted yet (the epoch waits, in order: streams/joinActivations.ts).
   */
  activationOf: ActivationLookup;
  nLayers: number;
  nDims: number;
  depths: number[];
  /** Decode only content words (paper default) when words carry `isContent`. */
  contentWordsOnly: boolean;
  preprocess?: PreprocessOptions;
  backend: 'auto' | BackendName;
  refitEveryWords: number;
  snapshotEveryWords: number;
  foldBlockWords: number;
  halfLifeWords: number | null;
  /** Exact scores carry the fold curves (`exact.foldR`, large; offline checks). */
  includeFoldCurves?: boolean;
  /** The flow gate the source should wait on (bounded memory whatever the speed). */
  flow?: FlowControl;
  onGap?: (gap: DataGap) => void;
  onHost?: (host: DecoderHost) => void;
  /** Called when a refit starts (the words it covers) and when it ends. */
  onRefitStart?: (nWords: number) => void;
  onRefit?: (r: RefitSummary) => void;
}

/** What the pipeline has seen so far; read at any time (health, progress, results). */
export class PipelineCounters {
  samplesIn = 0;
  sourceStartSec: number | null = null;
  sourceEndSec = 0;
  wordsOutside = 0;
  wordsInGaps = 0;
  wordsWithoutActivations = 0;
  functionWordsSkipped = 0;
  /** The last words heard (decoded or not), newest last. */
  readonly recent: WordEvent[] = [];
  readonly gaps = new DataGapLog();
  backend = '';
  /** Seconds of the last refit, and when (performance.now() ms) the running one started, if any. */
  lastRefitSeconds: number | null = null;
  refitStartedMs: number | null = null;

  get sourceSeconds(): number {
    return this.sourceEndSec - (this.sourceStartSec ?? 0);
  }

  /** Words excluded before the decoder, by reason (only the reasons that occurred). */
  excluded(): Record<string, number> {
    return {
      ...(this.wordsOutside ? { 'outside-recording': this.wordsOutside } : {}),
      ...(this.wordsInGaps ? { 'overlaps-data-gap': this.wordsInGaps } : {}),
      ...(this.wordsWithoutActivations ? { 'no-activations': this.wordsWithoutActivations } : {}),
      ...(this.functionWordsSkipped ? { 'function-word': this.functionWordsSkipped } : {}),
    };
  }
}

export interface AnalysisPipeline {
  /** Cold: subscribing starts the sources and the decoder; completes when the sources do. */
  snapshots$: Observable<ScoreSnapshot>;
  counters: PipelineCounters;
  /** The epoch's sample times, seconds. */
  times: number[];
}

/**
 * @example
 *   const { snapshots$, counters } = analysisPipeline({ chunks$, words$, sfreqHz: 1200, nChannels: 273, … });
 *   snapshots$.subscribe((s) => dashboard.publishSnapshot(s));
 */
export function analysisPipeline(a: AnalysisPipelineOptions): AnalysisPipeline {
  const nTimes = samplesBetween(PAPER_EPOCH.tStartSec, PAPER_EPOCH.tEndSec, PAPER_EPOCH.sfreqHz);
  const times = epochTimes(PAPER_EPOCH.tStartSec, PAPER_EPOCH.sfreqHz, nTimes);
  const counters = new PipelineCounters();
  const flow = a.flow ?? new FlowControl();

  const snapshots$ = defer(() => {
    const chunks$ = a.chunks$.pipe(
      tap((c) => {
        counters.samplesIn += c.nSamples;
        counters.sourceStartSec ??= c.tStartSec;
        counters.sourceEndSec = Math.max(counters.sourceEndSec, c.tStartSec + c.nSamples / c.sfreqHz);
      }),
      share(),
    );
    const words$ = a.words$.pipe(
      tap((w) => {
        counters.recent.push(w);
        if (counters.recent.length > 12) counters.recent.shift();
      }),
      filter((w) => {
        const skip = a.contentWordsOnly && w.isContent === false;
        if (skip) counters.functionWordsSkipped++;
        return !skip;
      }),
      // Replayed to each segment's epochs as it starts: markers may come before the MEG that covers them.
      shareReplay({ refCount: true }),
    );
    return chunks$.pipe(
      segmentedEpochs(words$, {
        sfreqHz: a.sfreqHz,
        preprocess: a.preprocess,
        gaps: counters.gaps,
        onGap: a.onGap,
        onOutside: (_w, reason) => {
          if (reason === 'overlaps-data-gap') counters.wordsInGaps++;
          else counters.wordsOutside++;
        },
      }),
      joinActivations(a.activationOf, { flow, onMissing: () => counters.wordsWithoutActivations++ }),
      scoreSnapshots({
        decoder: { dims: { nChannels: a.nChannels, nTimes, nLayers: a.nLayers, nDims: a.nDims }, foldPlan: { kind: 'blocks', folds: 5, blockWords: a.foldBlockWords }, halfLifeWords: a.halfLifeWords },
        backend: a.backend,
        times,
        depths: a.depths,
        includeFoldCurves: a.includeFoldCurves,
        refitEveryWords: a.refitEveryWords,
        snapshotEveryWords: a.snapshotEveryWords,
        flow,
        onHost: (h) => {
          counters.backend = h.backend;
          a.onHost?.(h);
        },
        onRefitStart: (n) => {
          counters.refitStartedMs = performance.now();
          a.onRefitStart?.(n);
        },
        onRefit: (r) => {
          counters.refitStartedMs = null;
          counters.lastRefitSeconds = r.seconds;
          a.onRefit?.(r);
        },
      }),
    );
  });
  return { snapshots$, counters, times };
}
