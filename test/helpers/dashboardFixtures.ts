/**
 * Synthetic, schema-valid inputs for the dashboard tests: snapshots (9 layers × 166 times by
 * default, a bump per layer whose latency grows with depth), stream health and words. The numbers
 * are made up (the dashboard only forwards and draws them); the shapes are the real ones.
 */
import { defaultDepths, epochTimes, PAPER_EPOCH, samplesBetween } from '../../src/epochGrid.js';
import { SNAPSHOT_SCHEMA, type CurveScores, type ScoreSnapshot } from '../../src/snapshot.js';
import type { WordEvent } from '../../src/types.js';
import type { StreamHealth, WordsUpdate } from '../../dashboard/server.js';

export interface FakeSnapshotOptions {
  nLayers?: number;
  /** Per-fold curves too ([fold][layer][time]), which makes the snapshot several times larger. */
  folds?: number;
  /** Leave out the exact (K-fold) scores, as before the first refit. */
  noExact?: boolean;
  /** Leave out the rolling scores too, as before any refit. */
  noRolling?: boolean;
  /** Accepted words (default 50 × seq). */
  nWords?: number;
}

/** Deterministic pseudo-random in [0, 1) from two integers. */
function hash01(a: number, b: number): number {
  const x = Math.sin(a * 12.9898 + b * 78.233) * 43758.5453;
  return x - Math.floor(x);
}

/** The exact temporal score fake snapshot `seq` carries: varies with seq, many decimals. */
export function fakeExactScore(seq: number): number {
  return 0.2 + 0.75 * hash01(seq, 1);
}

function fakeCurves(seq: number, times: number[], depths: number[], score: number, salt: number): CurveScores {
  const R = depths.map((d, l) => {
    const peak = -0.1 + 0.6 * d;
    const height = 0.05 + 0.1 * d;
    return times.map((t, i) => height * Math.exp(-(((t - peak) / 0.25) ** 2)) + 0.01 * (hash01(seq * 31 + l + salt, i) - 0.5));
  });
  const tmax = R.map((row) => times[row.indexOf(Math.max(...row))]);
  const best = R.reduce((b, row, l) => (Math.max(...row) > Math.max(...R[b]) ? l : b), 0);
  return { R, tmax, temporalScore: score, p: 0.001 * (1 + hash01(seq, 2)), alignmentScore: Math.max(...R[best]), bestLayer: best, peakTimeSec: tmax[best] };
}

/** A snapshot as the pipeline would publish after `seq` snapshots (source time 2 s per seq). */
export function fakeSnapshot(seq: number, opts: FakeSnapshotOptions = {}): ScoreSnapshot {
  const L = opts.nLayers ?? 9;
  const T = samplesBetween(PAPER_EPOCH.tStartSec, PAPER_EPOCH.tEndSec, PAPER_EPOCH.sfreqHz);
  const times = epochTimes(PAPER_EPOCH.tStartSec, PAPER_EPOCH.sfreqHz, T);
  const depths = defaultDepths(L);
  const nWords = opts.nWords ?? 50 * seq;
  const exactCurves = fakeCurves(seq, times, depths, fakeExactScore(seq), 0);
  const folds = opts.folds ?? 0;
  return {
    schema: SNAPSHOT_SCHEMA,
    seq,
    nWords,
    skipped: { 'nonfinite-epoch': seq % 3, 'nonfinite-activations': 0 },
    sourceTimeSec: 2 * seq,
    lastWord: { index: nWords, word: `word${nWords}`, onsetSec: 2 * seq },
    times,
    depths,
    backend: 'reference',
    alphaSelection: 'per-target GCV',
    alphas: [1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5],
    folds: '5 folds from contiguous blocks of 20 words, assigned round-robin',
    foldPlan: { kind: 'blocks', folds: 5, blockWords: 20 },
    minWordsForExact: 82,
    rolling: opts.noRolling ? null : { ...fakeCurves(seq, times, depths, 0.1 + 0.8 * hash01(seq, 3), 7), nScored: nWords - 20, halfLifeWords: null, scoring: 'batch', scoredBy: [{ fromWord: 21, toWord: nWords, modelAtWords: 20 }] },
    exact: opts.noExact
      ? null
      : {
          ...exactCurves,
          nWords,
          foldSizes: [10, 10, 10, 10, 10].map((n) => n * seq),
          computeSeconds: 0.5,
          ci: { method: 'fold jackknife', level: 0.95, low: exactCurves.temporalScore - 0.1, high: Math.min(1, exactCurves.temporalScore + 0.1) },
          tmaxCI: { method: 'fold jackknife', level: 0.95, low: exactCurves.tmax.map((t) => t - 0.03), high: exactCurves.tmax.map((t) => t + 0.03), se: exactCurves.tmax.map(() => 0.005), resolutionSec: 1 / 30 },
          foldTest: { method: 'fold t-test', t: 6, df: 4, p: 0.004 },
          medianAlpha: depths.map(() => 100),
          ...(folds > 0 ? { foldR: Array.from({ length: folds }, (_, f) => fakeCurves(seq, times, depths, 0, 100 + f).R) } : {}),
        },
  };
}

export function fakeHealth(over: Partial<StreamHealth> = {}): StreamHealth {
  return {
    state: 'live',
    sourceTimeSec: 12.5,
    wallLagSec: 0.04,
    inputRateHz: 1200,
    speed: 1,
    wordsAccepted: 250,
    wordsSkipped: { 'nonfinite-epoch': 2, 'function-word': 2037 },
    refitSeconds: 0.8,
    backend: 'reference',
    source: 'simulated subject (seed 1)',
    activations: 'synthetic activations (not a language model)',
    ...over,
  };
}

export function fakeWords(n: number): WordsUpdate {
  const recent: WordEvent[] = Array.from({ length: n }, (_, i) => ({ wordIndex: i, word: `w${i}`, onsetSec: 0.3 * i, durationSec: 0.25, isContent: i % 2 === 0 }));
  return { current: recent.at(-1) ?? null, recent };
}
