/**
 * `preprocess`: the paper's MEG preprocessing as one operator (optional channel picks → optional
 * mains notch → [decimation FIR →] band-pass → anti-aliased resample), and `preprocessDelaySec`,
 * the total delay its causal filters add, to hand to `epochs({ delaySec })`. Both read one plan,
 * `preprocessPlan` (src/filters/preprocessPlan.ts: the designs, the rates they run at, their
 * delays, and why two stages by default), so the delay reported is that of the filters that run.
 *
 * Owns: running the plan's steps in order, on chunks. Must not: design filters or add steps of its own.
 */
import { Subject, type Observable, type OperatorFunction, type Subscription } from 'rxjs';
import { preprocessPlan, type FilterOptions, type PreprocessDelays, type SosStep } from '../src/filters/preprocessPlan.js';
import type { SampleChunk } from '../src/types.js';
import { operate } from './operate.js';
import { pickChannels } from './pickChannels.js';
import { resampleWith } from './resample.js';
import { sosFilter } from './sosFilter.js';

export interface PreprocessOptions extends FilterOptions {
  /** Channels to keep, first (fewer channels to filter). Default: all. */
  picks?: number[];
}

/**
 * The paper's preprocessing as one causal operator; output chunks are at `toHz`, late by
 * `preprocessDelaySec(opts, fromHz)`.
 *
 * @example
 *   const opts = { bandpass: { lowHz: 0.1, highHz: 20 }, notch: { freqHz: 50 }, toHz: 30 };
 *   meg$.pipe(preprocess(opts), epochs(words$, { delaySec: preprocessDelaySec(opts, 1200) }))
 * @returns an operator from raw chunks to preprocessed chunks
 */
export function preprocess(opts: PreprocessOptions = {}): OperatorFunction<SampleChunk, SampleChunk> {
  const kernel = opts.resample?.kernel;
  // The plan depends on the input rate, known at the first chunk.
  return connectOnFirst((first) => {
    const plan = preprocessPlan(opts, first.sfreqHz);
    const steps: OperatorFunction<SampleChunk, SampleChunk>[] = [];
    if (opts.picks) steps.push(pickChannels(opts.picks));
    if (plan.notch) steps.push(planned('notch', plan.notch));
    if (plan.decimate) {
      const decimate = plan.decimate;
      steps.push(resampleWith((fs) => atPlannedRate('resample', decimate.fromHz, fs, decimate), kernel));
    }
    if (plan.bandpass) steps.push(planned('bandpass', plan.bandpass));
    // Always the last step, even as a pass-through (no FIR when the band-pass already runs at toHz).
    steps.push(resampleWith((fs) => atPlannedRate('resample', plan.bandpassHz, fs, plan.resample), kernel));
    return steps;
  });
}

/** An IIR step of the plan as an operator. */
function planned(who: string, step: SosStep): OperatorFunction<SampleChunk, SampleChunk> {
  return sosFilter(who, (fs) => atPlannedRate(who, step.sfreqHz, fs, step.sos), step.start);
}

/** A step's design, for chunks at the rate it was planned for (another rate would be a bug in the chain). */
function atPlannedRate<T>(who: string, plannedHz: number, sfreqHz: number, design: T): T {
  if (sfreqHz !== plannedHz) throw new Error(`preprocess: ${who} was planned for ${plannedHz} Hz but receives chunks at ${sfreqHz} Hz`);
  return design;
}

/** Builds the step list from the first chunk, then runs every chunk (that one included) through it. */
function connectOnFirst(make: (first: SampleChunk) => OperatorFunction<SampleChunk, SampleChunk>[]): OperatorFunction<SampleChunk, SampleChunk> {
  return operate<SampleChunk, SampleChunk>((subscriber) => {
    let input: Subject<SampleChunk> | undefined;
    let inner: Subscription | undefined;
    return {
      next: (chunk) => {
        if (!input) {
          const steps = make(chunk);
          input = new Subject<SampleChunk>();
          inner = steps.reduce((s: Observable<SampleChunk>, op) => s.pipe(op), input).subscribe(subscriber);
        }
        input.next(chunk);
      },
      error: (e) => (input ? input.error(e) : subscriber.error(e)),
      complete: () => (input ? input.complete() : subscriber.complete()),
      finalize: () => inner?.unsubscribe(),
    };
  });
}

/**
 * Delay of every step of `preprocess(opts)` on a stream at `fromHz`, at `atHz` (default 5 Hz).
 * @example
 *   preprocessDelays({}, 1200); // { notchSec: 0, decimateSec: 0.025, bandpassSec: 0.0214, resampleSec: 0.6333, totalSec: 0.6797, atHz: 5 }
 */
export function preprocessDelays(opts: PreprocessOptions, fromHz: number, atHz = 5): PreprocessDelays {
  return preprocessPlan(opts, fromHz, atHz).delays;
}

/**
 * Total delay of `preprocess(opts)` at `atHz` (default 5 Hz, see src/filters/preprocessPlan.ts),
 * seconds: the `delaySec` for `epochs`.
 * @example
 *   preprocessDelaySec({}, 1200); // ≈ 0.6797 (two stages; 0.6564 with stages: 'single')
 */
export function preprocessDelaySec(opts: PreprocessOptions, fromHz: number, atHz = 5): number {
  return preprocessDelays(opts, fromHz, atHz).totalSec;
}
