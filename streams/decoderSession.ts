/**
 * A decoder together with its backend, its compute pool and the bookkeeping a snapshot needs (last
 * word, refit time). It runs wherever the decoder lives: in the decoder worker (decoderWorker.ts)
 * or in-process. Requests may be sent without waiting for earlier answers; the session keeps their
 * order, in one of two modes:
 *   - `blocking` (default; replays, the demo, tests): each request waits for the ones before it, a
 *     snapshot asked for after a refit includes it, and words after a refit are scored by its model.
 *     The numbers are the same at any speed; a fast source waits for refits (flow control).
 *   - `concurrent` (live): words are scored as they arrive, by the model current then, and
 *     snapshots are answered at once, while batches and refits compute beside them on the pool
 *     (at a lower priority). A refit covers exactly the words accepted when it was asked for, so
 *     exact scores are those of `blocking` bit for bit; its model replaces the current one in one
 *     assignment when it is done, and `rolling.scoredBy` says which model scored which words.
 *
 * Owns: request order per mode, the pool's lifetime. Must not: compute (the decoder and the pool
 * do) or pace sources.
 */
import { readCheckpoint, writeCheckpoint, type StreamPosition } from '../adapters/checkpointStore.js';
import { Decoder, type DecoderOptions } from '../src/decoder.js';
import { captureArrivalState } from '../src/decoderState.js';
import type { BackendName, LinalgBackend } from '../src/linalg/backend.js';
import { createBackend } from '../src/linalg/select.js';
import { exactScores, snapshotOf, type ExactScores, type ScoreSnapshot } from '../src/snapshot.js';
import type { WordPair } from '../src/types.js';
import { ComputePool, defaultPoolSize } from './computePool.js';

/** `blocking`: refits hold later requests (same numbers at any speed). `concurrent`: refits compute beside scoring and snapshots (live). */
export type RefitMode = 'blocking' | 'concurrent';

export interface DecoderSessionOptions {
  decoder: DecoderOptions;
  backend: 'auto' | BackendName;
  /** Epoch sample times, seconds. */
  times: number[];
  /** Relative depth of each layer. */
  depths: number[];
  /** Start from this checkpoint instead of empty statistics (its options win over `decoder`). */
  resumeFrom?: string;
  refits?: RefitMode;
  /**
   * Worker threads that add batches and compute refits on statistics in shared memory (default:
   * one per core, up to 8); 0 computes everything in the session's own thread.
   */
  computeWorkers?: number;
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
  /** Words the refit covers (accepted when it was asked for). */
  nWords: number;
}

export class DecoderSession {
  private lastWord: ScoreSnapshot['lastWord'] = null;
  private refitSeconds = 0;
  /** Exact scores (with their bootstrap CI) change only at refits: computed once per refit. */
  private exact: ExactScores | null = null;
  /** Requests in the order received: each link waits for what its mode says it must. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly decoder: Decoder,
    readonly backend: LinalgBackend,
    private readonly pool: ComputePool | undefined,
    readonly mode: RefitMode,
    private readonly times: number[],
    private readonly depths: number[],
    private readonly includeFoldCurves: boolean,
  ) {}

  static async create(o: DecoderSessionOptions): Promise<DecoderSession> {
    const mode = o.refits ?? 'blocking';
    const workers = o.computeWorkers ?? defaultPoolSize();
    const memory = workers > 0 ? 'shared' : 'local';
    const decoder = o.resumeFrom ? readCheckpoint(o.resumeFrom, memory) : new Decoder(o.decoder, memory);
    const { nTimes, nLayers } = decoder.dims;
    if (o.times.length !== nTimes) throw new RangeError(`times has ${o.times.length} samples but the decoder has ${nTimes}`);
    if (o.depths.length !== nLayers) throw new RangeError(`depths has ${o.depths.length} values but the decoder has ${nLayers} layers`);
    // Live refits step back (nice 10) so that ingest, scoring and the dashboard preempt them.
    const pool = workers > 0 ? await ComputePool.start({ workers, backend: o.backend, priority: mode === 'concurrent' ? 'background' : 'normal' }) : undefined;
    try {
      const backend = await createBackend(o.backend, pool ? { threads: 1 } : {});
      decoder.engine = pool?.engine();
      decoder.scoring = mode === 'concurrent' ? 'arrival' : 'batch';
      return new DecoderSession(decoder, backend, pool, mode, o.times, o.depths, o.includeFoldCurves ?? false);
    } catch (e) {
      await pool?.close();
      throw e;
    }
  }

  /** Where the heavy work runs, for snapshots and logs. */
  get backendDetail(): string {
    return this.pool ? `${this.pool.backendDetail} × ${this.pool.size} workers` : this.backend.detail;
  }

  /** Runs `op` after the requests before it; the chain goes on once `op` is done (or failed). */
  private inOrder<T>(op: () => T | Promise<T>): Promise<T> {
    const run = this.chain.then(op);
    this.chain = run.catch(() => undefined);
    return run;
  }

  add(words: readonly WordPair[]): Promise<AddSummary> {
    return this.inOrder(async () => {
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
        if (outcome.accepted) {
          summary.accepted += 1;
          if (this.mode === 'concurrent') await this.decoder.scoreOnArrival(w, outcome.position, this.backend);
        } else summary.skipped += 1;
        this.lastWord = { index: w.wordIndex, word: w.word, onsetSec: w.onsetSec };
      }
      return summary;
    });
  }

  /**
   * Asks for a refit on the words accepted so far; resolves when it is done. In `blocking` mode the
   * requests after it wait for it; in `concurrent` mode they go on at once.
   */
  refit(): Promise<RefitSummary> {
    let done!: Promise<RefitSummary>;
    const queued = this.inOrder(() => {
      const nWords = this.decoder.accepted;
      done = this.decoder.refit(this.backend).then((result) => {
        const seconds = this.decoder.lastRefitSeconds;
        if (result) {
          this.refitSeconds = seconds;
          this.exact = exactScores(result, this.decoder.latestAtWords, seconds, this.times, this.depths, this.includeFoldCurves);
        }
        return { seconds, exact: result !== null, nWords };
      });
      return this.mode === 'blocking' ? done : undefined;
    });
    return queued.then(() => done);
  }

  /** A snapshot: in `blocking` mode once every earlier batch and refit is done, in `concurrent` mode as things stand. */
  snapshot(seq: number): Promise<ScoreSnapshot> {
    return this.inOrder(async () => {
      if (this.mode === 'blocking') await this.decoder.drain();
      if (!this.exact && this.decoder.latest) {
        // Resumed from a checkpoint that carried a K-fold result.
        this.exact = exactScores(this.decoder.latest, this.decoder.latestAtWords, this.refitSeconds, this.times, this.depths, this.includeFoldCurves);
      }
      return snapshotOf(this.decoder, { seq, exact: this.exact, times: this.times, depths: this.depths, backend: this.backendDetail, lastWord: this.lastWord, refitSeconds: this.refitSeconds });
    });
  }

  /**
   * Saves the complete state as of this request (pending words included), once the batches and
   * refits asked for before it are done; the file is replaced atomically. Resolves to its size.
   * `stream`: where the word stream stood, for `--resume`.
   */
  checkpoint(path: string, stream?: StreamPosition): Promise<number> {
    let written!: Promise<number>;
    const queued = this.inOrder(() => {
      const at = captureArrivalState(this.decoder);
      written = this.decoder.afterJobs(() => writeCheckpoint(path, this.decoder, at, stream));
      return this.mode === 'blocking' ? written : undefined;
    });
    return queued.then(() => written);
  }

  /** Finishes every request and job, then stops the pool. */
  async close(): Promise<void> {
    try {
      await this.chain;
      await this.decoder.drain().catch(() => undefined);
    } finally {
      await this.pool?.close();
      await this.backend.dispose();
    }
  }
}
