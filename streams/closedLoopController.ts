/**
 * `closedLoopController`: the operator that turns what happens in a closed-loop session into
 * decisions. Its input is one stream of events: `begin` (choose the first passage), each decoder's
 * latest scores as they come, and `passage-complete` (the MEG now covers every epoch of the
 * passage just heard). After a passage it waits until every decoder that gets the passage's words
 * has a snapshot that includes them, or until the decision budget has passed, whichever comes
 * first, and then asks the policy. So a refit in progress (which holds back snapshots for as long
 * as it computes: seconds to tens of seconds at the paper's size) delays no decision by more than
 * the budget: the decision is then taken on the scores already there, and says so (`upToDate`).
 *
 * Ordering hazards: scores may arrive before or after the `passage-complete` they answer (a fast
 * decoder finishes the last word before the MEG that completes its epoch reaches the tracker's
 * clock), so each completion is checked against the latest scores at once and again at every new
 * score. Decisions are strictly sequential: a completion arriving while one is pending decides
 * the pending one first.
 *
 * Owns: waiting, the time limit, and the history the policy reads. Must not: know about LSL,
 * files or the dashboard (the command wires them), or hold policy logic (src/closedLoop).
 */
import { asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { ClosedLoopPolicy, PlayedPassage, PolicyDecision, PolicyInput, ScoreSummary } from '../src/closedLoop/policy.js';
import { operate } from './operate.js';

/** The overall decoder's name among the decoders (conditions have their own names). */
export const ALL_WORDS = 'all';

export type ControllerEvent =
  | { kind: 'begin' }
  | { kind: 'scores'; decoder: string; summary: ScoreSummary }
  | {
      kind: 'passage-complete';
      passage: string;
      /** Wall time (s, the controller's wallSec clock) the MEG covering the passage's last epoch arrived. */
      completeWallSec: number;
      /** Per decoder, the onset (session clock) of the passage's last word it gets: the snapshot to wait for. */
      awaited: Record<string, number>;
    };

export interface ClosedLoopDecision {
  seq: number;
  decision: PolicyDecision;
  /** The passage whose completion this answers (null for the first decision). */
  after: string | null;
  input: PolicyInput;
  /** Recording time of the decision, seconds since the first MEG sample. */
  atSec: number;
  completeWallSec: number | null;
  decidedWallSec: number;
  /** Decoders still missing the passage's words when the budget ran out (empty = up to date). */
  notUpToDate: string[];
}

export interface ClosedLoopControllerOptions {
  policy: ClosedLoopPolicy;
  /** Longest wait for the decoders after a passage's data are complete, seconds of wall time. */
  budgetSec: number;
  /** Recording time now, seconds since the first MEG sample. */
  elapsedSec: () => number;
  /** Stop (reason `max-minutes`) rather than start a passage that would end after this recording time. */
  maxSec?: number;
  /** Seconds a passage lasts (for maxSec); unknown passages count as 0. */
  durationOf?: (passage: string) => number;
  /** Seconds; default performance.now() / 1000. */
  wallSec?: () => number;
  /** For the budget's timer (default asyncScheduler; a TestScheduler in tests). */
  scheduler?: SchedulerLike;
  /** Which ordinal a passage id has (the history the policy reads carries both). */
  ordinalOf: (passage: string) => number;
}

/**
 * @example
 *   events$.pipe(closedLoopController({ policy, budgetSec: 0.5, elapsedSec, ordinalOf })).subscribe((d) => outlet.pushSample([JSON.stringify(d.decision)]));
 */
export function closedLoopController(o: ClosedLoopControllerOptions): OperatorFunction<ControllerEvent, ClosedLoopDecision> {
  const wall = o.wallSec ?? (() => performance.now() / 1000);
  const scheduler = o.scheduler ?? asyncScheduler;
  return operate<ControllerEvent, ClosedLoopDecision>((subscriber) => {
    const latest = new Map<string, ScoreSummary>();
    const played: PlayedPassage[] = [];
    let seq = 0;
    let stopped = false;
    let pending: { event: Extract<ControllerEvent, { kind: 'passage-complete' }>; timer: Subscription } | null = null;

    const missing = (awaited: Record<string, number>): string[] =>
      Object.entries(awaited)
        .filter(([d, onset]) => (latest.get(d)?.lastOnsetSec ?? -Infinity) < onset - 1e-9)
        .map(([d]) => d);

    const decide = (after: ControllerEvent & { kind: 'begin' | 'passage-complete' }): void => {
      if (stopped) return;
      const conditions: Record<string, ScoreSummary> = {};
      for (const [d, s] of latest) if (d !== ALL_WORDS) conditions[d] = { ...s, ci: s.ci && { ...s.ci } };
      const all = latest.get(ALL_WORDS);
      const elapsed = Math.max(0, o.elapsedSec());
      const input: PolicyInput = { elapsedSec: elapsed, played: played.map((p) => ({ ...p })), scores: { all: all ? { ...all, ci: all.ci && { ...all.ci } } : null, conditions } };
      let decision = o.policy.decide(input);
      if (decision.action === 'play' && o.maxSec !== undefined) {
        const ends = elapsed + (o.durationOf?.(decision.passage) ?? 0);
        if (ends > o.maxSec) {
          decision = { action: 'stop', reason: 'max-minutes', detail: `${decision.passage} would end at ${(ends / 60).toFixed(2)} min, after the limit of ${(o.maxSec / 60).toFixed(2)} min`, state: decision.state };
        }
      }
      if (decision.action === 'play') played.push({ passage: decision.passage, ordinal: o.ordinalOf(decision.passage), ...(decision.label !== undefined ? { label: decision.label } : {}) });
      else stopped = true;
      subscriber.next({
        seq: ++seq,
        decision,
        after: after.kind === 'passage-complete' ? after.passage : null,
        input,
        atSec: elapsed,
        completeWallSec: after.kind === 'passage-complete' ? after.completeWallSec : null,
        decidedWallSec: wall(),
        notUpToDate: after.kind === 'passage-complete' ? missing(after.awaited) : [],
      });
    };

    /** Decides the pending passage if every awaited decoder has it (or `force`: the budget ran out). */
    const settle = (force: boolean): void => {
      if (!pending) return;
      if (!force && missing(pending.event.awaited).length > 0) return;
      const { event, timer } = pending;
      pending = null;
      timer.unsubscribe();
      // A throw in the policy (on the timer) must end the stream, not vanish in the scheduler.
      try {
        decide(event);
      } catch (e) {
        subscriber.error(e);
      }
    };

    return {
      next: (e) => {
        if (e.kind === 'scores') {
          latest.set(e.decoder, e.summary);
          settle(false);
        } else if (e.kind === 'begin') {
          decide(e);
        } else {
          settle(true);
          // The budget counts from the moment the data were complete, not from when the event got here.
          const waitSec = Math.max(0, e.completeWallSec + o.budgetSec - wall());
          pending = { event: e, timer: scheduler.schedule(() => settle(true), waitSec * 1000) };
          settle(false);
        }
      },
      finalize: () => pending?.timer.unsubscribe(),
    };
  });
}
