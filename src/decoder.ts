/**
 * The streaming decoder: validates words, assigns folds, predicts each word with the current models
 * (prequential score) and then adds it to the per-fold sufficient statistics, and refits the exact
 * K-fold ridge decoding on demand. Everything a checkpoint needs is reachable from here.
 *
 * The heavy steps (adding a batch of words, a refit) are jobs run strictly in the order they were
 * asked for, by a `StatsEngine`: in the calling thread by default, or spread over worker threads
 * (streams/computePool.ts) on statistics in shared memory, with the same numbers bit for bit. A
 * refit is defined by the words accepted when it was asked for, so its numbers do not depend on
 * when it runs. Words are scored (predicted before being added) in one of two ways:
 *   - `batch` (default): when their batch is added, by the model of the latest refit asked for
 *     before — the same numbers at any speed (replay, offline);
 *   - `arrival`: as they arrive (`scoreOnArrival`), by the model current at that moment, while a
 *     refit may still be computing beside it (live); `scoredBy` records which model scored which
 *     words.
 *
 * Owns: decoder state and its invariants, the order of jobs. Must not: schedule refits or talk to
 * the outside world (streams/ and adapters/ do).
 */
import type { LinalgBackend } from './linalg/backend.js';
import { allFinite } from './quality/finite.js';
import { DEFAULT_ALPHAS, validateAlphas, type AlphaSelection } from './ridge/alphaGrid.js';
import { emptyFullModel, kfoldRidge, type FullModel, type KFoldResult, type RidgeOptions } from './ridge/kfoldRidge.js';
import { predictWord, scoreBatchTimes } from './ridge/prediction.js';
import { foldOf, MIN_WORDS_PER_FOLD, validateFoldPlan, type FoldPlan } from './stats/foldPlan.js';
import { PrequentialScorer } from './stats/prequential.js';
import { ACCUMULATION_PRECISIONS, accumulatePart, batchParts, finishBatch, StatsAccumulator, type AccumulationPrecision, type PendingWords } from './stats/statsAccumulator.js';
import type { ArrayMemory, SufficientStats } from './stats/sufficientStats.js';
import { describeDims, type DecoderDims, type SkipReason, type WordPair } from './types.js';

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
  /** Accumulation arithmetic (default float64; `mixed`: float32 products of centred blocks). */
  precision?: AccumulationPrecision;
}

export interface ResolvedDecoderOptions {
  dims: DecoderDims;
  foldPlan: FoldPlan;
  alphas: readonly number[];
  selection: AlphaSelection;
  batchWords: number;
  halfLifeWords: number | null;
  timeChunk: number;
  precision: AccumulationPrecision;
}

export type AddOutcome = { accepted: true; fold: number; position: number } | { accepted: false; reason: SkipReason };

/** Words `fromWord`…`toWord` (1-based positions among accepted words) were scored by the model fit on the first `modelAtWords`. */
export interface ScoredRun {
  fromWord: number;
  toWord: number;
  modelAtWords: number;
}

/** How words are scored: when their batch is added (`batch`), or as they arrive (`arrival`). */
export type ScoringMode = 'batch' | 'arrival';

/** One batch of words to add (and, in `batch` scoring, to score first). */
export interface BatchJob {
  batch: PendingWords;
  folds: readonly SufficientStats[];
  precision: AccumulationPrecision;
  /** Score the batch with this model first (into `prequential`'s sums; the decoder counts the words). */
  model?: FullModel;
  prequential: PrequentialScorer;
}

/**
 * Where a decoder's heavy steps run. Both calls must give the numbers the in-thread engine gives
 * (the decoder's results may not depend on where they were computed).
 */
export interface StatsEngine {
  /** Scores the batch when asked, then adds its products to the folds (n, Σy and Σy² excepted: the decoder adds those). */
  addBatch(job: BatchJob): Promise<void>;
  /** `kfoldRidge` on the folds (the full model written into `opts.fullOut` when given). */
  refit(folds: readonly SufficientStats[], opts: RidgeOptions): Promise<KFoldResult>;
}

/** The engine that computes in the calling thread, on `backend`. */
export function localEngine(backend: LinalgBackend): StatsEngine {
  return {
    async addBatch(job) {
      const { dims } = job.folds[0];
      if (job.model) await scoreBatchTimes(job.batch, job.model, job.prequential, backend, 0, dims.nTimes);
      await accumulatePart(job.batch, job.folds, backend, batchParts(dims, 1)[0], job.precision);
    },
    refit: (folds, opts) => kfoldRidge(folds, backend, opts),
  };
}

/** Sealed batches allowed to wait for the engine before `add` waits too (bounds memory). */
const MAX_BATCHES_IN_FLIGHT = 2;

export function resolveDecoderOptions(o: DecoderOptions | ResolvedDecoderOptions): ResolvedDecoderOptions {
  const selection = o.selection ?? 'gcv';
  const alphas = o.alphas ?? (selection === 'fixed' ? [1] : DEFAULT_ALPHAS);
  validateAlphas(alphas, selection);
  validateFoldPlan(o.foldPlan);
  const { nChannels, nTimes, nLayers, nDims } = o.dims;
  const dims: DecoderDims = { nChannels, nTimes, nLayers, nDims };
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`decoder dims: ${k} must be a positive integer, got ${v}`);
  }
  const precision = o.precision ?? 'float64';
  if (!ACCUMULATION_PRECISIONS.includes(precision)) throw new RangeError(`accumulation precision must be ${ACCUMULATION_PRECISIONS.join(' or ')}, got ${String(precision)}`);
  return {
    dims,
    foldPlan: { ...o.foldPlan },
    alphas: [...alphas],
    selection,
    batchWords: o.batchWords ?? 128,
    halfLifeWords: o.halfLifeWords ?? null,
    timeChunk: o.timeChunk ?? 2,
    precision,
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
  /** Words accepted when `latest` was asked for. */
  latestAtWords = 0;
  /** Seconds the latest refit computed (from its start, not from when it was asked for). */
  lastRefitSeconds = 0;
  /** Which model scored which words, oldest first (consecutive words of one model form one run). */
  readonly scoredBy: ScoredRun[] = [];
  /**
   * The rolling score per condition (WordPair.conditions), `arrival` scoring only: each word of a
   * condition predicted by the model of all words current at its arrival. Unlike a decoder per
   * condition, whose score grows with its own word count, these compare conditions with one model,
   * so a condition given more words does not score higher for that reason (closed-loop arms).
   * Not saved in checkpoints.
   */
  readonly conditionScores = new Map<string, PrequentialScorer>();
  /** Where batches and refits are computed (default: this thread, on the backend given to each call). */
  engine: StatsEngine | undefined;
  scoring: ScoringMode = 'batch';
  /** The full model's second buffer: a refit writes here while `model` may still be scoring. */
  private spareModel: FullModel | undefined;
  /** Jobs (batches, refits) run one after another in the order asked for. */
  private jobs: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  private pendingJobs = 0;
  /** Sealed batches whose job has not finished. */
  private readonly inFlight: PendingWords[] = [];

  constructor(
    options: DecoderOptions | ResolvedDecoderOptions,
    readonly memory: ArrayMemory = 'local',
  ) {
    this.options = resolveDecoderOptions(options);
    const { dims, foldPlan, batchWords, halfLifeWords } = this.options;
    this.accumulator = new StatsAccumulator(dims, foldPlan.folds, batchWords, memory);
    this.prequential = new PrequentialScorer(dims, halfLifeWords, memory);
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

  /**
   * Adds one word (predicted first, when its batch is added, in `batch` scoring). A full batch is
   * queued to the engine; this waits only while too many batches are queued.
   */
  async add(word: WordPair, backend: LinalgBackend): Promise<AddOutcome> {
    this.throwIfFailed();
    const reason = this.validate(word);
    if (reason) {
      this.skipped[reason] += 1;
      return { accepted: false, reason };
    }
    const position = this.accepted;
    const fold = foldOf(this.options.foldPlan, position);
    this.accumulator.push(word.epoch, word.activations, fold);
    this.accepted += 1;
    // A batch ends when it is full or when the next word belongs to another fold: each batch is
    // then one fold's run, added as one product per statistic (a run cut short costs nearly a full
    // pass over the fold's 163 MB of cross-products for a fraction of the words).
    if (this.accumulator.isFull || this.endsFoldRun(position, fold)) {
      const added = this.queueBatch(backend);
      // In this thread nothing runs beside the caller: finish the batch now, as a plain call would.
      if (!this.engine || this.inFlight.length > MAX_BATCHES_IN_FLIGHT) await added;
    }
    return { accepted: true, fold, position };
  }

  /** True when the word after `position` goes to another fold (or there is none in a fixed-total plan). */
  private endsFoldRun(position: number, fold: number): boolean {
    const plan = this.options.foldPlan;
    if (plan.kind === 'total' && position + 1 >= plan.totalWords) return true;
    return foldOf(plan, position + 1) !== fold;
  }

  /**
   * `arrival` scoring: predicts an accepted word (at `position`, from `add`) with the model current
   * now and adds it to the rolling score. Does nothing before the first model.
   */
  async scoreOnArrival(word: WordPair, position: number, backend: LinalgBackend): Promise<void> {
    const model = this.model;
    if (!model) return;
    const yhat = await predictWord(word.epoch, model, this.dims, backend);
    const y = Float64Array.from(word.activations);
    this.prequential.update(yhat, y, 1);
    for (const c of word.conditions ?? []) {
      let scorer = this.conditionScores.get(c);
      if (!scorer) this.conditionScores.set(c, (scorer = new PrequentialScorer(this.dims, this.options.halfLifeWords)));
      scorer.update(yhat, y, 1);
    }
    this.recordScored(position + 1, position + 1, model.n);
  }

  /** Queues the pending words as one batch and waits until every queued job is done. */
  async flush(backend: LinalgBackend): Promise<void> {
    await this.queueBatch(backend);
    await this.drain();
  }

  /** Resolves once every job asked for so far has finished (rejects if one failed). */
  async drain(): Promise<void> {
    await this.jobs;
    this.throwIfFailed();
  }

  /**
   * Runs `fn` after every job asked for so far (e.g. to read consistent statistics for a
   * checkpoint); later jobs wait for it.
   */
  afterJobs<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.enqueue(fn);
  }

  /** True once every fold has at least two words and every training set too (src/stats/foldPlan.ts minWordsForExact says when). */
  get canRefit(): boolean {
    const sizes = this.foldSizes();
    const total = sizes.reduce((a, b) => a + b, 0);
    return sizes.every((n) => n >= MIN_WORDS_PER_FOLD && total - n >= MIN_WORDS_PER_FOLD);
  }

  /** Words per fold, including pending and queued ones. */
  foldSizes(): number[] {
    const sizes = this.accumulator.folds.map((f) => f.n);
    for (const b of [...this.inFlight, this.accumulator.pending]) for (let i = 0; i < b.count; i++) sizes[b.fold[i]] += 1;
    return sizes;
  }

  /**
   * Exact K-fold decoding on everything accepted so far, and (unless `fitFull` is false, as for
   * offline decoding) a new prequential model fit on all words. While some fold is still empty
   * (contiguous folds over a known total fill one after the other) only the model is refit and
   * `latest` keeps its previous value; resolves to null then. The refit covers the words accepted
   * now; it runs after the jobs asked for before it, and words added meanwhile wait for it.
   */
  async refit(
    backend: LinalgBackend,
    onProgress?: (done: number, total: number) => void | Promise<void>,
    opts: { fitFull?: boolean } = {},
  ): Promise<KFoldResult | null> {
    this.throwIfFailed();
    const added = this.queueBatch(backend);
    const evaluateFolds = this.canRefit;
    const fitFull = opts.fitFull ?? true;
    if (this.accepted < 2 || (!evaluateFolds && !fitFull)) {
      await added;
      return null;
    }
    const atWords = this.accepted;
    return this.enqueue(async () => {
      const engine = this.engine ?? localEngine(backend);
      const started = performance.now();
      const result = await engine.refit(this.accumulator.folds, {
        alphas: this.options.alphas,
        selection: this.options.selection,
        fitFull,
        evaluateFolds,
        timeChunk: this.options.timeChunk,
        onProgress,
        fullOut: fitFull ? this.fullModelOut() : undefined,
      });
      this.lastRefitSeconds = (performance.now() - started) / 1000;
      if (result.full && result.full !== this.model) {
        // The swap is one assignment on this thread: a word is scored by the old model or the new one, never a mix.
        this.spareModel = this.model;
        this.model = result.full;
      }
      if (!evaluateFolds) return null;
      this.latest = result;
      this.latestAtWords = atWords;
      return result;
    });
  }

  /**
   * Where a refit writes its full model. `arrival` scoring reads the current model while a refit
   * computes, so the refit writes to a second buffer and the two swap. In `batch` scoring only
   * jobs read the model, and jobs run one at a time, so the refit writes over it: one model in
   * memory instead of two (163 MB at the paper's size).
   */
  private fullModelOut(): FullModel {
    if (this.scoring === 'batch' && this.model) return this.model;
    return (this.spareModel ??= emptyFullModel(this.dims, this.memory));
  }

  /** True while a batch or refit job is queued or running (the statistics are then in motion). */
  get busy(): boolean {
    return this.pendingJobs > 0;
  }

  private recordScored(from: number, to: number, modelAtWords: number): void {
    const last = this.scoredBy.at(-1);
    if (last && last.modelAtWords === modelAtWords && last.toWord === from - 1) last.toWord = to;
    else this.scoredBy.push({ fromWord: from, toWord: to, modelAtWords });
  }

  /** Seals the pending words (if any) into a batch job; resolves when that job is done. */
  private queueBatch(backend: LinalgBackend): Promise<unknown> {
    if (this.accumulator.pending.count === 0) return this.jobs;
    const batch = this.accumulator.seal();
    const first = this.accepted - batch.count; // position of the batch's first word
    this.inFlight.push(batch);
    return this.enqueue(async () => {
      const engine = this.engine ?? localEngine(backend);
      const model = this.scoring === 'batch' ? this.model : undefined;
      await engine.addBatch({ batch, folds: this.accumulator.folds, precision: this.options.precision, model, prequential: this.prequential });
      finishBatch(batch, this.accumulator.folds);
      if (model) {
        this.prequential.scored += batch.count;
        this.recordScored(first + 1, first + batch.count, model.n);
      }
      this.inFlight.splice(this.inFlight.indexOf(batch), 1);
      this.accumulator.recycle(batch);
    });
  }

  private enqueue<T>(fn: () => T | Promise<T>): Promise<T> {
    this.pendingJobs += 1;
    const run = this.jobs
      .then(() => {
        this.throwIfFailed();
        return fn();
      })
      .finally(() => (this.pendingJobs -= 1));
    this.jobs = run.catch((e: unknown) => {
      this.failure ??= e;
    });
    return run;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

