/**
 * `operate`: the plumbing every operator in streams/ shares, after RxJS's own `operate` and
 * `createOperatorSubscriber` (rxjs/src/internal/util/lift.ts, operators/OperatorSubscriber.ts) but
 * on the public API only: a fresh state per subscription, the source subscribed with handlers
 * that turn a throw into the output's error, errors and completion passed on unless the operator
 * takes them over, and one teardown.
 *
 * Owns: the subscription, the error routing and the teardown order. Must not: hold any operator's
 * state (each subscription calls `init` again) or swallow an error.
 */
import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';

/** What an operator does with its source's notifications; only `next` is required. */
export interface OperatorHandlers<T> {
  /** Each source value. A throw becomes the output's error (and ends the subscription). */
  next: (value: T) => void;
  /** The source errored. Default: the output errors with the same error. */
  error?: (err: unknown) => void;
  /**
   * The source completed. Default: the output completes. An operator that completes later (it
   * waits for a second input or for work in flight) calls `subscriber.complete()` itself.
   */
  complete?: () => void;
  /** Extra teardown, run once after the source is unsubscribed (on error, completion or unsubscription). */
  finalize?: () => void;
}

/**
 * Builds an operator from per-subscription handlers.
 *
 * Ordering hazards, handled here once: `init` runs before the source is subscribed, so an operator
 * may subscribe a second input first (epochs' words); if that input already ended the output
 * synchronously, the source is never subscribed. Once the output has ended, later notifications
 * of a synchronous source (still inside its subscribe call, before the teardown can run) are
 * ignored instead of reaching the handlers.
 *
 * @example
 *   const double = (): OperatorFunction<number, number> => operate((out) => ({ next: (x) => out.next(2 * x) }));
 * @param init called at each subscription with the output's subscriber; returns the handlers (a
 *   throw errors the output)
 * @returns the operator
 */
export function operate<T, R>(init: (subscriber: Subscriber<R>) => OperatorHandlers<T>): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      // A throw from init is caught by Observable and errors the subscriber.
      const h = init(subscriber);
      if (subscriber.closed) return () => h.finalize?.();
      /** Runs a handler; a throw errors the output. */
      const guard = (run: () => void): void => {
        if (subscriber.closed) return;
        try {
          run();
        } catch (e) {
          subscriber.error(e);
        }
      };
      const sub = source.subscribe({
        next: (value) => {
          if (subscriber.closed) return;
          try {
            h.next(value);
          } catch (e) {
            subscriber.error(e);
          }
        },
        error: (err) => guard(() => (h.error ? h.error(err) : subscriber.error(err))),
        complete: () => guard(() => (h.complete ? h.complete() : subscriber.complete())),
      });
      return () => {
        sub.unsubscribe();
        h.finalize?.();
      };
    });
}
