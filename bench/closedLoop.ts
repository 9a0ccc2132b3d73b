/**
 * The closed loop simulated, for BENCHMARKS.md: runs `lockstep closed-loop --simulate` (a child
 * process per session, over LSL on loopback) for several seeds and summarises what each policy did.
 *
 *   --experiment tight    stop-when-tight with --ci-width W: words at the stop and the interval
 *                         then; and the same seeds as fixed-length sessions (never stopping, up to
 *                         --fixed-minutes), from whose interval-vs-words trajectories the length a
 *                         fixed design must choose in advance to reach width < W (in 80 % and in
 *                         all of the seeds) is read
 *   --experiment balance  balance-surprisal: content words decoded per quartile and their spread,
 *                         the temporal score per quartile
 *   --experiment context  context: probes per arm, how many at the planted saturation point (arm 2:
 *                         100 words of context in 50-word passages) and within one arm of it
 *   --experiment latency  stop-when-tight that never stops, at ×1: decision latency while refits run
 *
 * Every other argument is passed to the command (e.g. --speed 6 --channels 48 --snr 3
 * --features synthetic:1 --dims 10). Prints one JSON object.
 *
 * Usage: node dist/bench/closedLoop.js --experiment tight --seeds 1,2,3,4,5 --minutes 12 --ci-width 0.1 [command options]
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DecisionRecord } from '../cli/closedLoopSession.js';
import type { SimulatedLoopResult } from '../cli/simulatedLoop.js';

const run = promisify(execFile);
const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../cli/main.js');
const argv = process.argv.slice(2);
const take = (name: string, dflt?: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const experiment = take('experiment', 'tight')!;
const seeds = take('seeds', '1,2,3')!.split(',').map(Number);
const minutes = Number(take('minutes', '10'));
const fixedMinutes = Number(take('fixed-minutes', String(minutes)));
const ciWidth = Number(take('ci-width', '0.1'));
const minWords = Number(take('min-words', '100'));
const passThrough = argv;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-bench-loop-'));

async function session(seed: number, args: string[]): Promise<{ result: SimulatedLoopResult; decisions: DecisionRecord[]; wallSec: number }> {
  const out = path.join(dir, `s${seed}-${Math.random().toString(36).slice(2)}.json`);
  const t0 = performance.now();
  await run(process.execPath, [CLI, 'closed-loop', '--simulate', '--seed', String(seed), '--quiet', '--out', out, ...args, ...passThrough], { env: { ...process.env, LOCKSTEP_LSL_LOOPBACK_ONLY: '1' }, maxBuffer: 256 << 20 });
  const result = JSON.parse(fs.readFileSync(out, 'utf8')) as SimulatedLoopResult;
  const decisions = (JSON.parse(fs.readFileSync(result.sidecar, 'utf8')) as { decisions: DecisionRecord[] }).decisions;
  process.stderr.write(`seed ${seed}: ${result.decisions.length} decisions, stopped ${result.stopped.reason} at ${(result.stopped.atSec / 60).toFixed(2)} min, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  return { result, decisions, wallSec: (performance.now() - t0) / 1000 };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const width = (d: DecisionRecord) => {
  const ci = d.input.scores.all?.ci;
  return ci ? ci.high - ci.low : null;
};

async function tight(): Promise<object> {
  const sequential: Array<Record<string, unknown> & { stopped: string; exactWordsAtStop: number | null }> = [];
  const fixed: Array<{ seed: number; wordsDecoded: number; trajectory: Array<{ words: number; width: number }> }> = [];
  for (const seed of seeds) {
    const s = await session(seed, ['--policy', 'stop-when-tight', '--ci-width', String(ciWidth), '--min-words', String(minWords), '--max-minutes', String(minutes)]);
    const stop = s.decisions.at(-1)!;
    sequential.push({ seed, stopped: s.result.stopped.reason, atMin: s.result.stopped.atSec / 60, exactWordsAtStop: stop.input.scores.all?.exactWords ?? null, widthAtStop: width(stop), ciMethod: stop.input.scores.all?.ci?.method ?? null, temporalScoreAtStop: stop.input.scores.all?.temporalScore ?? null, wordsDecoded: s.result.wordsDecoded, wallSec: s.wallSec });
    // The same seed as a fixed-length session: never stops (min-words out of reach).
    const f = await session(seed, ['--policy', 'stop-when-tight', '--ci-width', String(ciWidth), '--min-words', '1000000', '--max-minutes', String(fixedMinutes)]);
    const trajectory = f.decisions.filter((d) => d.input.scores.all?.exactWords != null && width(d) !== null).map((d) => ({ words: d.input.scores.all!.exactWords!, width: width(d)! }));
    fixed.push({ seed, wordsDecoded: f.result.wordsDecoded, trajectory });
  }
  // A fixed design fixes N words in advance; its interval is the one of the last refit with ≤ N words.
  const widthAt = (traj: Array<{ words: number; width: number }>, n: number) => traj.filter((t) => t.words <= n).at(-1)?.width ?? Infinity;
  const candidates = [...new Set(fixed.flatMap((f) => f.trajectory.map((t) => t.words)))].sort((a, b) => a - b);
  const needed = (share: number) => candidates.find((n) => fixed.filter((f) => widthAt(f.trajectory, n) < ciWidth).length >= Math.ceil(share * fixed.length)) ?? null;
  const stoppedWords = sequential.filter((s) => s.stopped === 'ci-narrower').map((s) => s.exactWordsAtStop!);
  return {
    ciWidth,
    minWords,
    sequential,
    fixedSessions: fixed.map((f) => ({ seed: f.seed, wordsDecoded: f.wordsDecoded, firstNarrowerAtWords: f.trajectory.find((t) => t.width < ciWidth)?.words ?? null, trajectory: f.trajectory })),
    summary: {
      stoppedNarrower: `${stoppedWords.length}/${sequential.length}`,
      sequentialWordsMean: mean(stoppedWords),
      sequentialWordsMax: stoppedWords.length ? Math.max(...stoppedWords) : null,
      fixedWordsNeeded80: needed(0.8),
      fixedWordsNeededAll: needed(1),
    },
  };
}

async function balance(): Promise<object> {
  const runs: Array<Record<string, unknown> & { spreadOfMean: number; temporalScore: Array<number | null> }> = [];
  for (const seed of seeds) {
    const s = await session(seed, ['--policy', 'balance-surprisal', '--max-minutes', String(minutes)]);
    const c = s.result.conditions;
    const decoded = ['q1', 'q2', 'q3', 'q4'].map((q) => c[q]?.words ?? 0);
    const heard = (s.decisions.at(-1)!.state as { heard?: number[] } | null)?.heard ?? null;
    const m = mean(decoded)!;
    runs.push({ seed, decoded, spreadOfMean: (Math.max(...decoded) - Math.min(...decoded)) / m, heard, temporalScore: ['q1', 'q2', 'q3', 'q4'].map((q) => c[q]?.temporalScore ?? null), source: ['q1', 'q2', 'q3', 'q4'].map((q) => c[q]?.source ?? null), overall: s.result.final?.exact?.temporalScore ?? null, passages: s.result.decisions.filter((d) => d.action === 'play').length, wallSec: s.wallSec });
  }
  const perQ = (k: number) => mean(runs.map((r) => r.temporalScore[k]).filter((v): v is number => v !== null));
  return { runs, summary: { maxSpreadOfMean: Math.max(...runs.map((r) => r.spreadOfMean)), meanTemporalScorePerQuartile: [0, 1, 2, 3].map(perQ) } };
}

async function context(): Promise<object> {
  const runs: Array<Record<string, unknown> & { atSaturation: number; withinOne: number; saturationArm: number | null }> = [];
  for (const seed of seeds) {
    const s = await session(seed, ['--policy', 'context', '--max-minutes', String(minutes)]);
    const probes: Record<string, number> = {};
    for (const d of s.decisions) {
      const m = /^probe:(\d+)$/.exec(d.label ?? '');
      if (m) probes[m[1]] = (probes[m[1]] ?? 0) + 1;
    }
    const total = Object.values(probes).reduce((a, b) => a + b, 0);
    const last = s.decisions.at(-1)!.state as { saturationArm?: number | null; arms?: Array<{ arm: number; score: number | null; words: number }> } | null;
    runs.push({ seed, probes, total, atSaturation: (probes['2'] ?? 0) / total, withinOne: ((probes['1'] ?? 0) + (probes['2'] ?? 0) + (probes['3'] ?? 0)) / total, saturationArm: last?.saturationArm ?? null, armScores: last?.arms?.map((a) => ({ arm: a.arm, words: a.words, score: a.score })) ?? null, wallSec: s.wallSec });
  }
  return { plantedSaturationWords: 100, plantedArm: 2, runs, summary: { meanAtSaturation: mean(runs.map((r) => r.atSaturation)), meanWithinOne: mean(runs.map((r) => r.withinOne)), saturationArms: runs.map((r) => r.saturationArm) } };
}

async function latency(): Promise<object> {
  const s = await session(seeds[0], ['--policy', 'stop-when-tight', '--min-words', '1000000', '--max-minutes', String(minutes), '--speed', '1']);
  return { decisionLatencySec: s.result.decisionLatencySec, refits: s.result.refits, notUpToDate: s.result.decisions.filter((d) => (d as { notUpToDate: string[] }).notUpToDate.length > 0).length, decisions: s.result.decisions.length, channels: s.result.simulation.channels, wordsDecoded: s.result.wordsDecoded, wallSec: s.wallSec };
}

const t0 = performance.now();
const load0 = os.loadavg();
const body = experiment === 'tight' ? await tight() : experiment === 'balance' ? await balance() : experiment === 'context' ? await context() : experiment === 'latency' ? await latency() : null;
if (!body) throw new RangeError(`--experiment must be tight, balance, context or latency, got "${experiment}"`);
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ benchmark: 'closedLoop', experiment, seeds, minutes, command: passThrough, ...body, wallSeconds: (performance.now() - t0) / 1000, loadAverage: { start: load0, end: os.loadavg() }, cpus: os.cpus().length, node: process.version })}\n`);
