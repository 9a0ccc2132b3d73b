/**
 * The `reference` backend: readable float64 TypeScript loops. It is the oracle every other backend
 * is tested against, and the fallback that always loads.
 */
import { addOuterTerms, checkLayout, checkLength, gatherRows, type CrossOptions, type GemmShape, type LinalgBackend, type SymEig, matmulOutput, symEigOutput, type MatmulOptions } from './backend.js';
import { symmetricEigen } from './symmetricEigen.js';

export class ReferenceBackend implements LinalgBackend {
  readonly name = 'reference' as const;
  readonly precision = 'float64' as const;
  readonly detail = 'reference (TypeScript float64 loops)';

  async accumulateCross(a: Float32Array | Float64Array, b: Float32Array | Float64Array, shape: GemmShape, c: Float64Array, opts: CrossOptions = {}): Promise<void> {
    // Strided operands are gathered (readable over fast); `lowerOnly` and float32 products are
    // permissions, not obligations: the full square is added, in float64.
    const { batch, m, n, k } = shape;
    checkLayout('accumulateCross', 'A', a, batch, k, m, opts.aLayout);
    checkLayout('accumulateCross', 'B', b, batch, k, n, opts.bLayout);
    const ag = gatherRows(a, batch, k, m, opts.aLayout);
    crossAccumulateLoops(ag, a === b && opts.bLayout === opts.aLayout ? ag : gatherRows(b, batch, k, n, opts.bLayout), shape, c);
    if (opts.outer) addOuterTerms(c, batch, m, n, opts.outer);
  }

  async matmul(a: Float64Array, b: Float64Array, shape: GemmShape, opts: MatmulOptions = {}): Promise<Float64Array> {
    return matmulLoops(a, b, shape, opts);
  }

  async symEig(a: Float64Array, n: number, batch: number, out?: SymEig): Promise<SymEig> {
    return symEigLoops(a, n, batch, out);
  }

  async dispose(): Promise<void> {}
}

/** C[b] += A[b]ᵀB[b] with A[b] k×m, B[b] k×n: loops ordered so the innermost runs along rows of B and C. */
export function crossAccumulateLoops(a: ArrayLike<number>, b: ArrayLike<number>, shape: GemmShape, c: Float64Array): void {
  const { batch, m, n, k } = shape;
  checkLength('accumulateCross', 'A', a, batch * k * m);
  checkLength('accumulateCross', 'B', b, batch * k * n);
  checkLength('accumulateCross', 'C', c, batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * k * m;
    const bo = bi * k * n;
    const co = bi * m * n;
    for (let r = 0; r < k; r++) {
      const ar = ao + r * m;
      const br = bo + r * n;
      for (let i = 0; i < m; i++) {
        const av = a[ar + i];
        if (av === 0) continue;
        const ci = co + i * n;
        for (let j = 0; j < n; j++) c[ci + j] += av * b[br + j];
      }
    }
  }
}

export function matmulLoops(aIn: Float64Array, b: Float64Array, shape: GemmShape, opts: MatmulOptions = {}): Float64Array {
  const { batch, m, n, k } = shape;
  const transA = opts.transA ?? false;
  const bBatched = opts.bBatched ?? true;
  if (opts.aLayout && transA) throw new RangeError('matmul: aLayout is for a non-transposed A');
  checkLayout('matmul', 'A', aIn, batch, m, k, opts.aLayout);
  const a = gatherRows(aIn, batch, m, k, opts.aLayout);
  checkLength('matmul', 'B', b, (bBatched ? batch : 1) * k * n);
  const out = matmulOutput(opts.out, batch * m * n).fill(0);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * m * k;
    const bo = bBatched ? bi * k * n : 0;
    const oo = bi * m * n;
    for (let i = 0; i < m; i++) {
      const oi = oo + i * n;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[ao + p * m + i] : a[ao + i * k + p];
        if (av === 0) continue;
        const bp = bo + p * n;
        for (let j = 0; j < n; j++) out[oi + j] += av * b[bp + j];
      }
    }
  }
  return out;
}

export function symEigLoops(a: Float64Array, n: number, batch: number, out?: SymEig): SymEig {
  checkLength('symEig', 'A', a, batch * n * n);
  const { values, vectors } = symEigOutput(out, n, batch);
  for (let bi = 0; bi < batch; bi++) symmetricEigen(a, n, values, vectors, bi * n * n, bi * n * n);
  return { values, vectors };
}
