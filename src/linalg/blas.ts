/**
 * The `blas` backend: float64 products and symmetric eigendecomposition through the system's
 * OpenBLAS/LAPACK, called with `koffi` (no compiled addon of our own). Used automatically when the
 * library is found, never required.
 *
 * Owns: finding and binding the shared library (CBLAS or Fortran symbols), row-major ↔ BLAS
 * argument mapping, LAPACK workspaces. Must not: unload the library (OpenBLAS keeps a thread pool
 * that does not survive dlclose), or hand typed arrays to native code beyond one synchronous call.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { checkLength, type GemmShape, type LinalgBackend, type SymEig, matmulOutput, symEigOutput, type MatmulOptions } from './backend.js';

type Koffi = typeof import('koffi');
type LibraryHandle = ReturnType<Koffi['load']>;
type NativeFn = ReturnType<LibraryHandle['func']>;

/** Hint shown whenever the library cannot be found. */
export const BLAS_INSTALL_HINT =
  'install OpenBLAS (Debian/Ubuntu: `apt-get install libopenblas0`) or set LOCKSTEP_BLAS_LIB=/path/to/libopenblas.so';

/** One place to look: a single library with everything, or a BLAS + LAPACK pair. */
export interface BlasCandidate {
  /** Library that must export dsyevd_ (and, when `blas` is absent, the BLAS symbols too). */
  lib: string;
  /** Separate library for cblas_dgemm/dgemm_ (reference BLAS next to reference LAPACK). */
  blas?: string;
}

/** The search order: $LOCKSTEP_BLAS_LIB, then the usual OpenBLAS locations, then reference LAPACK + BLAS. */
export function defaultBlasCandidates(env: NodeJS.ProcessEnv = process.env): BlasCandidate[] {
  const list: BlasCandidate[] = [];
  if (env.LOCKSTEP_BLAS_LIB) list.push({ lib: env.LOCKSTEP_BLAS_LIB });
  list.push(
    { lib: 'libopenblas.so.0' },
    { lib: '/usr/lib/x86_64-linux-gnu/libopenblas.so.0' },
    { lib: '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0' },
    { lib: '/usr/lib/aarch64-linux-gnu/libopenblas.so.0' },
    { lib: 'liblapack.so.3', blas: 'libblas.so.3' },
  );
  return list;
}

export interface LoadBlasOptions {
  candidates?: BlasCandidate[];
  /** Bind the Fortran symbol dgemm_ even when cblas_dgemm exists: lets tests cover that path. */
  fortranOnly?: boolean;
}

/**
 * Finds and binds OpenBLAS/LAPACK. Returns the backend, or why no candidate worked (every
 * candidate's failure, plus an install hint) so that `auto` selection can fall back quietly.
 */
export function loadBlas(opts: LoadBlasOptions = {}): BlasBackend | { error: string } {
  let koffi: Koffi;
  try {
    // koffi ships a native module per platform; requiring it lazily keeps other backends usable without it.
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    return { error: `koffi failed to load (${errorText(e)}); run \`npm install koffi\`` };
  }
  const failures: string[] = [];
  for (const cand of opts.candidates ?? defaultBlasCandidates()) {
    const label = cand.blas ? `${cand.lib} + ${cand.blas}` : cand.lib;
    try {
      return new BlasBackend(bindLibrary(koffi, cand, opts.fortranOnly ?? false));
    } catch (e) {
      failures.push(`${label}: ${errorText(e)}`);
    }
  }
  return { error: `no usable BLAS/LAPACK library (${failures.join('; ')}); ${BLAS_INSTALL_HINT}` };
}

/** The native entry points, already mapped to row-major semantics. */
interface BlasBinding {
  /** Files the symbols came from, and how, for `detail`. */
  describe: string;
  /** C = op(A)·B + beta·C, row-major, op(A) m×k (A stored k×m with transA), B k×n, C m×n. */
  gemm(transA: boolean, m: number, n: number, k: number, a: Float64Array, b: Float64Array, beta: number, c: Float64Array): void;
  /** LAPACK dsyevd_ with jobz 'V': overwrites `a` (n×n, column-major) by eigenvectors, returns info. */
  syevd(n: number, a: Float64Array, w: Float64Array, work: Float64Array, iwork: Int32Array): number;
}

// CBLAS enum values (cblas.h).
const CblasRowMajor = 101;
const CblasNoTrans = 111;
const CblasTrans = 112;

/** Binds the symbols or throws naming what is missing. */
function bindLibrary(koffi: Koffi, cand: BlasCandidate, fortranOnly: boolean): BlasBinding {
  const lapack = koffi.load(cand.lib);
  const blas = cand.blas ? koffi.load(cand.blas) : lapack;
  const tryFunc = (lib: LibraryHandle, decl: string): NativeFn | undefined => {
    try {
      return lib.func(decl);
    } catch {
      return undefined;
    }
  };

  // gfortran passes the length of each CHARACTER argument as a trailing size_t; declaring them
  // (always 1) keeps the call correct even for LAPACK builds that read them.
  const dsyevd = tryFunc(lapack, 'void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobzLen, size_t uploLen)');
  if (!dsyevd) throw new Error('does not export dsyevd_ (LAPACK)');

  const cblasGemm = fortranOnly ? undefined : tryFunc(blas, 'void cblas_dgemm(int order, int transA, int transB, int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc)');
  const fGemm = cblasGemm ? undefined : tryFunc(blas, 'void dgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k, const double *alpha, const double *a, const int *lda, const double *b, const int *ldb, const double *beta, double *c, const int *ldc, size_t taLen, size_t tbLen)');
  // Fortran takes every scalar by reference: each goes in a one-element array.
  const i32 = (v: number): Int32Array => Int32Array.of(v);
  const f64 = (v: number): Float64Array => Float64Array.of(v);

  let gemm: BlasBinding['gemm'];
  if (cblasGemm) {
    gemm = (transA, m, n, k, a, b, beta, c) =>
      cblasGemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1, a, ld(transA ? m : k), b, ld(n), beta, c, ld(n));
  } else if (fGemm) {
    // Fortran is column-major: a row-major X is Xᵀ to it, so compute Cᵀ = Bᵀ·op(A)ᵀ instead.
    gemm = (transA, m, n, k, a, b, beta, c) =>
      fGemm('N', transA ? 'T' : 'N', i32(n), i32(m), i32(k), f64(1), b, i32(ld(n)), a, i32(ld(transA ? m : k)), f64(beta), c, i32(ld(n)), 1, 1);
  } else {
    throw new Error(`${cand.blas ?? cand.lib} exports neither cblas_dgemm nor dgemm_`);
  }

  const syevd: BlasBinding['syevd'] = (n, a, w, work, iwork) => {
    const info = new Int32Array(1);
    dsyevd('V', 'L', i32(n), a, i32(ld(n)), w, work, i32(work.length), iwork, i32(iwork.length), info, 1, 1);
    return info[0];
  };

  let version = '';
  const config = tryFunc(blas, 'const char *openblas_get_config()');
  if (config) {
    const text = String(config());
    version = (/OpenBLAS [\d.]+/.exec(text)?.[0] ?? 'OpenBLAS') + ', ';
  }
  const files = cand.blas ? `${loadedPath(cand.lib)} + ${loadedPath(cand.blas)}` : loadedPath(cand.lib);
  const how = cblasGemm ? 'cblas' : 'fortran';
  return { describe: `${version}${files}, ${how}`, gemm, syevd };
}

/**
 * The file a bare soname such as "libopenblas.so.0" actually resolved to (through symlinks and
 * Debian alternatives), read from /proc/self/maps; the name itself where that is not available.
 */
function loadedPath(name: string): string {
  const stem = path.basename(name).replace(/\.so(\..*)?$/, '');
  try {
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const file = line.slice(line.indexOf('/'));
      if (line.includes('/') && path.basename(file).startsWith(stem)) return file;
    }
  } catch {
    // Not Linux: fall through to the name we asked the loader for.
  }
  return name;
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
  constructor(private readonly lib: BlasBinding) {
    this.detail = `blas (${lib.describe})`;
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
      this.lib.gemm(true, m, n, k, a64, b64, 1, c.subarray(bi * m * n));
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
      this.lib.gemm(false, batch * m, n, k, a, b, 0, out);
      return out;
    }
    for (let bi = 0; bi < batch; bi++) {
      this.lib.gemm(transA, m, n, k, a.subarray(bi * m * k), bBatched ? b.subarray(bi * k * n) : b, 0, out.subarray(bi * m * n));
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
      const info = this.lib.syevd(n, ws.mat, ws.w, ws.work, ws.iwork);
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

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
