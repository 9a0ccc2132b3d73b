/**
 * The analysis pipeline, whatever feeds it: MEG chunks and word events (from the simulator, a
 * replayed recording or live LSL streams) → preprocessing → epochs → word pairs with their layer
 * activations → decoder → score snapshots. `demo`, `replay` and `live` differ only in the sources
 * they pass in; the commands (cli/) add the dashboard, printing and stop rules around it.
 *
 * Owns: the composition and the pipeline's counters (what was received, what was excluded and why).
 * Must not: know where the data come from, pace them, print, or serve anything.
 */
import { connect, defer, filter, groupBy, ignoreElements, map, merge, mergeMap, share, shareReplay, tap, type Observable } from 'rxjs';
import { epochTimes, PAPER_EPOCH, samplesBetween } from '../src/epochGrid.js';
import type { BackendName } from '../src/linalg/backend.js';
import { DataGapLog, type DataGap } from '../src/quality/dataGapLog.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { SampleChunk, WordEvent, WordPair } from '../src/types.js';
import type { DecoderHost } from './decoderHost.js';
import type { RefitMode, RefitSummary } from './decoderSession.js';
import type { StreamPosition } from '../adapters/checkpointStore.js';
import { FlowControl } from './flowControl.js';
import { joinActivationsWithWords, type ActivationLookup } from './joinActivations.js';
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
  /** `concurrent` for live sources: refits compute beside scoring and snapshots (default `blocking`, see decoderSession.ts). */
  refits?: RefitMode;
  onGap?: (gap: DataGap) => void;
  /**
   * Called when a word's epoch is cut: its data and its marker have both arrived. Synchronous with
   * the chunk (or marker) that completed it, so a live session times its latency from here.
   */
  onEpoch?: (w: WordEvent) => void;
  /** Called for a cut word that has no activations: it goes no further (counted as 'no-activations'). */
  onNoActivations?: (w: WordEvent) => void;
  onHost?: (host: DecoderHost) => void;
  /** Called when a refit starts (the words it covers) and when it ends. */
  onRefitStart?: (nWords: number) => void;
  onRefit?: (r: RefitSummary) => void;
  /**
   * Per-condition decoding: the conditions a word belongs to (its surprisal quartile, a context
   * bin, …). Each condition gets a decoder of its own over that condition's words only, fed in the
   * same pass as the overall decoder, which still gets every word: the paper decodes each
   * predictability quartile separately. Each decoder holds a full set of statistics (~1.3 GB at
   * 273 channels × 166 times × 450 targets) and runs in its own worker thread.
   */
  conditionsOf?: (w: WordEvent) => readonly string[];
  /** Cadences of the condition decoders (default: the overall decoder's). */
  conditionDecoder?: { refitEveryWords?: number; foldBlockWords?: number; snapshotEveryWords?: number };
  /** Every snapshot of a condition's decoder (they are not in `snapshots$`). */
  onConditionSnapshot?: (condition: string, s: ScoreSnapshot) => void;
  /**
   * Refits at exactly every N words (`every`, the default: the same numbers at any speed), or at
   * most one in flight per decoder (`coalesce`: a live session that must keep up; see scoreSnapshots).
   */
  refitPolicy?: 'every' | 'coalesce';
  /** Write the decoder's state here every `checkpointEveryWords` word pairs and at the end (adapters/checkpointStore.ts). */
  checkpointPath?: string;
  checkpointEveryWords?: number;
  /** Go on from a checkpoint instead of empty statistics (see ResumePlan). */
  resume?: ResumePlan;
}

/**
 * Going on from a checkpoint. `replay`: the same source is read again from its start and its first
 * `position.pairs` word pairs are dropped before the decoder, which already holds them: refits,
 * snapshots and checkpoints then fall due at the same words, and the numbers at the end are those
 * of an uninterrupted run. `live`: the data are new; words heard at or before the checkpoint's last
 * word are dropped, and the time between that word and the first new one is the gap.
 */
export interface ResumePlan {
  from: string;
  mode: 'replay' | 'live';
  position: StreamPosition;
}

/** What a resumed session reports: where it went on from and, once known, the gap. */
export interface ResumeReport {
  from: string;
  words: number;
  lastWordOnsetSec: number | null;
  /** Onset of the first word decoded after the resume (null until it comes). */
  firstWordOnsetSec: number | null;
  /** live: firstWordOnsetSec − lastWordOnsetSec, source seconds without decoded words. */
  gapSec: number | null;
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
  /** Set when the session went on from a checkpoint. */
  resumed: ResumeReport | null = null;

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
  const dims = { nChannels: a.nChannels, nTimes, nLayers: a.nLayers, nDims: a.nDims };

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
      tap((e) => a.onEpoch?.(e.word)),
      joinActivationsWithWords(a.activationOf, {
        flow,
        onMissing: (w) => {
          counters.wordsWithoutActivations++;
          a.onNoActivations?.(w);
        },
      }),
      connect((pairs$) => {
        const conditionsOfWord = a.conditionsOf;
        const overall$ = pairs$.pipe(
          // With conditions, the overall decoder also keeps its rolling score per condition (arrival scoring).
          map((p) => (conditionsOfWord ? { ...p.pair, conditions: conditionsOfWord(p.word) } : p.pair)),
          filter(resumeFilter(a.resume, counters)),
          scoreSnapshots({
            decoder: { dims, foldPlan: { kind: 'blocks', folds: 5, blockWords: a.foldBlockWords }, halfLifeWords: a.halfLifeWords },
            backend: a.backend,
            times,
            depths: a.depths,
            includeFoldCurves: a.includeFoldCurves,
            refitEveryWords: a.refitEveryWords,
            snapshotEveryWords: a.snapshotEveryWords,
            refitPolicy: a.refitPolicy,
            refits: a.refits,
            flow,
            checkpointPath: a.checkpointPath,
            checkpointEveryWords: a.checkpointEveryWords,
            resumeFrom: a.resume?.from,
            startWords: a.resume?.position.pairs,
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
        const conditionsOf = a.conditionsOf;
        if (!conditionsOf) return overall$;
        const c = a.conditionDecoder ?? {};
        // One decoder per condition, created when its first word comes; their snapshots go to the callback.
        const conditions$ = pairs$.pipe(
          mergeMap((p) => conditionsOf(p.word).map((condition) => ({ condition, pair: p.pair }))),
          groupBy((x) => x.condition),
          mergeMap((group$) =>
            group$.pipe(
              map((x) => x.pair),
              scoreSnapshots({
                decoder: { dims, foldPlan: { kind: 'blocks', folds: 5, blockWords: c.foldBlockWords ?? a.foldBlockWords }, halfLifeWords: a.halfLifeWords },
                backend: a.backend,
                times,
                depths: a.depths,
                refitEveryWords: c.refitEveryWords ?? a.refitEveryWords,
                snapshotEveryWords: c.snapshotEveryWords ?? a.snapshotEveryWords,
                refitPolicy: a.refitPolicy,
                refits: a.refits,
                flow,
              }),
              tap((s) => a.onConditionSnapshot?.(group$.key, s)),
              ignoreElements(),
            ),
          ),
        );
        return merge(overall$, conditions$);
      }),
    );
  });
  return { snapshots$, counters, times };
}

/** Drops what the checkpoint already holds (see ResumePlan) and records the resume. */
function resumeFilter(plan: ResumePlan | undefined, counters: PipelineCounters): (p: WordPair) => boolean {
  if (!plan) return () => true;
  const last = plan.position.lastWord;
  const report: ResumeReport = { from: plan.from, words: plan.position.pairs, lastWordOnsetSec: last?.onsetSec ?? null, firstWordOnsetSec: null, gapSec: null };
  counters.resumed = report;
  let seen = 0;
  return (p) => {
    const keep = plan.mode === 'replay' ? ++seen > plan.position.pairs : last === null || p.onsetSec > last.onsetSec;
    if (keep && report.firstWordOnsetSec === null) {
      report.firstWordOnsetSec = p.onsetSec;
      if (plan.mode === 'live' && last) report.gapSec = p.onsetSec - last.onsetSec;
    }
    return keep;
  };
}
