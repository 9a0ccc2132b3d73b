/**
 * `lockstep closed-loop --simulate` end to end: presenter, simulated subject and controller over
 * real LSL sockets on loopback (short sessions, few channels, faster than real time on one shared
 * clock), one per policy. The subject hears exactly the passages chosen; decisions come within the
 * budget of a passage's data being complete; the JSON result has the interface users rely on; and
 * the sidecar's logged inputs reproduce every decision through the policy alone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openPassageBank, type PassageBank } from '../adapters/bank/passageBank.js';
import { simulatedBank } from '../adapters/bank/simulatedBank.js';
import { defaultActivationCache } from '../adapters/llm/features.js';
import { builtinText } from '../adapters/text/builtinText.js';
import type { DecisionRecord } from '../cli/closedLoopSession.js';
import type { SimulatedLoopResult } from '../cli/simulatedLoop.js';
import { builtinPolicy } from '../src/closedLoop/policies.js';
import { CLI, tempDir } from './helpers/paths.js';

const run = promisify(execFile);
const env = { ...process.env, LOCKSTEP_LSL_LOOPBACK_ONLY: '1' };
/** Few channels, few dimensions, ×5: a couple of simulated minutes in well under a minute. */
const FAST = ['--speed', '5', '--channels', '24', '--snr', '6', '--quiet', '--json'];
const SYNTHETIC = ['--bank-words', '1200', '--features', 'synthetic:3', '--dims', '5'];

async function loop(args: string[], out: string): Promise<SimulatedLoopResult> {
  const r = await run(process.execPath, [CLI, 'closed-loop', '--simulate', ...FAST, ...args, '--out', out], { env, timeout: 480_000, maxBuffer: 64 << 20 });
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as SimulatedLoopResult;
  assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), result, '--out holds the same result');
  return result;
}

/** What every simulated session must show, whatever the policy. */
function checkLoop(r: SimulatedLoopResult, bank: PassageBank): void {
  const plays = r.decisions.filter((d) => d.action === 'play');
  assert.ok(plays.length >= 2, `${plays.length} passages`);
  assert.deepEqual(r.simulation.heardPassages, plays.map((d) => d.passage), 'the subject heard exactly the passages chosen, in order');
  const words = plays.reduce((n, d) => n + bank.summary.passages.find((p) => p.id === d.passage)!.nWords, 0);
  assert.equal(r.simulation.heardWords, words, 'every word of them');
  assert.equal(r.wordsHeard, words, 'the controller got every marker too');
  assert.equal(r.simulation.lateWords, 0);
  assert.equal(r.streams.words.badMarkers, 0);
  assert.deepEqual(r.streams.meg.gaps, []);
  for (const d of r.decisions) {
    assert.equal(typeof d.passage === 'string' || d.passage === null, true);
    assert.ok(Number.isFinite(d.atSec) && typeof d.reason === 'string');
    if (d.seq > 1) assert.ok(d.latencySec !== null && d.latencySec >= 0, 'latency from the passage\'s data being complete');
  }
  // The budget (0.5 s) bounds every decision, refits or not (slack for a loaded machine).
  assert.ok(r.decisionLatencySec.max! < 2, `decision latency max ${r.decisionLatencySec.max} s`);
  assert.equal(r.stopped.atSec, r.decisions.at(-1)!.atSec);
  assert.ok(r.final && r.final.nWords === r.wordsDecoded);
  const t = r.simulation.presenter.markerTiming;
  assert.equal(t.n, words + 2 * plays.length, 'a marker per word plus passage start and end');
}

/** Replays the sidecar's logged inputs through the policy: the same decision each time. */
function checkReplay(sidecarFile: string, bank: PassageBank): void {
  const side = JSON.parse(fs.readFileSync(sidecarFile, 'utf8')) as { schema: string; policy: { name: string; parameters: Record<string, unknown> }; decisions: DecisionRecord[]; stopped: { reason: string } };
  assert.equal(side.schema, 'lockstep.closed-loop/1');
  const policy = builtinPolicy(side.policy.name).create(bank.summary, side.policy.parameters as never);
  for (const d of side.decisions) {
    if (d.reason === 'max-minutes') continue; // the controller's own rule, not the policy's
    const again = policy.decide(d.input);
    assert.deepEqual([again.action, again.action === 'play' ? again.passage : null, again.reason, again.detail], [d.action, d.passage, d.reason, d.detail], `decision ${d.seq} reproduced`);
  }
  assert.equal(side.stopped.reason, side.decisions.at(-1)!.reason);
}

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
    const r = await loop(['--policy', 'context', '--arms', '0,1', '--max-minutes', '2.2', '--seed', '4', ...SYNTHETIC, '--condition-fold-block', '4', '--condition-refit-every', '20'], out);
    const side = JSON.parse(fs.readFileSync(r.sidecar, 'utf8')) as { decisions: DecisionRecord[] };
    const labels = side.decisions.filter((d) => d.action === 'play').map((d) => d.label);
    assert.deepEqual(labels.slice(0, 3), ['probe:0', 'ctx:1:1', 'probe:1']);
    assert.deepEqual(Object.keys(r.conditions), ['context-0', 'context-1']);
    assert.ok(r.conditions['context-0'].words > 0 && r.conditions['context-1'].words > 0, JSON.stringify(r.conditions));
    assert.equal(r.stopped.reason, 'max-minutes');
    checkLoop(r, synthetic);
    checkReplay(r.sidecar, synthetic);
  });

  describe('with a bank built by lockstep bank build (espeak-ng)', () => {
    const bankDir = path.join(root, 'bank');
    before(async () => {
      const text = path.join(root, 'story.txt');
      fs.writeFileSync(text, builtinText().slice(0, 1900));
      await run(process.execPath, [CLI, 'bank', 'build', '--text', text, '--out', bankDir, '--model', 'builtin', '--context-mode', 'chunked', '--passage-words', '35', '--cache', path.join(root, 'cache'), '--quiet'], { env, timeout: 240_000 });
    });

    it('balance-surprisal keeps the quartiles balanced and reports a score per quartile', async () => {
      const bank = openPassageBank(bankDir);
      const out = path.join(root, 'balance.json');
      const r = await loop(['--bank', bankDir, '--policy', 'balance-surprisal', '--max-minutes', '1.8', '--seed', '5', '--all-words', '--dims', '5', '--condition-fold-block', '3', '--condition-refit-every', '20'], out);
      assert.deepEqual(Object.keys(r.conditions), ['q1', 'q2', 'q3', 'q4']);
      const decoded = Object.values(r.conditions).map((c) => c.words);
      assert.ok(decoded.every((n) => n > 0), `words per quartile ${decoded}`);
      const plays = r.decisions.filter((d) => d.action === 'play');
      assert.equal(new Set(plays.map((d) => d.passage)).size, plays.length, 'no passage twice');
      assert.equal(r.bank.manifestSha256, bank.manifestSha256);
      checkLoop(r, bank);
      checkReplay(r.sidecar, bank);
    });
  });
});
