/**
 * The calibration of the exact scores' uncertainty, small version of bench/uncertaintyCalibration
 * (which runs the whole simulated subject): planted-latency epochs (adapters/simulator/plantedEpochs)
 * straight into the decoder, few channels, many seeds.
 *  - planted: the 95 % Tmax intervals of the snapshot cover the planted latencies in 90–99.5 % of
 *    cases, and are not trivially wide (a resampling interval without the grid term, or one far
 *    too wide, fails here);
 *  - no coupling, strongly correlated layers (as language-model layers are): the fold jackknife
 *    test's p-values are uniform (KS) and reject ≈ 5 % at 0.05, where the paper's t-test on
 *    L − 2 df rejects far more often.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linearLatencies, PlantedData } from '../adapters/simulator/plantedEpochs.js';
import { Decoder } from '../src/decoder.js';
import { createBackend } from '../src/linalg/select.js';
import { ksUniform } from '../src/scores/ks.js';
import { exactScores, type ExactScores } from '../src/snapshot.js';

const C = 16;
const T = 40;
const L = 9;
const D = 3;
const T_START = -0.3;
const SFREQ = 30;
const TIMES = Array.from({ length: T }, (_, i) => T_START + i / SFREQ);
const DEPTHS = Array.from({ length: L }, (_, l) => (l + 1) / 10);
/** 0.30 … 0.65 s, mostly between grid samples (the grid's rounding is part of what is tested). */
const LATENCIES = linearLatencies(L, 0.3, 0.65);

async function session(seed: number, signal: number, words: number, layerCorrelation = 0): Promise<ExactScores> {
  const backend = await createBackend('reference');
  const data = new PlantedData({ nChannels: C, nTimes: T, nLayers: L, nDims: D, tStartSec: T_START, sfreqHz: SFREQ, latenciesSec: LATENCIES, widthSec: 0.06, signal, seed, scale: 1e-13, layerCorrelation });
  const decoder = new Decoder({ dims: { nChannels: C, nTimes: T, nLayers: L, nDims: D }, foldPlan: { kind: 'blocks', folds: 5, blockWords: 20 } });
  for (let i = 0; i < words; i++) await decoder.add(data.word(i), backend);
  const result = await decoder.refit(backend, undefined, { fitFull: false });
  assert.ok(result);
  return exactScores(result, words, 0, TIMES, DEPTHS);
}

test('Tmax intervals cover the planted latencies 90–99.5 % of the time (40 seeds × 9 layers)', async (t) => {
  let covered = 0;
  let n = 0;
  const halfWidths: number[] = [];
  for (let seed = 1; seed <= 40; seed++) {
    const e = await session(seed, 0.3, 400);
    assert.match(e.tmaxCI.method, /jackknife/);
    e.tmaxCI.low.forEach((lo, l) => {
      n++;
      if (lo <= LATENCIES[l] + 1e-9 && LATENCIES[l] - 1e-9 <= e.tmaxCI.high[l]) covered++;
      halfWidths.push((e.tmaxCI.high[l] - lo) / 2);
      assert.ok(lo <= e.tmax[l] && e.tmax[l] <= e.tmaxCI.high[l], 'the estimate lies in its interval');
    });
  }
  halfWidths.sort((a, b) => a - b);
  const coverage = covered / n;
  const medianHalfMs = halfWidths[n >> 1] * 1000;
  t.diagnostic(`coverage ${coverage.toFixed(3)} of ${n} intervals, median half-width ${medianHalfMs.toFixed(0)} ms`);
  assert.ok(coverage >= 0.9 && coverage <= 0.995, `coverage ${coverage.toFixed(3)} of ${n}`);
  // Informative: about one time step either side, not the whole epoch.
  assert.ok(medianHalfMs < 80, `median half-width ${medianHalfMs.toFixed(0)} ms`);
});

test('under no coupling with correlated layers the fold test is calibrated and the paper\'s t-test is not (80 seeds)', async (t) => {
  const fold: number[] = [];
  const paper: number[] = [];
  for (let seed = 1; seed <= 80; seed++) {
    const e = await session(1000 + seed, 0, 300, 0.95);
    fold.push(e.foldTest.p);
    paper.push(e.p);
    // The interval and the fold test are two views of one statistic.
    if (Number.isFinite(e.foldTest.p)) assert.equal(e.ci.low > 0 || e.ci.high < 0, e.foldTest.p < 0.05);
  }
  const rejects = (p: number[]) => p.filter((v) => v < 0.05).length / p.filter(Number.isFinite).length;
  const ks = ksUniform(fold.filter(Number.isFinite));
  t.diagnostic(`fold test: KS p = ${ks.p.toPrecision(2)}, rejects ${rejects(fold).toFixed(3)}; paper t-test rejects ${rejects(paper).toFixed(3)} at 0.05`);
  assert.ok(ks.p > 0.01, `fold test p-values: KS D = ${ks.statistic.toFixed(3)}, p = ${ks.p.toPrecision(2)}`);
  assert.ok(rejects(fold) <= 0.12, `fold test rejects ${rejects(fold)} at 0.05`);
  assert.ok(rejects(paper) >= 0.15, `the paper's t-test rejects ${rejects(paper)} at 0.05 (expected anti-conservative)`);
});
