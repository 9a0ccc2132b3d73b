/**
 * The decoder's complete state as named flat arrays plus a JSON header, so a checkpoint can be
 * written and read array by array (never a second copy of 1 GB of statistics in memory).
 * Restoring gives a decoder that continues bit for bit like the one that was saved: the pending
 * (unflushed) words are saved raw, so batch boundaries stay where they would have been.
 *
 * Owns: the mapping decoder ↔ arrays. Must not: touch files (adapters/checkpointStore.ts does).
 */
import { Decoder, type ResolvedDecoderOptions, type ScoredRun } from './decoder.js';
import { emptyFullModel, type KFoldResult } from './ridge/kfoldRidge.js';
import type { PendingWords } from './stats/statsAccumulator.js';
import { STATS_ARRAY_KEYS, type ArrayMemory } from './stats/sufficientStats.js';
import { PREQUENTIAL_SUMS } from './stats/prequential.js';
import { nTargets, type SkipReason } from './types.js';

export type StateArray = Float64Array | Int32Array | Uint8Array;

export interface DecoderStateHeader {
  options: ResolvedDecoderOptions;
  accepted: number;
  skipped: Record<SkipReason, number>;
  foldN: number[];
  pendingCount: number;
  prequentialScored: number;
  hasModel: boolean;
  modelN: number;
  latest: { atWords: number; foldSizes: number[] } | null;
  /** Which model scored which words (absent in checkpoints written before it was recorded). */
  scoredBy?: ScoredRun[];
}

/**
 * The parts of the state that change as words arrive (rather than as batches and refits are
 * computed), as of one moment: a checkpoint asked for while jobs are still queued captures these
 * when it is asked for, and writes them with the statistics once the jobs queued before it are done.
 * In `batch` scoring the rolling sums move with the jobs, so they are read when written instead.
 */
export interface ArrivalState {
  accepted: number;
  skipped: Record<string, number>;
  /** The open batch at that moment and how many of its words were there. */
  pending: PendingWords;
  pendingCount: number;
  /** Present in `arrival` scoring (copies). */
  prequential?: {
    scored: number;
    sums: Record<(typeof PREQUENTIAL_SUMS)[number], Float64Array>;
    scoredBy: ScoredRun[];
  };
}

/** The arrival state now (copies of what keeps moving). */
export function captureArrivalState(d: Decoder): ArrivalState {
  return {
    accepted: d.accepted,
    skipped: { ...d.skipped },
    pending: d.accumulator.pending,
    pendingCount: d.accumulator.pending.count,
    prequential:
      d.scoring === 'arrival'
        ? {
            scored: d.prequential.scored,
            sums: Object.fromEntries(PREQUENTIAL_SUMS.map((k) => [k, d.prequential.sums[k].slice()])) as Record<(typeof PREQUENTIAL_SUMS)[number], Float64Array>,
            scoredBy: d.scoredBy.map((r) => ({ ...r })),
          }
        : undefined,
  };
}

/** The live arrival state of a decoder with no jobs in motion. */
function currentArrivalState(d: Decoder): ArrivalState {
  if (d.busy) throw new Error('decoder state: batches or refits are still being computed; wait for decoder.drain() (or capture the state and write it with decoder.afterJobs)');
  return { accepted: d.accepted, skipped: d.skipped, pending: d.accumulator.pending, pendingCount: d.accumulator.pending.count };
}

export interface NamedArray {
  name: string;
  array: StateArray;
}

/** The rolling score's part of the state: captured, or the decoder's own. */
function prequentialOf(d: Decoder, at: ArrivalState): NonNullable<ArrivalState['prequential']> {
  return at.prequential ?? { scored: d.prequential.scored, sums: d.prequential.sums, scoredBy: d.scoredBy };
}

/**
 * The header of the decoder's state: its statistics, model and latest result as they stand (no
 * jobs may be in motion), with the arrival state `at` a captured moment (default: now).
 */
export function decoderHeader(d: Decoder, at: ArrivalState = currentArrivalState(d)): DecoderStateHeader {
  return {
    options: d.options,
    accepted: at.accepted,
    skipped: { ...at.skipped } as Record<SkipReason, number>,
    foldN: d.accumulator.folds.map((f) => f.n),
    pendingCount: at.pendingCount,
    prequentialScored: prequentialOf(d, at).scored,
    hasModel: d.model !== undefined,
    modelN: d.model?.n ?? 0,
    latest: d.latest ? { atWords: d.latestAtWords, foldSizes: d.latest.foldSizes } : null,
    scoredBy: prequentialOf(d, at).scoredBy.map((r) => ({ ...r })),
  };
}

/** Views on the arrays, in a fixed order (no copies), with the arrival state `at` (default: now). */
export function decoderArrays(d: Decoder, at: ArrivalState = currentArrivalState(d)): NamedArray[] {
  const out: NamedArray[] = [];
  d.accumulator.folds.forEach((f, i) => {
    for (const key of STATS_ARRAY_KEYS) out.push({ name: `fold${i}.${key}`, array: f[key] });
  });
  const { pending, pendingCount } = at;
  const { nChannels: C, nTimes: T } = d.dims;
  const P = nTargets(d.dims);
  out.push({ name: 'pending.x', array: pending.x.subarray(0, pendingCount * T * C) });
  out.push({ name: 'pending.y', array: pending.y.subarray(0, pendingCount * P) });
  out.push({ name: 'pending.fold', array: pending.fold.subarray(0, pendingCount) });
  const sums = prequentialOf(d, at).sums;
  for (const key of PREQUENTIAL_SUMS) out.push({ name: `prequential.${key}`, array: sums[key] });
  if (d.model) {
    out.push({ name: 'model.weights', array: d.model.weights });
    out.push({ name: 'model.intercept', array: d.model.intercept });
    out.push({ name: 'model.alphaIndex', array: d.model.alphaIndex });
  }
  if (d.latest) {
    out.push({ name: 'latest.targetR', array: d.latest.targetR });
    out.push({ name: 'latest.foldR', array: d.latest.foldR });
    out.push({ name: 'latest.R', array: d.latest.R });
    out.push({ name: 'latest.alphaIndex', array: d.latest.alphaIndex });
  }
  return out;
}

/**
 * A decoder shaped by `header`, whose arrays are to be filled in place (in `decoderArrays` order)
 * and then committed with `finishRestore`.
 */
export function decoderForRestore(header: DecoderStateHeader, memory: ArrayMemory = 'local'): Decoder {
  // Checkpoints written before the accumulation precision existed were float64.
  const d = new Decoder({ ...header.options, precision: header.options.precision ?? 'float64' }, memory);
  const { dims } = header.options;
  const { nChannels: C, nTimes: T, nLayers: L } = dims;
  const P = nTargets(dims);
  const K = header.options.foldPlan.folds;
  d.accepted = header.accepted;
  Object.assign(d.skipped, header.skipped);
  header.foldN.forEach((n, i) => (d.accumulator.folds[i].n = n));
  d.accumulator.pending.count = header.pendingCount;
  d.prequential.scored = header.prequentialScored;
  d.scoredBy.push(...(header.scoredBy ?? []));
  if (header.hasModel) {
    d.model = emptyFullModel(dims, memory);
    d.model.n = header.modelN;
  }
  if (header.latest) {
    const latest: KFoldResult = {
      dims,
      nFolds: K,
      alphas: header.options.alphas,
      selection: header.options.selection,
      foldSizes: header.latest.foldSizes,
      targetR: new Float64Array(K * T * P),
      foldR: new Float64Array(K * L * T),
      R: new Float64Array(L * T),
      alphaIndex: new Uint8Array(K * T * P),
      full: d.model,
    };
    d.latest = latest;
    d.latestAtWords = header.latest.atWords;
  }
  return d;
}
