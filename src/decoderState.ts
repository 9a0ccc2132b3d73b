/**
 * The decoder's complete state as named flat arrays plus a JSON header, so a checkpoint can be
 * written and read array by array (never a second copy of 1 GB of statistics in memory).
 * Restoring gives a decoder that continues bit for bit like the one that was saved: the pending
 * (unflushed) words are saved raw, so batch boundaries stay where they would have been.
 *
 * Owns: the mapping decoder ↔ arrays. Must not: touch files (adapters/checkpointStore.ts does).
 */
import { Decoder, type ResolvedDecoderOptions } from './decoder.js';
import type { KFoldResult } from './ridge/kfoldRidge.js';
import { STATS_ARRAY_KEYS } from './stats/sufficientStats.js';
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
}

export interface NamedArray {
  name: string;
  array: StateArray;
}

export function decoderHeader(d: Decoder): DecoderStateHeader {
  return {
    options: d.options,
    accepted: d.accepted,
    skipped: { ...d.skipped },
    foldN: d.accumulator.folds.map((f) => f.n),
    pendingCount: d.accumulator.pending.count,
    prequentialScored: d.prequential.scored,
    hasModel: d.model !== undefined,
    modelN: d.model?.n ?? 0,
    latest: d.latest ? { atWords: d.latestAtWords, foldSizes: d.latest.foldSizes } : null,
  };
}

/** Views on the live arrays, in a fixed order (no copies). */
export function decoderArrays(d: Decoder): NamedArray[] {
  const out: NamedArray[] = [];
  d.accumulator.folds.forEach((f, i) => {
    for (const key of STATS_ARRAY_KEYS) out.push({ name: `fold${i}.${key}`, array: f[key] });
  });
  const { pending } = d.accumulator;
  const { nChannels: C, nTimes: T } = d.dims;
  const P = nTargets(d.dims);
  out.push({ name: 'pending.x', array: pending.x.subarray(0, pending.count * T * C) });
  out.push({ name: 'pending.y', array: pending.y.subarray(0, pending.count * P) });
  out.push({ name: 'pending.fold', array: pending.fold.subarray(0, pending.count) });
  for (const key of PREQUENTIAL_SUMS) out.push({ name: `prequential.${key}`, array: d.prequential.sums[key] });
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
export function decoderForRestore(header: DecoderStateHeader): Decoder {
  const d = new Decoder(header.options);
  const { dims } = header.options;
  const { nChannels: C, nTimes: T, nLayers: L } = dims;
  const P = nTargets(dims);
  const K = header.options.foldPlan.folds;
  d.accepted = header.accepted;
  Object.assign(d.skipped, header.skipped);
  header.foldN.forEach((n, i) => (d.accumulator.folds[i].n = n));
  d.accumulator.pending.count = header.pendingCount;
  d.prequential.scored = header.prequentialScored;
  if (header.hasModel) {
    d.model = { weights: new Float64Array(T * C * P), intercept: new Float64Array(T * P), alphaIndex: new Uint8Array(T * P), n: header.modelN };
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
