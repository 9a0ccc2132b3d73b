/**
 * One extraction job end to end: windows → model → cache folder, resuming from a checkpoint when
 * the folder holds one, and returning at once when the cache is already complete.
 *
 * Windows run in batches (windowBatches.ts: a fixed partition, so resumed and uninterrupted runs
 * compute the same numbers) on an extraction pool's worker threads (extractionPool.ts) or, without
 * one, in this thread. With a fixed PCA basis (pcaBasis.ts: `sample` fits it on a first pass over
 * a spread sample of windows, whose words the main pass then takes instead of recomputing them;
 * `reference` is given) every word is projected as it is computed and handed to `onRows` in
 * stimulus order, so consumers can use features long before the last word.
 *
 * Owns: the order of steps and progress accounting (words/s, ETA). Must not: parse texts, tokenize
 * or choose windows (the caller passes `StoryStimulus[]` and `ContextWindow[]`).
 */
import { createHash } from 'node:crypto';
import type { LinalgBackend } from '../../src/linalg/backend.js';
import { ReferenceBackend } from '../../src/linalg/reference.js';
import { projectLayers } from '../../src/llm/pca.js';
import { ActivationCacheWriter, cacheDirFor, readCompleteManifest, type CacheKey, type CacheManifest, type CachedWord } from './activationCache.js';
import { poolExtractWords, type ExtractionPool } from './extractionPool.js';
import { extractWords, StimulusIndex, type RawWordFeatures, type StoryStimulus } from './extractor.js';
import { basisComponents, fitBasis, readBasis, sampleWindows, writeBasis, type PcaBasis } from './pcaBasis.js';
import { planWindowBatches, type WindowBatchOptions } from './windowBatches.js';
import type { ContextWindow, HiddenStateModel } from '../../src/types.js';

/** Words as they stream out of an extraction with a fixed basis, in stimulus order. */
export interface StreamedRows {
  /** Stimulus word index of each row. */
  words: number[];
  /** [row][layer][dim] float32, rows × layers × dims. */
  rows: Float32Array;
}

export interface ExtractionProgress {
  phase: 'pca-sample' | 'extract' | 'pca-mean' | 'pca-scatter' | 'pca-project' | 'done';
  /** Words done in this phase (extract: including words resumed from a checkpoint). */
  wordsDone: number;
  wordsTotal: number;
  /** Words computed per second in this run (resumed words excluded). */
  wordsPerSec: number;
  /** Seconds left in this phase at the current rate; null before the rate is known. */
  etaSec: number | null;
  elapsedSec: number;
}

export interface ExtractionJob {
  model: HiddenStateModel;
  stories: readonly StoryStimulus[];
  windows: readonly ContextWindow[];
  /** The cache key without the model hash, which is the model's. */
  key: Omit<CacheKey, 'modelHash'>;
  cacheRoot: string;
  checkpointEvery?: number;
  backend?: LinalgBackend;
  keepRaw?: boolean;
  blockRows?: number;
  onProgress?: (p: ExtractionProgress) => void;
  /** Stop early (for cancellation): checked between windows; the checkpoint is kept. */
  signal?: AbortSignal;
  /** Windows per forward pass (windowBatches.ts). Default: one window per pass in this thread, DEFAULT_BATCH_TOKENS on a pool. */
  batching?: WindowBatchOptions | 'none';
  /** Compute on these worker threads instead of this one (same numbers up to float rounding). */
  pool?: ExtractionPool;
  /**
   * A PCA basis fixed before the words are extracted (key.pcaFit must say which): fit on a spread
   * sample of `words` words of this stimulus first, or the one given. Absent: the all-words fit.
   */
  fixedBasis?: { kind: 'sample'; words: number } | { kind: 'reference'; basis: PcaBasis };
  /** With a fixed basis: the projected words, in stimulus order, as they are written (resumed ones first). */
  onRows?: (rows: StreamedRows) => void;
}

export interface ExtractionResult {
  dir: string;
  manifest: CacheManifest;
  /** True when a complete cache was found and nothing was computed. */
  fromCache: boolean;
  resumedWords: number;
  computedWords: number;
  tokensProcessed: number;
  seconds: number;
}

/** The full key for a job. */
export function jobKey(job: Pick<ExtractionJob, 'model' | 'key'>): CacheKey {
  return { modelHash: job.model.modelHash, ...job.key };
}

/** Runs (or resumes, or finds) the extraction described by `job`. */
export async function runExtraction(job: ExtractionJob): Promise<ExtractionResult> {
  const t0 = performance.now();
  const key = jobKey(job);
  const existing = readCompleteManifest(cacheDirFor(job.cacheRoot, key), key);
  if (existing) {
    job.onProgress?.({ phase: 'done', wordsDone: existing.nWords, wordsTotal: existing.nWords, wordsPerSec: 0, etaSec: 0, elapsedSec: 0 });
    return { dir: cacheDirFor(job.cacheRoot, key), manifest: existing, fromCache: true, resumedWords: 0, computedWords: 0, tokensProcessed: 0, seconds: (performance.now() - t0) / 1000 };
  }
  const index = new StimulusIndex(job.stories);
  const rowWords = job.windows.flatMap((w) => w.targetWords);
  if (rowWords.length === 0) throw new RangeError('no word of the stimulus has tokens (every word is unmatched, or there are no windows); check that the text and the events describe the same story');
  const words: CachedWord[] = rowWords.map((i) => {
    const { story, position } = index.word(i);
    const w = story.words[position];
    const [a, b] = story.tokens.wordTokens[position];
    return { index: i, story: story.story, word: w.word, isContent: w.isContent, tokens: b - a };
  });
  const windowsHash = createHash('sha256')
    .update(JSON.stringify(job.windows.map((w) => [w.story, w.tokenStart, w.tokenStop, w.targetWords])))
    .digest('hex');
  const fixed = key.pca === 'none' ? undefined : job.fixedBasis;
  if (fixed && (!key.pcaFit || key.pcaFit === 'all')) throw new Error('runExtraction: a fixed PCA basis needs key.pcaFit to name it (the cache would be confused with an all-words fit)');
  const H = job.model.hiddenSize;
  const sample = fixed?.kind === 'sample' ? sampleWindows(job.windows, fixed.words) : null;
  const sampleWords = sample ? sample.reduce((n, i) => n + job.windows[i]!.targetWords.length, 0) : 0;
  const projectedDims = !fixed ? undefined : fixed.kind === 'reference' ? fixed.basis.fits[0]!.nComponents : basisComponents(key.pca as number, sampleWords, H);
  if (fixed?.kind === 'reference' && (fixed.basis.fits.length !== key.layers.length || fixed.basis.fits[0]!.nFeatures !== H)) {
    throw new Error(`the reference PCA basis has ${fixed.basis.fits.length} layers of ${fixed.basis.fits[0]!.nFeatures} dims; this extraction has ${key.layers.length} of ${H}`);
  }
  const writer = new ActivationCacheWriter(job.cacheRoot, key, { rowWords, nWindows: job.windows.length, nBlocks: job.model.nBlocks, hiddenSize: H, windowsHash, ...(projectedDims !== undefined ? { projectedDims } : {}) }, { checkpointEvery: job.checkpointEvery });
  const total = rowWords.length;
  const resumed = writer.resumedRows;
  const opts = { layers: key.layers, aggregate: key.aggregate, bosTokenId: key.bosTokenId ?? undefined };
  const batchOpts: WindowBatchOptions | null = job.batching === 'none' ? null : (job.batching ?? (job.pool ? {} : null));
  if (job.pool && !batchOpts) throw new Error('runExtraction: a pool computes batches; give batching options, not "none"');
  /** Windows → words, in order, in batches on the pool or in this thread. */
  const windowsOf = (list: readonly ContextWindow[], start: number) => {
    const batches = batchOpts ? planWindowBatches(list, { ...batchOpts, prependBos: key.bosTokenId !== null && key.bosTokenId !== undefined }) : undefined;
    return job.pool ? poolExtractWords(job.pool, job.stories, list, opts, batches!, start) : extractWords(job.model, job.stories, list, opts, start, batches);
  };
  let tokens = 0;
  const progress = (phase: ExtractionProgress['phase'], done: number, phaseTotal: number, computed: number, phaseStart: number) => {
    const now = performance.now();
    const sec = (now - phaseStart) / 1000;
    const rate = sec > 0 ? computed / sec : 0;
    job.onProgress?.({ phase, wordsDone: done, wordsTotal: phaseTotal, wordsPerSec: rate, etaSec: rate > 0 ? (phaseTotal - done) / rate : null, elapsedSec: (now - t0) / 1000 });
  };
  let basis: PcaBasis | null = null;
  /** Raw words of the sampled windows (sample fit): used for those windows in the main pass too. */
  const sampleRaw = new Map<number, RawWordFeatures[]>();
  try {
    if (fixed) {
      basis = writer.resumed ? readBasis(writer.dir) : null;
      if (!basis && writer.resumed) throw new Error(`activation cache ${writer.dir}: a checkpoint without its PCA basis files; delete the folder to recompute it`);
      if (!basis && fixed.kind === 'reference') basis = fixed.basis;
      // The sample pass: the sampled windows' raw activations (in batches of their own, a fixed
      // partition, so a resumed run that needs them again gets the same bits), then one fit per
      // layer unless the basis is already on disk.
      if (sample && (!basis || sample.some((i) => i >= writer.resumeWindow))) {
        const list = sample.map((i) => job.windows[i]!);
        const nL = key.layers.length;
        const raw = basis ? null : new Float32Array(sampleWords * nL * H);
        let r = 0;
        const tSample = performance.now();
        for await (const { windowIndex, words: got } of windowsOf(list, 0)) {
          if (sample[windowIndex]! >= writer.resumeWindow) sampleRaw.set(sample[windowIndex]!, got);
          for (const w of got) {
            raw?.set(w.activations, r * nL * H);
            r++;
          }
          progress('pca-sample', r, sampleWords, r, tSample);
          if (job.signal?.aborted) throw new Error('extraction stopped during the PCA sample pass; rerun to start again');
        }
        basis ??= await fitBasis(raw!, sampleWords, nL, H, key.pca as number, job.backend ?? new ReferenceBackend(), `sample:${sampleWords} words of ${sample.length} windows spread over the stimulus`);
      }
      writeBasis(writer.dir, basis!);
      if (resumed > 0) job.onRows?.({ words: rowWords.slice(0, resumed), rows: writer.readBack(resumed) });
    }
    const project = (got: RawWordFeatures[]): RawWordFeatures[] => (basis ? got.map((w) => ({ ...w, activations: projectLayers(basis!.fits, w.activations) })) : got);
    // The main pass computes the windows outside the sample and takes the sampled ones from the
    // sample pass. Its batches partition those windows whatever the resume point (same bits).
    const sampled = new Set(sample ?? []);
    const rest = job.windows.map((_, i) => i).filter((i) => !sampled.has(i));
    const restStart = rest.findIndex((i) => i >= writer.resumeWindow);
    async function* inOrder(): AsyncGenerator<{ windowIndex: number; words: RawWordFeatures[] }> {
      let next = writer.resumeWindow;
      const fromSample = function* (until: number) {
        for (; next < until; next++) {
          const words = sampleRaw.get(next)!;
          sampleRaw.delete(next);
          yield { windowIndex: next, words };
        }
      };
      if (restStart >= 0) {
        for await (const { windowIndex: p, words } of windowsOf(rest.map((i) => job.windows[i]!), restStart)) {
          yield* fromSample(rest[p]!);
          yield { windowIndex: rest[p]!, words };
          next = rest[p]! + 1;
        }
      }
      yield* fromSample(job.windows.length);
    }
    const tExtract = performance.now();
    progress('extract', resumed, total, 0, tExtract);
    for await (const { windowIndex, words: raw } of inOrder()) {
      const got = project(raw);
      writer.append(windowIndex, got);
      if (basis && job.onRows && got.length > 0) {
        const k = basis.fits[0]!.nComponents * key.layers.length;
        const rows = new Float32Array(got.length * k);
        got.forEach((w, i) => rows.set(w.activations, i * k));
        job.onRows({ words: got.map((w) => w.wordIndex), rows });
      }
      tokens += job.windows[windowIndex].tokenStop - job.windows[windowIndex].tokenStart;
      progress('extract', writer.rows, total, writer.rows - resumed, tExtract);
      if (job.signal?.aborted) {
        writer.checkpoint();
        throw new Error(`extraction stopped after ${writer.rows} of ${total} words; rerun to resume from the checkpoint in ${writer.dir}`);
      }
    }
  } catch (e) {
    writer.abandon();
    throw e;
  }
  const passStart = new Map<string, number>();
  const manifest = await writer.finish(words, {
    backend: job.backend,
    keepRaw: job.keepRaw,
    blockRows: job.blockRows,
    explainedVarianceRatio: basis ? basis.fits.map((f) => f.explainedVarianceRatio.reduce((a, b) => a + b, 0)) : undefined,
    onPass: (pass, rowsDone) => {
      if (!passStart.has(pass)) passStart.set(pass, performance.now());
      progress(pass as ExtractionProgress['phase'], rowsDone, total, rowsDone, passStart.get(pass)!);
    },
  });
  progress('done', total, total, total - resumed, t0);
  return { dir: writer.dir, manifest, fromCache: false, resumedWords: resumed, computedWords: total - resumed, tokensProcessed: tokens, seconds: (performance.now() - t0) / 1000 };
}
