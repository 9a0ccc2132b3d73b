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

export interface MatmulOptions {
  transA?: boolean;
  bBatched?: boolean;
  out?: Float64Array;
}

/** The output array of a matmul: `out` checked for length, or a new one. */
export function matmulOutput(out: Float64Array | undefined, length: number): Float64Array {
  if (!out) return new Float64Array(length);
  checkLength('matmul', 'out', out, length);
  return out;
}

/** The outputs of a symEig: `out` checked for length, or new arrays. */
export function symEigOutput(out: SymEig | undefined, n: number, batch: number): SymEig {
  if (!out) return { values: new Float64Array(batch * n), vectors: new Float64Array(batch * n * n) };
  checkLength('symEig', 'out.values', out.values, batch * n);
  checkLength('symEig', 'out.vectors', out.vectors, batch * n * n);
  return out;
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
   * With `out` (batch·m·n long) the result is written there and returned, so hot loops reuse memory.
   */
  matmul(a: Float64Array, b: Float64Array, shape: GemmShape, opts?: MatmulOptions): Promise<Float64Array>;

  /** Eigendecomposition of `batch` symmetric n×n matrices stored [batch][n][n] (only read, never modified); into `out` when given. */
  symEig(a: Float64Array, n: number, batch: number, out?: SymEig): Promise<SymEig>;

  /** Releases native sessions or tensors. */
  dispose(): Promise<void>;
}

/** Throws a user-facing error naming the kernel and both shapes when sizes disagree. */
export function checkLength(kernel: string, what: string, arr: ArrayLike<number>, expected: number): void {
  if (arr.length !== expected) {
    throw new RangeError(`${kernel}: ${what} has ${arr.length} elements, expected ${expected} from the shape`);
  }
}
