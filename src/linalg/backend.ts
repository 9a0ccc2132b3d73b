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
  /**
   * Where A's rows are (A not transposed only): row r of item b starts at
   * `offset + b·batchStride + r·ld`. Lets a product read the rows of a larger array in place,
   * e.g. one time sample of every word in a [word][time][channel] batch. Default: contiguous.
   */
  aLayout?: RowLayout;
}

/**
 * Rows of a batched operand inside a larger array: row r of batch item b starts at
 * `offset + b·batchStride + r·ld`, and each row's elements are contiguous.
 */
export interface RowLayout {
  offset?: number;
  /** Elements between the starts of consecutive rows (≥ the row length). */
  ld: number;
  /** Elements between the starts of consecutive batch items. */
  batchStride: number;
}

export interface CrossOptions {
  /** Where A's and B's rows are (default: contiguous, as the shape says). */
  aLayout?: RowLayout;
  bLayout?: RowLayout;
  /**
   * A Gram product (B is A, same layout): only the lower triangle (column ≤ row) of each C[b]
   * needs to be added; the strict upper triangle may be left as it was. Backends with a rank-k
   * update (dsyrk) then do half the work.
   */
  lowerOnly?: boolean;
  /**
   * Float32 inputs may be multiplied in float32 (sgemm/ssyrk), the result still added into the
   * float64 C. Default false: products in the backend's own precision (float64 for blas).
   */
  float32Products?: boolean;
  /** Float64 outer products added to C with the product (in the same pass where the backend can). */
  outer?: OuterTerms;
}

/**
 * Low-rank float64 terms: C[b] += Σ_r u[b][r] v[b][r]ᵀ for r < rank, with u [batch][rank][m] and
 * v [batch][rank][n] (or [rank][n] for all items when `vShared`). E.g. the mean terms of products
 * of centred data.
 */
export interface OuterTerms {
  rank: number;
  u: Float64Array;
  v: Float64Array;
  vShared?: boolean;
}

/** c[b] += Σ_r u[b][r] v[b][r]ᵀ for every batch item (only the lower triangle when `lowerOnly`). */
export function addOuterTerms(c: Float64Array, batch: number, m: number, n: number, t: OuterTerms, lowerOnly = false): void {
  for (let b = 0; b < batch; b++) {
    const uo = b * t.rank * m;
    const vo = t.vShared ? 0 : b * t.rank * n;
    for (let i = 0; i < m; i++) {
      const row = (b * m + i) * n;
      const end = lowerOnly ? i + 1 : n;
      for (let r = 0; r < t.rank; r++) {
        const ui = t.u[uo + r * m + i];
        const vr = vo + r * n;
        for (let j = 0; j < end; j++) c[row + j] += ui * t.v[vr + j];
      }
    }
  }
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
  accumulateCross(a: Float32Array | Float64Array, b: Float32Array | Float64Array, shape: GemmShape, c: Float64Array, opts?: CrossOptions): Promise<void>;

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

/** Elements an operand of `batch` items of `rows`×`cols` must have under `layout` (contiguous when absent). */
export function extentOf(batch: number, rows: number, cols: number, layout: RowLayout | undefined): number {
  if (!layout) return batch * rows * cols;
  if (batch * rows * cols === 0) return 0;
  return (layout.offset ?? 0) + (batch - 1) * layout.batchStride + (rows - 1) * layout.ld + cols;
}

/** True when `layout` describes the plain contiguous [batch][rows][cols] array starting at 0. */
export function isContiguous(rows: number, cols: number, layout: RowLayout | undefined): boolean {
  return !layout || ((layout.offset ?? 0) === 0 && (rows <= 1 || layout.ld === cols) && layout.batchStride === rows * cols);
}

/** Checks an operand against its layout: the rows must fit and must not overlap. */
export function checkLayout(kernel: string, what: string, arr: ArrayLike<number>, batch: number, rows: number, cols: number, layout: RowLayout | undefined): void {
  if (!layout) return checkLength(kernel, what, arr, batch * rows * cols);
  if (rows > 1 && layout.ld < cols) throw new RangeError(`${kernel}: ${what} rows are ${layout.ld} apart but hold ${cols} elements`);
  const need = extentOf(batch, rows, cols, layout);
  if (arr.length < need) throw new RangeError(`${kernel}: ${what} has ${arr.length} elements, the layout needs ${need}`);
}

/**
 * The operand as a contiguous [batch][rows][cols] array: itself when already so, else its rows
 * gathered into a new array of the same type (for backends without strided kernels).
 */
export function gatherRows<A extends Float32Array | Float64Array>(arr: A, batch: number, rows: number, cols: number, layout: RowLayout | undefined): A {
  if (isContiguous(rows, cols, layout)) return (layout ? arr.subarray(0, batch * rows * cols) : arr) as A;
  const l = layout!;
  const out = new (arr.constructor as { new (n: number): A })(batch * rows * cols);
  const off = l.offset ?? 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      const src = off + b * l.batchStride + r * l.ld;
      out.set(arr.subarray(src, src + cols), (b * rows + r) * cols);
    }
  }
  return out;
}

/** Throws a user-facing error naming the kernel and both shapes when sizes disagree. */
export function checkLength(kernel: string, what: string, arr: ArrayLike<number>, expected: number): void {
  if (arr.length !== expected) {
    throw new RangeError(`${kernel}: ${what} has ${arr.length} elements, expected ${expected} from the shape`);
  }
}
