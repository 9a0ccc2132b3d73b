/**
 * ScoreSnapshot: what lockstep publishes (WebSocket, --json lines, results files). The schema is
 * versioned; README "Snapshot schema" documents every field. Built from a decoder report by pure
 * functions so the worker, the CLI and tests share one definition.
 */
import type { Decoder, ScoredRun, ScoringMode } from './decoder.js';
import type { KFoldResult } from './ridge/kfoldRidge.js';
import { foldUncertainty, JACKKNIFE_TEST_METHOD, SCORE_INTERVAL_METHOD, TMAX_INTERVAL_METHOD } from './scores/foldUncertainty.js';
import { temporalScore } from './scores/temporal.js';
import { describeFoldPlan, minWordsForExact, type FoldPlan } from './stats/foldPlan.js';
import type { SkipReason } from './types.js';

export const SNAPSHOT_SCHEMA = 'lockstep.snapshot/1';

export interface CurveScores {
  /** [layer][time] decoding score R(t) */
  R: number[][];
  /** per layer, seconds */
  tmax: number[];
  /** Pearson r of Tmax vs relative depth */
  temporalScore: number;
  /** two-sided p, t-distribution with df = layers − 2 */
  p: number;
  /** peak R over time at the best layer */
  alignmentScore: number;
  bestLayer: number;
  peakTimeSec: number;
}

export interface ExactScores extends CurveScores {
  /** Words in the statistics when this K-fold result was computed. */
  nWords: number;
  foldSizes: number[];
  /** Seconds the refit took (wall clock, on the decoder's thread). */
  computeSeconds: number;
  /** Interval of the temporal score from the folds (README, Method §5). */
  ci: { method: string; level: number; low: number; high: number };
  /** Interval of each layer's Tmax, seconds; `se` is the jackknife standard error (sampling part), `resolutionSec` the time step counted as rounding. */
  tmaxCI: { method: string; level: number; low: number[]; high: number[]; se: number[]; resolutionSec: number };
  /**
   * The temporal score tested with the folds (the jackknife t-test that `ci` inverts: 0 outside
   * `ci` ⇔ p < 1 − level): calibrated where `p` (L − 2 df, layers taken as independent) is not,
   * since correlated layers make their Tmax move together.
   */
  foldTest: { method: string; t: number; df: number; p: number };
  /** per layer: median over dims, time samples and folds of the chosen α */
  medianAlpha: number[];
  /** [fold][layer][time], only when asked for (large). */
  foldR?: number[][][];
}

export interface RollingScores extends CurveScores {
  /** Words predicted before being added (all but those before the first refit). */
  nScored: number;
  halfLifeWords: number | null;
  /**
   * When words were scored: `batch` (when their batch was added, by the model of the latest refit
   * asked for before: the same at any speed) or `arrival` (as they arrived, by the model current
   * then, live, while a refit may still have been computing).
   */
  scoring: ScoringMode;
  /** Which model scored which words: words fromWord…toWord (1-based, accepted words) by the model fit on the first modelAtWords. */
  scoredBy: ScoredRun[];
  /** The same rolling score over each condition's words only (`arrival` scoring with conditions; Decoder.conditionScores). */
  conditions?: Record<string, ConditionRollingScores>;
}

/** A condition's rolling score under the decoder of all words. */
export interface ConditionRollingScores {
  nScored: number;
  temporalScore: number;
  p: number;
  alignmentScore: number;
  tmax: number[];
}

export interface ScoreSnapshot {
  schema: typeof SNAPSHOT_SCHEMA;
  seq: number;
  /** Accepted words in the statistics. */
  nWords: number;
  skipped: Record<SkipReason, number>;
  /** Onset of the last word received, source clock, seconds. */
  sourceTimeSec: number | null;
  lastWord: { index: number; word?: string; onsetSec: number } | null;
  times: number[];
  depths: number[];
  backend: string;
  alphaSelection: string;
  alphas: number[];
  /** `folds` in words, e.g. "5 folds from contiguous blocks of 100 words, assigned round-robin". */
  folds: string;
  /** The same plan as data: `{ kind: 'blocks', folds, blockWords }` or `{ kind: 'total', folds, totalWords }`. */
  foldPlan: FoldPlan;
  /** Accepted words from which on every fold can be scored (the first exact score comes with the next refit); null: never. */
  minWordsForExact: number | null;
  rolling: RollingScores | null;
  exact: ExactScores | null;
}

export function curveScores(R: Float64Array, nLayers: number, times: number[], depths: number[]): CurveScores {
  const T = times.length;
  const s = temporalScore(R, nLayers, times, depths);
  return {
    R: Array.from({ length: nLayers }, (_, l) => Array.from(R.subarray(l * T, (l + 1) * T))),
    tmax: s.tmax,
    temporalScore: s.r,
    p: s.p,
    alignmentScore: s.alignmentScore,
    bestLayer: s.bestLayer,
    peakTimeSec: s.peakTime,
  };
}

export function exactScores(result: KFoldResult, nWords: number, computeSeconds: number, times: number[], depths: number[], includeFolds = false): ExactScores {
  const { nLayers: L, nTimes: T, nDims: D } = result.dims;
  const K = result.nFolds;
  const u = foldUncertainty(result.foldR, K, L, times, depths, { level: 0.95 });
  const P = L * D;
  const medianAlpha = Array.from({ length: L }, (_, l) => {
    const picks: number[] = [];
    for (let f = 0; f < K; f++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) picks.push(result.alphas[result.alphaIndex[(f * T + t) * P + l * D + d]]);
    picks.sort((a, b) => a - b);
    return picks[Math.floor(picks.length / 2)];
  });
  const out: ExactScores = {
    ...curveScores(result.R, L, times, depths),
    nWords,
    foldSizes: result.foldSizes,
    computeSeconds,
    ci: { method: SCORE_INTERVAL_METHOD, level: u.level, low: u.temporalScore.low, high: u.temporalScore.high },
    tmaxCI: { method: TMAX_INTERVAL_METHOD, level: u.level, low: u.tmax.low, high: u.tmax.high, se: u.tmax.se, resolutionSec: u.resolutionSec },
    foldTest: { method: JACKKNIFE_TEST_METHOD, t: u.jackknifeTest.t, df: u.jackknifeTest.df, p: u.jackknifeTest.p },
    medianAlpha,
  };
  if (includeFolds) {
    out.foldR = Array.from({ length: K }, (_, f) => Array.from({ length: L }, (_, l) => Array.from(result.foldR.subarray((f * L + l) * T, (f * L + l + 1) * T))));
  }
  return out;
}

export interface SnapshotContext {
  /** The exact scores of `decoder.latest`, when already computed (they change only at refits). */
  exact?: ExactScores | null;
  seq: number;
  times: number[];
  depths: number[];
  backend: string;
  lastWord: { index: number; word?: string; onsetSec: number } | null;
  refitSeconds: number;
}

function conditionRolling(decoder: Decoder, ctx: SnapshotContext): Record<string, ConditionRollingScores> {
  const out: Record<string, ConditionRollingScores> = {};
  for (const [c, scorer] of decoder.conditionScores) {
    const s = curveScores(scorer.curves(), decoder.dims.nLayers, ctx.times, ctx.depths);
    out[c] = { nScored: scorer.scored, temporalScore: s.temporalScore, p: s.p, alignmentScore: s.alignmentScore, tmax: s.tmax };
  }
  return out;
}

/** A snapshot of the decoder as it stands (rolling scores from the prequential sums, exact from the latest refit). */
export function snapshotOf(decoder: Decoder, ctx: SnapshotContext): ScoreSnapshot {
  const { nLayers: L } = decoder.dims;
  const rolling: RollingScores | null =
    decoder.prequential.scored > 0
      ? {
          ...curveScores(decoder.prequential.curves(), L, ctx.times, ctx.depths),
          nScored: decoder.prequential.scored,
          halfLifeWords: decoder.prequential.halfLifeWords,
          scoring: decoder.scoring,
          scoredBy: decoder.scoredBy.map((r) => ({ ...r })),
          ...(decoder.conditionScores.size > 0 ? { conditions: conditionRolling(decoder, ctx) } : {}),
        }
      : null;
  const exact = ctx.exact !== undefined ? ctx.exact : decoder.latest ? exactScores(decoder.latest, decoder.latestAtWords, ctx.refitSeconds, ctx.times, ctx.depths) : null;
  return {
    schema: SNAPSHOT_SCHEMA,
    seq: ctx.seq,
    nWords: decoder.accepted,
    skipped: { ...decoder.skipped },
    sourceTimeSec: ctx.lastWord?.onsetSec ?? null,
    lastWord: ctx.lastWord,
    times: ctx.times,
    depths: ctx.depths,
    backend: ctx.backend,
    alphaSelection: decoder.options.selection,
    alphas: [...decoder.options.alphas],
    folds: describeFoldPlan(decoder.options.foldPlan),
    foldPlan: { ...decoder.options.foldPlan },
    minWordsForExact: minWordsForExact(decoder.options.foldPlan),
    rolling,
    exact,
  };
}
