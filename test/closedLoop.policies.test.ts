/**
 * The closed-loop policies as the pure functions they are: what each plays next and when it stops,
 * given a bank, a history and scores; their parameters checked; a lab's own policy accepted through
 * the same contract. Also the bank's pure parts: surprisal quartiles, passage cutting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quartileOf, surprisalQuartileEdges } from '../src/closedLoop/bank.js';
import { QUARTILE_CONDITIONS, quartileCountsOf } from '../src/closedLoop/balanceSurprisal.js';
import { builtinPolicy, checkPolicyDefinition } from '../src/closedLoop/policies.js';
import { resolveParameters, type PlayedPassage, type PolicyDecision, type PolicyInput, type ScoreSummary } from '../src/closedLoop/policy.js';
import { mulberry32, randomNormal } from '../src/scores/prng.js';
import { cutPassages, endStrength } from '../src/text/passages.js';
import { splitWords } from '../adapters/text/builtinText.js';
import { builtinText } from '../adapters/text/builtinText.js';
import { syntheticBankSummary } from './helpers/closedLoopBank.js';

const bank = syntheticBankSummary(80, 3);
const none: PolicyInput['scores'] = { all: null, conditions: {} };
const summary = (o: Partial<ScoreSummary>): ScoreSummary => ({ nWords: 0, source: 'exact', temporalScore: 0.9, p: 0.01, alignmentScore: 0.1, ci: null, exactWords: null, lastOnsetSec: null, ...o });
const create = (name: string, params: Record<string, unknown> = {}) => {
  const def = builtinPolicy(name);
  return def.create(bank, resolveParameters(def, params));
};
/** Plays decisions into a history. */
const playInto = (played: PlayedPassage[], d: PolicyDecision) => {
  assert.equal(d.action, 'play', `expected a passage, got ${JSON.stringify(d)}`);
  if (d.action === 'play') played.push({ passage: d.passage, ordinal: bank.passages.findIndex((p) => p.id === d.passage), ...(d.label ? { label: d.label } : {}) });
};

describe('stop-when-tight', () => {
  const policy = create('stop-when-tight', { ciWidth: 0.1, minWords: 200 });
  it('plays the bank in order while the interval is wide or missing', () => {
    const played: PlayedPassage[] = [];
    for (let k = 0; k < 5; k++) playInto(played, policy.decide({ elapsedSec: k * 20, played, scores: k < 2 ? none : { all: summary({ nWords: 100 * k, exactWords: 100 * k, ci: { method: 'bootstrap', level: 0.95, low: 0.5, high: 0.9 } }), conditions: {} } }));
    assert.deepEqual(played.map((p) => p.passage), ['p0001', 'p0002', 'p0003', 'p0004', 'p0005']);
  });
  it('stops once the interval is narrower than the target after enough words, and says how it was computed', () => {
    const played = [{ passage: 'p0001', ordinal: 0 }];
    const tight = { method: 'fisher-z', level: 0.95, low: 0.9, high: 0.95 };
    const early = policy.decide({ elapsedSec: 60, played, scores: { all: summary({ nWords: 150, exactWords: 150, ci: tight }), conditions: {} } });
    assert.equal(early.action, 'play', 'not before --min-words');
    const d = policy.decide({ elapsedSec: 90, played, scores: { all: summary({ nWords: 260, exactWords: 250, ci: tight }), conditions: {} } });
    assert.equal(d.action, 'stop');
    assert.equal(d.reason, 'ci-narrower');
    assert.match(d.detail, /fisher-z/);
    assert.equal((d.state as { ciWidth: number }).ciWidth.toFixed(2), '0.05');
  });
  it('stops when the bank is exhausted', () => {
    const played = bank.passages.map((p) => ({ passage: p.id, ordinal: p.ordinal }));
    assert.deepEqual([policy.decide({ elapsedSec: 0, played, scores: none }).reason], ['bank-exhausted']);
  });
});

describe('balance-surprisal', () => {
  const policy = create('balance-surprisal');
  it('keeps the content words heard per quartile within 10 % of each other, where playing in order does not', () => {
    const played: PlayedPassage[] = [];
    for (let k = 0; k < 30; k++) playInto(played, policy.decide({ elapsedSec: 0, played, scores: none }));
    const counts = quartileCountsOf(bank, played);
    const mean = counts.reduce((s, v) => s + v, 0) / 4;
    assert.ok((Math.max(...counts) - Math.min(...counts)) / mean <= 0.1, `balanced: ${counts}`);
    const inOrder = quartileCountsOf(bank, bank.passages.slice(0, 30).map((p) => ({ passage: p.id, ordinal: p.ordinal })));
    const inOrderMean = inOrder.reduce((s, v) => s + v, 0) / 4;
    assert.ok((Math.max(...inOrder) - Math.min(...inOrder)) / inOrderMean > 0.1, `this bank is uneven in order: ${inOrder}`);
    assert.equal(new Set(played.map((p) => p.passage)).size, 30, 'no passage twice');
  });
  it('puts each content word in its quartile\'s decoder, function words in none', () => {
    const content = bank.words.find((w) => w.isContent && w.quartile === 3)!;
    const fn = bank.words.find((w) => w.isContent === false)!;
    assert.deepEqual(policy.conditionsOf!(content, { passage: 'p0001', ordinal: 0 }), ['q3']);
    assert.deepEqual(policy.conditionsOf!(fn, { passage: 'p0001', ordinal: 0 }), []);
    assert.deepEqual(policy.conditions, QUARTILE_CONDITIONS);
  });
});

describe('context', () => {
  it('runs trials: a jump, k passages continuing into the probe, only the probe in the arm\'s decoder', () => {
    const policy = create('context', { arms: [0, 2], warmupWords: 0 });
    const played: PlayedPassage[] = [];
    playInto(played, policy.decide({ elapsedSec: 0, played, scores: none }));
    assert.equal(played[0].label, 'probe:0', 'untried arms first, lowest k first');
    for (let k = 0; k < 3; k++) playInto(played, policy.decide({ elapsedSec: 0, played, scores: none }));
    assert.deepEqual(played.map((p) => p.label), ['probe:0', 'ctx:2:1', 'ctx:2:2', 'probe:2']);
    assert.notEqual(played[1].ordinal, played[0].ordinal + 1, 'a trial starts after a jump');
    assert.equal(played[2].ordinal, played[1].ordinal + 1);
    assert.equal(played[3].ordinal, played[2].ordinal + 1, 'the context continues into the probe');
    const w = bank.words[0];
    assert.deepEqual(policy.conditionsOf!(w, played[3]), ['context-2']);
    assert.deepEqual(policy.conditionsOf!(w, played[1]), []);
  });

  it('first plays story in order until the decoder of all words has warmupWords words, in no arm', () => {
    const policy = create('context', { arms: [0, 2] });
    const played: PlayedPassage[] = [];
    const heard = (n: number): PolicyInput['scores'] => ({ all: summary({ nWords: n }), conditions: {} });
    for (const n of [0, 120, 290]) playInto(played, policy.decide({ elapsedSec: 0, played, scores: heard(n) }));
    assert.deepEqual(played.map((p) => [p.ordinal, p.label]), [[0, 'warmup'], [1, 'warmup'], [2, 'warmup']]);
    assert.deepEqual(policy.conditionsOf!(bank.words[0], played[0]), []);
    playInto(played, policy.decide({ elapsedSec: 0, played, scores: heard(300) }));
    assert.equal(played[3].label, 'probe:0', 'the first trial once 300 words are in');
    assert.ok(played[3].ordinal > 3, 'after a jump');
    // Once trials have started, the warm-up does not come back (the overall count is not re-checked).
    playInto(played, policy.decide({ elapsedSec: 0, played, scores: heard(0) }));
    assert.equal(played[4].label, 'ctx:2:1');
  });

  it('stops when the arm the rule chooses no longer fits in the bank, instead of filling it with short trials', () => {
    const small = syntheticBankSummary(10, 3);
    const def = builtinPolicy('context');
    const policy = def.create(small, resolveParameters(def, { arms: [0, 2], warmupWords: 0, minArmWords: 1 }));
    const played: PlayedPassage[] = [];
    const byCondition = { 'context-0': { nScored: 50, alignmentScore: 0.1, temporalScore: null }, 'context-2': { nScored: 50, alignmentScore: 0.3, temporalScore: null } };
    const scores = (): PolicyInput['scores'] => ({ all: summary({ nWords: 500, byCondition }), conditions: {} });
    const decisions: PolicyDecision[] = [];
    for (let i = 0; i < 12; i++) {
      const d = policy.decide({ elapsedSec: 0, played, scores: scores() });
      decisions.push(d);
      if (d.action === 'stop') break;
      played.push({ passage: d.passage, ordinal: small.passages.findIndex((p) => p.id === d.passage), label: d.label });
    }
    assert.deepEqual(played.map((p) => p.label), ['probe:0', 'ctx:2:1', 'ctx:2:2', 'probe:2', 'ctx:2:1', 'ctx:2:2', 'probe:2']);
    const stop = decisions.at(-1)!;
    assert.equal(stop.action, 'stop');
    assert.equal(stop.reason, 'bank-exhausted');
    assert.match(stop.detail, /arm 2, the arm with the highest upper bound/);
  });

  /**
   * Simulated allocation: arms 0…5 whose true score rises to a plateau at 2 passages of context.
   * `scoreOf(k, probes)` says what the policy reads for an arm after that many probes.
   */
  const allocate = (scorer: 'overall' | 'own', scoreOf: (k: number, n: number) => number) => {
    const big = syntheticBankSummary(400, 9);
    const def = builtinPolicy('context');
    const policy = def.create(big, resolveParameters(def, { arms: [0, 1, 2, 3, 4, 5], scorer, warmupWords: 0 }));
    const played: PlayedPassage[] = [];
    const probes = new Map<number, number>();
    for (let step = 0; step < 240; step++) {
      const conditions: Record<string, ScoreSummary> = {};
      const byCondition: NonNullable<ScoreSummary['byCondition']> = {};
      for (const [k, n] of probes) {
        conditions[`context-${k}`] = summary({ nWords: 25 * n, alignmentScore: scoreOf(k, n) });
        byCondition[`context-${k}`] = { nScored: 25 * n, alignmentScore: scoreOf(k, n), temporalScore: null };
      }
      const d = policy.decide({ elapsedSec: 0, played, scores: { all: summary({ nWords: 5000, byCondition }), conditions } });
      if (d.action === 'stop') break;
      played.push({ passage: d.passage, ordinal: big.passages.findIndex((p) => p.id === d.passage), label: d.label });
      const m = /^probe:(\d+)$/.exec(d.label ?? '');
      if (m) probes.set(Number(m[1]), (probes.get(Number(m[1])) ?? 0) + 1);
    }
    return probes;
  };
  const truth = (k: number) => 0.2 * Math.min(1, (k + 0.5) / 2.5);

  for (const scorer of ['overall', 'own'] as const) {
    it(`allocates most trials near the saturation point when alignment saturates (scorer ${scorer})`, () => {
      // Each arm's estimate gets less noisy with its probes (sd 0.25 of the plateau / sqrt(probes)).
      const rng = mulberry32(5);
      const noise = new Map<string, number>();
      const probes = allocate(scorer, (k, n) => {
        const key = `${k}:${n}`;
        if (!noise.has(key)) noise.set(key, 0.05 * randomNormal(rng));
        return truth(k) + noise.get(key)! / Math.sqrt(n);
      });
      const total = [...probes.values()].reduce((s, v) => s + v, 0);
      const near = (probes.get(1) ?? 0) + (probes.get(2) ?? 0) + (probes.get(3) ?? 0);
      assert.ok(total >= 40, `${total} trials`);
      assert.ok(near / total > 0.6, `trials per arm ${JSON.stringify([...probes].sort())}`);
      assert.ok((probes.get(2) ?? 0) >= Math.max(probes.get(0) ?? 0, probes.get(5) ?? 0), 'the saturation arm beats both ends');
    });
  }

});

describe('policy parameters and definitions', () => {
  it('fills defaults, checks values and names unknown parameters', () => {
    assert.deepEqual(resolveParameters(builtinPolicy('stop-when-tight'), {}), { ciWidth: 0.2, minWords: 200 });
    assert.deepEqual(resolveParameters(builtinPolicy('context'), { arms: '0,2,4' }).arms, [0, 2, 4]);
    assert.throws(() => resolveParameters(builtinPolicy('stop-when-tight'), { ciWidht: 0.1 }), /stop-when-tight has no parameter "ciWidht" \(it has: ciWidth, minWords\)/);
    assert.throws(() => resolveParameters(builtinPolicy('stop-when-tight'), { ciWidth: -1 }), /ciWidth must be ≥ 0/);
    assert.throws(() => builtinPolicy('greedy'), /unknown policy "greedy": use stop-when-tight, balance-surprisal, context/);
  });
  it('accepts a lab\'s own policy written in a few lines, and refuses something that is not one', () => {
    const mine = checkPolicyDefinition(
      {
        name: 'shortest-first',
        parameters: {},
        create: (b: typeof bank) => ({
          name: 'shortest-first',
          parameters: {},
          decide: ({ played }: PolicyInput): PolicyDecision => {
            const next = [...b.passages].sort((x, y) => x.durationSec - y.durationSec).find((p) => !played.some((q) => q.passage === p.id));
            return next ? { action: 'play', passage: next.id, reason: 'shortest', detail: '' } : { action: 'stop', reason: 'bank-exhausted', detail: '' };
          },
        }),
      },
      'mine.js',
    );
    const d = mine.create(bank, {}).decide({ elapsedSec: 0, played: [], scores: none });
    assert.equal(d.action === 'play' && d.passage, [...bank.passages].sort((x, y) => x.durationSec - y.durationSec)[0].id);
    assert.throws(() => checkPolicyDefinition({ name: 'x' }, 'bad.js'), /bad\.js: its default export is not a policy definition \(missing create\(bank, parameters\), parameters \(object\)\)/);
  });
});

describe('bank: quartiles and passages', () => {
  it('quartile edges over content words, as numpy.percentile', () => {
    const words = [1, 2, 3, 4, 5, 6, 7, 8, 100].map((s) => ({ isContent: true, surprisalNats: s }));
    // numpy.percentile([1..8, 100], [25, 50, 75]) = [3, 5, 7]
    assert.deepEqual(surprisalQuartileEdges([...words, { isContent: false, surprisalNats: 1000 }]), [3, 5, 7]);
    assert.deepEqual([1, 3, 3.5, 5, 6, 7.5, null].map((s) => quartileOf(s, [3, 5, 7])), [1, 1, 2, 2, 3, 4, null]);
  });
  it('cuts a text into passages that end at sentence or paragraph ends, covering every word once', () => {
    const words = splitWords(builtinText().slice(0, 30_000));
    const cuts = cutPassages(words, { targetWords: 50 });
    assert.equal(cuts[0][0], 0);
    assert.equal(cuts.at(-1)![1], words.length);
    cuts.slice(1).forEach(([a], k) => assert.equal(a, cuts[k][1]));
    const inner = cuts.slice(0, -1);
    assert.ok(inner.every(([a, b]) => b - a >= 25 && b - a <= 75), 'lengths within [target/2, 1.5 target]');
    const sentenceEnds = inner.filter(([, b]) => endStrength(words[b - 1].trailingPunct) >= 2).length;
    assert.ok(sentenceEnds / inner.length > 0.9, `${sentenceEnds}/${inner.length} end a sentence`);
  });
});
