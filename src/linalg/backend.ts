/**
 * The linear-algebra backend interface: the few kernels the decoder needs, on flat row-major
 * typed arrays. Every implementation is checked against `reference` by the same oracle tests
 * (test/linalg.backends.test.ts), in the spirit of himalaya's backend modules.
 *
 * Owns: kernel signatures and shapes. Must not: know about folds, layers or time samples.
 */

export type BackendName = 'reference' | 'ort' | 'blas' | 'tfjs';
export const BACKEND_NAMES: readonly BackendName[] = ['reference', 'ort', 'blas', 'tfjs'];

/** Shapes of a batched product: for each b < batch, C[b] (m×n) from A[b] and B[b]. */
export interface GemmShape {
  batch: number;
  m: number;
  n: number;
  k: number;
}

export interface SymEig {
  /** [batch][n], ascending. */
  values: Float64Array;
  /** [batch][n][n] row-major; column j of matrix b is the eigenvector of values[b][j]. */
  vectors: Float64Array;
}

export interface LinalgBackend {
  readonly name: BackendName;
  /** What the backend computes products in; stats are always accumulated in float64. */
  readonly precision: 'float64' | 'float32';
  /** One line for snapshots and benchmarks, e.g. "blas (OpenBLAS 0.3.21, /usr/lib/...)". */
  readonly detail: string;

  /**
   * C[b] += A[b]ᵀ · B[b] for every b, where A[b] is k×m and B[b] is k×n (row-major), C[b] is m×n.
   * This is the accumulation kernel: rows are words, so C gains Σ_words aᵀb.
   * Pass the same array as `a` and `b` for a Gram matrix (backends may exploit symmetry).
   */
  accumulateCross(a: Float32Array | Float64Array, b: Float32Array | Float64Array, shape: GemmShape, c: Float64Array): Promise<void>;

  /**
   * Returns op(A[b]) · B[b] for every b: op(A) is A (m×k) or, with transA, Aᵀ where A is stored k×m.
   * B[b] is k×n; the result is [batch][m][n]. `bBatched = false` shares one B across the batch.
   */
  matmul(a: Float64Array, b: Float64Array, shape: GemmShape, opts?: { transA?: boolean; bBatched?: boolean }): Promise<Float64Array>;

  /** Eigendecomposition of `batch` symmetric n×n matrices stored [batch][n][n] (only read, never modified). */
  symEig(a: Float64Array, n: number, batch: number): Promise<SymEig>;

  /** Releases native sessions or tensors. */
  dispose(): Promise<void>;
}

/** Throws a user-facing error naming the kernel and both shapes when sizes disagree. */
export function checkLength(kernel: string, what: string, arr: ArrayLike<number>, expected: number): void {
  if (arr.length !== expected) {
    throw new RangeError(`${kernel}: ${what} has ${arr.length} elements, expected ${expected} from the shape`);
  }
}
