/**
 * Oracle tests: every linalg backend that loads on this machine is checked against `reference`
 * on the same seeded random data, with tolerances set by the backend's declared precision.
 * blas is skipped (with the reason) when OpenBLAS/LAPACK is absent, unless CI demands it
 * (CI set and LOCKSTEP_REQUIRE_BLAS=1), in which case its absence fails the run.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { GemmShape, LinalgBackend } from '../src/linalg/backend.js';
import { loadBlas } from '../src/linalg/blas.js';
import { BLAS_INSTALL_HINT } from '../src/linalg/openblas.js';
import { loadOrt } from '../src/linalg/ort.js';
import { ReferenceBackend } from '../src/linalg/reference.js';
import { createBackend, describeAvailability } from '../src/linalg/select.js';
import { loadTfjs } from '../src/linalg/tfjs.js';
import { mulberry32 } from '../src/scores/prng.js';

const requireBlas = Boolean(process.env.CI) && process.env.LOCKSTEP_REQUIRE_BLAS === '1';


function randomF64(len: number, seed: number): Float64Array {
  const r = mulberry32(seed);
  return Float64Array.from({ length: len }, () => 2 * r() - 1);
}

/** `batch` random symmetric n×n matrices. */
function randomSymmetric(n: number, batch: number, seed: number): Float64Array {
  const x = randomF64(batch * n * n, seed);
  const out = new Float64Array(batch * n * n);
  for (let b = 0; b < batch; b++) {
    const o = b * n * n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[o + i * n + j] = (x[o + i * n + j] + x[o + j * n + i]) / 2;
  }
  return out;
}

/** Relative tolerance for the backend's precision: float32 products carry ~1e-7 rounding per term. */
function tolerance(be: LinalgBackend): number {
  return be.precision === 'float64' ? 1e-10 : 1e-4;
}

/** max|got − want| ≤ tol · max(1, max|want|), reporting the worst index. */
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(worst <= tol * scale, `${what}: max error ${worst} at ${at} (got ${got[at]}, want ${want[at]}) exceeds ${tol} × ${scale}`);
}

const reference = new ReferenceBackend();

interface Candidate {
  label: string;
  load: () => Promise<LinalgBackend | { error: string }>;
  /** Absence fails instead of skipping. */
  required: boolean;
}

const candidates: Candidate[] = [
  { label: 'reference', load: async () => new ReferenceBackend(), required: true },
  { label: 'blas', load: async () => loadBlas(), required: requireBlas },
  // Same library through the Fortran symbols (dgemm_, dsyrk_), the path reference LAPACK + BLAS takes.
  { label: 'blas (fortran symbols)', load: async () => loadBlas({ fortranOnly: true }), required: requireBlas },
  { label: 'ort', load: () => loadOrt(), required: false },
  // A tiny run budget forces the batch-splitting path on every call.
  { label: 'ort (split batches)', load: () => loadOrt({ maxRunInputBytes: 1 }), required: false },
  { label: 'tfjs', load: () => loadTfjs(), required: false },
  // The batched-matMul path (default on tfjs-node engines), with a budget that splits every batch.
  { label: 'tfjs (batched kernel, split batches)', load: () => loadTfjs(undefined, { perItem: false, maxRunInputBytes: 1 }), required: false },
  // The pure-JS engine; tfjs has one active engine per process, so this also checks that every
  // backend instance switches back to its own engine.
  { label: 'tfjs cpu', load: () => loadTfjs('cpu'), required: false },
];

const loaded: LinalgBackend[] = [];
after(async () => {
  for (const be of loaded) await be.dispose();
});

for (const cand of candidates) {
  const got = await cand.load();
  if ('error' in got) {
    if (cand.required) {
      it(`${cand.label} loads (required: CI with LOCKSTEP_REQUIRE_BLAS=1)`, () => assert.fail(`${cand.label}: ${got.error}`));
    } else {
      it(`${cand.label} backend`, { skip: `not available here: ${got.error}` }, () => {});
    }
    continue;
  }
  loaded.push(got);
  backendSuite(cand.label, got);
}

function backendSuite(label: string, be: LinalgBackend): void {
  const tol = tolerance(be);

  describe(`linalg backend ${label} [${be.detail}]`, () => {
    it('accumulateCross matches reference: batch > 1, non-square, Float64 and Float32, into non-zero C', async () => {
      const shape: GemmShape = { batch: 3, k: 11, m: 7, n: 5 };
      const a = randomF64(shape.batch * shape.k * shape.m, 1);
      const b = randomF64(shape.batch * shape.k * shape.n, 2);
      const c0 = randomF64(shape.batch * shape.m * shape.n, 3);
      for (const [kind, aIn, bIn] of [
        ['Float64', a, b],
        ['Float32', Float32Array.from(a), Float32Array.from(b)],
        ['mixed', Float32Array.from(a), b],
      ] as const) {
        const want = c0.slice();
        await reference.accumulateCross(aIn, bIn, shape, want);
        const got = c0.slice();
        await be.accumulateCross(aIn, bIn, shape, got);
        assertClose(got, want, tol, `accumulateCross ${kind}`);
      }
    });

    it('accumulateCross with the same array as A and B (Gram matrix) adds the full square', async () => {
      const shape: GemmShape = { batch: 4, k: 9, m: 13, n: 13 };
      const a = randomF64(shape.batch * shape.k * shape.m, 4);
      // A non-symmetric C on entry: a backend that only fills one triangle and mirrors it would fail.
      const c0 = randomF64(shape.batch * shape.m * shape.n, 5);
      for (const aIn of [a, Float32Array.from(a)]) {
        const want = c0.slice();
        await reference.accumulateCross(aIn, aIn, shape, want);
        const got = c0.slice();
        await be.accumulateCross(aIn, aIn, shape, got);
        assertClose(got, want, tol, `Gram ${aIn.constructor.name}`);
      }
    });

    it('accumulateCross is additive over repeated calls (a larger, threaded shape)', async () => {
      const shape: GemmShape = { batch: 2, k: 70, m: 64, n: 80 };
      const a = randomF64(shape.batch * shape.k * shape.m, 6);
      const b = randomF64(shape.batch * shape.k * shape.n, 7);
      const want = new Float64Array(shape.batch * shape.m * shape.n);
      const got = new Float64Array(want.length);
      for (let rep = 0; rep < 2; rep++) {
        await reference.accumulateCross(a, b, shape, want);
        await be.accumulateCross(a, b, shape, got);
      }
      assertClose(got, want, tol, 'accumulateCross twice');
    });

    it('matmul matches reference for transA true/false and bBatched true/false', async () => {
      const shape: GemmShape = { batch: 3, m: 6, k: 8, n: 5 };
      const a = randomF64(shape.batch * shape.m * shape.k, 8);
      const bAll = randomF64(shape.batch * shape.k * shape.n, 9);
      for (const transA of [false, true]) {
        for (const bBatched of [true, false]) {
          const b = bBatched ? bAll : bAll.slice(0, shape.k * shape.n);
          const want = await reference.matmul(a, b, shape, { transA, bBatched });
          const got = await be.matmul(a, b, shape, { transA, bBatched });
          assert.ok(got instanceof Float64Array, 'matmul returns Float64Array');
          assertClose(got, want, tol, `matmul transA=${transA} bBatched=${bBatched}`);
        }
      }
      // Defaults: transA false, bBatched true.
      assertClose(await be.matmul(a, bAll, shape), await reference.matmul(a, bAll, shape), tol, 'matmul defaults');
    });

    it('symEig: ascending values matching reference, orthonormal vectors, V diag(w) Vᵀ = A', async () => {
      const n = 17;
      const batch = 3;
      const a = randomSymmetric(n, batch, 10);
      // A rank-deficient Gram matrix as a fourth case: a repeated zero eigenvalue.
      const g = new Float64Array(n * n);
      await reference.accumulateCross(randomF64(4 * n, 11), randomF64(4 * n, 11), { batch: 1, k: 4, m: n, n }, g);
      const all = new Float64Array((batch + 1) * n * n);
      all.set(a);
      all.set(g, batch * n * n);
      const input = all.slice();
      const got = await be.symEig(all, n, batch + 1);
      const want = await reference.symEig(all, n, batch + 1);
      assert.deepEqual(all, input, 'symEig must not modify its input');
      assertClose(got.values, want.values, tol, 'eigenvalues');
      for (let bi = 0; bi <= batch; bi++) {
        const o = bi * n * n;
        const w = got.values.subarray(bi * n, (bi + 1) * n);
        const V = got.vectors.subarray(o, o + n * n);
        for (let j = 1; j < n; j++) assert.ok(w[j] >= w[j - 1], `matrix ${bi}: eigenvalues not ascending at ${j}`);
        const vtv = new Float64Array(n * n);
        const rec = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            let r = 0;
            for (let p = 0; p < n; p++) {
              s += V[p * n + i] * V[p * n + j];
              r += V[i * n + p] * w[p] * V[j * n + p];
            }
            vtv[i * n + j] = s;
            rec[i * n + j] = r;
          }
        }
        const eye = Float64Array.from({ length: n * n }, (_, idx) => (idx % (n + 1) === 0 ? 1 : 0));
        assertClose(vtv, eye, tol, `matrix ${bi}: VᵀV = I`);
        assertClose(rec, all.subarray(o, o + n * n), tol, `matrix ${bi}: V diag(w) Vᵀ = A`);
      }
    });

    it('a length mismatch (Float32 input) throws a RangeError naming the shapes', async () => {
      const shape: GemmShape = { batch: 2, k: 3, m: 4, n: 5 };
      const c = new Float64Array(2 * 4 * 5);
      await assert.rejects(
        be.accumulateCross(new Float32Array(2 * 3 * 4 - 1), new Float32Array(2 * 3 * 5), shape, c),
        (e: unknown) => e instanceof RangeError && /accumulateCross: A has 23 elements, expected 24/.test(e.message),
      );
      await assert.rejects(
        be.accumulateCross(new Float32Array(2 * 3 * 4), new Float32Array(7), shape, c),
        (e: unknown) => e instanceof RangeError && /accumulateCross: B has 7 elements, expected 30/.test(e.message),
      );
      await assert.rejects(be.matmul(new Float64Array(3), new Float64Array(2 * 3 * 5), { batch: 2, m: 4, k: 3, n: 5 }), RangeError);
      await assert.rejects(be.symEig(new Float64Array(8), 3, 1), /symEig: A has 8 elements, expected 9/);
    });
  });
}

describe('linalg backend selection', () => {
  it("createBackend('auto') picks blas when OpenBLAS/LAPACK loads", async (t) => {
    const blas = loadBlas();
    const auto = await createBackend('auto');
    loaded.push(auto);
    if ('error' in blas) {
      if (requireBlas) assert.fail(`blas required but not loadable: ${blas.error}`);
      t.diagnostic(`blas unavailable (${blas.error}); auto chose ${auto.name}`);
      assert.notEqual(auto.name, 'blas');
      return;
    }
    assert.equal(auto.name, 'blas');
  });

  it('an explicitly requested backend that cannot load reports why and what to install', () => {
    const missing = loadBlas({ candidates: [{ lib: '/nonexistent/libopenblas.so.0' }] });
    assert.ok('error' in missing, 'a missing library must not load');
    assert.match(missing.error, /\/nonexistent\/libopenblas\.so\.0/);
    assert.ok(missing.error.includes(BLAS_INSTALL_HINT));
    assert.match(BLAS_INSTALL_HINT, /apt-get install libopenblas0/);
  });

  it('createBackend rejects an unknown name', async () => {
    await assert.rejects(createBackend('cuda' as never), /unknown backend "cuda"/);
  });

  it('describeAvailability lists every backend, reference always available', async (t) => {
    const list = await describeAvailability();
    assert.deepEqual(
      list.map((x) => x.name),
      ['reference', 'ort', 'blas', 'tfjs'],
    );
    assert.ok(list.find((x) => x.name === 'reference')?.available);
    for (const x of list) t.diagnostic(`${x.name}: ${x.available ? 'yes' : 'no'}: ${x.detail}`);
  });
});
