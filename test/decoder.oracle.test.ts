/**
 * The exact K-fold decoding checked against scikit-learn on the same data (Debian python3-sklearn):
 * fixed α against Ridge + KFold(5, shuffle=False) after the same global z-scoring (to 1e-6 per fold
 * and target); per-target α by GCV and by inner K-fold against RidgeCV(alpha_per_target=True), and
 * inner K-fold against a brute-force scikit-learn inner K-fold.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { Decoder } from '../src/decoder.js';
import { epochTimes } from '../src/epochGrid.js';
import { ReferenceBackend } from '../src/linalg/reference.js';
import { createBackend } from '../src/linalg/select.js';
import type { LinalgBackend } from '../src/linalg/backend.js';
import { DEFAULT_ALPHAS } from '../src/ridge/alphaGrid.js';
import type { KFoldResult } from '../src/ridge/kfoldRidge.js';
import { tmaxOf } from '../src/scores/temporal.js';
import type { AlphaSelection } from '../src/ridge/alphaGrid.js';
import type { AccumulationPrecision } from '../src/stats/statsAccumulator.js';
import { runOracle, tempDir } from './helpers/paths.js';
import { smallPlanted, wordsOf, writePlantedNpy } from './helpers/planted.js';

interface OracleResult {
  targetR: number[][][];
  alphaIndex: number[][][];
  R: number[][];
}

const N = 300;
const data = smallPlanted();
const words = wordsOf(data, N);
const { nTimes: T, nLayers: L, nDims: D } = data.o;
const P = L * D;
const times = epochTimes(data.o.tStartSec, data.o.sfreqHz, T);
let files: { X: string; Y: string };
let dir: string;

async function decode(selection: AlphaSelection, alphas: readonly number[], backend: LinalgBackend, batchWords = 32, precision: AccumulationPrecision = 'float64'): Promise<KFoldResult> {
  const d = new Decoder({ dims: data.o, foldPlan: { kind: 'total', folds: 5, totalWords: N }, selection, alphas, batchWords, precision });
  // The oracle reads the float32 file, so decode exactly those values.
  for (const w of words) await d.add(w, backend);
  const r = await d.refit(backend);
  assert.ok(r, 'refit must produce a K-fold result');
  return r;
}

function maxAbsDiff(js: Float64Array, oracle: number[][][]): number {
  let m = 0;
  oracle.flat(2).forEach((v, i) => (m = Math.max(m, Math.abs(v - js[i]))));
  return m;
}

function meanRDiff(R: Float64Array, oracle: number[][]): number {
  let m = 0;
  for (let l = 0; l < L; l++) for (let t = 0; t < T; t++) m = Math.max(m, Math.abs(R[l * T + t] - oracle[l][t]));
  return m;
}

function tmaxes(R: Float64Array | number[][]): number[] {
  return Array.from({ length: L }, (_, l) => tmaxOf(R instanceof Float64Array ? R.subarray(l * T, (l + 1) * T) : R[l], times));
}

describe('exact K-fold ridge vs scikit-learn', () => {
  let ridgeCV: OracleResult;
  before(() => {
    dir = tempDir('oracle');
    files = writePlantedNpy(dir, words, data);
    ridgeCV = runOracle<OracleResult>('sklearn_oracle.py', [files.X, files.Y, '--alphas', DEFAULT_ALPHAS.join(','), '--folds', '5'], path.join(dir, 'ridgecv.json'));
  });

  for (const alpha of [1e-3, 10, 1e4]) {
    it(`fixed α = ${alpha}: per-fold, per-target r equals Ridge + KFold(5) to 1e-6 (reference and auto backends)`, async () => {
      const oracle = runOracle<OracleResult>('sklearn_oracle.py', [files.X, files.Y, '--alphas', String(alpha), '--fixed', String(alpha)], path.join(dir, `fixed-${alpha}.json`));
      for (const backend of [new ReferenceBackend(), await createBackend('auto')]) {
        const r = await decode('fixed', [alpha], backend);
        const tol = backend.precision === 'float64' ? 1e-6 : 1e-4;
        const diff = maxAbsDiff(r.targetR, oracle.targetR);
        assert.ok(diff < tol, `${backend.name}: max |r − sklearn r| = ${diff}`);
      }
    });
  }

  it('mixed-precision accumulation: R within 1e-6 of float64 (GCV and fixed α), and fixed α still Ridge + KFold(5) to 1e-6', async (t) => {
    const backend = await createBackend('auto');
    for (const [selection, alphas] of [
      ['gcv', DEFAULT_ALPHAS],
      ['fixed', [10]],
    ] as const) {
      const f64 = await decode(selection, alphas, backend, 32, 'float64');
      const mixed = await decode(selection, alphas, backend, 32, 'mixed');
      const dR = Math.max(...Array.from(f64.R, (v, i) => Math.abs(v - mixed.R[i])));
      t.diagnostic(`${selection}: max |R_mixed − R_float64| = ${dR.toExponential(2)}`);
      assert.ok(dR < 1e-6, `${selection}: max |R_mixed − R_float64| = ${dR}`);
      if (selection === 'fixed') {
        const oracle = runOracle<OracleResult>('sklearn_oracle.py', [files.X, files.Y, '--alphas', '10', '--fixed', '10'], path.join(dir, 'fixed-10.json'));
        const tol = backend.precision === 'float64' ? 1e-6 : 1e-4;
        assert.ok(maxAbsDiff(mixed.targetR, oracle.targetR) < tol, `mixed vs scikit-learn: ${maxAbsDiff(mixed.targetR, oracle.targetR)}`);
      }
    }
    await backend.dispose();
  });

  it('GCV α per target: mean R(t) within 0.01 of RidgeCV and the same Tmax per layer', async () => {
    const r = await decode('gcv', DEFAULT_ALPHAS, new ReferenceBackend());
    const diff = meanRDiff(r.R, ridgeCV.R);
    assert.ok(diff < 0.01, `max |R − RidgeCV R| = ${diff}`);
    assert.deepEqual(tmaxes(r.R), tmaxes(ridgeCV.R));
    const agree = ridgeCV.alphaIndex.flat(2).filter((a, i) => a === r.alphaIndex[i]).length / (5 * T * P);
    assert.ok(agree > 0.8, `α agreement with RidgeCV (leave-one-out) only ${agree}`);
  });

  it('inner K-fold α: identical choices and r to a brute-force scikit-learn inner K-fold', async () => {
    const oracle = runOracle<OracleResult>('sklearn_oracle.py', [files.X, files.Y, '--alphas', DEFAULT_ALPHAS.join(','), '--inner-kfold'], path.join(dir, 'inner.json'));
    const r = await decode('kfold', DEFAULT_ALPHAS, new ReferenceBackend());
    const same = oracle.alphaIndex.flat(2).filter((a, i) => a === r.alphaIndex[i]).length / (5 * T * P);
    assert.ok(same > 0.995, `inner K-fold α agreement ${same}`);
    const diff = maxAbsDiff(r.targetR, oracle.targetR);
    assert.ok(diff < 1e-6, `max |r − sklearn inner K-fold r| = ${diff}`);
  });

  it('inner K-fold α: mean R(t) close to RidgeCV (documented difference) with the same Tmax', async () => {
    const r = await decode('kfold', DEFAULT_ALPHAS, new ReferenceBackend());
    const diff = meanRDiff(r.R, ridgeCV.R);
    assert.ok(diff < 0.02, `max |R − RidgeCV R| = ${diff}`);
    assert.deepEqual(tmaxes(r.R), tmaxes(ridgeCV.R));
  });
});
