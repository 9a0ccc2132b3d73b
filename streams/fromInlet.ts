/**
 * `fromInlet`: an LSL inlet as an RxJS source of timestamped chunks and connection-state changes.
 *
 * Each `chunk` event carries the samples as received ([sample][channel], sender-clock timestamps),
 * the inlet's state and its latest clock correction (add it to the timestamps for local time; null
 * until the first clock-sync round completes). `state` events report connecting / live / stalled /
 * recovered (with the gap) / lost. The observable completes after `lost` or when the inlet is
 * closed; unsubscribing closes the inlet unless `closeOnUnsubscribe` is false.
 *
 * Owns: the subscription's lifetime. Must not: filter, resample or correct timestamps (later
 * operators and consumers decide).
 */
import { Observable } from 'rxjs';
import type { LslChunk } from '../adapters/lsl/chunk.js';
import type { ConnectionState, StateChange, StreamInlet } from '../adapters/lsl/inlet.js';

export type InletEvent =
  | { kind: 'chunk'; chunk: LslChunk; state: ConnectionState; timeCorrection: number | null }
  | { kind: 'state'; change: StateChange; state: ConnectionState; timeCorrection: number | null };

export interface FromInletOptions {
  /** Close the inlet when the subscriber unsubscribes (default true). */
  closeOnUnsubscribe?: boolean;
  /** Run clock-sync rounds so events carry a time correction (default true). */
  clockSync?: boolean;
}

/**
 * @example
 * const [info] = await resolveByProp('type', 'MEG', { timeoutSec: 5 });
 * fromInlet(new StreamInlet(info)).subscribe((e) => { if (e.kind === 'chunk') use(e.chunk); });
 */
export function fromInlet(inlet: StreamInlet, options: FromInletOptions = {}): Observable<InletEvent> {
  return new Observable<InletEvent>((subscriber) => {
    const tc = (): number | null => (options.clockSync === false ? null : (inlet.clockEstimate()?.timeCorrection ?? null));
    const onState = (change: StateChange): void => {
      subscriber.next({ kind: 'state', change, state: change.state, timeCorrection: tc() });
      if (change.state === 'lost') subscriber.complete();
    };
    const onClose = (): void => subscriber.complete();
    inlet.on('state', onState);
    inlet.on('close', onClose);
    // Ordering: install the sink before opening so no chunk lands in the pull buffer unseen.
    const restore = inlet.setChunkSink((chunk) => subscriber.next({ kind: 'chunk', chunk, state: inlet.state, timeCorrection: tc() }));
    if (options.clockSync !== false) inlet.clockEstimate();
    if (inlet.isClosed) subscriber.complete();
    else inlet.open().catch(() => {
      /* 'lost' or close() completes the stream */
    });
    return () => {
      inlet.off('state', onState);
      inlet.off('close', onClose);
      restore();
      if (options.closeOnUnsubscribe !== false) inlet.close();
    };
  });
}
