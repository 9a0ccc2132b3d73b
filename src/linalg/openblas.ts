/**
 * The one binding of the system's OpenBLAS/LAPACK, called with `koffi` (no compiled addon of our
 * own): finds the library ($LOCKSTEP_BLAS_LIB, the usual OpenBLAS locations, then reference LAPACK +
 * BLAS), loads each file once per thread, and hands out typed `dgemm`, `dgemv`, `dsyrk`, `sgemm`, `ssyrk`,
 * `dsyevd` and OpenBLAS's thread setting to its two users:
 * the `blas` linear-algebra backend (blas.ts) and the resampler's block products
 * (src/filters/polyphase.ts). Both fall back elsewhere when no library loads, so every failure is
 * returned as text (each candidate's reason plus an install hint), never thrown.
 *
 * Owns: koffi, the search order, the symbol declarations (CBLAS or Fortran), the Fortran calling
 * convention. Must not: unload a library (OpenBLAS keeps a thread pool that does not survive
 * dlclose), hand typed arrays to native code beyond one synchronous call, or know what the callers
 * compute (argument layouts and workspaces are theirs).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { errorText } from '../errorText.js';

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

/**
 * C = alpha·op(A)·op(B) + beta·C with CBLAS's arguments: `order` says how all three matrices are
 * stored ('row'-major or 'col'-major), lda/ldb/ldc are their leading dimensions as CBLAS defines
 * them. A library without CBLAS gets the equivalent Fortran `dgemm_` call (for row-major storage,
 * Cᵀ = op(B)ᵀ·op(A)ᵀ in column-major terms), so callers never see which one runs.
 */
export type Dgemm = (
  order: 'row' | 'col', transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float64Array, lda: number, b: Float64Array, ldb: number, beta: number, c: Float64Array, ldc: number,
) => void;

/**
 * LAPACK `dsyevd_` with jobz 'V', uplo 'L': overwrites `a` (n×n, column-major, leading dimension
 * max(1, n)) by the eigenvectors and `w` by the eigenvalues, using all of `work` and `iwork`;
 * returns LAPACK's `info` (0 = success).
 */
export type Dsyevd = (n: number, a: Float64Array, w: Float64Array, work: Float64Array, iwork: Int32Array) => number;

/**
 * y = alpha·op(A)·x + beta·y with A m×n stored row-major (rows `lda` apart), x and y contiguous;
 * op(A) is Aᵀ when `trans`.
 */
export type Dgemv = (trans: boolean, m: number, n: number, alpha: number, a: Float64Array, lda: number, x: Float64Array, beta: number, y: Float64Array) => void;

/** `Dgemm` in single precision (float32 operands, float32 C). */
export type Sgemm = (
  order: 'row' | 'col', transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
) => void;

/**
 * Rank-k update of a symmetric C, row-major storage: C = alpha·AᵀA + beta·C with A k×n (rows
 * `lda` apart); only the lower triangle of C (column ≤ row) is referenced and written.
 */
export type Dsyrk = (n: number, k: number, alpha: number, a: Float64Array, lda: number, beta: number, c: Float64Array, ldc: number) => void;
/** `Dsyrk` in single precision. */
export type Ssyrk = (n: number, k: number, alpha: number, a: Float32Array, lda: number, beta: number, c: Float32Array, ldc: number) => void;

/**
 * OpenBLAS (0.3.x, interface/gemm.c) runs a GEMM on the calling thread when M·N·K ≤ 4·65536
 * (SMP_THRESHOLD_MIN × GEMM_MULTITHREAD_THRESHOLD). Products kept under it do not depend on the
 * process's thread setting: the same tiles, the same rounding, whoever set what.
 */
export const GEMM_SERIAL_MNK = 4 * 65536;

/** A bound dgemm and where it came from. */
export interface BlasGemm {
  dgemm: Dgemm;
  /** 'cblas' (cblas_dgemm) or 'fortran' (dgemm_). */
  via: 'cblas' | 'fortran';
  /** Version, resolved file(s) and `via`, e.g. "OpenBLAS 0.3.21, /usr/lib/…/libopenblasp-r0.3.21.so, cblas". */
  describe: string;
}

/** dgemm plus the other level-3 kernels the decoder uses and LAPACK's symmetric eigensolver, from one candidate. */
export interface BlasLapack extends BlasGemm {
  dsyevd: Dsyevd;
  dgemv: Dgemv;
  dsyrk: Dsyrk;
  sgemm: Sgemm;
  ssyrk: Ssyrk;
  /**
   * OpenBLAS's `openblas_set_num_threads`, or undefined for a BLAS without it. The setting is
   * process-wide (every thread's calls), not per thread.
   */
  setThreads?: (n: number) => void;
}

export interface OpenBlasOptions {
  /** Where to look, in order (default: `defaultBlasCandidates()`). */
  candidates?: BlasCandidate[];
  /** Bind the Fortran symbol dgemm_ even when cblas_dgemm exists: lets tests cover that path. */
  fortranOnly?: boolean;
}

/**
 * dgemm from the first candidate whose BLAS file (`blas`, else `lib`) loads and exports it; the
 * LAPACK file is not needed. Memoized per thread for each search (candidates, fortranOnly).
 */
export function openBlasGemm(opts: OpenBlasOptions = {}): BlasGemm | { error: string } {
  return search('gemm', opts, (koffi, cand, fortranOnly) => {
    const file = cand.blas ?? cand.lib;
    const { dgemm, via, version } = bindGemm(koffi, file, fortranOnly);
    return { dgemm, via, describe: `${version}${loadedPath(file)}, ${via}` };
  }, (cand) => cand.blas ?? cand.lib);
}

/**
 * dgemm and dsyevd from the first candidate that has both (dsyevd_ in `lib`, dgemm in `blas` or
 * `lib`). Memoized per thread for each search (candidates, fortranOnly).
 */
export function openBlasLapack(opts: OpenBlasOptions = {}): BlasLapack | { error: string } {
  return search('lapack', opts, bindLapack, (cand) => (cand.blas ? `${cand.lib} + ${cand.blas}` : cand.lib));
}

// ---------------------------------------------------------------------------------------------

let koffiModule: Koffi | { error: string } | undefined;
/** Library handles by the name they were loaded with: each file is loaded once per thread. */
const handles = new Map<string, LibraryHandle>();
/** Finished searches (bound or failed) by kind and options. */
const searches = new Map<string, BlasGemm | BlasLapack | { error: string }>();

function loadKoffi(): Koffi | { error: string } {
  if (!koffiModule) {
    try {
      // koffi ships a native module per platform; requiring it lazily keeps everything else usable without it.
      koffiModule = createRequire(import.meta.url)('koffi') as Koffi;
    } catch (e) {
      koffiModule = { error: `koffi failed to load (${errorText(e)}); run \`npm install koffi\`` };
    }
  }
  return koffiModule;
}

function search<T extends BlasGemm>(
  kind: 'gemm' | 'lapack',
  opts: OpenBlasOptions,
  bind: (koffi: Koffi, cand: BlasCandidate, fortranOnly: boolean) => T,
  label: (cand: BlasCandidate) => string,
): T | { error: string } {
  const candidates = opts.candidates ?? defaultBlasCandidates();
  const fortranOnly = opts.fortranOnly ?? false;
  const key = JSON.stringify([kind, fortranOnly, candidates]);
  const known = searches.get(key);
  if (known) return known as T | { error: string };
  const koffi = loadKoffi();
  if ('error' in koffi) return koffi;
  const failures: string[] = [];
  let found: T | { error: string } | undefined;
  for (const cand of candidates) {
    try {
      found = bind(koffi, cand, fortranOnly);
      break;
    } catch (e) {
      failures.push(`${label(cand)}: ${errorText(e)}`);
    }
  }
  found ??= { error: `no usable ${kind === 'lapack' ? 'BLAS/LAPACK' : 'BLAS'} library (${failures.join('; ')}); ${BLAS_INSTALL_HINT}` };
  searches.set(key, found);
  return found;
}

function handle(koffi: Koffi, file: string): LibraryHandle {
  let lib = handles.get(file);
  if (!lib) {
    lib = koffi.load(file);
    handles.set(file, lib);
  }
  return lib;
}

/** The symbol, or undefined when the library does not export it. */
function tryFunc(lib: LibraryHandle, decl: string): NativeFn | undefined {
  try {
    return lib.func(decl);
  } catch {
    return undefined;
  }
}

// CBLAS enum values (cblas.h).
const CblasRowMajor = 101;
const CblasColMajor = 102;
const CblasNoTrans = 111;
const CblasTrans = 112;
const CblasLower = 122;

/** Binds dgemm from `file` or throws naming what is missing. */
function bindGemm(koffi: Koffi, file: string, fortranOnly: boolean): Omit<BlasGemm, 'describe'> & { version: string } {
  const lib = handle(koffi, file);
  const cblas = fortranOnly ? undefined : tryFunc(lib, 'void cblas_dgemm(int order, int transA, int transB, int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc)');
  let dgemm: Dgemm;
  let via: BlasGemm['via'];
  if (cblas) {
    via = 'cblas';
    dgemm = (order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
      cblas(order === 'row' ? CblasRowMajor : CblasColMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    // gfortran passes the length of each CHARACTER argument as a trailing size_t; declaring them
    // (always 1) keeps the call correct even for builds that read them.
    const fortran = tryFunc(lib, 'void dgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k, const double *alpha, const double *a, const int *lda, const double *b, const int *ldb, const double *beta, double *c, const int *ldc, size_t taLen, size_t tbLen)');
    if (!fortran) throw new Error(`${file} exports neither cblas_dgemm nor dgemm_`);
    via = 'fortran';
    dgemm = (order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
      const ta = transA ? 'T' : 'N';
      const tb = transB ? 'T' : 'N';
      // Fortran is column-major: a row-major X is Xᵀ to it, so compute Cᵀ = op(B)ᵀ·op(A)ᵀ instead.
      if (order === 'row') fortran(tb, ta, i32(n), i32(m), i32(k), f64(alpha), b, i32(ldb), a, i32(lda), f64(beta), c, i32(ldc), 1, 1);
      else fortran(ta, tb, i32(m), i32(n), i32(k), f64(alpha), a, i32(lda), b, i32(ldb), f64(beta), c, i32(ldc), 1, 1);
    };
  }
  return { dgemm, via, version: versionOf(lib) };
}

/** Binds dgemv, sgemm, dsyrk and ssyrk (CBLAS, else Fortran) from `file`, or throws naming what is missing. */
function bindLevel3(koffi: Koffi, file: string, fortranOnly: boolean): { dgemv: Dgemv; sgemm: Sgemm; dsyrk: Dsyrk; ssyrk: Ssyrk } {
  const lib = handle(koffi, file);
  const cblas = (decl: string) => (fortranOnly ? undefined : tryFunc(lib, decl));
  const fortran = (decl: string, name: string) => {
    const fn = tryFunc(lib, decl);
    if (!fn) throw new Error(`${file} exports neither cblas_${name} nor ${name}_`);
    return fn;
  };
  let sgemm: Sgemm;
  const cs = cblas('void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)');
  if (cs) {
    sgemm = (order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
      cs(order === 'row' ? CblasRowMajor : CblasColMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    const fs = fortran('void sgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k, const float *alpha, const float *a, const int *lda, const float *b, const int *ldb, const float *beta, float *c, const int *ldc, size_t taLen, size_t tbLen)', 'sgemm');
    sgemm = (order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
      const ta = transA ? 'T' : 'N';
      const tb = transB ? 'T' : 'N';
      if (order === 'row') fs(tb, ta, i32(n), i32(m), i32(k), f32(alpha), b, i32(ldb), a, i32(lda), f32(beta), c, i32(ldc), 1, 1);
      else fs(ta, tb, i32(m), i32(n), i32(k), f32(alpha), a, i32(lda), b, i32(ldb), f32(beta), c, i32(ldc), 1, 1);
    };
  }
  let dgemv: Dgemv;
  const cv = cblas('void cblas_dgemv(int order, int trans, int m, int n, double alpha, const double *a, int lda, const double *x, int incx, double beta, double *y, int incy)');
  if (cv) {
    dgemv = (trans, m, n, alpha, a, lda, x, beta, y) => cv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
  } else {
    const fv = fortran('void dgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a, const int *lda, const double *x, const int *incx, const double *beta, double *y, const int *incy, size_t transLen)', 'dgemv');
    // A row-major m×n matrix is, to Fortran, its n×m transpose: op flips.
    dgemv = (trans, m, n, alpha, a, lda, x, beta, y) => fv(trans ? 'N' : 'T', i32(n), i32(m), f64(alpha), a, i32(lda), x, i32(1), f64(beta), y, i32(1), 1);
  }
  // Row-major lower C = AᵀA is, to column-major Fortran, upper C = Aᵀ'·Aᵀ'ᵀ with A' = Aᵀ (n×k, leading dimension lda): uplo 'U', trans 'N'.
  const syrk = <V extends Float32Array | Float64Array>(prefix: 'd' | 's', scalar: (v: number) => Float32Array | Float64Array) => {
    const t = prefix === 'd' ? 'double' : 'float';
    const c = cblas(`void cblas_${prefix}syrk(int order, int uplo, int trans, int n, int k, ${t} alpha, const ${t} *a, int lda, ${t} beta, ${t} *c, int ldc)`);
    if (c) return (n: number, k: number, alpha: number, a: V, lda: number, beta: number, out: V, ldc: number) => c(CblasRowMajor, CblasLower, CblasTrans, n, k, alpha, a, lda, beta, out, ldc);
    const f = fortran(`void ${prefix}syrk_(const char *uplo, const char *trans, const int *n, const int *k, const ${t} *alpha, const ${t} *a, const int *lda, const ${t} *beta, ${t} *c, const int *ldc, size_t uploLen, size_t transLen)`, `${prefix}syrk`);
    return (n: number, k: number, alpha: number, a: V, lda: number, beta: number, out: V, ldc: number) => f('U', 'N', i32(n), i32(k), scalar(alpha), a, i32(lda), scalar(beta), out, i32(ldc), 1, 1);
  };
  return { dgemv, sgemm, dsyrk: syrk<Float64Array>('d', f64), ssyrk: syrk<Float32Array>('s', f32) };
}

/** OpenBLAS's process-wide thread setting, when the library has it. */
function bindThreads(koffi: Koffi, file: string): ((n: number) => void) | undefined {
  const fn = tryFunc(handle(koffi, file), 'void openblas_set_num_threads(int n)');
  return fn ? (n: number) => void fn(n) : undefined;
}

/** Binds dsyevd_ from `cand.lib` and dgemm from `cand.blas ?? cand.lib`, or throws naming what is missing. */
function bindLapack(koffi: Koffi, cand: BlasCandidate, fortranOnly: boolean): BlasLapack {
  const lapack = handle(koffi, cand.lib);
  if (cand.blas) handle(koffi, cand.blas);
  const fn = tryFunc(lapack, 'void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobzLen, size_t uploLen)');
  if (!fn) throw new Error('does not export dsyevd_ (LAPACK)');
  const dsyevd: Dsyevd = (n, a, w, work, iwork) => {
    const info = new Int32Array(1);
    fn('V', 'L', i32(n), a, i32(Math.max(1, n)), w, work, i32(work.length), iwork, i32(iwork.length), info, 1, 1);
    return info[0];
  };
  const { dgemm, via, version } = bindGemm(koffi, cand.blas ?? cand.lib, fortranOnly);
  const level3 = bindLevel3(koffi, cand.blas ?? cand.lib, fortranOnly);
  const setThreads = bindThreads(koffi, cand.blas ?? cand.lib);
  const files = cand.blas ? `${loadedPath(cand.lib)} + ${loadedPath(cand.blas)}` : loadedPath(cand.lib);
  return { dgemm, via, dsyevd, ...level3, setThreads, describe: `${version}${files}, ${via}` };
}

// Fortran takes every scalar by reference: each goes in a one-element array.
function i32(v: number): Int32Array {
  return Int32Array.of(v);
}
function f64(v: number): Float64Array {
  return Float64Array.of(v);
}
function f32(v: number): Float32Array {
  return Float32Array.of(v);
}

/** "OpenBLAS 0.3.21, " when the library is OpenBLAS, else "" (the prefix of `describe`). */
function versionOf(lib: LibraryHandle): string {
  const config = tryFunc(lib, 'const char *openblas_get_config()');
  return config ? `${/OpenBLAS [\d.]+/.exec(String(config()))?.[0] ?? 'OpenBLAS'}, ` : '';
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
