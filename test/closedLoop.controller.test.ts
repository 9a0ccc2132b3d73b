/**
 * The controller operator on a virtual clock (RxJS TestScheduler): it decides the first passage at
 * once, waits after a passage for the decoders' snapshots that include it, but never longer than
 * the budget (then it decides on the scores there are, and says which decoders were behind), and
 * stops at the time limit. And the passage tracker's completion rule: a passage is complete when
 * the MEG covers its last word's epoch plus the filters' delay.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { PassageTracker } from '../src/closedLoop/passageTracker.js';
import { builtinPolicy } from '../src/closedLoop/policies.js';
import { resolveParameters, type ScoreSummary } from '../src/closedLoop/policy.js';
import { encodePassageMarker, parseWordMarker } from '../src/live/wordMarker.js';
import { ALL_WORDS, closedLoopController, type ClosedLoopDecision, type ControllerEvent } from '../streams/closedLoopController.js';
import { syntheticBankSummary } from './helpers/closedLoopBank.js';

const bank = syntheticBankSummary(10, 2);
const def = builtinPolicy('balance-surprisal');
const policy = def.create(bank, resolveParameters(def, {}));
const scores = (lastOnsetSec: number, nWords = 10): ScoreSummary => ({ nWords, source: 'rolling', temporalScore: 0.5, p: 0.1, alignmentScore: 0.05, ci: null, exactWords: null, lastOnsetSec });

/** Runs events at virtual times (ms) through the controller; returns decisions with their virtual times. */
function run(events: Array<[number, ControllerEvent]>, opts: { budgetSec?: number; maxSec?: number; elapsedSec?: () => number } = {}): Array<ClosedLoopDecision & { atMs: number }> {
  const scheduler = new TestScheduler(assert.deepEqual);
  const out: Array<ClosedLoopDecision & { atMs: number }> = [];
  scheduler.run(() => {
    const events$ = new Subject<ControllerEvent>();
    events$
      .pipe(
        closedLoopController({
          policy,
          budgetSec: opts.budgetSec ?? 0.5,
          elapsedSec: opts.elapsedSec ?? (() => scheduler.now() / 1000),
          maxSec: opts.maxSec,
          durationOf: (id) => bank.passages.find((p) => p.id === id)!.durationSec,
          ordinalOf: (id) => bank.passages.findIndex((p) => p.id === id),
          wallSec: () => scheduler.now() / 1000,
          scheduler,
        }),
      )
      .subscribe((d) => out.push({ ...d, atMs: scheduler.now() }));
    for (const [t, e] of events) scheduler.schedule(() => events$.next(e), t);
  });
  return out;
}

describe('closedLoopController', () => {
  it('decides the first passage at once, with an empty history', () => {
    const [d] = run([[0, { kind: 'begin' }]]);
    assert.equal(d.decision.action, 'play');
    assert.deepEqual(d.input.played, []);
    assert.equal(d.after, null);
    assert.equal(d.completeWallSec, null);
  });

  it('waits for every decoder to include the passage, then decides on the new scores', () => {
    const ds = run([
      [0, { kind: 'begin' }],
      [1000, { kind: 'passage-complete', passage: 'p0003', completeWallSec: 1, awaited: { [ALL_WORDS]: 20, q1: 19 } }],
      [1100, { kind: 'scores', decoder: ALL_WORDS, summary: scores(20, 30) }],
      [1200, { kind: 'scores', decoder: 'q1', summary: scores(19, 7) }],
    ]);
    assert.equal(ds.length, 2);
    assert.equal(ds[1].atMs, 1200, 'decided when the last awaited decoder reported');
    assert.deepEqual(ds[1].notUpToDate, []);
    assert.equal(ds[1].input.scores.all?.nWords, 30);
    assert.equal(ds[1].input.scores.conditions.q1.nWords, 7);
    assert.deepEqual(ds[1].input.played.map((p) => p.passage), [ds[0].decision.action === 'play' ? ds[0].decision.passage : '']);
  });

  it('decides at the budget on older scores when a decoder is busy (a refit), naming it', () => {
    const ds = run([
      [0, { kind: 'begin' }],
      [900, { kind: 'scores', decoder: ALL_WORDS, summary: scores(12, 20) }],
      [1000, { kind: 'passage-complete', passage: 'p0001', completeWallSec: 1, awaited: { [ALL_WORDS]: 20 } }],
      [4000, { kind: 'scores', decoder: ALL_WORDS, summary: scores(20, 30) }],
    ]);
    assert.equal(ds[1].atMs, 1500, '0.5 s after the data were complete');
    assert.deepEqual(ds[1].notUpToDate, [ALL_WORDS]);
    assert.equal(ds[1].input.scores.all?.nWords, 20, 'the scores that were there');
    assert.equal(ds.length, 2, 'a late snapshot decides nothing by itself');
  });

  it('decides at once when the scores already include the passage (they may come first)', () => {
    const ds = run([
      [0, { kind: 'begin' }],
      [900, { kind: 'scores', decoder: ALL_WORDS, summary: scores(20, 30) }],
      [1000, { kind: 'passage-complete', passage: 'p0001', completeWallSec: 1, awaited: { [ALL_WORDS]: 20 } }],
    ]);
    assert.equal(ds[1].atMs, 1000);
  });

  it('stops rather than start a passage that would end after the time limit', () => {
    const ds = run(
      [
        [0, { kind: 'begin' }],
        [1000, { kind: 'passage-complete', passage: 'p0001', completeWallSec: 1, awaited: {} }],
        [2000, { kind: 'passage-complete', passage: 'p0002', completeWallSec: 2, awaited: {} }],
      ],
      { elapsedSec: () => 100, maxSec: 100 + bank.passages[0].durationSec / 2 },
    );
    assert.equal(ds.length, 1, 'nothing after a stop');
    assert.equal(ds[0].decision.action, 'stop');
    assert.equal(ds[0].decision.reason, 'max-minutes');
  });
});

describe('PassageTracker', () => {
  it('assigns words to the passage between its markers and completes it when the MEG covers the last epoch', () => {
    const t = new PassageTracker(3.0, 0.68);
    t.passageStart('p1', 10);
    assert.equal(t.word({ index: 5, word: 'a', onsetSec: 10.1 }), 'p1');
    t.word({ index: 6, word: 'b', onsetSec: 10.5 });
    assert.deepEqual(t.megReached(20), [], 'not before the passage has ended');
    t.passageEnd('p1', 11);
    assert.deepEqual(t.megReached(10.5 + 3.68 - 0.01), []);
    const [done] = t.megReached(10.5 + 3.68);
    assert.equal(done.passage, 'p1');
    assert.equal(done.needsDataUntilSec, 10.5 + 3.68);
    assert.deepEqual(t.megReached(30), [], 'reported once');
    assert.equal(t.passageOf(6, 10.5), 'p1');
    assert.equal(t.word({ index: 7, word: 'c', onsetSec: 12 }), null, 'between passages');
    assert.equal(t.wordsOutside, 1);
  });

  it('parses the presenter\'s passage markers', () => {
    assert.deepEqual(parseWordMarker(encodePassageMarker('start', 'p0007')), { kind: 'passage', event: 'start', passage: 'p0007' });
    assert.deepEqual(parseWordMarker('#passage-end\tp0007'), { kind: 'passage', event: 'end', passage: 'p0007' });
    assert.throws(() => encodePassageMarker('start', 'a b'), /no whitespace/);
  });
});
