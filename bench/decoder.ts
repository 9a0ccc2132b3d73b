/**
 * Decoder benchmark on the paper-sized problem (273 channels × 166 times × 9 layers × 50 dims,
 * 5 folds, 13 α, 30,000 words by default): lockstep's `decode` path per backend, each in its own
 * process (accumulation rate, refit time, peak RSS), and side by side scikit-learn's batch
 * RidgeCV on the same files (bench/reference_sklearn.py, time-subset extrapolated), with the
 * numbers compared on the time samples both computed. Prints one JSON object.
 *
 * Usage: node dist/bench/decoder.js [--words N] [--backends auto,ort] [--precision float64|mixed] [--workers N]
 *          [--sklearn-times N | --no-sklearn] [--keep-data]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { linearLatencies } from '../adapters/simulator/plantedEpochs.js';
import { writePaperData } from './paperData.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const words = Number(opt('words', '30000'));
const channels = Number(opt('channels', '273'));
const times = Number(opt('times', '166'));
const layers = Number(opt('layers', '9'));
const dims = Number(opt('dims', '50'));
const backends = opt('backends', 'auto,ort').split(',');
const precision = opt('precision', 'float64');
const workers = opt('workers', '');
const sklearnTimes = Number(opt('sklearn-times', '2'));
const runSklearn = !args.includes('--no-sklearn');

const dataDir = path.join(root, 'bench/out', `data-${words}-${channels}-${times}-${layers}-${dims}`);
const X = path.join(dataDir, 'X.npy');
const Y = path.join(dataDir, 'Y.npy');
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

if (!fs.existsSync(Y)) {
  fs.mkdirSync(dataDir, { recursive: true });
  const t0 = performance.now();
  writePaperData(
    { words, channels, times, layers, dims, tStartSec: -2.5, sfreqHz: 30, latenciesSec: linearLatencies(layers), signal: 0.6, seed: 1 },
    X,
    Y,
    (done) => done % 5120 === 0 && log(`writing data: ${done}/${words} words`),
  );
  log(`wrote ${((fs.statSync(X).size + fs.statSync(Y).size) / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

interface RunResult {
  backend: string;
  seconds: number;
  accumulateSeconds: number;
  wordsPerSecond: number;
  refitSeconds: number;
  peakRssBytes: number;
  temporalScore: number;
  tmax: number[];
  R: number[][];
}

const runs: RunResult[] = [];
for (const b of backends) {
  log(`lockstep decode, backend ${b}…`);
  const out = execFileSync(process.execPath, [path.join(here, 'decodeRun.js'), X, Y, b, 'gcv', precision, workers], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const r = JSON.parse(out) as RunResult;
  runs.push(r);
  log(`  ${r.backend}: ${r.wordsPerSecond.toFixed(0)} words/s, refit ${r.refitSeconds.toFixed(1)} s, peak RSS ${(r.peakRssBytes / 1e9).toFixed(2)} GB`);
}

let sklearn: Record<string, unknown> | null = null;
let comparison: Record<string, unknown> | null = null;
if (runSklearn) {
  log(`scikit-learn RidgeCV on ${sklearnTimes} of ${times} time samples…`);
  const outFile = path.join(dataDir, 'sklearn.json');
  execFileSync('/usr/bin/python3', [path.join(root, 'bench/reference_sklearn.py'), X, Y, '--times-subset', String(sklearnTimes), '--out', outFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  const full = JSON.parse(fs.readFileSync(outFile, 'utf8')) as { R: number[][]; timesIndex: number[]; seconds: number; secondsExtrapolated: number } & Record<string, unknown>;
  const { R: skR, ...rest } = full;
  sklearn = rest;
  const first = runs[0];
  let maxDiff = 0;
  full.timesIndex.forEach((t, j) => {
    for (let l = 0; l < layers; l++) maxDiff = Math.max(maxDiff, Math.abs(first.R[l][t] - skR[l][j]));
  });
  comparison = {
    timesCompared: full.timesIndex,
    maxAbsRDifference: maxDiff,
    speedupEndToEnd: Object.fromEntries(runs.map((r) => [r.backend, full.secondsExtrapolated / r.seconds])),
  };
}

const cpu = os.cpus();
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'decoder',
    date: new Date().toISOString(),
    machine: { cpu: cpu[0]?.model, cores: cpu.length, memoryGB: os.totalmem() / 2 ** 30, node: process.version },
    problem: { words, channels, times, layers, dims, folds: 5, alphas: 13, alphaSelection: 'gcv', precision },
    loadavg: os.loadavg(),
    lockstep: runs.map(({ R: _R, ...r }) => r),
    sklearn,
    comparison,
  })}\n`,
);
if (!args.includes('--keep-data')) fs.rmSync(dataDir, { recursive: true, force: true });
