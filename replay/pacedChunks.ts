/**
 * Pacing of a sample source by the scheduler, never by the data: chunks carry their own source
 * timestamps, and this decides only *when* (in wall time) each is emitted — live (×1), ×N, or as
 * fast as the consumers allow ("max"). The same source and seed give the same chunks at any speed.
 *
 * Owns: the emission schedule. Must not: change the data.
 */
import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import type { SampleChunk } from '../src/types.js';

export type Speed = number | 'max';

export interface PacedChunksOptions {
  sfreqHz: number;
  /** Total samples to emit (Infinity for an endless source). */
  totalSamples: number;
  /** Samples per chunk (e.g. 0.1 s worth). */
  chunkSamples: number;
  speed: Speed;
  /** Defaults to RxJS's asyncScheduler; pass a TestScheduler in tests for virtual time. */
  scheduler?: SchedulerLike;
  /** Awaited before each chunk ("max" speed and ×N): lets slow consumers hold the source back. */
  gate?: () => Promise<void> | void;
}

/** Parses `--speed`: a positive number (1 = real time) or "max". */
export function parseSpeed(text: string): Speed {
  if (text === 'max') return 'max';
  const v = Number(text);
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`--speed must be a positive number (1 = real time) or "max", got "${text}"`);
  return v;
}

/**
 * Emits read(first, n) for consecutive ranges. At speed s, chunk k is due at start + k·chunkSec/s
 * (wall clock); late chunks go out at once (the schedule does not drift with processing time).
 * @example
 *   pacedChunks((first, n) => subject.chunk(first, n), { sfreqHz: 1200, totalSamples: 1200 * 60, chunkSamples: 120, speed: 10 })
 */
export function pacedChunks(read: (firstSample: number, nSamples: number) => SampleChunk, o: PacedChunksOptions): Observable<SampleChunk> {
  if (!(o.chunkSamples >= 1)) throw new RangeError(`chunkSamples must be ≥ 1, got ${o.chunkSamples}`);
  const scheduler = o.scheduler ?? asyncScheduler;
  return new Observable<SampleChunk>((subscriber) => {
    const start = scheduler.now();
    let next = 0;
    let stopped = false;
    // At "max" on the real clock, yield with setImmediate rather than a 0 ms timer: timers wait
    // at least 1 ms, which alone would cap 0.1 s chunks near 100× real time.
    const immediate = o.speed === 'max' && !o.scheduler;
    let pending: NodeJS.Immediate | undefined;
    const emitNext = async (): Promise<void> => {
      if (stopped) return;
      if (next >= o.totalSamples) {
        subscriber.complete();
        return;
      }
      try {
        await o.gate?.();
        if (stopped) return;
        const n = Math.min(o.chunkSamples, o.totalSamples - next);
        subscriber.next(read(next, n));
        next += n;
      } catch (e) {
        subscriber.error(e);
        return;
      }
      if (immediate) {
        pending = setImmediate(() => void emitNext());
        return;
      }
      const dueMs = o.speed === 'max' ? 0 : ((next / o.sfreqHz) * 1000) / o.speed - (scheduler.now() - start);
      sub.add(scheduler.schedule(() => void emitNext(), Math.max(0, dueMs)));
    };
    const sub = scheduler.schedule(() => void emitNext(), 0);
    return () => {
      stopped = true;
      if (pending) clearImmediate(pending);
      sub.unsubscribe();
    };
  });
}
