/**
 * Calibration of lockstep's uncertainty, measured by simulation (README, Method §5): many short
 * sessions of the simulated subject through the whole demo pipeline (simulator → filters →
 * epochs → decoder → exact K-fold scores), one seed after another, and
 *  - planted: does each layer's 95 % Tmax interval cover its planted latency 90–99 % of the time?
 *    Also the same for the interval's variants (jackknife only, per-fold spread only, no grid term),
 *    computed from the same fold curves, and the Tmax error (estimator bias) per layer;
 *  - null (no coupling), with synthetic and with built-in-model features: are the p-values of the
 *    paper's test (t on L − 2 df) and of the fold tests uniform (Kolmogorov–Smirnov)?
 *  - sweep: at high SNR, all layers planted at latencies spread over one time step, the error of
 *    Tmax against the planted latency as a function of where it falls on the 33 ms grid (the
 *    rounding and the filters' shift, which the interval's grid term must absorb).
 * Prints one JSON object (and, with --records, one line per session to a file).
 *
 *   node dist/bench/uncertaintyCalibration.js [--seeds 50] [--minutes 4] [--builtin-minutes 6]
 *     [--null-minutes 2] [--channels 68] [--snr 2,2.5,3] [--conditions planted,null,null-builtin,sweep]
 *     [--records f.jsonl]
 *   node dist/bench/uncertaintyCalibration.js --summarize a.jsonl,b.jsonl   (the same summary from records,
 *     e.g. of conditions run in separate processes)
 *
 * Sessions are short and decode a subset of the 273 channels (every 4th by default, at a raised
 * evoked amplitude) so that a few hundred refits fit in well under an hour on a 2-core machine.
 * The planted SNRs straddle the point where 4 minutes start to decode (at 2 most sessions find no
 * ordering, at 3 most find it within a sample): intervals must hold in both regimes and between.
 * Features: `planted`, `null` and `sweep` use the seeded synthetic activations (`demo --synthetic`);
 * `null-builtin` the built-in model's, with no coupling (so the simulator's coupling does not enter).
 */
import fs from 'node:fs';
import os from 'node:os';
import { runDemo, type DemoArgs } from '../cli/demo.js';
import { foldUncertainty, TMAX_INTERVAL_METHOD, type TmaxSeMethod } from '../src/scores/foldUncertainty.js';
import { ksUniform } from '../src/scores/ks.js';
import type { ExactScores } from '../src/snapshot.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const seeds = Number(arg('seeds', '50'));
const firstSeed = Number(arg('first-seed', '1'));
const minutes = Number(arg('minutes', '4'));
const nullMinutes = Number(arg('null-minutes', String(minutes)));
const builtinMinutes = Number(arg('builtin-minutes', '6'));
const nChannels = Number(arg('channels', '68'));
const snrs = arg('snr', '2,2.5,3').split(',').map(Number);
const conditions = arg('conditions', 'planted,null,null-builtin,sweep').split(',');
const records = process.argv.includes('--records') ? arg('records', '') : null;
const picks = Array.from({ length: nChannels }, (_, i) => Math.round((i * 273) / nChannels));
const DT = 1 / 30;

const base: DemoArgs = {
  port: 0,
  host: '127.0.0.1',
  dashboard: false,
  speed: 'max',
  seed: 1,
  control: 'planted',
  json: false,
  backend: 'auto',
  nDims: 50,
  // Only the final refit counts; no intermediate refits or snapshots.
  refitEveryWords: 1_000_000,
  snapshotEveryWords: 1_000_000,
  halfLifeWords: null,
  quiet: true,
  channelPicks: nChannels >= 273 ? undefined : picks,
  includeFoldCurves: true,
};

interface Session {
  condition: string;
  seed: number;
  snr: number;
  planted: number[];
  exact: ExactScores;
  times: number[];
  depths: number[];
  wallSec: number;
}

async function session(condition: string, seed: number, over: Partial<DemoArgs>): Promise<Session | null> {
  const t0 = performance.now();
  const r = await runDemo({ ...base, ...over, seed });
  const exact = r.last?.exact;
  const wallSec = (performance.now() - t0) / 1000;
  process.stderr.write(`${condition} seed ${seed}: ${exact ? `${exact.nWords} words, r = ${exact.temporalScore.toFixed(3)}, p = ${exact.p.toPrecision(2)}` : 'no exact score'} (${wallSec.toFixed(0)} s)\n`);
  if (!exact || !r.last) return null;
  const s: Session = { condition, seed, snr: over.snr ?? 1, planted: r.plantedLatenciesSec, exact, times: r.last.times, depths: r.last.depths, wallSec };
  if (records) fs.appendFileSync(records, `${JSON.stringify(s)}\n`);
  return s;
}

function flatFolds(e: ExactScores): Float64Array {
  const f = e.foldR!;
  const out = new Float64Array(f.length * f[0].length * f[0][0].length);
  let i = 0;
  for (const layer of f) for (const curve of layer) for (const v of curve) out[i++] = v;
  return out;
}

const rate = (xs: boolean[]): number => xs.filter(Boolean).length / xs.length;
const round = (x: number, d = 3): number => Number(x.toFixed(d));
const ms = (x: number): number => Math.round(x * 10000) / 10;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs: number[]): number => quantile(xs, 0.5);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]): number => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));

/**
 * Coverage of the planted latencies by the intervals lockstep reports (foldUncertainty's defaults,
 * recomputed from the recorded fold curves, so records of an older build are judged by this one)
 * and by the variants; the Tmax error (estimator bias); how often each test finds the score.
 */
function plantedSummary(runs: Session[]) {
  const L = runs[0].planted.length;
  const covered = (lo: number, hi: number, x: number) => lo <= x + 1e-9 && x - 1e-9 <= hi;
  const variants: Record<string, boolean[]> = {};
  const variantHalfWidths: Record<string, number[]> = {};
  const add = (name: string, ok: boolean, half: number) => {
    (variants[name] ??= []).push(ok);
    (variantHalfWidths[name] ??= []).push(half);
  };
  const perLayer: boolean[][] = Array.from({ length: L }, () => []);
  const perSnr: Record<string, boolean[]> = {};
  const errors: number[][] = Array.from({ length: L }, () => []);
  const halfWidths: number[] = [];
  const significant = { paper: [] as boolean[], jackknifeTest: [] as boolean[], foldSpearmanTest: [] as boolean[] };
  for (const s of runs) {
    const e = s.exact;
    const foldR = flatFolds(e);
    const K = e.foldR!.length;
    const reported = foldUncertainty(foldR, K, L, s.times, s.depths);
    const byMethod = Object.fromEntries((['jackknife', 'folds', 'pooled'] as TmaxSeMethod[]).map((m) => [m, foldUncertainty(foldR, K, L, s.times, s.depths, { tmaxSe: m })]));
    const noGrid = foldUncertainty(foldR, K, L, s.times, s.depths, { resolutionSec: 0 });
    significant.paper.push(e.p < 0.05);
    significant.jackknifeTest.push(reported.jackknifeTest.p < 0.05);
    significant.foldSpearmanTest.push(reported.foldTest.p < 0.05);
    for (let l = 0; l < L; l++) {
      const x = s.planted[l];
      const ok = covered(reported.tmax.low[l], reported.tmax.high[l], x);
      perLayer[l].push(ok);
      (perSnr[String(s.snr)] ??= []).push(ok);
      halfWidths.push((reported.tmax.high[l] - reported.tmax.low[l]) / 2);
      for (const [m, u] of Object.entries(byMethod)) add(`${m} ⊕ grid`, covered(u.tmax.low[l], u.tmax.high[l], x), (u.tmax.high[l] - u.tmax.low[l]) / 2);
      add('jackknife alone (no grid term)', covered(noGrid.tmax.low[l], noGrid.tmax.high[l], x), (noGrid.tmax.high[l] - noGrid.tmax.low[l]) / 2);
      errors[l].push(e.tmax[l] - x);
    }
  }
  const all = perLayer.flat();
  return {
    sessions: runs.length,
    intervals: all.length,
    method: TMAX_INTERVAL_METHOD,
    coverage: round(rate(all)),
    coverageBySnr: Object.fromEntries(Object.entries(perSnr).map(([k, v]) => [k, { intervals: v.length, coverage: round(rate(v)) }])),
    coverageByLayer: perLayer.map((v) => round(rate(v))),
    medianHalfWidthMs: ms(median(halfWidths)),
    halfWidthQuartilesMs: [ms(quantile(halfWidths, 0.25)), ms(quantile(halfWidths, 0.75))],
    coverageOfVariants: Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, { coverage: round(rate(v)), medianHalfWidthMs: ms(median(variantHalfWidths[k])) }])),
    tmaxErrorMs: {
      meanByLayer: errors.map((v) => ms(mean(v))),
      medianAbsByLayer: errors.map((v) => ms(median(v.map(Math.abs)))),
      sdByLayer: errors.map((v) => ms(sd(v))),
      within33ms: round(rate(errors.flat().map((v) => Math.abs(v) <= DT + 1e-9))),
    },
    temporalScore: { median: round(median(runs.map((s) => s.exact.temporalScore))), significantAt05: Object.fromEntries(Object.entries(significant).map(([k, v]) => [k, round(rate(v))])) },
  };
}

/** Uniformity of the null p-values: the paper's and the fold tests'. */
function nullSummary(runs: Session[]) {
  const L = runs[0].planted.length;
  const paper: number[] = [];
  const jack: number[] = [];
  const folds: number[] = [];
  const ciHasZero: boolean[] = [];
  for (const s of runs) {
    const e = s.exact;
    const u = foldUncertainty(flatFolds(e), e.foldR!.length, L, s.times, s.depths);
    paper.push(e.p);
    jack.push(u.jackknifeTest.p);
    folds.push(u.foldTest.p);
    ciHasZero.push(e.ci.low <= 0 && 0 <= e.ci.high);
  }
  const describe = (p: number[]) => {
    const ks = ksUniform(p.filter(Number.isFinite));
    return { n: ks.n, ksD: round(ks.statistic), ksP: Number(ks.p.toPrecision(3)), below05: round(rate(p.map((v) => v < 0.05))), below01: round(rate(p.map((v) => v < 0.01))) };
  };
  return {
    sessions: runs.length,
    paperT: describe(paper),
    jackknifeTest: describe(jack),
    foldSpearmanTest: describe(folds),
    ciContainsZero: round(rate(ciHasZero)),
    medianR: round(median(runs.map((s) => s.exact.temporalScore))),
  };
}

const SWEEP_LATENCIES = Array.from({ length: 9 }, (_, k) => 0.3 + (k * DT) / 9);

/** Tmax error against latencies planted at 9 phases of one grid step, high SNR (estimator bias). */
async function sweep(): Promise<Session[]> {
  const out: Session[] = [];
  for (let seed = 1; seed <= 3; seed++) {
    const s = await session('sweep', seed, { snr: 6, minutes, latenciesSec: SWEEP_LATENCIES });
    if (s) out.push(s);
  }
  return out;
}

function sweepSummary(runs: Session[]) {
  const out = runs.map((s) => ({ seed: s.seed, errorMs: s.exact.tmax.map((t, l) => ms(t - s.planted[l])) }));
  const all = out.flatMap((o) => o.errorMs);
  return {
    latenciesSec: runs[0].planted.map((p) => round(p, 4)),
    sessions: out,
    meanErrorMs: round(mean(all), 1),
    maxAbsErrorMs: Math.max(...all.map(Math.abs)),
    halfStepMs: ms(DT / 2),
  };
}

function summarize(c: string, runs: Session[]) {
  if (runs.length === 0) return { sessions: 0 };
  const wallSeconds = Math.round(runs.reduce((a, r) => a + r.wallSec, 0));
  if (c === 'sweep') return { ...sweepSummary(runs), wallSeconds };
  return { ...(c.startsWith('planted') ? plantedSummary(runs) : nullSummary(runs)), wallSeconds };
}

function overrides(c: string, k: number): Partial<DemoArgs> {
  switch (c) {
    case 'planted':
      return { control: 'planted', snr: snrs[k % snrs.length], minutes };
    case 'null':
      return { control: 'null', minutes: nullMinutes };
    case 'null-builtin':
      return { control: 'null', minutes: builtinMinutes, model: 'builtin' };
    case 'planted-builtin':
      return { control: 'planted', snr: snrs[k % snrs.length], minutes: builtinMinutes, model: 'builtin' };
    default:
      throw new Error(`unknown condition ${c}: planted, null, null-builtin, planted-builtin, sweep`);
  }
}

const t0 = performance.now();
const result: Record<string, unknown> = { bench: 'uncertaintyCalibration' };
if (process.argv.includes('--summarize')) {
  const sessions: Session[] = arg('summarize', '')
    .split(',')
    .flatMap((f) => fs.readFileSync(f, 'utf8').trim().split('\n'))
    .map((line) => JSON.parse(line) as Session);
  result.summarizedFrom = { records: arg('summarize', ''), sessions: sessions.length };
  for (const c of [...new Set(sessions.map((s) => s.condition))]) result[c] = summarize(c, sessions.filter((s) => s.condition === c));
} else {
  result.machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverageAtStart: os.loadavg().map((v) => round(v, 2)) };
  result.settings = { seeds, firstSeed, minutes, nullMinutes, builtinMinutes, channels: nChannels, snr: snrs, folds: 5, foldBlockWords: 100, level: 0.95 };
  for (const c of conditions) {
    const runs: Session[] = [];
    if (c === 'sweep') runs.push(...(await sweep()));
    else {
      for (let k = 0; k < seeds; k++) {
        const s = await session(c, firstSeed + k, overrides(c, k));
        if (s) runs.push(s);
      }
    }
    result[c] = summarize(c, runs);
  }
  result.machine = { ...(result.machine as object), loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)) };
}
result.wallSeconds = Math.round((performance.now() - t0) / 1000);
process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
