/**
 * PCA of word activations against scikit-learn: `PCA(n_components=K, svd_solver='full')` on the same
 * float32 matrix (cast to float64), via test/oracle/pca_oracle.py with Debian's python. Scores must
 * agree to 1e-6 of each component's largest score, with signs by the u-based svd_flip convention.
 * Checked for the in-memory fit on every backend that loads and for the cache's block-wise passes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pcaPasses } from '../adapters/llm/activationCache.js';
import { writeNpyFile } from '../adapters/npyFile.js';
import type { LinalgBackend } from '../src/linalg/backend.js';
import { ReferenceBackend } from '../src/linalg/reference.js';
import { createBackend } from '../src/linalg/select.js';
import { componentsFor, fitTransform } from '../src/llm/pca.js';
import { mulberry32, randomNormal } from '../src/scores/prng.js';
import { runOracle, tempDir } from './helpers/paths.js';

interface Oracle {
  scores: number[][];
  components: number[][];
  mean: number[];
  explained_variance: number[];
  explained_variance_ratio: number[];
  versions: { sklearn: string };
}

/** n words × d features with a decaying spectrum (distinct eigenvalues), offset mean, float32. */
function activations(n: number, d: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const mix = Float64Array.from({ length: d * d }, () => randomNormal(r));
  const offset = Float64Array.from({ length: d }, () => 5 * randomNormal(r));
  const x = new Float32Array(n * d);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) z[j] = randomNormal(r) * 3 * Math.pow(0.94, j);
    for (let k = 0; k < d; k++) {
      let s = offset[k];
      for (let j = 0; j < d; j++) s += z[j] * mix[j * d + k];
      x[i * d + k] = s;
    }
  }
  return x;
}

function checkAgainst(oracle: Oracle, scores: ArrayLike<number>, components: ArrayLike<number>, mean: ArrayLike<number>, ev: ArrayLike<number>, n: number, k: number, d: number, what: string): void {
  assert.equal(oracle.scores[0].length, k, `${what}: component count`);
  for (let c = 0; c < k; c++) {
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      scale = Math.max(scale, Math.abs(oracle.scores[i][c]));
      worst = Math.max(worst, Math.abs(scores[i * k + c] - oracle.scores[i][c]));
    }
    assert.ok(worst <= 1e-6 * scale, `${what}: component ${c}: scores differ by ${worst} (largest score ${scale})`);
    let cw = 0;
    for (let j = 0; j < d; j++) cw = Math.max(cw, Math.abs(components[c * d + j] - oracle.components[c][j]));
    assert.ok(cw <= 1e-6, `${what}: component ${c}: loadings differ by ${cw}`);
    assert.ok(Math.abs(ev[c] - oracle.explained_variance[c]) <= 1e-8 * oracle.explained_variance[0], `${what}: explained variance ${c}: ${ev[c]} vs ${oracle.explained_variance[c]}`);
  }
  for (let j = 0; j < d; j++) assert.ok(Math.abs(mean[j] - oracle.mean[j]) <= 1e-9 * (1 + Math.abs(oracle.mean[j])), `${what}: mean ${j}`);
}

describe('PCA vs scikit-learn', () => {
  const dir = tempDir('pca');
  const backends: LinalgBackend[] = [new ReferenceBackend()];
  after(async () => {
    for (const b of backends) await b.dispose();
  });

  it('fits 50 components of 300 words × 120 dims like PCA(svd_solver="full") on every backend', async () => {
    const [n, d, k] = [300, 120, 50];
    const x = activations(n, d, 7);
    const file = path.join(dir, 'x.npy');
    writeNpyFile(file, x, [n, d]);
    const oracle = runOracle<Oracle>('pca_oracle.py', [file, '--components', String(k)], path.join(dir, 'x.json'));
    const auto = await createBackend('auto');
    if (auto.name !== 'reference') backends.push(auto);
    for (const be of backends) {
      const { fit, scores } = await fitTransform(x, n, d, k, be);
      checkAgainst(oracle, scores, fit.components, fit.mean, fit.explainedVariance, n, k, d, `${be.name} backend (sklearn ${oracle.versions.sklearn})`);
      for (let c = 0; c < k; c++) assert.ok(Math.abs(fit.explainedVarianceRatio[c] - oracle.explained_variance_ratio[c]) < 1e-9);
    }
  });

  it('caps the components at min(words, dims) as scikit-learn allows', async () => {
    assert.equal(componentsFor(50, 40, 30), 30);
    assert.equal(componentsFor(50, 20, 768), 20);
    assert.throws(() => componentsFor(0, 10, 10), /positive integer, got 0/);
    const [n, d] = [40, 30];
    const x = activations(n, d, 11);
    const file = path.join(dir, 'small.npy');
    writeNpyFile(file, x, [n, d]);
    const oracle = runOracle<Oracle>('pca_oracle.py', [file, '--components', String(d)], path.join(dir, 'small.json'));
    const { fit, scores } = await fitTransform(x, n, d, 50, new ReferenceBackend());
    assert.equal(fit.nComponents, d);
    checkAgainst(oracle, scores, fit.components, fit.mean, fit.explainedVariance, n, d, d, 'capped');
  });

  it('the cache\'s block-wise passes over [words, layers, dims] match scikit-learn per layer', async () => {
    const [n, nL, d, k] = [230, 2, 64, 50];
    const a = activations(n, d, 21);
    const b = activations(n, d, 22);
    const raw = new Float32Array(n * nL * d);
    for (let i = 0; i < n; i++) {
      raw.set(a.subarray(i * d, (i + 1) * d), (i * nL + 0) * d);
      raw.set(b.subarray(i * d, (i + 1) * d), (i * nL + 1) * d);
    }
    const file = path.join(dir, 'raw.npy');
    writeNpyFile(file, raw, [n, nL, d]);
    const passes: string[] = [];
    const { fits, scores } = await pcaPasses(file, k, new ReferenceBackend(), 17, (p) => {
      if (passes.at(-1) !== p) passes.push(p);
    });
    assert.deepEqual(passes, ['pca-mean', 'pca-scatter', 'pca-project']);
    for (let l = 0; l < nL; l++) {
      const oracle = runOracle<Oracle>('pca_oracle.py', [file, '--components', String(k), '--layer', String(l)], path.join(dir, `raw${l}.json`));
      const layerScores = new Float64Array(n * k);
      for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) layerScores[i * k + c] = scores[(i * nL + l) * k + c];
      // Scores are stored as float32: allow float32 rounding of the largest score on top of 1e-6.
      checkAgainst(oracle, layerScores, fits[l].components, fits[l].mean, fits[l].explainedVariance, n, k, d, `layer ${l} (block-wise)`);
    }
  });
});
