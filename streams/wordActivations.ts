/**
 * `wordActivations`: an Observable source of per-word LLM features (`WordActivations`), from the
 * activation cache when it is complete, otherwise by running the extraction (which writes the cache).
 *
 * Emission order is stimulus (row) order. With raw dimensions (`pca: 'none'`) words are emitted as
 * each window is computed (after the words of a resumed checkpoint, read back from the cache); with
 * PCA they can only be emitted once every word is known (the fit uses all words, method §3), so they
 * stream from the finished cache. Progress (phase, words/s, ETA) goes to `onProgress`, never into the
 * data stream.
 *
 * Owns: the Observable wrapping and teardown (unsubscribing stops the extraction at the next window
 * and keeps its checkpoint). Must not: compute features itself (adapters/llm does).
 */
import { Observable } from 'rxjs';
import { checkpointedRows, openActivationCache } from '../adapters/llm/activationCache.js';
import type { RawWordFeatures } from '../adapters/llm/extractor.js';
import { runExtraction, type ExtractionJob, type ExtractionProgress } from '../adapters/llm/extraction.js';
import type { WordActivations } from '../src/types.js';

export interface WordActivationsOptions {
  onProgress?: (p: ExtractionProgress) => void;
  /** Rows read from the cache per block. Default 256. */
  blockRows?: number;
}

/**
 * @example
 *   wordActivations({ model, stories, windows, key, cacheRoot }, { onProgress: (p) => bar(p) })
 *     .subscribe((w) => join.next(w));
 * @param job what to extract and where the cache lives (see adapters/llm/extraction.ts)
 * @return an Observable that completes after the last word, or errors with the extraction's message
 */
export function wordActivations(job: Omit<ExtractionJob, 'onWords' | 'onResume' | 'signal' | 'onProgress'>, opts: WordActivationsOptions = {}): Observable<WordActivations> {
  return new Observable<WordActivations>((subscriber) => {
    const abort = new AbortController();
    const raw = job.key.pca === 'none';
    const toActivations = (w: RawWordFeatures): WordActivations => ({
      wordIndex: w.wordIndex,
      word: w.word,
      layers: job.key.layers,
      depths: job.key.depths,
      nDims: job.model.hiddenSize,
      activations: w.activations,
      surprisalNats: w.surprisalNats,
      tokensPerWord: w.tokensPerWord,
      isContent: w.isContent,
    });
    const run = async () => {
      let emittedLive = false;
      const result = await runExtraction({
        ...job,
        signal: abort.signal,
        onProgress: opts.onProgress,
        onResume: raw
          ? (rows, dir) => {
              emittedLive = true;
              // The checkpointed rows, before the live ones: read back from raw.npy (surprisal and
              // tokens per word are only in the cache once it is finished, so they come from there).
              emitResumed(dir, rows, job, subscriber.next.bind(subscriber), () => subscriber.closed);
            }
          : undefined,
        onWords: raw
          ? (words) => {
              emittedLive = true;
              for (const w of words) if (!subscriber.closed) subscriber.next(toActivations(w));
            }
          : undefined,
      });
      if (!emittedLive || result.fromCache) {
        const reader = openActivationCache(result.dir);
        for (const w of reader.rows(opts.blockRows)) {
          if (subscriber.closed) return;
          subscriber.next(w);
        }
      }
      subscriber.complete();
    };
    run().catch((e) => {
      if (!subscriber.closed) subscriber.error(e);
    });
    return () => abort.abort();
  });
}

/** Emits the first `rows` words of a checkpointed raw-dimension extraction, read back from the cache. */
function emitResumed(
  dir: string,
  rows: number,
  job: Omit<ExtractionJob, 'onWords' | 'onResume' | 'signal' | 'onProgress'>,
  next: (w: WordActivations) => void,
  closed: () => boolean,
): void {
  const rowWords = job.windows.flatMap((w) => w.targetWords);
  const byIndex = new Map<number, { word: string; isContent?: boolean }>();
  for (const s of job.stories) for (const w of s.words) byIndex.set(w.index, w);
  for (const r of checkpointedRows(dir, rows)) {
    if (closed()) return;
    const w = byIndex.get(rowWords[r.row])!;
    next({
      wordIndex: rowWords[r.row],
      word: w.word,
      layers: job.key.layers,
      depths: job.key.depths,
      nDims: job.model.hiddenSize,
      activations: r.activations,
      surprisalNats: r.surprisalNats,
      tokensPerWord: r.tokensPerWord,
      isContent: w.isContent,
    });
  }
}
