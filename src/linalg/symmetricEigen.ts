/**
 * Symmetric eigendecomposition in plain TypeScript, float64: Householder reduction to tridiagonal
 * form followed by the implicit QL algorithm (the EISPACK tred2/tql2 pair, as in JAMA).
 * Used by the `reference`, `ort` and `tfjs` backends; `blas` calls LAPACK's dsyevd instead.
 *
 * Owns: one n×n decomposition at a time. Must not: allocate per call beyond its outputs.
 */

/**
 * Decomposes the symmetric matrix `a` (n×n row-major, only read) into ascending eigenvalues and
 * eigenvectors written to `values` (n) and `vectors` (n×n row-major, column j = eigenvector j).
 * @param a symmetric input; only the full square is read, asymmetry is not checked
 */
export function symmetricEigen(a: Float64Array, n: number, values: Float64Array, vectors: Float64Array, aOffset = 0, outOffset = 0): void {
  // tred2 works on the transpose (contiguous inner loops); the input is transposed rather than
  // assumed exactly symmetric, so that the textbook's reads of one triangle are kept.
  const Vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Vt[j * n + i] = a[aOffset + i * n + j];
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(n, Vt, d, e);
  // tql2 rotates pairs of eigenvector columns; keeping them as rows of Vt makes those accesses contiguous.
  tql2(n, Vt, d, e);
  sortAscending(n, d, Vt);
  for (let i = 0; i < n; i++) values[outOffset / n + i] = d[i];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) vectors[outOffset + i * n + j] = Vt[j * n + i];
  }
}

/**
 * Householder tridiagonalisation (EISPACK tred2) on the transposed matrix W = Vᵀ: every V[r][c] of
 * the textbook algorithm is W[c][r] here, so its inner loops, which walk down columns of V, run
 * along rows of W (contiguous memory). The arithmetic is the textbook's, operation for operation.
 * On return W holds the orthogonal transform transposed (the layout tql2 wants), d the diagonal,
 * e the sub-diagonal (e[0] = 0).
 */
function tred2(n: number, W: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = W[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = W[j * n + i - 1];
        W[j * n + i] = 0;
        W[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        W[i * n + j] = f;
        const row = j * n;
        g = e[j] + W[row + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += W[row + k] * d[k];
          e[k] += W[row + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const row = j * n;
        for (let k = j; k <= i - 1; k++) W[row + k] -= f * e[k] + g * d[k];
        d[j] = W[row + i - 1];
        W[row + i] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    W[i * n + n - 1] = W[i * n + i];
    W[i * n + i] = 1;
    const h = d[i + 1];
    const next = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = W[next + k] / h;
      for (let j = 0; j <= i; j++) {
        const row = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += W[next + k] * W[row + k];
        for (let k = 0; k <= i; k++) W[row + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) W[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = W[j * n + n - 1];
    W[j * n + n - 1] = 0;
  }
  W[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e); rotations are applied to the rows of Vt. */
function tql2(n: number, Vt: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  // Cosines and sines of one QL sweep's rotations, by row.
  const rc = new Float64Array(n);
  const rs = new Float64Array(n);
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error(`symmetricEigen: QL did not converge for eigenvalue ${l} of ${n} (matrix has NaN/Inf or is badly scaled)`);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // The rotation of rows i+1 and i of Vt is recorded here and applied below with its
          // neighbours: the recurrence above never reads Vt.
          rc[i] = c;
          rs[i] = s;
        }
        rotateRows(Vt, n, m - 1, l, rc, rs);
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

/**
 * Applies a QL sweep's rotations, i = from down to `to`, each to rows i+1 and i of Vt, in that
 * order. Consecutive rotations share a row, so they are applied four at a time along each column,
 * the shared row's value carried in a register: five rows read and written per four rotations
 * instead of eight, with each element computed exactly as one rotation at a time would.
 */
function rotateRows(Vt: Float64Array, n: number, from: number, to: number, rc: Float64Array, rs: Float64Array): void {
  let i = from;
  for (; i - 3 >= to; i -= 4) {
    const c0 = rc[i], s0 = rs[i], c1 = rc[i - 1], s1 = rs[i - 1];
    const c2 = rc[i - 2], s2 = rs[i - 2], c3 = rc[i - 3], s3 = rs[i - 3];
    const r4 = (i + 1) * n, r3 = i * n, r2 = (i - 1) * n, r1 = (i - 2) * n, r0 = (i - 3) * n;
    for (let k = 0; k < n; k++) {
      let carry = Vt[r4 + k];
      let v = Vt[r3 + k];
      Vt[r4 + k] = s0 * v + c0 * carry;
      carry = c0 * v - s0 * carry;
      v = Vt[r2 + k];
      Vt[r3 + k] = s1 * v + c1 * carry;
      carry = c1 * v - s1 * carry;
      v = Vt[r1 + k];
      Vt[r2 + k] = s2 * v + c2 * carry;
      carry = c2 * v - s2 * carry;
      v = Vt[r0 + k];
      Vt[r1 + k] = s3 * v + c3 * carry;
      Vt[r0 + k] = c3 * v - s3 * carry;
    }
  }
  for (; i >= to; i--) {
    const c = rc[i];
    const s = rs[i];
    const ri = i * n;
    const ri1 = (i + 1) * n;
    for (let k = 0; k < n; k++) {
      const hk = Vt[ri1 + k];
      const vk = Vt[ri + k];
      Vt[ri1 + k] = s * vk + c * hk;
      Vt[ri + k] = c * vk - s * hk;
    }
  }
}

function sortAscending(n: number, d: Float64Array, Vt: Float64Array): void {
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = Vt[i * n + j];
        Vt[i * n + j] = Vt[k * n + j];
        Vt[k * n + j] = t;
      }
    }
  }
}
