/**
 * The `blas` backend: float64 products and symmetric eigendecomposition through the system's
 * OpenBLAS/LAPACK (bound once, in openblas.ts). Used automatically when the library is found,
 * never required.
 *
 * Owns: row-major ↔ BLAS argument mapping, LAPACK workspaces. Must not: bind or load the library
 * itself (openblas.ts does), or hand typed arrays to native code beyond one synchronous call.
 */
import { checkLength, type GemmShape, type LinalgBackend, type SymEig, matmulOutput, symEigOutput, type MatmulOptions } from './backend.js';
import { openBlasLapack, type BlasLapack, type OpenBlasOptions } from './openblas.js';

/**
 * Finds and binds OpenBLAS/LAPACK. Returns the backend, or why no candidate worked (every
 * candidate's failure, plus an install hint) so that `auto` selection can fall back quietly.
 */
export function loadBlas(opts: OpenBlasOptions = {}): BlasBackend | { error: string } {
  const lib = openBlasLapack(opts);
  return 'error' in lib ? lib : new BlasBackend(lib);
}

/** BLAS rejects leading dimensions below 1 even for empty matrices. */
function ld(x: number): number {
  return Math.max(1, x);
}

export class BlasBackend implements LinalgBackend {
  readonly name = 'blas' as const;
  readonly precision = 'float64' as const;
  readonly detail: string;
  /** Reused LAPACK workspaces keyed by n: symEig is called every snapshot with the same n. */
  private workspaces = new Map<number, { work: Float64Array; iwork: Int32Array; mat: Float64Array; w: Float64Array }>();

  /** Prefer {@link loadBlas}, which finds the library and reports failures. */
  constructor(private readonly lib: BlasLapack) {
    this.detail = `blas (${lib.describe})`;
  }

  /** C = op(A)·B + beta·C, row-major, op(A) m×k (A stored k×m with transA), B k×n, C m×n. */
  private gemm(transA: boolean, m: number, n: number, k: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): void {
    this.lib.dgemm('row', transA, false, m, n, k, 1, a, ld(transA ? m : k), b, ld(n), beta, c, ld(n));
  }

  async accumulateCross(a: Float32Array | Float64Array, b: Float32Array | Float64Array, shape: GemmShape, c: Float64Array): Promise<void> {
    const { batch, m, n, k } = shape;
    checkLength('accumulateCross', 'A', a, batch * k * m);
    checkLength('accumulateCross', 'B', b, batch * k * n);
    checkLength('accumulateCross', 'C', c, batch * m * n);
    if (batch * m * n === 0 || k === 0) return;
    // Gram matrices (a === b) use dgemm too: dsyrk halves the flops but fills one triangle only,
    // and mirroring it into a C that need not be symmetric cost more than it saved (measured at
    // batch 166, k 128, m 273: dsyrk 50 ms + mirror 100 ms vs dgemm 60 ms).
    // Float32 input is widened one batch item at a time into reused scratch: widening the whole
    // array into fresh memory took ~85 ms for that shape, the per-item copies ~7 ms.
    const aScratch = a instanceof Float32Array ? new Float64Array(k * m) : undefined;
    const bScratch = b instanceof Float32Array && b !== a ? new Float64Array(k * n) : undefined;
    for (let bi = 0; bi < batch; bi++) {
      const a64 = item64(a, bi * k * m, k * m, aScratch);
      const b64 = b === a ? a64 : item64(b, bi * k * n, k * n, bScratch);
      // beta = 1 accumulates straight into C's slice: koffi passes a subarray as a pointer to its first element.
      this.gemm(true, m, n, k, a64, b64, 1, c.subarray(bi * m * n));
    }
  }

  async matmul(a: Float64Array, b: Float64Array, shape: GemmShape, opts: MatmulOptions = {}): Promise<Float64Array> {
    const { batch, m, n, k } = shape;
    const transA = opts.transA ?? false;
    const bBatched = opts.bBatched ?? true;
    checkLength('matmul', 'A', a, batch * m * k);
    checkLength('matmul', 'B', b, (bBatched ? batch : 1) * k * n);
    const out = matmulOutput(opts.out, batch * m * n);
    if (out.length === 0) return out;
    if (k === 0) return out.fill(0);
    if (!bBatched && !transA) {
      // Stacked A[b] (m×k each) form one (batch·m)×k matrix: a single large GEMM threads better.
      this.gemm(false, batch * m, n, k, a, b, 0, out);
      return out;
    }
    for (let bi = 0; bi < batch; bi++) {
      this.gemm(transA, m, n, k, a.subarray(bi * m * k), bBatched ? b.subarray(bi * k * n) : b, 0, out.subarray(bi * m * n));
    }
    return out;
  }

  async symEig(a: Float64Array, n: number, batch: number, out?: SymEig): Promise<SymEig> {
    checkLength('symEig', 'A', a, batch * n * n);
    const { values, vectors } = symEigOutput(out, n, batch);
    if (n === 0) return { values, vectors };
    const ws = this.workspace(n);
    for (let bi = 0; bi < batch; bi++) {
      const off = bi * n * n;
      // dsyevd overwrites its input; a symmetric matrix reads the same in either storage order.
      ws.mat.set(a.subarray(off, off + n * n));
      const info = this.lib.dsyevd(n, ws.mat, ws.w, ws.work, ws.iwork);
      if (info !== 0) {
        const why = info < 0 ? `argument ${-info} was invalid` : 'the algorithm failed to converge (NaN/Inf in the matrix?)';
        throw new Error(`blas symEig: LAPACK dsyevd_ returned info=${info} for matrix ${bi} of ${batch} (n=${n}): ${why}`);
      }
      values.set(ws.w, bi * n);
      // LAPACK returns eigenvector j as column j in column-major order, i.e. contiguous at mat[j·n..];
      // our layout wants it as column j of a row-major matrix, hence the transpose.
      for (let j = 0; j < n; j++) {
        const src = j * n;
        for (let i = 0; i < n; i++) vectors[off + i * n + j] = ws.mat[src + i];
      }
    }
    return { values, vectors };
  }

  async dispose(): Promise<void> {
    // The library stays loaded (see the module comment); only our workspaces are dropped.
    this.workspaces.clear();
  }

  private workspace(n: number): { work: Float64Array; iwork: Int32Array; mat: Float64Array; w: Float64Array } {
    let ws = this.workspaces.get(n);
    if (!ws) {
      // Minimum sizes documented for dsyevd with jobz = 'V'.
      ws = {
        work: new Float64Array(1 + 6 * n + 2 * n * n),
        iwork: new Int32Array(3 + 5 * n),
        mat: new Float64Array(n * n),
        w: new Float64Array(n),
      };
      this.workspaces.set(n, ws);
    }
    return ws;
  }
}

/** Elements [off, off+len) of `src` as float64: a view for Float64 input, else widened into `scratch`. */
function item64(src: Float32Array | Float64Array, off: number, len: number, scratch: Float64Array | undefined): Float64Array {
  if (src instanceof Float64Array) return src.subarray(off, off + len);
  if (!scratch) throw new Error('blas: internal error, no scratch buffer for Float32 input');
  scratch.set(src.subarray(off, off + len));
  return scratch;
}
