/**
 * `scoreSnapshots`: the RxJS operator at the end of every pipeline. It consumes word pairs
 * ({epoch, activations} with word id and onset) and emits ScoreSnapshots on a cadence of words
 * and/or source time, with the rolling (prequential) score and the latest exact K-fold result.
 *
 * The decoder lives in a worker thread by default: this operator only forwards words and asks for
 * refits and snapshots, so its subscriber's event loop is never held by linear algebra.
 * Ordering hazard: with `refits: 'blocking'` (default) requests are answered strictly in the order
 * sent, which is what makes a snapshot requested right after a refit include that refit. With
 * `refits: 'concurrent'` (live) a snapshot is answered at once with the latest finished refit;
 * only the final snapshot waits for the final refit.
 */
import type { OperatorFunction } from 'rxjs';
import type { StreamPosition } from '../adapters/checkpointStore.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { WordPair } from '../src/types.js';
import { startDecoderHost, type DecoderHost } from './decoderHost.js';
import type { DecoderSessionOptions, RefitSummary } from './decoderSession.js';
import type { FlowControl } from './flowControl.js';
import { operate } from './operate.js';

export interface ScoreSnapshotsOptions extends DecoderSessionOptions {
  /** Exact K-fold refit (and new prequential model) every N accepted-or-not words. */
  refitEveryWords: number;
  /** Emit a snapshot every N words (0 = never by count). */
  snapshotEveryWords?: number;
  /** Emit a snapshot whenever source time advanced this much since the last one (seconds). */
  snapshotEverySourceSec?: number;
  /** Words per message to the decoder. */
  sendBatchWords?: number;
  /** Write a checkpoint every N words to `checkpointPath` (and at the end), with the stream's position. */
  checkpointPath?: string;
  checkpointEveryWords?: number;
  /**
   * Word pairs the decoder already holds (resumed from a checkpoint, `resumeFrom`): counting goes
   * on from there, so refits, snapshots and checkpoints fall due at the same words as in an
   * uninterrupted run.
   */
  startWords?: number;
  /** Refit and emit a final snapshot when the source completes (default true). */
  finalRefit?: boolean;
  where?: 'worker' | 'in-process';
  /** Called with the host once it runs (for health reporting). */
  onHost?: (host: DecoderHost) => void;
  /** Shape errors (a word refused) go here; by default the stream errors. */
  onWordError?: (message: string) => void;
  /** Counts words sent to the decoder and not yet added, so a source can wait for it. */
  flow?: FlowControl;
  /**
   * `every` (default): refit at exactly every N words — results are the same at any speed, and a
   * source that can wait is held back by `flow`. `coalesce`: at most one refit in flight, a refit
   * falling due meanwhile runs once after it — for live sources that cannot wait (results then
   * depend on timing).
   */
  refitPolicy?: 'every' | 'coalesce';
  /** Called when a refit is sent to the decoder (with the word count it covers). */
  onRefitStart?: (nWords: number) => void;
  /** Called after each refit (timing, whether it was exact). */
  onRefit?: (r: RefitSummary) => void;
}

/**
 * @example
 * words$.pipe(scoreSnapshots({ decoder, backend: 'auto', times, depths, refitEveryWords: 500, snapshotEveryWords: 50 }))
 *   .subscribe((s) => console.log(s.exact?.temporalScore));
 * @param opts decoder, backend, axes and cadences
 * @returns an operator from word pairs to score snapshots
 */
export function scoreSnapshots(opts: ScoreSnapshotsOptions): OperatorFunction<WordPair, ScoreSnapshot> {
  if (!(opts.refitEveryWords >= 1)) throw new RangeError(`refitEveryWords must be ≥ 1, got ${opts.refitEveryWords}`);
  return operate<WordPair, ScoreSnapshot>((subscriber) => {
    let host: DecoderHost | undefined;
    let closed = false;
    let words = opts.startWords ?? 0;
    let lastWord: StreamPosition['lastWord'] = null;
    const position = (): StreamPosition => ({ pairs: words, lastWord });
    let seq = 0;
    let lastSnapshotSourceSec: number | null = null;
    let batch: WordPair[] = [];
    const sendBatch = opts.sendBatchWords ?? 16;
    // Everything that talks to the host goes through this chain so that the host is ready and
    // failures surface once, as a stream error.
    // Only the session's own options cross into the worker (callbacks and flow stay here).
    const session: DecoderSessionOptions = {
      decoder: opts.decoder,
      backend: opts.backend,
      times: opts.times,
      depths: opts.depths,
      resumeFrom: opts.resumeFrom,
      refits: opts.refits,
      computeWorkers: opts.computeWorkers,
      includeFoldCurves: opts.includeFoldCurves,
    };
    let chain: Promise<unknown> = startDecoderHost(session, opts.where).then((h) => {
      host = h;
      opts.onHost?.(h);
    });
    const fail = (e: unknown) => {
      if (!closed) subscriber.error(e);
      closed = true;
    };
    const enqueue = (op: (h: DecoderHost) => Promise<unknown>, awaitAnswer = false) => {
      // Requests are fired as soon as the host exists (not awaited one by one); the host keeps order.
      // `awaitAnswer` holds the requests after this one until it is answered.
      chain = chain.then(() => {
        const p = op(host!);
        p.catch(fail);
        return awaitAnswer ? p.catch(() => undefined) : undefined;
      });
      chain.catch(fail);
    };
    const flushBatch = () => {
      if (batch.length === 0) return;
      const send = batch;
      batch = [];
      enqueue((h) =>
        h.add(send).then((summary) => {
          opts.flow?.finished(send.length);
          for (const m of summary.errors) {
            if (opts.onWordError) opts.onWordError(m);
            else fail(new RangeError(m));
          }
        }),
      );
    };
    // At most one refit in flight: a refit that falls due while another computes runs right
    // after it (once), so a slow machine refits less often instead of queueing refits.
    let refitRunning = false;
    let refitWanted = false;
    // Set once the source completes: its final refit covers everything, and a coalesced refit
    // must not be queued behind the worker's close.
    let completing = false;
    const requestRefit = () => {
      flushBatch();
      if (refitRunning) {
        refitWanted = true;
        return;
      }
      refitRunning = (opts.refitPolicy ?? 'every') === 'coalesce';
      const at = words;
      enqueue((h) => {
        opts.onRefitStart?.(at);
        return h.refit().then((r) => {
          refitRunning = false;
          opts.onRefit?.(r);
          if (refitWanted && !closed && !completing) {
            refitWanted = false;
            requestRefit();
          }
        });
      });
    };
    const emitSnapshot = () => {
      flushBatch();
      const s = ++seq;
      enqueue((h) => h.snapshot(s).then((snap) => !closed && subscriber.next(snap)));
    };

    return {
      next: (word) => {
        batch.push(word);
        opts.flow?.taken();
        words += 1;
        lastWord = { index: word.wordIndex, onsetSec: word.onsetSec };
        if (batch.length >= sendBatch) flushBatch();
        if (words % opts.refitEveryWords === 0) requestRefit();
        if (opts.checkpointPath && opts.checkpointEveryWords && words % opts.checkpointEveryWords === 0) {
          flushBatch();
          const path = opts.checkpointPath;
          const at = position();
          enqueue((h) => h.checkpoint(path, at));
        }
        const byCount = (opts.snapshotEveryWords ?? 0) > 0 && words % opts.snapshotEveryWords! === 0;
        const bySource =
          opts.snapshotEverySourceSec !== undefined &&
          (lastSnapshotSourceSec === null || word.onsetSec - lastSnapshotSourceSec >= opts.snapshotEverySourceSec);
        if (byCount || bySource) {
          lastSnapshotSourceSec = word.onsetSec;
          emitSnapshot();
        }
      },
      error: (e) => fail(e),
      complete: () => {
        completing = true;
        flushBatch();
        if (opts.finalRefit ?? true) {
          const at = words;
          // The final snapshot carries the final refit, whatever the mode.
          enqueue((h) => {
            opts.onRefitStart?.(at);
            return h.refit().then((r) => opts.onRefit?.(r));
          }, true);
        }
        if (opts.checkpointPath) {
          const path = opts.checkpointPath;
          const at = position();
          enqueue((h) => h.checkpoint(path, at));
        }
        emitSnapshot();
        chain
          .then(() => host?.close())
          .then(() => {
            if (!closed) subscriber.complete();
            closed = true;
          })
          .catch(fail);
      },
      finalize: () => {
        closed = true;
        // Let queued requests finish, then stop the worker.
        chain.finally(() => host?.close().catch(() => undefined)).catch(() => undefined);
      },
    };
  });
}
