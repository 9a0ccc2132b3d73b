/**
 * One configuration of the refit benchmark (bench/refit.ts), in its own process so that OpenBLAS's
 * process-wide thread setting and peak RSS are its own. On the paper-sized problem, in memory:
 *   1. accumulation: `--words` words added (words/s, from the first add to the last batch added),
 *      "cold": the statistics' 1.3 GB are written for the first time, so the kernel's page faults
 *      are in the figure; then `--steady-words` more words on the touched statistics ("steady", the
 *      rate of a long session);
 *   2. refits: `--repeats` exact refits as `lockstep decode` runs them (5 folds, no full model:
 *      830 eigendecompositions) and as a live session does (plus the full model: 996);
 *   3. beside: a live-style refit (words scored on arrival) while words keep arriving at speech
 *      rate: how many arrived, and how long each took from arrival to scored;
 * then peak RSS. Wall seconds and CPU seconds (all threads) are both reported: on a shared machine
 * CPU seconds divided by the cores used estimate the wall time the machine would take alone.
 * Prints one JSON line.
 *
 * Usage: node dist/bench/refitRun.js '{"backend":"auto","workers":2,"precision":"float64","words":2560,"repeats":2}'
 */
import os from 'node:os';
import { linearLatencies } from '../adapters/simulator/plantedEpochs.js';
import { Decoder } from '../src/decoder.js';
import { defaultDepths, epochTimes } from '../src/epochGrid.js';
import type { BackendName } from '../src/linalg/backend.js';
import type { AccumulationPrecision } from '../src/stats/statsAccumulator.js';
import type { WordPair } from '../src/types.js';
import { DecoderSession } from '../streams/decoderSession.js';
import { paperWords } from './paperData.js';

interface RunConfig {
  backend: 'auto' | BackendName;
  workers: number;
  precision: AccumulationPrecision;
  words: number;
  /** Words added after the first `words`, timed apart (default: as many). */
  steadyWords?: number;
  repeats: number;
  /** Skip the live-style refit with words arriving beside it. */
  noBeside?: boolean;
  /** Arrival rate of the words beside that refit (default 3 words/s, speech). */
  besideWordsPerSec?: number;
  channels?: number;
  times?: number;
  layers?: number;
  dims?: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as RunConfig;
const C = cfg.channels ?? 273;
const T = cfg.times ?? 166;
const L = cfg.layers ?? 9;
const D = cfg.dims ?? 50;
const log = (m: string) => process.stderr.write(`refitRun: ${m}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

// Distinct words, cycled: generating a 273 × 166 epoch costs about as much as adding it.
const DISTINCT = Math.min(cfg.words, 640);
const next = paperWords({ words: DISTINCT, channels: C, times: T, layers: L, dims: D, tStartSec: -2.5, sfreqHz: 30, latenciesSec: linearLatencies(L), signal: 0.6, seed: 1 });
const pool: WordPair[] = Array.from({ length: DISTINCT }, (_, i) => ({ wordIndex: i, onsetSec: i / 3, ...next() }));
const word = (i: number): WordPair => ({ ...pool[i % DISTINCT], wordIndex: i, onsetSec: i / 3 });

const session = await DecoderSession.create({
  decoder: { dims: { nChannels: C, nTimes: T, nLayers: L, nDims: D }, foldPlan: { kind: 'blocks', folds: 5, blockWords: 100 }, precision: cfg.precision },
  backend: cfg.backend,
  times: epochTimes(-2.5, 30, T),
  depths: defaultDepths(L),
  refits: 'blocking',
  computeWorkers: cfg.workers,
});
const decoder: Decoder = session.decoder;
const backend = session.backend;
log(`${session.backendDetail}, ${cfg.precision}`);

/** CPU seconds of every thread of this process (the pool's workers included) since `from`. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return round((u.user + u.system) / 1e6);
};
/** Adds words [from, to) and waits until they are in the statistics: wall and CPU seconds. */
async function addWords(from: number, to: number): Promise<{ seconds: number; cpuSeconds: number }> {
  const t = performance.now();
  const c = process.cpuUsage();
  for (let i = from; i < to; i++) await decoder.add(word(i), backend);
  await decoder.flush(backend);
  return { seconds: (performance.now() - t) / 1000, cpuSeconds: cpuSince(c) };
}

const loadBefore = os.loadavg();
const { seconds: accumulateSeconds, cpuSeconds: accumulateCpuSeconds } = await addWords(0, cfg.words);
log(`accumulated ${cfg.words} words in ${accumulateSeconds.toFixed(1)} s (cold)`);
const steadyWords = cfg.steadyWords ?? cfg.words;
const { seconds: steadySeconds, cpuSeconds: steadyCpuSeconds } = await addWords(cfg.words, cfg.words + steadyWords);
log(`then ${steadyWords} words in ${steadySeconds.toFixed(1)} s (steady)`);

const refitSeconds: number[] = [];
const refitCpuSeconds: number[] = [];
const refitWithModelSeconds: number[] = [];
for (let r = 0; r < cfg.repeats; r++) {
  const c1 = process.cpuUsage();
  await decoder.refit(backend, undefined, { fitFull: false });
  refitSeconds.push(round(decoder.lastRefitSeconds));
  refitCpuSeconds.push(cpuSince(c1));
  await decoder.refit(backend);
  refitWithModelSeconds.push(round(decoder.lastRefitSeconds));
  log(`refit ${refitSeconds.at(-1)} s (${refitCpuSeconds.at(-1)} CPU s), with the full model ${refitWithModelSeconds.at(-1)} s`);
}

let beside: Record<string, number> | null = null;
if (!cfg.noBeside) {
  // Live-style: words arrive at speech rate and are scored on arrival while the refit computes
  // on the pool; latency = from a word's arrival to its score being in the rolling sums.
  decoder.scoring = 'arrival';
  const rate = cfg.besideWordsPerSec ?? 3;
  let refitDone = false;
  const tr = performance.now();
  const refit = decoder.refit(backend).then(() => (refitDone = true));
  const latencyMs: number[] = [];
  for (let i = cfg.words; !refitDone; i++) {
    const due = tr + ((i - cfg.words) * 1000) / rate;
    while (performance.now() < due && !refitDone) await new Promise((r) => setTimeout(r, Math.min(5, due - performance.now())));
    if (refitDone) break;
    const w = word(i);
    const out = await decoder.add(w, backend);
    if (out.accepted) await decoder.scoreOnArrival(w, out.position, backend);
    latencyMs.push(performance.now() - due);
  }
  await refit;
  const refitSecondsBeside = (performance.now() - tr) / 1000;
  await decoder.drain();
  latencyMs.sort((a, b) => a - b);
  beside = {
    wordsPerSecond: rate,
    refitSeconds: round(refitSecondsBeside),
    wordsScoredDuringRefit: latencyMs.length,
    scoreLatencyMsP50: round(latencyMs[Math.floor(latencyMs.length / 2)] ?? NaN),
    scoreLatencyMsMax: round(latencyMs.at(-1) ?? NaN),
  };
  log(`beside: ${JSON.stringify(beside)}`);
}
const loadAfter = os.loadavg();
await session.close();
process.stdout.write(
  `${JSON.stringify({
    backend: session.backendDetail,
    workers: cfg.workers,
    precision: cfg.precision,
    problem: { channels: C, times: T, layers: L, dims: D, folds: 5, alphas: 13 },
    words: cfg.words,
    accumulateSeconds: round(accumulateSeconds),
    wordsPerSecond: round(cfg.words / accumulateSeconds, 0),
    accumulateCpuSeconds,
    steadyWords,
    steadyWordsPerSecond: steadyWords > 0 ? round(steadyWords / steadySeconds, 0) : null,
    steadyCpuMsPerWord: steadyWords > 0 ? round((steadyCpuSeconds * 1000) / steadyWords) : null,
    refitSeconds,
    refitCpuSeconds,
    refitWithModelSeconds,
    beside,
    peakRssGB: round(process.resourceUsage().maxRSS / 2 ** 20, 3),
    loadavg: { before: loadBefore.map((x) => round(x)), after: loadAfter.map((x) => round(x)) },
  })}\n`,
);
