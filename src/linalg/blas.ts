/**
 * The `blas` backend: float64 products and symmetric eigendecomposition through the system's
 * OpenBLAS/LAPACK (bound once, in openblas.ts). Used automatically when the library is found,
 * never required.
 *
 * Owns: row-major ↔ BLAS argument mapping, LAPACK workspaces. Must not: bind or load the library
 * itself (openblas.ts does), or hand typed arrays to native code beyond one synchronous call.
 */
import { addOuterTerms, checkLayout, checkLength, type CrossOptions, type OuterTerms, type GemmShape, type LinalgBackend, type SymEig, matmulOutput, symEigOutput, type MatmulOptions } from './backend.js';
import { openBlasLapack, type BlasLapack, type OpenBlasOptions } from './openblas.js';

/**
 * Finds and binds OpenBLAS/LAPACK. Returns the backend, or why no candidate worked (every
 * candidate's failure, plus an install hint) so that `auto` selection can fall back quietly.
 */
export function loadBlas(opts: OpenBlasOptions & { threads?: number } = {}): BlasBackend | { error: string } {
  const lib = openBlasLapack(opts);
  if ('error' in lib) return lib;
  // OpenBLAS's thread count is process-wide: a compute pool asks for 1 so that its workers, each
  // on its own core, do not each start a thread per core (and results do not depend on the count).
  if (opts.threads !== undefined) lib.setThreads?.(opts.threads);
  return new BlasBackend(lib, opts.threads);
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
  private c32: Float32Array | undefined;

  /** Prefer {@link loadBlas}, which finds the library and reports failures. */
  constructor(
    private readonly lib: BlasLapack,
    threads?: number,
  ) {
    this.detail = `blas (${lib.describe}${threads !== undefined && lib.setThreads ? `, ${threads} thread${threads === 1 ? '' : 's'} per call` : ''})`;
  }

  /** C = op(A)·B + beta·C, row-major, op(A) m×k (A stored k×m with transA), B k×n, C m×n; rows `lda`/`ldb` apart. */
  private gemm(transA: boolean, m: number, n: number, k: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array, lda = transA ? m : k, ldb = n): void {
    this.lib.dgemm('row', transA, false, m, n, k, 1, a, ld(lda), b, ld(ldb), beta, c, ld(n));
  }

  async accumulateCross(a: Float32Array | Float64Array, b: Float32Array | Float64Array, shape: GemmShape, c: Float64Array, opts: CrossOptions = {}): Promise<void> {
    const { batch, m, n, k } = shape;
    checkLayout('accumulateCross', 'A', a, batch, k, m, opts.aLayout);
    checkLayout('accumulateCross', 'B', b, batch, k, n, opts.bLayout);
    checkLength('accumulateCross', 'C', c, batch * m * n);
    if (batch * m * n === 0 || k === 0) return;
    const al = opts.aLayout ?? { offset: 0, ld: m, batchStride: k * m };
    const bl = opts.bLayout ?? { offset: 0, ld: n, batchStride: k * n };
    const aOff = al.offset ?? 0;
    const bOff = bl.offset ?? 0;
    // A Gram product reads one operand; with `lowerOnly` it is a rank-k update (dsyrk, half the
    // flops). Without it, dgemm fills the full square: mirroring dsyrk's triangle into a C that need
    // not be symmetric cost more than it saved (batch 166, k 128, m 273: dsyrk 50 ms + mirror
    // 100 ms vs dgemm 60 ms), so callers that can read one triangle ask for `lowerOnly`.
    const gram = a === b && m === n && aOff === bOff && al.ld === bl.ld && al.batchStride === bl.batchStride;
    const lower = gram && (opts.lowerOnly ?? false);
    if (opts.float32Products && a instanceof Float32Array && b instanceof Float32Array) {
      // Single precision products into reused float32 scratch, then added into the float64 C
      // together with the outer terms, in one pass.
      const c32 = this.scratch32(m * n);
      for (let bi = 0; bi < batch; bi++) {
        const ai = a.subarray(aOff + bi * al.batchStride);
        if (lower) this.lib.ssyrk(m, k, 1, ai, ld(al.ld), 0, c32, ld(n));
        else this.lib.sgemm('row', true, false, m, n, k, 1, ai, ld(al.ld), b.subarray(bOff + bi * bl.batchStride), ld(bl.ld), 0, c32, ld(n));
        mergeProduct(c, bi, c32, m, n, lower, opts.outer);
      }
      return;
    }
    // Float32 input multiplied in float64 is widened one batch item at a time into reused scratch:
    // widening the whole array into fresh memory took ~85 ms for the accumulation shape, the
    // per-item copies ~7 ms. Float64 input is read in place, whatever its row layout.
    const aScratch = a instanceof Float32Array ? new Float64Array(k * m) : undefined;
    const bScratch = b instanceof Float32Array && !gram ? new Float64Array(k * n) : undefined;
    for (let bi = 0; bi < batch; bi++) {
      const [a64, lda] = rows64(a, aOff + bi * al.batchStride, k, m, al.ld, aScratch);
      const [b64, ldb] = gram ? [a64, lda] : rows64(b, bOff + bi * bl.batchStride, k, n, bl.ld, bScratch);
      // beta = 1 accumulates straight into C's slice: koffi passes a subarray as a pointer to its first element.
      const ci = c.subarray(bi * m * n);
      if (lower) this.lib.dsyrk(m, k, 1, a64, ld(lda), 1, ci, ld(n));
      else this.gemm(true, m, n, k, a64, b64, 1, ci, lda, ldb);
    }
    if (opts.outer) addOuterTerms(c, batch, m, n, opts.outer, lower);
  }

  async matmul(a: Float64Array, b: Float64Array, shape: GemmShape, opts: MatmulOptions = {}): Promise<Float64Array> {
    const { batch, m, n, k } = shape;
    const transA = opts.transA ?? false;
    const bBatched = opts.bBatched ?? true;
    if (opts.aLayout && transA) throw new RangeError('matmul: aLayout is for a non-transposed A');
    checkLayout('matmul', 'A', a, batch, m, k, opts.aLayout);
    checkLength('matmul', 'B', b, (bBatched ? batch : 1) * k * n);
    const out = matmulOutput(opts.out, batch * m * n);
    if (out.length === 0) return out;
    if (k === 0) return out.fill(0);
    const al = opts.aLayout ?? { offset: 0, ld: transA ? m : k, batchStride: m * k };
    const aOff = al.offset ?? 0;
    if (!bBatched && !transA && al.batchStride === m * al.ld) {
      // Stacked A[b] (m×k each, evenly spaced rows) form one (batch·m)×k matrix: a single large GEMM threads better.
      this.gemm(false, batch * m, n, k, a.subarray(aOff), b, 0, out, al.ld);
      return out;
    }
    if (m === 1 && !transA) {
      // One row (a word's prediction): y = Bᵀa is a matrix-vector product, which reads B once;
      // dgemm would first copy B into its packed layout, tripling the memory traffic.
      for (let bi = 0; bi < batch; bi++) {
        this.lib.dgemv(true, k, n, 1, bBatched ? b.subarray(bi * k * n) : b, ld(n), a.subarray(aOff + bi * al.batchStride, aOff + bi * al.batchStride + k), 0, out.subarray(bi * n, (bi + 1) * n));
      }
      return out;
    }
    for (let bi = 0; bi < batch; bi++) {
      this.gemm(transA, m, n, k, a.subarray(aOff + bi * al.batchStride), bBatched ? b.subarray(bi * k * n) : b, 0, out.subarray(bi * m * n), al.ld);
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
    this.c32 = undefined;
  }

  /** Reused float32 product buffer for `float32Products`. */
  private scratch32(len: number): Float32Array {
    if (!this.c32 || this.c32.length < len) this.c32 = new Float32Array(len);
    return this.c32.subarray(0, len);
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

/**
 * The k rows of `cols` elements starting at `off`, `ld` apart, as float64 for a BLAS call: a view
 * (with its leading dimension) for Float64 input, else widened into `scratch` (contiguous).
 */
function rows64(src: Float32Array | Float64Array, off: number, rows: number, cols: number, ldIn: number, scratch: Float64Array | undefined): [Float64Array, number] {
  if (src instanceof Float64Array) return [src.subarray(off), ldIn];
  if (!scratch) throw new Error('blas: internal error, no scratch buffer for Float32 input');
  for (let r = 0; r < rows; r++) {
    const o = off + r * ldIn;
    for (let j = 0; j < cols; j++) scratch[r * cols + j] = src[o + j];
  }
  return [scratch, cols];
}

/**
 * c[item] += p (m×n, float32) + the item's outer terms, in one pass; only the lower triangle when
 * `lower` (p's upper triangle was not written).
 */
function mergeProduct(c: Float64Array, item: number, p: Float32Array, m: number, n: number, lower: boolean, outer: OuterTerms | undefined): void {
  const off = item * m * n;
  if (!outer) {
    for (let i = 0; i < m; i++) {
      const row = i * n;
      const end = lower ? i + 1 : n;
      for (let j = 0; j < end; j++) c[off + row + j] += p[row + j];
    }
    return;
  }
  if (outer.rank !== 2) {
    mergeProduct(c, item, p, m, n, lower, undefined);
    addOuterTerms(c.subarray(off, off + m * n), 1, m, n, { ...outer, u: outer.u.subarray(item * outer.rank * m), v: outer.vShared ? outer.v : outer.v.subarray(item * outer.rank * n) }, lower);
    return;
  }
  // Rank 2 (the mean terms of centred products), unrolled.
  const uo = item * 2 * m;
  const vo = outer.vShared ? 0 : item * 2 * n;
  const { u, v } = outer;
  for (let i = 0; i < m; i++) {
    const row = i * n;
    const end = lower ? i + 1 : n;
    const u0 = u[uo + i];
    const u1 = u[uo + m + i];
    for (let j = 0; j < end; j++) c[off + row + j] += p[row + j] + u0 * v[vo + j] + u1 * v[vo + n + j];
  }
}
