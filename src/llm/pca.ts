/**
 * Principal component analysis of word activations, one fit per layer (method §3: 50 dimensions),
 * computed so that it can run over data streamed in blocks: pass 1 accumulates the mean, pass 2 the
 * centred scatter matrix Σ (x − μ)ᵀ(x − μ) in float64, then a symmetric eigendecomposition gives the
 * components; projecting is a third pass.
 *
 * Results follow scikit-learn's `PCA(svd_solver='full')`: components_ are the leading right singular
 * vectors of the centred data (= eigenvectors of its covariance), explained_variance_ = eigenvalue /
 * (n − 1), transform(X) = (X − mean_) · components_ᵀ. Signs follow `svd_flip` with the u-based
 * decision that scikit-learn ≤ 1.4 uses for PCA: for each component, the word with the largest
 * |score| gets a positive score (the first such word on ties, as numpy's argmax). This is what makes
 * results reproducible across backends and runs, since an eigenvector's sign is otherwise arbitrary.
 *
 * Owns: the arithmetic on typed arrays. Must not: read or write files (adapters/llm/activationCache.ts
 * streams the blocks).
 */
import type { LinalgBackend } from '../linalg/backend.js';
import { crossAccumulateLoops } from '../linalg/reference.js';

/** A fitted PCA of one layer. */
export interface PcaFit {
  nFeatures: number;
  nComponents: number;
  nSamples: number;
  /** [feature] */
  mean: Float64Array;
  /** [component][feature] row-major, unit rows, in decreasing order of variance. */
  components: Float64Array;
  /** [component], eigenvalue / (n − 1). */
  explainedVariance: Float64Array;
  /** [component], fraction of the total variance. */
  explainedVarianceRatio: Float64Array;
}

/** Mean of rows arriving in blocks, summed in float64. */
export class MeanAccumulator {
  private readonly sum: Float64Array;
  private n = 0;

  constructor(readonly nFeatures: number) {
    this.sum = new Float64Array(nFeatures);
  }

  /** Adds `rows` rows of `block` ([row][feature] with a row stride of `stride` starting at `offset`). */
  add(block: Float32Array | Float64Array, rows: number, offset = 0, stride = this.nFeatures): void {
    const d = this.nFeatures;
    for (let r = 0; r < rows; r++) {
      const o = offset + r * stride;
      for (let j = 0; j < d; j++) this.sum[j] += block[o + j];
    }
    this.n += rows;
  }

  get count(): number {
    return this.n;
  }

  mean(): Float64Array {
    if (this.n === 0) throw new RangeError('PCA: no rows were given');
    return this.sum.map((s) => s / this.n);
  }
}

/** Σ (x − μ)ᵀ(x − μ) over rows arriving in blocks (float64), given the mean from a first pass. */
export class ScatterAccumulator {
  readonly scatter: Float64Array;
  private n = 0;
  private work = new Float64Array(0);

  /**
   * @param backend used for the rank-k update when it computes in float64 (reference, blas); a
   *   float32 backend would cost the 1e-6 agreement with scikit-learn, so plain loops are used then
   */
  constructor(
    readonly mean: Float64Array,
    private readonly backend?: LinalgBackend,
  ) {
    this.scatter = new Float64Array(mean.length * mean.length);
  }

  async add(block: Float32Array | Float64Array, rows: number, offset = 0, stride = this.mean.length): Promise<void> {
    const d = this.mean.length;
    if (this.work.length < rows * d) this.work = new Float64Array(rows * d);
    const w = this.work.subarray(0, rows * d);
    for (let r = 0; r < rows; r++) {
      const o = offset + r * stride;
      for (let j = 0; j < d; j++) w[r * d + j] = block[o + j] - this.mean[j];
    }
    const shape = { batch: 1, m: d, n: d, k: rows };
    if (this.backend && this.backend.precision === 'float64') await this.backend.accumulateCross(w, w, shape, this.scatter);
    else crossAccumulateLoops(w, w, shape, this.scatter);
    this.n += rows;
  }

  get count(): number {
    return this.n;
  }
}

/** How many components a fit can have: min(requested, n samples, n features), as scikit-learn allows. */
export function componentsFor(requested: number, nSamples: number, nFeatures: number): number {
  if (!Number.isInteger(requested) || requested < 1) throw new RangeError(`PCA: the number of components must be a positive integer, got ${requested}`);
  return Math.min(requested, nSamples, nFeatures);
}

/**
 * Components from the scatter matrix: the eigenvectors of the `nComponents` largest eigenvalues.
 * Signs are as the eigensolver returned them; call `flipSigns` once the scores are known.
 */
export async function fitFromScatter(
  scatter: Float64Array,
  mean: Float64Array,
  nSamples: number,
  nComponents: number,
  backend: LinalgBackend,
): Promise<PcaFit> {
  const d = mean.length;
  if (nSamples < 2) throw new RangeError(`PCA needs at least 2 words, got ${nSamples}`);
  const k = componentsFor(nComponents, nSamples, d);
  const { values, vectors } = await backend.symEig(scatter, d, 1);
  let total = 0;
  for (let i = 0; i < d; i++) total += Math.max(values[i], 0);
  const components = new Float64Array(k * d);
  const explainedVariance = new Float64Array(k);
  const explainedVarianceRatio = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    const col = d - 1 - c; // ascending eigenvalues: the largest is last
    for (let j = 0; j < d; j++) components[c * d + j] = vectors[j * d + col];
    const ev = Math.max(values[col], 0);
    explainedVariance[c] = ev / (nSamples - 1);
    explainedVarianceRatio[c] = total > 0 ? ev / total : 0;
  }
  return { nFeatures: d, nComponents: k, nSamples, mean, components, explainedVariance, explainedVarianceRatio };
}

/**
 * Scores of `rows` rows: out[r][c] = (x_r − μ) · component_c, accumulated in float64.
 * @param out [row][component] row-major, at least rows × nComponents long
 */
export function project(fit: PcaFit, block: Float32Array | Float64Array, rows: number, out: Float64Array, offset = 0, stride = fit.nFeatures): void {
  const d = fit.nFeatures;
  const k = fit.nComponents;
  const x = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = offset + r * stride;
    for (let j = 0; j < d; j++) x[j] = block[o + j] - fit.mean[j];
    for (let c = 0; c < k; c++) {
      let s = 0;
      const co = c * d;
      for (let j = 0; j < d; j++) s += x[j] * fit.components[co + j];
      out[r * k + c] = s;
    }
  }
}

/**
 * Tracks, per component, the score of largest magnitude seen so far (first occurrence on ties),
 * so that signs can be fixed after a streamed projection pass.
 */
export class SignTracker {
  private readonly best: Float64Array;
  private readonly bestAbs: Float64Array;

  constructor(readonly nComponents: number) {
    this.best = new Float64Array(nComponents);
    this.bestAbs = new Float64Array(nComponents).fill(-1);
  }

  add(scores: Float64Array, rows: number): void {
    const k = this.nComponents;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < k; c++) {
        const v = scores[r * k + c];
        const a = Math.abs(v);
        if (a > this.bestAbs[c]) {
          this.bestAbs[c] = a;
          this.best[c] = v;
        }
      }
    }
  }

  /** +1 or −1 per component: −1 where the largest-magnitude score is negative (svd_flip, u-based). */
  signs(): Int8Array {
    return Int8Array.from(this.best, (v) => (v < 0 ? -1 : 1));
  }
}

/** Negates the components whose sign is −1 (in place). Scores must be negated by the caller too. */
export function flipComponents(fit: PcaFit, signs: Int8Array): void {
  const d = fit.nFeatures;
  for (let c = 0; c < fit.nComponents; c++) {
    if (signs[c] < 0) for (let j = 0; j < d; j++) fit.components[c * d + j] = -fit.components[c * d + j];
  }
}

/**
 * PCA of an in-memory matrix X ([n][d] row-major): fit, transform and sign-fix in one call.
 * @returns the fit and the scores [n][k] (float64)
 */
export async function fitTransform(x: Float32Array | Float64Array, n: number, d: number, nComponents: number, backend: LinalgBackend): Promise<{ fit: PcaFit; scores: Float64Array }> {
  if (x.length !== n * d) throw new RangeError(`PCA: the matrix has ${x.length} values, expected ${n} × ${d}`);
  const m = new MeanAccumulator(d);
  m.add(x, n);
  const s = new ScatterAccumulator(m.mean(), backend);
  await s.add(x, n);
  const fit = await fitFromScatter(s.scatter, s.mean, n, nComponents, backend);
  const scores = new Float64Array(n * fit.nComponents);
  project(fit, x, n, scores);
  const t = new SignTracker(fit.nComponents);
  t.add(scores, n);
  const signs = t.signs();
  flipComponents(fit, signs);
  applySigns(scores, n, signs);
  return { fit, scores };
}

/** Negates score columns whose sign is −1 (in place); scores are [row][component]. */
export function applySigns(scores: Float64Array | Float32Array, rows: number, signs: Int8Array): void {
  const k = signs.length;
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) if (signs[c] < 0) scores[r * k + c] = -scores[r * k + c];
}

/**
 * Per-layer fits from rows held in memory (a sample of words): `fitTransform` on each layer's
 * slice. Signs follow the same convention, decided on the rows given.
 * @param rows [row][layer][feature] row-major
 */
export async function fitLayers(rows: Float32Array, n: number, nLayers: number, nFeatures: number, nComponents: number, backend: LinalgBackend): Promise<PcaFit[]> {
  if (rows.length !== n * nLayers * nFeatures) throw new RangeError(`PCA: ${rows.length} values, expected ${n} rows × ${nLayers} layers × ${nFeatures}`);
  const fits: PcaFit[] = [];
  const layer = new Float64Array(n * nFeatures);
  for (let l = 0; l < nLayers; l++) {
    for (let r = 0; r < n; r++) for (let j = 0; j < nFeatures; j++) layer[r * nFeatures + j] = rows[(r * nLayers + l) * nFeatures + j];
    fits.push((await fitTransform(layer, n, nFeatures, nComponents, backend)).fit);
  }
  return fits;
}

/**
 * One word's scores under fixed per-layer fits: out[l][c] = (x_l − μ_l) · component_lc, summed in
 * float64 (as `project`), stored float32.
 * @param row [layer][feature] row-major
 * @returns [layer][component] row-major
 */
export function projectLayers(fits: readonly PcaFit[], row: Float32Array | Float64Array, out?: Float32Array): Float32Array {
  const nL = fits.length;
  const d = fits[0]!.nFeatures;
  const k = fits[0]!.nComponents;
  if (row.length !== nL * d) throw new RangeError(`PCA: a row of ${row.length} values, expected ${nL} layers × ${d}`);
  const result = out ?? new Float32Array(nL * k);
  const scores = new Float64Array(k);
  fits.forEach((fit, l) => {
    project(fit, row, 1, scores, l * d, d);
    for (let c = 0; c < k; c++) result[l * k + c] = scores[c]!;
  });
  return result;
}
