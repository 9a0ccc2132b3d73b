/**
 * One extraction job end to end: windows → model → cache folder, resuming from a checkpoint when
 * the folder holds one, and returning at once when the cache is already complete.
 *
 * Owns: the order of steps and progress accounting (words/s, ETA). Must not: parse texts, tokenize
 * or choose windows (the caller passes `StoryStimulus[]` and `ContextWindow[]`).
 */
import { createHash } from 'node:crypto';
import type { LinalgBackend } from '../../src/linalg/backend.js';
import { ActivationCacheWriter, cacheDirFor, readCompleteManifest, type CacheKey, type CacheManifest, type CachedWord } from './activationCache.js';
import { extractWords, StimulusIndex, type StoryStimulus } from './extractor.js';
import type { ContextWindow, HiddenStateModel } from '../../src/types.js';

export interface ExtractionProgress {
  phase: 'extract' | 'pca-mean' | 'pca-scatter' | 'pca-project' | 'done';
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
  const writer = new ActivationCacheWriter(job.cacheRoot, key, { rowWords, nWindows: job.windows.length, nBlocks: job.model.nBlocks, hiddenSize: job.model.hiddenSize, windowsHash }, { checkpointEvery: job.checkpointEvery });
  const total = rowWords.length;
  const resumed = writer.resumedRows;
  let tokens = 0;
  const progress = (phase: ExtractionProgress['phase'], done: number, phaseTotal: number, computed: number, phaseStart: number) => {
    const now = performance.now();
    const sec = (now - phaseStart) / 1000;
    const rate = sec > 0 ? computed / sec : 0;
    job.onProgress?.({ phase, wordsDone: done, wordsTotal: phaseTotal, wordsPerSec: rate, etaSec: rate > 0 ? (phaseTotal - done) / rate : null, elapsedSec: (now - t0) / 1000 });
  };
  try {
    const tExtract = performance.now();
    progress('extract', resumed, total, 0, tExtract);
    for await (const { windowIndex, words: got } of extractWords(job.model, job.stories, job.windows, { layers: key.layers, aggregate: key.aggregate, bosTokenId: key.bosTokenId ?? undefined }, writer.resumeWindow)) {
      writer.append(windowIndex, got);
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
    onPass: (pass, rowsDone) => {
      if (!passStart.has(pass)) passStart.set(pass, performance.now());
      progress(pass as ExtractionProgress['phase'], rowsDone, total, rowsDone, passStart.get(pass)!);
    },
  });
  progress('done', total, total, total - resumed, t0);
  return { dir: writer.dir, manifest, fromCache: false, resumedWords: resumed, computedWords: total - resumed, tokensProcessed: tokens, seconds: (performance.now() - t0) / 1000 };
}
