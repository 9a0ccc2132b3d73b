/**
 * One analysis session, whatever feeds it: MEG chunks and word events (from the simulator, a
 * replayed recording or live LSL streams) → preprocessing → epochs → word pairs with their layer
 * activations → decoder → snapshots, pushed to the dashboard, the terminal and `--json` stdout.
 * `lockstep demo`, `replay` and `live` differ only in where chunks, words and activations come from.
 *
 * Owns: the wiring of the pipeline and the session's health, progress line and result. Must not:
 * know where the data come from (callers build `chunks$` and `words$`) or pace them.
 */
import { map, filter, share, shareReplay, tap, type Observable } from 'rxjs';
import { startDashboard, type Dashboard, type StreamHealth } from '../../dashboard/server.js';
import { segmentedEpochs } from '../../streams/segmentedEpochs.js';
import { DataGapLog, type DataGap } from '../quality/dataGapLog.js';
import { FlowControl } from '../../streams/flowControl.js';
import type { PreprocessOptions } from '../../streams/preprocess.js';
import { scoreSnapshots } from '../../streams/scoreSnapshots.js';
import { epochTimes, PAPER_EPOCH, samplesBetween } from '../epochGrid.js';
import type { BackendName } from '../linalg/backend.js';
import type { ScoreSnapshot } from '../snapshot.js';
import type { SampleChunk, WordEvent, WordPair } from '../types.js';

export interface SessionDashboardOptions {
  port: number;
  host: string;
  token?: string;
}

export interface AnalysisSessionOptions {
  /** Name of the command, for the terminal lines. */
  label: string;
  /** MEG at the source rate; must be hot-safe to subscribe once (the session shares it). */
  chunks$: Observable<SampleChunk>;
  /** Word events in the chunks' clock, in any order relative to the data. */
  words$: Observable<WordEvent>;
  /** Input rate, Hz, and channels after `preprocess.picks`. */
  sfreqHz: number;
  nChannels: number;
  /** Layer activations of a word ([layer][dim]); undefined = the word is not decoded (reported). */
  activationOf: (w: WordEvent) => Float32Array | undefined;
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
  dashboard?: SessionDashboardOptions;
  json: boolean;
  quiet: boolean;
  /** Shown on the dashboard. */
  sourceLabel: string;
  activationsLabel: string;
  /** Total source seconds when known (progress and ETA). */
  totalSec?: number;
  /** The flow gate the source should wait on (bounded memory whatever the speed). */
  flow?: FlowControl;
  /** Extra health fields (LSL connection state, …), read at every health tick. */
  extraHealth?: () => Partial<StreamHealth>;
  onDashboard?: (d: Dashboard) => void;
  onSnapshot?: (s: ScoreSnapshot) => void;
  beforeClose?: () => Promise<void>;
}

export interface AnalysisSessionResult {
  last: ScoreSnapshot | null;
  wordsOutside: number;
  /** Words excluded because their window overlapped bad data, and the spans. */
  wordsInGaps: number;
  gaps: DataGap[];
  wordsWithoutActivations: number;
  functionWordsSkipped: number;
  sourceSeconds: number;
  wallSeconds: number;
}

/**
 * Runs the pipeline until the sources complete (or SIGINT), and returns the last snapshot.
 * @example
 *   const r = await runAnalysisSession({ label: 'replay', chunks$, words$, sfreqHz: 1200, nChannels: 273, … });
 */
export async function runAnalysisSession(a: AnalysisSessionOptions): Promise<AnalysisSessionResult> {
  const wallStart = performance.now();
  const nTimes = samplesBetween(PAPER_EPOCH.tStartSec, PAPER_EPOCH.tEndSec, PAPER_EPOCH.sfreqHz);
  const times = epochTimes(PAPER_EPOCH.tStartSec, PAPER_EPOCH.sfreqHz, nTimes);
  const flow = a.flow ?? new FlowControl();

  const dashboard = a.dashboard ? await startDashboard(a.dashboard) : undefined;
  if (dashboard) a.onDashboard?.(dashboard);
  const log = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
  if (dashboard) log(`dashboard: ${dashboard.url}`);

  const health: StreamHealth = {
    state: 'starting',
    sourceTimeSec: null,
    wallLagSec: null,
    inputRateHz: null,
    speed: null,
    wordsAccepted: 0,
    wordsSkipped: {},
    refitSeconds: null,
    backend: '',
    source: a.sourceLabel,
    activations: a.activationsLabel,
  };
  let samplesIn = 0;
  let sourceStartSec: number | null = null;
  let sourceEndSec = 0;
  let wordsOutside = 0;
  let wordsInGaps = 0;
  let wordsWithoutActivations = 0;
  let functionWordsSkipped = 0;
  const recent: WordEvent[] = [];

  const chunks$ = a.chunks$.pipe(
    map((c) => {
      samplesIn += c.nSamples;
      sourceStartSec ??= c.tStartSec;
      sourceEndSec = Math.max(sourceEndSec, c.tStartSec + c.nSamples / c.sfreqHz);
      health.sourceTimeSec = sourceEndSec;
      return c;
    }),
    share(),
  );
  const words$ = a.words$.pipe(
    tap((w) => {
      recent.push(w);
      if (recent.length > 12) recent.shift();
    }),
    filter((w) => {
      const skip = a.contentWordsOnly && w.isContent === false;
      if (skip) functionWordsSkipped++;
      return !skip;
    }),
    // Replayed to each segment's epochs as it starts: markers may come before the MEG that covers them.
    shareReplay({ refCount: true }),
  );
  const gaps = new DataGapLog();
  const onGap = (g: DataGap) => log(`\n${a.label}: bad data (${g.why}) ${g.startSec.toFixed(3)}–${g.endSec.toFixed(3)} s, ${g.nSamples} samples, ${g.channels.length} channel(s): words within ${gaps.marginSec} s are excluded`);
  const pairs$ = chunks$.pipe(
    segmentedEpochs(words$, {
      sfreqHz: a.sfreqHz,
      preprocess: a.preprocess,
      gaps,
      onGap,
      onOutside: (_w, reason) => {
        if (reason === 'overlaps-data-gap') wordsInGaps++;
        else wordsOutside++;
      },
    }),
    map((e): WordPair | null => {
      const activations = a.activationOf(e.word);
      if (!activations) {
        wordsWithoutActivations++;
        return null;
      }
      return { wordIndex: e.word.wordIndex, onsetSec: e.word.onsetSec, word: e.word.word, epoch: e.epoch, activations };
    }),
    filter((p): p is WordPair => p !== null),
  );

  let last: ScoreSnapshot | null = null;
  // The dashboard gets health and words at 4 Hz; the terminal line is rewritten at that pace on a
  // TTY and printed every 5 s otherwise (logs stay readable).
  let lastLogMs = -Infinity;
  const healthTimer = setInterval(() => {
    const wall = (performance.now() - wallStart) / 1000;
    health.inputRateHz = samplesIn / wall;
    health.speed = samplesIn / a.sfreqHz / wall;
    if (health.state === 'starting' && samplesIn > 0) health.state = 'live';
    Object.assign(health, a.extraHealth?.() ?? {});
    dashboard?.publishHealth({ ...health });
    dashboard?.publishWords({ current: recent.at(-1) ?? null, recent: [...recent] });
    const score = last?.exact ? `exact r = ${last.exact.temporalScore.toFixed(3)} (p = ${last.exact.p.toPrecision(2)})` : last?.rolling ? `rolling r = ${last.rolling.temporalScore.toFixed(3)}` : 'no score yet';
    const nowMs = performance.now();
    if (!a.quiet && (process.stderr.isTTY || nowMs - lastLogMs >= 5000)) {
      lastLogMs = nowMs;
      const speed = health.speed ?? 0;
      const doneSec = sourceEndSec - (sourceStartSec ?? 0);
      const eta = a.totalSec && speed > 0 ? `, ETA ${Math.max(0, Math.round((a.totalSec - doneSec) / speed))} s` : '';
      const of = a.totalSec ? ` of ${(a.totalSec / 60).toFixed(1)}` : '';
      const line = `${a.label}: words ${last?.nWords ?? 0}, ${(doneSec / 60).toFixed(1)}${of} min, ×${speed.toFixed(1)} real time${eta}, temporal score ${score}`;
      process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
    }
  }, 250);

  let stop: (() => void) | undefined;
  const onSigint = () => {
    log('\ninterrupted: stopping (the last snapshot stands)');
    stop?.();
  };
  process.once('SIGINT', onSigint);
  try {
    await new Promise<void>((resolve, reject) => {
      stop = () => {
        sub.unsubscribe();
        resolve();
      };
      const sub = pairs$
        .pipe(
          scoreSnapshots({
            decoder: { dims: { nChannels: a.nChannels, nTimes, nLayers: a.nLayers, nDims: a.nDims }, foldPlan: { kind: 'blocks', folds: 5, blockWords: a.foldBlockWords }, halfLifeWords: a.halfLifeWords },
            backend: a.backend,
            times,
            depths: a.depths,
            refitEveryWords: a.refitEveryWords,
            snapshotEveryWords: a.snapshotEveryWords,
            flow,
            onHost: (h) => (health.backend = h.backend),
            onRefit: (r) => (health.refitSeconds = r.seconds),
          }),
        )
        .subscribe({
          next: (s) => {
            last = s;
            health.wordsAccepted = s.nWords;
            health.wordsSkipped = {
              ...s.skipped,
              ...(wordsOutside ? { 'outside-recording': wordsOutside } : {}),
              ...(wordsInGaps ? { 'overlaps-data-gap': wordsInGaps } : {}),
              ...(wordsWithoutActivations ? { 'no-activations': wordsWithoutActivations } : {}),
              ...(functionWordsSkipped ? { 'function-word': functionWordsSkipped } : {}),
            };
            dashboard?.publishSnapshot(s);
            a.onSnapshot?.(s);
            if (a.json) process.stdout.write(`${JSON.stringify(s)}\n`);
          },
          error: reject,
          complete: resolve,
        });
    });
  } finally {
    process.off('SIGINT', onSigint);
    clearInterval(healthTimer);
    if (!a.quiet && process.stderr.isTTY) process.stderr.write('\n');
  }
  health.state = 'ended';
  dashboard?.publishHealth({ ...health });
  const final = last as ScoreSnapshot | null;
  if (final?.exact) {
    log(`final: ${final.nWords} words, temporal score r = ${final.exact.temporalScore.toFixed(3)} (p = ${final.exact.p.toPrecision(3)}), Tmax ${final.exact.tmax.map((t) => t.toFixed(3)).join(' ')} s`);
  }
  await a.beforeClose?.();
  await dashboard?.close();
  return { last: final, wordsOutside, wordsInGaps, gaps: gaps.gaps, wordsWithoutActivations, functionWordsSkipped, sourceSeconds: sourceEndSec - (sourceStartSec ?? 0), wallSeconds: (performance.now() - wallStart) / 1000 };
}
