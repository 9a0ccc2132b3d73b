/**
 * PCA of word activations against scikit-learn: `PCA(n_components=K, svd_solver='full')` on the same
 * float32 matrix (cast to float64), via test/oracle/pca_oracle.py with Debian's python. Scores must
 * agree to 1e-6 of each component's largest score, with signs by the u-based svd_flip convention.
 * Checked for the in-memory fit on every backend that loads and for the cache's block-wise passes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
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
  // The matrices, written once; scikit-learn runs once over all of them (its import is the slow part).
  const big = { n: 300, d: 120, k: 50, x: activations(300, 120, 7) };
  const small = { n: 40, d: 30, x: activations(40, 30, 11) };
  const layered = { n: 230, nL: 2, d: 64, k: 50, raw: new Float32Array(0) };
  let oracle: { results: Oracle[]; versions: { sklearn: string } };
  before(() => {
    const a = activations(layered.n, layered.d, 21);
    const b = activations(layered.n, layered.d, 22);
    layered.raw = new Float32Array(layered.n * layered.nL * layered.d);
    const d = layered.d;
    for (let i = 0; i < layered.n; i++) {
      layered.raw.set(a.subarray(i * d, (i + 1) * d), (i * 2 + 0) * d);
      layered.raw.set(b.subarray(i * d, (i + 1) * d), (i * 2 + 1) * d);
    }
    writeNpyFile(path.join(dir, 'big.npy'), big.x, [big.n, big.d]);
    writeNpyFile(path.join(dir, 'small.npy'), small.x, [small.n, small.d]);
    writeNpyFile(path.join(dir, 'raw.npy'), layered.raw, [layered.n, layered.nL, layered.d]);
    const jobs = [`big.npy,${big.k}`, `small.npy,${small.d}`, `raw.npy,${layered.k},0`, `raw.npy,${layered.k},1`];
    oracle = runOracle('pca_oracle.py', jobs.flatMap((j) => ['--job', path.join(dir, j)]), path.join(dir, 'oracle.json'));
  });
  after(async () => {
    for (const b of backends) await b.dispose();
  });

  it('fits 50 components of 300 words × 120 dims like PCA(svd_solver="full") on every backend', async () => {
    const { n, d, k, x } = big;
    const auto = await createBackend('auto');
    if (auto.name !== 'reference') backends.push(auto);
    for (const be of backends) {
      const { fit, scores } = await fitTransform(x, n, d, k, be);
      checkAgainst(oracle.results[0], scores, fit.components, fit.mean, fit.explainedVariance, n, k, d, `${be.name} backend (sklearn ${oracle.versions.sklearn})`);
      for (let c = 0; c < k; c++) assert.ok(Math.abs(fit.explainedVarianceRatio[c] - oracle.results[0].explained_variance_ratio[c]) < 1e-9);
    }
  });

  it('caps the components at min(words, dims) as scikit-learn allows', async () => {
    assert.equal(componentsFor(50, 40, 30), 30);
    assert.equal(componentsFor(50, 20, 768), 20);
    assert.throws(() => componentsFor(0, 10, 10), /positive integer, got 0/);
    const { n, d, x } = small;
    const { fit, scores } = await fitTransform(x, n, d, 50, new ReferenceBackend());
    assert.equal(fit.nComponents, d);
    checkAgainst(oracle.results[1], scores, fit.components, fit.mean, fit.explainedVariance, n, d, d, 'capped');
  });

  it("the cache's block-wise passes over [words, layers, dims] match scikit-learn per layer", async () => {
    const { n, nL, k } = layered;
    const passes: string[] = [];
    const { fits, scores } = await pcaPasses(path.join(dir, 'raw.npy'), k, new ReferenceBackend(), 17, (p) => {
      if (passes.at(-1) !== p) passes.push(p);
    });
    assert.deepEqual(passes, ['pca-mean', 'pca-scatter', 'pca-project']);
    // With memory for one scatter matrix at a time the layers are fitted one per pass: same result.
    const grouped: string[] = [];
    const oneAtATime = await pcaPasses(path.join(dir, 'raw.npy'), k, new ReferenceBackend(), 17, (p, rows) => rows === n && grouped.push(p), layered.d * layered.d * 8);
    assert.deepEqual(grouped, ['pca-mean', 'pca-scatter', 'pca-scatter', 'pca-project']);
    assert.deepEqual(oneAtATime.scores, scores);
    for (let l = 0; l < nL; l++) {
      const layerScores = new Float64Array(n * k);
      for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) layerScores[i * k + c] = scores[(i * nL + l) * k + c];
      // Scores are stored as float32 (relative rounding 6e-8, inside the 1e-6 tolerance).
      checkAgainst(oracle.results[2 + l], layerScores, fits[l].components, fits[l].mean, fits[l].explainedVariance, n, k, layered.d, `layer ${l} (block-wise)`);
    }
  });
});
