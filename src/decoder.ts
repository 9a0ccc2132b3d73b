/**
 * The streaming decoder: validates words, assigns folds, predicts each word with the current models
 * (prequential score) and then adds it to the per-fold sufficient statistics, and refits the exact
 * K-fold ridge decoding on demand. Everything a checkpoint needs is reachable from here.
 *
 * Owns: decoder state and its invariants. Must not: schedule refits or talk to the outside world
 * (streams/ and adapters/ do).
 */
import type { LinalgBackend } from './linalg/backend.js';
import { allFinite } from './quality/finite.js';
import { DEFAULT_ALPHAS, validateAlphas, type AlphaSelection } from './ridge/alphaGrid.js';
import { kfoldRidge, type FullModel, type KFoldResult } from './ridge/kfoldRidge.js';
import { foldOf, MIN_WORDS_PER_FOLD, validateFoldPlan, type FoldPlan } from './stats/foldPlan.js';
import { PrequentialScorer } from './stats/prequential.js';
import { StatsAccumulator } from './stats/statsAccumulator.js';
import { describeDims, nTargets, type DecoderDims, type SkipReason, type WordPair } from './types.js';

export interface DecoderOptions {
  dims: DecoderDims;
  foldPlan: FoldPlan;
  alphas?: readonly number[];
  selection?: AlphaSelection;
  /** Words per accumulation product (memory ∝ batchWords·C·T). */
  batchWords?: number;
  /** Rolling-score half-life in words; null = cumulative. */
  halfLifeWords?: number | null;
  /** Time samples solved together in a refit. */
  timeChunk?: number;
}

export interface ResolvedDecoderOptions {
  dims: DecoderDims;
  foldPlan: FoldPlan;
  alphas: readonly number[];
  selection: AlphaSelection;
  batchWords: number;
  halfLifeWords: number | null;
  timeChunk: number;
}

export type AddOutcome = { accepted: true; fold: number; position: number } | { accepted: false; reason: SkipReason };

export function resolveDecoderOptions(o: DecoderOptions): ResolvedDecoderOptions {
  const selection = o.selection ?? 'gcv';
  const alphas = o.alphas ?? (selection === 'fixed' ? [1] : DEFAULT_ALPHAS);
  validateAlphas(alphas, selection);
  validateFoldPlan(o.foldPlan);
  const { nChannels, nTimes, nLayers, nDims } = o.dims;
  const dims: DecoderDims = { nChannels, nTimes, nLayers, nDims };
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`decoder dims: ${k} must be a positive integer, got ${v}`);
  }
  return {
    dims,
    foldPlan: { ...o.foldPlan },
    alphas: [...alphas],
    selection,
    batchWords: o.batchWords ?? 128,
    halfLifeWords: o.halfLifeWords ?? null,
    timeChunk: o.timeChunk ?? 2,
  };
}

export class Decoder {
  readonly options: ResolvedDecoderOptions;
  readonly accumulator: StatsAccumulator;
  readonly prequential: PrequentialScorer;
  /** Accepted words so far (their arrival positions are 0…accepted−1). */
  accepted = 0;
  readonly skipped: Record<SkipReason, number> = { 'nonfinite-epoch': 0, 'nonfinite-activations': 0 };
  /** Model used for prequential prediction (from the latest refit's full fit). */
  model: FullModel | undefined;
  latest: KFoldResult | undefined;
  /** Words accepted when `latest` was computed. */
  latestAtWords = 0;

  constructor(options: DecoderOptions | ResolvedDecoderOptions) {
    this.options = resolveDecoderOptions(options);
    const { dims, foldPlan, batchWords, halfLifeWords } = this.options;
    this.accumulator = new StatsAccumulator(dims, foldPlan.folds, batchWords);
    this.prequential = new PrequentialScorer(dims, halfLifeWords);
  }

  get dims(): DecoderDims {
    return this.options.dims;
  }

  /**
   * Checks one word: throws a RangeError naming the shapes on a mismatch; returns the skip reason
   * for NaN/Inf values (the caller counts it and changes nothing else), or null when it is usable.
   */
  validate(word: WordPair): SkipReason | null {
    const { nChannels: C, nTimes: T, nLayers: L, nDims: D } = this.dims;
    if (word.epoch.length !== C * T) {
      throw new RangeError(`word ${word.wordIndex}: epoch has ${word.epoch.length} values, expected ${C} channels × ${T} times = ${C * T} (decoder set up for ${describeDims(this.dims)})`);
    }
    if (word.activations.length !== L * D) {
      throw new RangeError(`word ${word.wordIndex}: activations have ${word.activations.length} values, expected ${L} layers × ${D} dims = ${L * D}`);
    }
    if (!allFinite(word.epoch)) return 'nonfinite-epoch';
    if (!allFinite(word.activations)) return 'nonfinite-activations';
    return null;
  }

  /** Adds one word (predicted first, at the next flush). Flushes when the batch is full. */
  async add(word: WordPair, backend: LinalgBackend): Promise<AddOutcome> {
    const reason = this.validate(word);
    if (reason) {
      this.skipped[reason] += 1;
      return { accepted: false, reason };
    }
    const position = this.accepted;
    const fold = foldOf(this.options.foldPlan, position);
    this.accumulator.push(word.epoch, word.activations, fold);
    this.accepted += 1;
    if (this.accumulator.isFull) await this.flush(backend);
    return { accepted: true, fold, position };
  }

  /** Scores the pending words with the current model, then adds them to the statistics. */
  async flush(backend: LinalgBackend): Promise<void> {
    const W = this.accumulator.pending.count;
    if (W === 0) return;
    if (this.model) {
      const { nChannels: C, nTimes: T } = this.dims;
      const P = nTargets(this.dims);
      const xByTime = this.accumulator.pendingByTime(); // [t][word][channel]
      const yhat = await backend.matmul(xByTime, this.model.weights, { batch: T, m: W, k: C, n: P });
      const b = this.model.intercept;
      for (let t = 0; t < T; t++) {
        for (let w = 0; w < W; w++) {
          const o = (t * W + w) * P;
          for (let p = 0; p < P; p++) yhat[o + p] += b[t * P + p];
        }
      }
      this.prequential.update(yhat, this.accumulator.pending.y.subarray(0, W * P), W);
    }
    await this.accumulator.flush(backend);
  }

  /** True once every fold has at least two words and every training set too (src/stats/foldPlan.ts minWordsForExact says when). */
  get canRefit(): boolean {
    const sizes = this.foldSizes();
    const total = sizes.reduce((a, b) => a + b, 0);
    return sizes.every((n) => n >= MIN_WORDS_PER_FOLD && total - n >= MIN_WORDS_PER_FOLD);
  }

  /** Words per fold, including pending ones. */
  foldSizes(): number[] {
    const sizes = this.accumulator.folds.map((f) => f.n);
    const { pending } = this.accumulator;
    for (let i = 0; i < pending.count; i++) sizes[pending.fold[i]] += 1;
    return sizes;
  }

  /**
   * Exact K-fold decoding on everything accepted so far, and (unless `fitFull` is false, as for
   * offline decoding) a new prequential model fit on all words. While some fold is still empty (contiguous folds over a known total fill one after the
   * other) only the model is refit and `latest` keeps its previous value; returns null then.
   */
  async refit(
    backend: LinalgBackend,
    onProgress?: (done: number, total: number) => void | Promise<void>,
    opts: { fitFull?: boolean } = {},
  ): Promise<KFoldResult | null> {
    await this.flush(backend);
    if (this.accepted < 2) return null;
    const evaluateFolds = this.canRefit;
    const fitFull = opts.fitFull ?? true;
    if (!evaluateFolds && !fitFull) return null;
    const result = await kfoldRidge(this.accumulator.folds, backend, {
      alphas: this.options.alphas,
      selection: this.options.selection,
      fitFull,
      evaluateFolds,
      timeChunk: this.options.timeChunk,
      onProgress,
    });
    if (result.full) this.model = result.full;
    if (!evaluateFolds) return null;
    this.latest = result;
    this.latestAtWords = this.accepted;
    return result;
  }
}
