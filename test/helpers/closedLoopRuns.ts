/**
 * Running `lockstep closed-loop --simulate` from tests, and what every simulated session must show
 * whatever its policy (the subject heard exactly the passages chosen, decisions within the budget,
 * the result's interface), and the sidecar replayed through the policy alone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { PassageBank } from '../../adapters/bank/passageBank.js';
import type { DecisionRecord } from '../../cli/closedLoopSession.js';
import type { SimulatedLoopResult } from '../../cli/simulatedLoop.js';
import { builtinPolicy } from '../../src/closedLoop/policies.js';
import { CLI } from './paths.js';

export const run = promisify(execFile);
export const env = { ...process.env, LOCKSTEP_LSL_LOOPBACK_ONLY: '1' };
/** Few channels, few dimensions, ×5: a couple of simulated minutes in well under a minute. */
export const FAST = ['--speed', '5', '--channels', '24', '--snr', '6', '--quiet', '--json'];

export async function loop(args: string[], out: string): Promise<SimulatedLoopResult> {
  const r = await run(process.execPath, [CLI, 'closed-loop', '--simulate', ...FAST, ...args, '--out', out], { env, timeout: 480_000, maxBuffer: 64 << 20 });
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as SimulatedLoopResult;
  assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), result, '--out holds the same result');
  return result;
}

/** What every simulated session must show, whatever the policy. */
export function checkLoop(r: SimulatedLoopResult, bank: PassageBank): void {
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
export function checkReplay(sidecarFile: string, bank: PassageBank): void {
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

