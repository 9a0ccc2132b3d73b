/**
 * A decoder together with its backend and the bookkeeping a snapshot needs (last word, refit time).
 * It runs wherever the decoder lives: in the refit worker (decoderWorker.ts) or in-process.
 * Requests are handled strictly in order, so a snapshot asked for after a refit includes it.
 */
import { readCheckpoint, writeCheckpoint } from '../adapters/checkpointStore.js';
import { Decoder, type DecoderOptions } from '../src/decoder.js';
import type { BackendName, LinalgBackend } from '../src/linalg/backend.js';
import { createBackend } from '../src/linalg/select.js';
import { exactScores, snapshotOf, type ExactScores, type ScoreSnapshot } from '../src/snapshot.js';
import type { WordPair } from '../src/types.js';

export interface DecoderSessionOptions {
  decoder: DecoderOptions;
  backend: 'auto' | BackendName;
  /** Epoch sample times, seconds. */
  times: number[];
  /** Relative depth of each layer. */
  depths: number[];
  /** Start from this checkpoint instead of empty statistics (its options win over `decoder`). */
  resumeFrom?: string;
  /** Exact scores carry the fold curves `foldR` (large: for offline checks such as bench/uncertaintyCalibration). */
  includeFoldCurves?: boolean;
}

export interface AddSummary {
  accepted: number;
  skipped: number;
  /** Shape errors: the word is refused, the stream goes on. */
  errors: string[];
}

export interface RefitSummary {
  seconds: number;
  /** False while some fold is still empty (only the prequential model was refit). */
  exact: boolean;
  nWords: number;
}

export class DecoderSession {
  private lastWord: ScoreSnapshot['lastWord'] = null;
  private refitSeconds = 0;
  /** Exact scores (with their bootstrap CI) change only at refits: computed once per refit. */
  private exact: ExactScores | null = null;

  private constructor(
    readonly decoder: Decoder,
    readonly backend: LinalgBackend,
    private readonly times: number[],
    private readonly depths: number[],
    private readonly includeFoldCurves: boolean,
  ) {}

  static async create(o: DecoderSessionOptions): Promise<DecoderSession> {
    const decoder = o.resumeFrom ? readCheckpoint(o.resumeFrom) : new Decoder(o.decoder);
    const { nTimes, nLayers } = decoder.dims;
    if (o.times.length !== nTimes) throw new RangeError(`times has ${o.times.length} samples but the decoder has ${nTimes}`);
    if (o.depths.length !== nLayers) throw new RangeError(`depths has ${o.depths.length} values but the decoder has ${nLayers} layers`);
    return new DecoderSession(decoder, await createBackend(o.backend), o.times, o.depths, o.includeFoldCurves ?? false);
  }

  async add(words: readonly WordPair[]): Promise<AddSummary> {
    const summary: AddSummary = { accepted: 0, skipped: 0, errors: [] };
    for (const w of words) {
      let outcome;
      try {
        outcome = await this.decoder.add(w, this.backend);
      } catch (e) {
        if (e instanceof RangeError) {
          summary.errors.push(e.message);
          continue;
        }
        throw e;
      }
      if (outcome.accepted) summary.accepted += 1;
      else summary.skipped += 1;
      this.lastWord = { index: w.wordIndex, word: w.word, onsetSec: w.onsetSec };
    }
    return summary;
  }

  async refit(): Promise<RefitSummary> {
    const t0 = performance.now();
    const result = await this.decoder.refit(this.backend);
    const seconds = (performance.now() - t0) / 1000;
    if (result) {
      this.refitSeconds = seconds;
      this.exact = exactScores(result, this.decoder.latestAtWords, seconds, this.times, this.depths, this.includeFoldCurves);
    }
    return { seconds, exact: result !== null, nWords: this.decoder.accepted };
  }

  snapshot(seq: number): ScoreSnapshot {
    if (!this.exact && this.decoder.latest) {
      // Resumed from a checkpoint that carried a K-fold result.
      this.exact = exactScores(this.decoder.latest, this.decoder.latestAtWords, this.refitSeconds, this.times, this.depths, this.includeFoldCurves);
    }
    return snapshotOf(this.decoder, { seq, exact: this.exact, times: this.times, depths: this.depths, backend: this.backend.detail, lastWord: this.lastWord, refitSeconds: this.refitSeconds });
  }

  /** Saves the complete state (pending words included); the file is replaced atomically. */
  checkpoint(path: string): number {
    return writeCheckpoint(path, this.decoder);
  }

  async close(): Promise<void> {
    await this.backend.dispose();
  }
}
