/**
 * `lockstep closed-loop --simulate` end to end: presenter, simulated subject and controller over
 * real LSL sockets on loopback (short sessions, few channels, faster than real time on one shared
 * clock), one per policy. The subject hears exactly the passages chosen; decisions come within the
 * budget of a passage's data being complete; the JSON result has the interface users rely on; and
 * the sidecar's logged inputs reproduce every decision through the policy alone. (A session with a
 * bank built by `lockstep bank build` is in closedLoop.bank.test.ts.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PassageBank } from '../adapters/bank/passageBank.js';
import { simulatedBank } from '../adapters/bank/simulatedBank.js';
import { defaultActivationCache } from '../adapters/llm/features.js';
import type { DecisionRecord } from '../cli/closedLoopSession.js';
import { checkLoop, checkReplay, loop } from './helpers/closedLoopRuns.js';
import { tempDir } from './helpers/paths.js';

const SYNTHETIC = ['--bank-words', '1200', '--features', 'synthetic:3', '--dims', '5'];

describe('closed-loop --simulate', () => {
  const root = tempDir('loop');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  let synthetic: PassageBank;
  before(async () => {
    synthetic = await simulatedBank({ words: 1200, passageWords: 50, model: 'builtin', cacheRoot: defaultActivationCache(), seed: 3, syntheticSeed: 3, syntheticDims: 5 });
  });

  it('stop-when-tight plays in order and stops once the interval is narrower than --ci-width', async () => {
    const out = path.join(root, 'tight.json');
    const r = await loop(['--policy', 'stop-when-tight', '--ci-width', '1.2', '--min-words', '50', '--max-minutes', '4', '--seed', '3', ...SYNTHETIC, '--fold-block', '8', '--refit-every', '25'], out);
    assert.equal(r.policy.name, 'stop-when-tight');
    assert.deepEqual(r.policy.parameters, { ciWidth: 1.2, minWords: 50 });
    assert.equal(r.stopped.reason, 'ci-narrower', JSON.stringify(r.stopped));
    const stop = JSON.parse(fs.readFileSync(r.sidecar, 'utf8')).decisions.at(-1) as DecisionRecord;
    const ci = stop.input.scores.all!.ci!;
    assert.ok(ci.high - ci.low < 1.2 && stop.input.scores.all!.exactWords! >= 50, `stopped at interval ${ci.low}…${ci.high}`);
    assert.deepEqual(r.decisions.filter((d) => d.action === 'play').map((d) => d.passage), synthetic.summary.passages.slice(0, r.decisions.length - 1).map((p) => p.id), 'in bank order');
    assert.deepEqual(r.conditions, {}, 'no conditions: one decoder');
    assert.equal(path.dirname(r.sidecar), root);
    checkLoop(r, synthetic);
    checkReplay(r.sidecar, synthetic);
  });

  it('context runs trials (a jump, context passages, a probe) and decodes each arm\'s probes apart', async () => {
    const out = path.join(root, 'context.json');
    const r = await loop(['--policy', 'context', '--arms', '0,1', '--warmup-words', '30', '--max-minutes', '2.4', '--seed', '4', ...SYNTHETIC, '--refit-every', '25', '--condition-fold-block', '4', '--condition-refit-every', '20'], out);
    const side = JSON.parse(fs.readFileSync(r.sidecar, 'utf8')) as { decisions: DecisionRecord[] };
    const plays = side.decisions.filter((d) => d.action === 'play');
    const labels = plays.map((d) => d.label);
    const warm = labels.filter((l) => l === 'warmup').length;
    assert.ok(warm >= 1 && labels.slice(0, warm).every((l) => l === 'warmup'), `story in order first: ${labels.join(' ')}`);
    assert.ok(plays[warm].input.scores.all!.nWords >= 30, 'the first trial once the overall decoder has --warmup-words');
    assert.deepEqual(labels.slice(warm, warm + 3), ['probe:0', 'ctx:1:1', 'probe:1']);
    assert.deepEqual(Object.keys(r.conditions), ['context-0', 'context-1']);
    assert.ok(r.conditions['context-0'].words > 0 && r.conditions['context-1'].words > 0, JSON.stringify(r.conditions));
    // The arms are also scored by the decoder of all words (what the policy reads by default).
    for (const c of ['context-0', 'context-1']) assert.ok((r.conditions[c].overallModel?.words ?? 0) > 0, `${c}: ${JSON.stringify(r.conditions[c])}`);
    const last = side.decisions.at(-1)!;
    assert.ok(last.input.scores.all!.byCondition?.['context-0'], 'the scores the policy read are in the sidecar');
    assert.equal(r.stopped.reason, 'max-minutes');
    checkLoop(r, synthetic);
    checkReplay(r.sidecar, synthetic);
  });

});
