/**
 * `joinActivations`: each epoch with its word's layer activations, as the decoder's WordPair, in
 * epoch order. Activations come from a lookup that answers at once (a finished feature table) or
 * with a promise (a word the extraction has not reached yet, or a live word being computed).
 *
 * Ordering hazards, handled here: an epoch whose activations are ready must still wait behind an
 * earlier epoch that waits for its word, or the decoder would see words in an order that depends on
 * how fast the extraction ran; so pairs leave strictly in arrival order, and the same data give the
 * same pairs, hence the same numbers, at any speed. While epochs wait here they count in `flow`
 * (taken on arrival, finished once passed on, by which time the decoder side has taken them), so a
 * source that waits on `flow` stops reading and memory stays bounded whatever the extraction's pace.
 * The source's completion is passed on once the last waiting epoch has left.
 *
 * Owns: the order and the waiting. Must not: compute or cache activations.
 */
import type { OperatorFunction } from 'rxjs';
import type { WordEpoch, WordEvent, WordPair } from '../src/types.js';
import type { FlowControl } from './flowControl.js';
import { operate } from './operate.js';

/** A word's activations ([layer][dim]), now or later; undefined = the word has none. */
export type ActivationLookup = (w: WordEvent) => Float32Array | undefined | Promise<Float32Array | undefined>;

export interface JoinActivationsOptions {
  /** Epochs waiting here count as in flight (see the header). */
  flow?: FlowControl;
  /** A word without activations (not decoded). */
  onMissing?: (w: WordEvent) => void;
}

export function joinActivations(activationOf: ActivationLookup, o: JoinActivationsOptions = {}): OperatorFunction<WordEpoch, WordPair> {
  return operate<WordEpoch, WordPair>((subscriber) => {
    /** Epochs not yet passed on, oldest first; `value` is set once their activations are known. */
    const queue: { e: WordEpoch; settled: boolean; value: Float32Array | undefined }[] = [];
    let sourceDone = false;
    let ended = false;
    const emit = (e: WordEpoch, activations: Float32Array | undefined) => {
      if (!activations) o.onMissing?.(e.word);
      else subscriber.next({ wordIndex: e.word.wordIndex, onsetSec: e.word.onsetSec, word: e.word.word, epoch: e.epoch, activations });
    };
    /** Passes on every settled epoch at the head of the queue. */
    const drain = () => {
      while (queue.length > 0 && queue[0]!.settled && !subscriber.closed) {
        const head = queue.shift()!;
        emit(head.e, head.value);
        // After next(): the decoder side has taken the pair by now, so the count never dips to 0 between.
        o.flow?.finished();
      }
      if (sourceDone && queue.length === 0 && !subscriber.closed) {
        ended = true;
        subscriber.complete();
      }
    };
    return {
      next: (e) => {
        const got = activationOf(e.word);
        if (!(got instanceof Promise) && queue.length === 0) {
          emit(e, got);
          return;
        }
        const item = { e, settled: false, value: undefined as Float32Array | undefined };
        queue.push(item);
        o.flow?.taken();
        if (!(got instanceof Promise)) {
          item.settled = true;
          item.value = got;
          return;
        }
        got.then(
          (v) => {
            item.settled = true;
            item.value = v;
            drain();
          },
          (err: unknown) => {
            if (!subscriber.closed) subscriber.error(err);
          },
        );
      },
      complete: () => {
        sourceDone = true;
        drain();
      },
      finalize: () => {
        // Epochs still held (unsubscribed or errored) no longer count as in flight.
        if (!ended && queue.length > 0) o.flow?.finished(queue.length);
        queue.length = 0;
      },
    };
  });
}
