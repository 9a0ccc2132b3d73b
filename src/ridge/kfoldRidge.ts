/**
 * Exact K-fold ridge decoding (MEG at one time sample → all layers' targets) from per-fold
 * sufficient statistics, at any moment of a stream and at a cost independent of the number of words.
 *
 * For every time sample t and outer fold f (method.md §7):
 *   training sums = total − fold f; global z-scoring per (channel, t) and training centring are
 *   applied algebraically; one eigendecomposition S = V diag(s) Vᵀ of the training scatter serves
 *   all targets and all α: W(α) = V diag(1/(s+α)) Vᵀ Sxy; α is picked per target (GCV, inner
 *   K-fold or fixed); the held-out Pearson r per target is closed-form from fold f's sums.
 * Optionally the same is done on all words ("full model"), which the prequential scorer uses.
 *
 * Owns: the algebra of one refit. Must not: hold state between refits or do I/O.
 */
import type { LinalgBackend } from '../linalg/backend.js';
import { float64Array, mirrorLower, type ArrayMemory, type SufficientStats } from '../stats/sufficientStats.js';
import { nTargets, type DecoderDims } from '../types.js';
import type { AlphaSelection } from './alphaGrid.js';

export interface RidgeOptions {
  alphas: readonly number[];
  selection: AlphaSelection;
  /** Also fit on all words (for prequential prediction). */
  fitFull: boolean;
  /** Solve and score the outer folds (default true). False fits only the full model (needs fitFull). */
  evaluateFolds?: boolean;
  /** Time samples solved per batch (memory ∝ timeChunk·(K+1)·C·P). */
  timeChunk?: number;
  /** Called after each time chunk, e.g. to report progress or yield. */
  onProgress?: (doneTimes: number, totalTimes: number) => void | Promise<void>;
  /** Write the full model here (e.g. a reused or shared buffer) instead of a new one. */
  fullOut?: FullModel;
}

/**
 * Where `kfoldRidgeTimes` writes, indexed by absolute time sample so that time ranges computed
 * apart (other threads, shared memory) fill one result.
 */
export interface RidgeOutputs {
  /** [fold][time][target] */
  targetR: Float64Array;
  /** [fold][time][target] */
  alphaIndex: Uint8Array;
  full?: FullModel;
}

export interface FullModel {
  /** [time][channel][target], raw units: ŷ = xᵀW + b for a raw (tesla) epoch column x. */
  weights: Float64Array;
  /** [time][target] */
  intercept: Float64Array;
  /** [time][target] index into the α grid */
  alphaIndex: Uint8Array;
  /** Number of words it was fit on. */
  n: number;
}

export interface KFoldResult {
  dims: DecoderDims;
  nFolds: number;
  alphas: readonly number[];
  selection: AlphaSelection;
  /** Words per fold. */
  foldSizes: number[];
  /** [fold][time][target] held-out Pearson r. */
  targetR: Float64Array;
  /** [fold][layer][time] mean over the layer's dims. */
  foldR: Float64Array;
  /** [layer][time] mean over folds of foldR. */
  R: Float64Array;
  /** [fold][time][target] index into `alphas`. */
  alphaIndex: Uint8Array;
  full?: FullModel;
}

interface Job {
  t: number;
  /** Held-out fold, or -1 for the full model. */
  fold: number;
}

/** A training set for inner K-fold selection: all words but folds `a` and `b`. */
interface PairJob {
  t: number;
  a: number;
  b: number;
}

/**
 * Reused memory for one refit: sized for one time chunk, allocated once, so a refit does not ask
 * the allocator for (and page-fault in) gigabytes of short-lived arrays.
 */
class Workspace {
  /** Training scatter, then (after the eigendecomposition copied it) held-out scatter. */
  readonly S: Float64Array;
  /** Training cross-products, then held-out products B·W. */
  readonly Sxy: Float64Array;
  readonly Syy: Float64Array;
  readonly eig: { values: Float64Array; vectors: Float64Array };
  readonly Qp: Float64Array;
  /** Squared Qp for GCV, then the per-target solution coefficients. */
  readonly Z: Float64Array;
  readonly Wz: Float64Array;
  readonly chosen: Uint8Array;
  /** Per fold, this chunk's Σxxᵀ as full squares: [fold] → [t − t0][C][C]. */
  readonly foldSxx: Float64Array[];
  /** The chunk's totals over folds. */
  readonly totals: { sx: Float64Array; sxx: Float64Array; sy: Float64Array; syy: Float64Array; sxy: Float64Array };

  constructor(C: number, P: number, J: number, K: number, chunk: number) {
    this.foldSxx = Array.from({ length: K }, () => new Float64Array(chunk * C * C));
    this.totals = { sx: new Float64Array(chunk * C), sxx: new Float64Array(chunk * C * C), sy: new Float64Array(P), syy: new Float64Array(P), sxy: new Float64Array(chunk * C * P) };
    this.S = new Float64Array(J * C * C);
    this.Sxy = new Float64Array(J * C * P);
    this.Syy = new Float64Array(J * P);
    this.eig = { values: new Float64Array(J * C), vectors: new Float64Array(J * C * C) };
    this.Qp = new Float64Array(J * C * P);
    this.Z = new Float64Array(J * C * P);
    this.Wz = new Float64Array(J * C * P);
    this.chosen = new Uint8Array(J * P);
  }
}

/** Checks that the folds can be solved as asked; throws a RangeError saying what is missing. */
export function checkRefit(folds: readonly SufficientStats[], evaluate: boolean, fitFull: boolean): void {
  const K = folds.length;
  const foldSizes = folds.map((f) => f.n);
  const N = foldSizes.reduce((a, b) => a + b, 0);
  if (!evaluate && !fitFull) throw new Error('kfoldRidge: nothing to do (no folds, no full model)');
  if (N < 2) throw new RangeError(`cannot fit yet: ${N} words; at least 2 are needed`);
  for (let f = 0; evaluate && f < K; f++) {
    if (N - foldSizes[f] < 2 || foldSizes[f] < 2) {
      throw new RangeError(`cannot refit yet: fold ${f} has ${foldSizes[f]} words and its training set ${N - foldSizes[f]}; each needs at least 2`);
    }
  }
}

/** A zeroed full model for these dims, in this thread's memory or shared memory. */
export function emptyFullModel(dims: DecoderDims, memory: ArrayMemory = 'local'): FullModel {
  const { nChannels: C, nTimes: T } = dims;
  const P = nTargets(dims);
  return { weights: float64Array(T * C * P, memory), intercept: float64Array(T * P, memory), alphaIndex: uint8Array(T * P, memory), n: 0 };
}

/** A zeroed Uint8Array, in this thread's memory or shared memory. */
export function uint8Array(length: number, memory: ArrayMemory = 'local'): Uint8Array {
  return memory === 'shared' ? new Uint8Array(new SharedArrayBuffer(length)) : new Uint8Array(length);
}

/** Empty outputs for a refit of these folds (the full model in `fullOut` when given). */
export function ridgeOutputs(folds: readonly SufficientStats[], fitFull: boolean, fullOut?: FullModel, memory: ArrayMemory = 'local'): RidgeOutputs {
  const dims = folds[0].dims;
  const { nTimes: T } = dims;
  const P = nTargets(dims);
  const K = folds.length;
  const N = folds.reduce((a, f) => a + f.n, 0);
  let full: FullModel | undefined;
  if (fitFull) {
    full = fullOut ?? emptyFullModel(dims, memory);
    full.n = N;
  }
  return { targetR: float64Array(K * T * P, memory), alphaIndex: uint8Array(K * T * P, memory), full };
}

/**
 * Time-chunk boundaries that split [0, T) into `n` ranges of about equal work, each starting on a
 * multiple of `timeChunk`: the chunks, and so every batched product, are then the same as in one
 * pass over all time samples, and so are the results, bit for bit.
 */
export function refitTimeRanges(T: number, timeChunk: number, n: number): Array<[number, number]> {
  const chunk = Math.max(1, timeChunk);
  const chunks = Math.ceil(T / chunk);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const c0 = Math.round((i * chunks) / n);
    const c1 = Math.round(((i + 1) * chunks) / n);
    out.push([Math.min(T, c0 * chunk), Math.min(T, c1 * chunk)]);
  }
  return out;
}

export async function kfoldRidge(folds: readonly SufficientStats[], backend: LinalgBackend, opts: RidgeOptions): Promise<KFoldResult> {
  const evaluate = opts.evaluateFolds ?? true;
  checkRefit(folds, evaluate, opts.fitFull);
  const out = ridgeOutputs(folds, opts.fitFull, opts.fullOut);
  await kfoldRidgeTimes(folds, backend, opts, 0, folds[0].dims.nTimes, out);
  return kfoldResult(folds, opts, out);
}

/** The result of a refit whose time samples have all been written into `out`: R per fold and overall. */
export function kfoldResult(folds: readonly SufficientStats[], opts: Pick<RidgeOptions, 'alphas' | 'selection' | 'evaluateFolds'>, out: RidgeOutputs): KFoldResult {
  const dims = folds[0].dims;
  const { nTimes: T, nLayers: L, nDims: D } = dims;
  const P = nTargets(dims);
  const K = folds.length;
  const evaluate = opts.evaluateFolds ?? true;
  const { targetR } = out;
  const foldR = new Float64Array(K * L * T);
  const R = new Float64Array(L * T);
  for (let f = 0; evaluate && f < K; f++) {
    for (let t = 0; t < T; t++) {
      for (let l = 0; l < L; l++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += targetR[(f * T + t) * P + l * D + d];
        foldR[(f * L + l) * T + t] = s / D;
        R[l * T + t] += s / D / K;
      }
    }
  }
  return { dims, nFolds: K, alphas: opts.alphas, selection: opts.selection, foldSizes: folds.map((f) => f.n), targetR, foldR, R, alphaIndex: out.alphaIndex, full: out.full };
}

/**
 * The refit's work for time samples [tStart, tEnd), written into `out` (whose arrays cover all
 * time samples). Time samples are independent, so disjoint ranges may run on different threads;
 * ranges that start on multiples of `timeChunk` give results identical to one pass.
 */
export async function kfoldRidgeTimes(folds: readonly SufficientStats[], backend: LinalgBackend, opts: RidgeOptions, tStart: number, tEnd: number, out: RidgeOutputs): Promise<void> {
  const dims = folds[0].dims;
  const { nChannels: C, nTimes: T } = dims;
  const P = nTargets(dims);
  const K = folds.length;
  const evaluate = opts.evaluateFolds ?? true;
  const { targetR, alphaIndex, full } = out;
  if (opts.fitFull && !full) throw new Error('kfoldRidgeTimes: fitFull needs out.full');
  const chunk = Math.max(1, opts.timeChunk ?? 2);
  const jobsPerTime = (evaluate ? K : 0) + (full ? 1 : 0);
  const ws = new Workspace(C, P, chunk * jobsPerTime, K, chunk);
  const A = opts.alphas.length;
  const g = new Float64Array(A);

  for (let t0 = tStart; t0 < tEnd; t0 += chunk) {
    const t1 = Math.min(tEnd, t0 + chunk);
    // Each fold's Σxxᵀ keeps one triangle: mirror this chunk's matrices once, then read full squares.
    const sxxOf = mirrorChunk(folds, t0, t1, ws.foldSxx);
    const totals = chunkTotals(folds, t0, t1, sxxOf, ws.totals);
    // Held-out jobs first, then the full model's: the held-out weights are then one contiguous block.
    const jobs: Job[] = [];
    for (let t = t0; t < t1; t++) for (let f = 0; evaluate && f < K; f++) jobs.push({ t, fold: f });
    const H = jobs.length;
    for (let t = t0; full && t < t1; t++) jobs.push({ t, fold: -1 });
    const J = jobs.length;
    const S = ws.S.subarray(0, J * C * C);
    const Sxy = ws.Sxy.subarray(0, J * C * P);
    const Syy = ws.Syy.subarray(0, J * P);
    const train = jobs.map((job) => trainingSet(folds, totals, job, t0, sxxOf));
    for (let j = 0; j < J; j++) {
      zScatter(train[j], C, P, S.subarray(j * C * C, (j + 1) * C * C), Sxy.subarray(j * C * P, (j + 1) * C * P), Syy.subarray(j * P, (j + 1) * P));
    }
    const eig = await backend.symEig(S, C, J, { values: ws.eig.values.subarray(0, J * C), vectors: ws.eig.vectors.subarray(0, J * C * C) });
    clampNonNegative(eig.values);
    const Qp = await backend.matmul(eig.vectors, Sxy, { batch: J, m: C, k: C, n: P }, { transA: true, out: ws.Qp.subarray(0, J * C * P) }); // Vᵀ Sxy
    const chosen = ws.chosen.subarray(0, J * P).fill(0);
    if (opts.selection === 'gcv' || (opts.selection === 'kfold' && !evaluate)) {
      // Without populated outer folds there is no held-out data: inner K-fold falls back to GCV.
      await gcvSelect(backend, eig.values, Qp, Syy, train.map((s) => s.n), C, P, opts.alphas, chosen, ws.Z.subarray(0, J * C * P));
    } else if (opts.selection === 'kfold') {
      await innerKfoldSelect(backend, folds, totals, t0, jobs, train, eig, Qp, opts.alphas, chosen, sxxOf);
    } // fixed: index 0 everywhere
    const Z = ws.Z.subarray(0, J * C * P);
    for (let j = 0; j < J; j++) {
      for (let i = 0; i < C; i++) {
        const s = eig.values[j * C + i];
        for (let a = 0; a < A; a++) g[a] = 1 / (s + opts.alphas[a]);
        const row = (j * C + i) * P;
        const pick = j * P;
        for (let p = 0; p < P; p++) Z[row + p] = Qp[row + p] * g[chosen[pick + p]];
      }
    }
    const Wz = await backend.matmul(eig.vectors, Z, { batch: J, m: C, k: C, n: P }, { out: ws.Wz.subarray(0, J * C * P) });

    // Held-out evaluation of the outer folds (jobs 0…H−1). Their scatter goes where the training
    // scatter was (the eigendecomposition has consumed it).
    if (H > 0) {
      const Bz = ws.S.subarray(0, H * C * C);
      const Wh = Wz.subarray(0, H * C * P);
      for (let j = 0; j < H; j++) heldOutScatter(folds[jobs[j].fold], sxxOf(jobs[j].fold, jobs[j].t), train[j], jobs[j].t, Bz.subarray(j * C * C, (j + 1) * C * C));
      const BW = await backend.matmul(Bz, Wh, { batch: H, m: C, k: C, n: P }, { out: ws.Sxy.subarray(0, H * C * P) });
      for (let j = 0; j < H; j++) {
        const job = jobs[j];
        const o = (job.fold * T + job.t) * P;
        heldOutPearson(folds[job.fold], train[j], job.t, Wh.subarray(j * C * P, (j + 1) * C * P), BW.subarray(j * C * P, (j + 1) * C * P), targetR.subarray(o, o + P));
        alphaIndex.set(chosen.subarray(j * P, (j + 1) * P), o);
      }
    }
    for (let j = H; full && j < J; j++) {
      const { t } = jobs[j];
      rawModel(train[j], Wz.subarray(j * C * P, (j + 1) * C * P), full.weights.subarray(t * C * P, (t + 1) * C * P), full.intercept.subarray(t * P, (t + 1) * P));
      full.alphaIndex.set(chosen.subarray(j * P, (j + 1) * P), t * P);
    }
    await opts.onProgress?.(t1, T);
  }
}

/** Full-square Σxxᵀ of fold `f` at time sample `t` (within the current chunk). */
type FoldSxx = (fold: number, t: number) => Float64Array;

/** Mirrors every fold's Σxxᵀ lower triangles for time samples [t0, t1) into `buffers` ([fold] → [t − t0][C][C]). */
function mirrorChunk(folds: readonly SufficientStats[], t0: number, t1: number, buffers: Float64Array[]): FoldSxx {
  const C = folds[0].dims.nChannels;
  folds.forEach((f, i) => {
    for (let t = t0; t < t1; t++) mirrorLower(f.sxx, t * C * C, C, buffers[i].subarray((t - t0) * C * C, (t - t0 + 1) * C * C));
  });
  return (fold, t) => buffers[fold].subarray((t - t0) * C * C, (t - t0 + 1) * C * C);
}

/** Totals over folds for time samples [t0, t1) (slices only, to keep memory at one chunk). */
interface ChunkTotals {
  n: number;
  sx: Float64Array; // [t - t0][C]
  sxx: Float64Array; // [t - t0][C][C]
  sy: Float64Array;
  syy: Float64Array;
  sxy: Float64Array; // [t - t0][C][P]
}

function chunkTotals(folds: readonly SufficientStats[], t0: number, t1: number, sxxOf: FoldSxx, buffers: Omit<ChunkTotals, 'n'>): ChunkTotals {
  const { nChannels: C } = folds[0].dims;
  const P = folds[0].sy.length;
  const nt = t1 - t0;
  const tot: ChunkTotals = {
    n: 0,
    sx: buffers.sx.subarray(0, nt * C).fill(0),
    sxx: buffers.sxx.subarray(0, nt * C * C).fill(0),
    sy: buffers.sy.fill(0),
    syy: buffers.syy.fill(0),
    sxy: buffers.sxy.subarray(0, nt * C * P).fill(0),
  };
  folds.forEach((f, i) => {
    tot.n += f.n;
    addSlice(tot.sx, f.sx, t0 * C);
    for (let t = t0; t < t1; t++) addSlice(tot.sxx.subarray((t - t0) * C * C, (t - t0 + 1) * C * C), sxxOf(i, t), 0);
    addSlice(tot.sxy, f.sxy, t0 * C * P);
    addSlice(tot.sy, f.sy, 0);
    addSlice(tot.syy, f.syy, 0);
  });
  return tot;
}

function addSlice(target: Float64Array, source: Float64Array, offset: number): void {
  for (let i = 0; i < target.length; i++) target[i] += source[offset + i];
}

/** One job's training set at its time sample: means, the global z-scoring scale, and where its sums come from. */
interface TrainingSet {
  n: number;
  /** Training mean of x, raw, [C] */
  mx: Float64Array;
  /** Training mean of y, [P] */
  my: Float64Array;
  /** Global (all words) standard deviation per channel at this t, [C] — StandardScaler's scale. */
  sd: Float64Array;
  /** Raw Σy² over training words, [P] */
  syy: Float64Array;
  /** The sums are the chunk totals at local index `lt` minus the `without` folds at time `t`. */
  totals: ChunkTotals;
  lt: number;
  t: number;
  without: readonly SufficientStats[];
  /** Full-square Σxxᵀ of the `without` folds at time t. */
  withoutSxx: readonly Float64Array[];
}

function trainingSet(folds: readonly SufficientStats[], tot: ChunkTotals, job: Job, t0: number, sxxOf: FoldSxx): TrainingSet {
  return trainingWithout(folds, tot, job.t, t0, job.fold >= 0 ? [job.fold] : [], sxxOf);
}

/** Training set at time t over all words except those of the `without` folds. */
function trainingWithout(folds: readonly SufficientStats[], tot: ChunkTotals, t: number, t0: number, without: readonly number[], sxxOf: FoldSxx): TrainingSet {
  const { nChannels: C } = folds[0].dims;
  const P = folds[0].sy.length;
  const lt = t - t0;
  const held = without.map((f) => folds[f]);
  const n = tot.n - held.reduce((a, f) => a + f.n, 0);
  const sd = new Float64Array(C);
  const mx = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const mean = tot.sx[lt * C + c] / tot.n;
    const v = tot.sxx[(lt * C + c) * C + c] / tot.n - mean * mean;
    // StandardScaler leaves zero-variance features unscaled.
    sd[c] = v > 0 ? Math.sqrt(v) : 1;
    let sx = tot.sx[lt * C + c];
    for (const h of held) sx -= h.sx[t * C + c];
    mx[c] = sx / n;
  }
  const my = new Float64Array(P);
  const syy = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    let sy = tot.sy[p];
    let s2 = tot.syy[p];
    for (const h of held) {
      sy -= h.sy[p];
      s2 -= h.syy[p];
    }
    my[p] = sy / n;
    syy[p] = s2;
  }
  return { n, mx, my, sd, syy, totals: tot, lt, t, without: held, withoutSxx: without.map((f) => sxxOf(f, t)) };
}

/**
 * Centred training scatter in z-units, straight from the sums:
 * S = D⁻¹(Σxxᵀ − n m mᵀ)D⁻¹, Sxy = D⁻¹(Σxyᵀ − n m_x m_yᵀ), Syy = Σy² − n m_y².
 */
function zScatter(tr: TrainingSet, C: number, P: number, S: Float64Array, Sxy: Float64Array, Syy: Float64Array): void {
  const { n, mx, my, sd, totals, lt, t, without, withoutSxx } = tr;
  const totXX = totals.sxx.subarray(lt * C * C, (lt + 1) * C * C);
  const totXY = totals.sxy.subarray(lt * C * P, (lt + 1) * C * P);
  const invSd = new Float64Array(C);
  for (let i = 0; i < C; i++) invSd[i] = 1 / sd[i];
  if (without.length > 2) throw new Error('zScatter: at most two held-out folds');
  // Training sums = totals − held folds, then centred and scaled, in one pass per row.
  const h0 = withoutSxx[0];
  const h1 = withoutSxx[1];
  const y0 = without[0]?.sxy.subarray(t * C * P, (t + 1) * C * P);
  const y1 = without[1]?.sxy.subarray(t * C * P, (t + 1) * C * P);
  for (let i = 0; i < C; i++) {
    const inv = invSd[i];
    const nmi = n * mx[i];
    const row = i * C;
    for (let j = 0; j < C; j++) {
      let v = totXX[row + j];
      if (h0) v -= h0[row + j];
      if (h1) v -= h1[row + j];
      S[row + j] = (v - nmi * mx[j]) * inv * invSd[j];
    }
    const rowY = i * P;
    for (let p = 0; p < P; p++) {
      let v = totXY[rowY + p];
      if (y0) v -= y0[rowY + p];
      if (y1) v -= y1[rowY + p];
      Sxy[rowY + p] = (v - nmi * my[p]) * inv;
    }
  }
  for (let p = 0; p < P; p++) Syy[p] = tr.syy[p] - n * my[p] * my[p];
}

function clampNonNegative(values: Float64Array): void {
  // Rounding can leave tiny negative eigenvalues on rank-deficient scatter; they are zero.
  for (let i = 0; i < values.length; i++) if (values[i] < 0) values[i] = 0;
}

/**
 * GCV per target: RSS(α) / (n − 1 − df(α))², with RSS(α) = Syy − Σᵢ qᵢ²(sᵢ+2α)/(sᵢ+α)² and
 * df(α) = Σᵢ sᵢ/(sᵢ+α) (the 1 is the intercept). All targets and α at once as one product per job.
 */
async function gcvSelect(backend: LinalgBackend, s: Float64Array, Qp: Float64Array, Syy: Float64Array, nTrain: number[], C: number, P: number, alphas: readonly number[], chosen: Uint8Array, scratch: Float64Array): Promise<void> {
  const J = nTrain.length;
  const A = alphas.length;
  const Q2 = scratch.subarray(0, Qp.length);
  for (let i = 0; i < Qp.length; i++) Q2[i] = Qp[i] * Qp[i];
  const U = new Float64Array(J * C * A); // [job][i][α] = (s+2α)/(s+α)²
  const df = new Float64Array(J * A);
  for (let j = 0; j < J; j++) {
    for (let i = 0; i < C; i++) {
      const si = s[j * C + i];
      for (let a = 0; a < A; a++) {
        const al = alphas[a];
        U[(j * C + i) * A + a] = (si + 2 * al) / ((si + al) * (si + al));
        df[j * A + a] += si / (si + al);
      }
    }
  }
  const explained = await backend.matmul(Q2, U, { batch: J, m: P, k: C, n: A }, { transA: true }); // [job][target][α]
  for (let j = 0; j < J; j++) {
    for (let p = 0; p < P; p++) {
      let best = 0;
      let bestScore = Infinity;
      for (let a = 0; a < A; a++) {
        const rss = Math.max(0, Syy[j * P + p] - explained[(j * P + p) * A + a]);
        const dof = nTrain[j] - 1 - df[j * A + a];
        const score = dof > 0 ? rss / (dof * dof) : Infinity;
        if (score < bestScore) {
          bestScore = score;
          best = a;
        }
      }
      chosen[j * P + p] = best;
    }
  }
}

/** Held-out fold's scatter around the training mean, z-units: D⁻¹ Σ(x−m)(x−m)ᵀ D⁻¹. */
function heldOutScatter(held: SufficientStats, sxx: Float64Array, tr: TrainingSet, t: number, B: Float64Array): void {
  const C = tr.mx.length;
  const { mx, sd } = tr;
  const n = held.n;
  const sx = held.sx.subarray(t * C, (t + 1) * C);
  const invSd = new Float64Array(C);
  for (let i = 0; i < C; i++) invSd[i] = 1 / sd[i];
  for (let i = 0; i < C; i++) {
    const sxi = sx[i];
    const mxi = mx[i];
    const nmi = n * mxi;
    const inv = invSd[i];
    const row = i * C;
    for (let j = 0; j < C; j++) B[row + j] = (sxx[row + j] - sxi * mx[j] - mxi * sx[j] + nmi * mx[j]) * inv * invSd[j];
  }
}

/**
 * Closed-form held-out Pearson r per target (method.md §7), with predictions centred on the
 * training mean: ŷ' = ((x − m_x)/sd)ᵀ w, which leaves r unchanged and limits cancellation.
 * A target whose prediction is constant on the held-out fold gets r = 0.
 */
function heldOutPearson(held: SufficientStats, tr: TrainingSet, t: number, W: Float64Array, BW: Float64Array, out: Float64Array): void {
  const C = tr.mx.length;
  const P = out.length;
  const { mx, sd } = tr;
  const n = held.n;
  const dz = new Float64Array(C);
  for (let c = 0; c < C; c++) dz[c] = (held.sx[t * C + c] - n * mx[c]) / sd[c];
  const sumYhat = new Float64Array(P);
  const sumYhat2 = new Float64Array(P);
  const sumYhatY = new Float64Array(P);
  const sxy = held.sxy.subarray(t * C * P, (t + 1) * C * P);
  for (let c = 0; c < C; c++) {
    const row = c * P;
    const d = dz[c];
    const m = mx[c];
    const inv = 1 / sd[c];
    for (let p = 0; p < P; p++) {
      const w = W[row + p];
      sumYhat[p] += w * d;
      sumYhat2[p] += w * BW[row + p];
      sumYhatY[p] += w * (sxy[row + p] - m * held.sy[p]) * inv;
    }
  }
  for (let p = 0; p < P; p++) {
    const sy = held.sy[p];
    const vy = held.syy[p] - (sy * sy) / n;
    const vh = sumYhat2[p] - (sumYhat[p] * sumYhat[p]) / n;
    const cov = sumYhatY[p] - (sumYhat[p] * sy) / n;
    out[p] = vy > 0 && vh > 0 ? cov / Math.sqrt(vy * vh) : 0;
  }
}

/** Converts z-space weights to raw-unit weights and intercept: W = D⁻¹Wz, b = m_y − m_xᵀW. */
function rawModel(tr: TrainingSet, Wz: Float64Array, W: Float64Array, b: Float64Array): void {
  const C = tr.mx.length;
  const P = b.length;
  for (let p = 0; p < P; p++) b[p] = tr.my[p];
  for (let c = 0; c < C; c++) {
    const inv = 1 / tr.sd[c];
    for (let p = 0; p < P; p++) {
      const w = Wz[c * P + p] * inv;
      W[c * P + p] = w;
      b[p] -= tr.mx[c] * w;
    }
  }
}

/**
 * Inner K-fold α selection. For outer fold o, α per target minimises the summed held-out squared
 * error of models trained on all folds but {o, g} and tested on g, over g ≠ o. The training set
 * "all but {a, b}" serves outer fold a (tested on b) and outer fold b (tested on a), so each time
 * sample needs K(K−1)/2 extra eigendecompositions. The full model's α comes from the outer folds
 * themselves (trained on all but g, tested on g).
 */
async function innerKfoldSelect(
  backend: LinalgBackend,
  folds: readonly SufficientStats[],
  totals: ChunkTotals,
  t0: number,
  jobs: readonly Job[],
  train: readonly TrainingSet[],
  eig: { values: Float64Array; vectors: Float64Array },
  Qp: Float64Array,
  alphas: readonly number[],
  chosen: Uint8Array,
  sxxOf: FoldSxx,
): Promise<void> {
  const { nChannels: C } = folds[0].dims;
  const P = folds[0].sy.length;
  const K = folds.length;
  const A = alphas.length;
  const times = [...new Set(jobs.map((j) => j.t))];
  const pairs: PairJob[] = [];
  for (const t of times) for (let a = 0; a < K; a++) for (let b = a + 1; b < K; b++) pairs.push({ t, a, b });
  const pairTrain = pairs.map((pj) => trainingWithout(folds, totals, pj.t, t0, [pj.a, pj.b], sxxOf));
  const S = new Float64Array(pairs.length * C * C);
  const Sxy = new Float64Array(pairs.length * C * P);
  const Syy = new Float64Array(pairs.length * P);
  pairTrain.forEach((tr, j) => zScatter(tr, C, P, S.subarray(j * C * C, (j + 1) * C * C), Sxy.subarray(j * C * P, (j + 1) * C * P), Syy.subarray(j * P, (j + 1) * P)));
  const pairEig = await backend.symEig(S, C, pairs.length);
  clampNonNegative(pairEig.values);
  const pairQp = await backend.matmul(pairEig.vectors, Sxy, { batch: pairs.length, m: C, k: C, n: P }, { transA: true });
  // sse[(t, outer fold)] and, for the full model, sseFull[t]: [target][α]
  const sse = new Map<string, Float64Array>();
  const acc = (key: string, add: Float64Array) => {
    const cur = sse.get(key);
    if (!cur) sse.set(key, add);
    else for (let i = 0; i < cur.length; i++) cur[i] += add[i];
  };
  for (let j = 0; j < pairs.length; j++) {
    const { t, a, b } = pairs[j];
    const basis = slices(pairEig, pairQp, j, C, P);
    acc(`${t}:${a}`, await heldOutSse(backend, folds[b], sxxOf(b, t), pairTrain[j], t, basis, alphas));
    acc(`${t}:${b}`, await heldOutSse(backend, folds[a], sxxOf(a, t), pairTrain[j], t, basis, alphas));
  }
  for (let j = 0; j < jobs.length; j++) {
    const job = jobs[j];
    if (job.fold < 0 || !jobs.some((x) => x.t === job.t && x.fold < 0)) continue;
    acc(`${job.t}:full`, await heldOutSse(backend, folds[job.fold], sxxOf(job.fold, job.t), train[j], job.t, slices(eig, Qp, j, C, P), alphas));
  }
  for (let j = 0; j < jobs.length; j++) {
    const job = jobs[j];
    const total = sse.get(`${job.t}:${job.fold < 0 ? 'full' : job.fold}`)!;
    for (let p = 0; p < P; p++) {
      let best = 0;
      for (let a = 1; a < A; a++) if (total[p * A + a] < total[p * A + best]) best = a;
      chosen[j * P + p] = best;
    }
  }
}

interface EigBasis {
  s: Float64Array;
  V: Float64Array;
  Qp: Float64Array;
}

function slices(eig: { values: Float64Array; vectors: Float64Array }, Qp: Float64Array, j: number, C: number, P: number): EigBasis {
  return { s: eig.values.subarray(j * C, (j + 1) * C), V: eig.vectors.subarray(j * C * C, (j + 1) * C * C), Qp: Qp.subarray(j * C * P, (j + 1) * C * P) };
}

/**
 * Held-out squared error of the model trained on `tr` (eigenbasis `e`) on fold `held`, for every
 * target and α: [target][α]. With M_α = diag(1/(s+α)) Q′ and Ã = VᵀBV, Σŷ′² = diag(M_αᵀ Ã M_α).
 */
async function heldOutSse(backend: LinalgBackend, held: SufficientStats, heldSxx: Float64Array, tr: TrainingSet, t: number, e: EigBasis, alphas: readonly number[]): Promise<Float64Array> {
  const C = tr.mx.length;
  const P = tr.my.length;
  const A = alphas.length;
  const n = held.n;
  const B = new Float64Array(C * C);
  heldOutScatter(held, heldSxx, tr, t, B);
  const BV = await backend.matmul(B, e.V, { batch: 1, m: C, k: C, n: C });
  const At = await backend.matmul(e.V, BV, { batch: 1, m: C, k: C, n: C }, { transA: true });
  // E = D⁻¹(Σxyᵀ − m_x Σyᵀ) and d = D⁻¹(Σx − n m_x) on the held-out fold, rotated into the basis.
  const E = new Float64Array(C * P);
  const d = new Float64Array(C);
  const sxy = held.sxy.subarray(t * C * P, (t + 1) * C * P);
  for (let c = 0; c < C; c++) {
    d[c] = (held.sx[t * C + c] - n * tr.mx[c]) / tr.sd[c];
    for (let p = 0; p < P; p++) E[c * P + p] = (sxy[c * P + p] - tr.mx[c] * held.sy[p]) / tr.sd[c];
  }
  const Et = await backend.matmul(e.V, E, { batch: 1, m: C, k: C, n: P }, { transA: true });
  const dt = new Float64Array(C);
  for (let i = 0; i < C; i++) for (let c = 0; c < C; c++) dt[i] += e.V[c * C + i] * d[c];
  const M = new Float64Array(C * A * P); // [i][α][target]
  for (let i = 0; i < C; i++) {
    for (let a = 0; a < A; a++) {
      const g = 1 / (e.s[i] + alphas[a]);
      const row = (i * A + a) * P;
      for (let p = 0; p < P; p++) M[row + p] = g * e.Qp[i * P + p];
    }
  }
  const AM = await backend.matmul(At, M, { batch: 1, m: C, k: C, n: A * P });
  const out = new Float64Array(P * A);
  const quad = new Float64Array(A * P);
  const lin = new Float64Array(A * P); // Σ y ŷ′
  const sum = new Float64Array(A * P); // Σ ŷ′
  for (let i = 0; i < C; i++) {
    for (let a = 0; a < A; a++) {
      const row = (i * A + a) * P;
      for (let p = 0; p < P; p++) {
        const m = M[row + p];
        quad[a * P + p] += m * AM[row + p];
        lin[a * P + p] += m * Et[i * P + p];
        sum[a * P + p] += m * dt[i];
      }
    }
  }
  for (let p = 0; p < P; p++) {
    const my = tr.my[p];
    const syyC = held.syy[p] - 2 * my * held.sy[p] + n * my * my; // Σ(y − m_y)²
    for (let a = 0; a < A; a++) {
      const cross = lin[a * P + p] - my * sum[a * P + p]; // Σ(y − m_y)ŷ′
      out[p * A + a] = syyC - 2 * cross + quad[a * P + p];
    }
  }
  return out;
}
