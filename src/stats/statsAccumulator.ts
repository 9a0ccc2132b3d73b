/**
 * Adds words to per-fold sufficient statistics in batches, so that the heavy sums (Σxxᵀ per time
 * sample, Σxyᵀ for all time samples at once) run as matrix products on a linear-algebra backend.
 *
 * Batches are cut at fixed word counts (`batchWords`) and at explicit flushes; with a fixed flush
 * schedule the sums are reproducible bit for bit, which the checkpoint relies on: unflushed words
 * are saved raw rather than flushed early. A full batch is sealed (handed over whole, a fresh
 * buffer takes its place) so that it can be added elsewhere, e.g. by worker threads, while new
 * words arrive. Adding a batch is split into parts over disjoint time samples and rows
 * (`batchParts`), each of which can run on its own thread; each element of the sums is computed
 * by the same kernel calls in the same order whatever the split, so the sums are identical bit for
 * bit however many parts there are.
 *
 * Owns: the pending buffer, the order of additions and the accumulation arithmetic (float64, or
 * float32 products of centred blocks: `mixed`). Must not: validate user input (the decoder does).
 */
import type { LinalgBackend } from '../linalg/backend.js';
import { nTargets, type DecoderDims } from '../types.js';
import { emptyStats, float64Array, type ArrayMemory, type SufficientStats } from './sufficientStats.js';

/**
 * How products are formed: `float64` throughout, or `mixed`: each fold run of a batch is centred
 * on its own mean (float64), the centred values are multiplied in float32, and the products plus
 * the exact mean terms are added into the float64 sums.
 */
export type AccumulationPrecision = 'float64' | 'mixed';
export const ACCUMULATION_PRECISIONS: readonly AccumulationPrecision[] = ['float64', 'mixed'];

export interface PendingWords {
  /** [word][time][channel] */
  x: Float64Array;
  /** [word][target] */
  y: Float64Array;
  /** [word] outer fold */
  fold: Int32Array;
  count: number;
}

/** One worker's share of adding a batch: Σxxᵀ and Σx for time samples [t0, t1), Σxyᵀ rows [r0, r1) (row = t·C + c). */
export interface BatchPart {
  t0: number;
  t1: number;
  r0: number;
  r1: number;
}

/**
 * Rows of the one Σxyᵀ product are split at multiples of this: BLAS kernels compute tiles of up to
 * 16 rows, and a split inside a tile would put rows into edge kernels that round differently.
 */
const ROW_ALIGN = 32;

/** `n` parts of about equal work (the last ones may be empty when there are more parts than time samples). */
export function batchParts(dims: DecoderDims, n: number): BatchPart[] {
  const { nTimes: T, nChannels: C } = dims;
  const rows = T * C;
  const parts: BatchPart[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Math.round((i * T) / n);
    const t1 = Math.round(((i + 1) * T) / n);
    const r0 = i === 0 ? 0 : Math.min(rows, Math.round((i * rows) / n / ROW_ALIGN) * ROW_ALIGN);
    const r1 = i === n - 1 ? rows : Math.min(rows, Math.round(((i + 1) * rows) / n / ROW_ALIGN) * ROW_ALIGN);
    parts.push({ t0, t1, r0, r1: Math.max(r0, r1) });
  }
  return parts;
}

/** Contiguous runs of words of one fold, in arrival order: each run is one product per statistic. */
export function foldRuns(batch: PendingWords): { fold: number; start: number; end: number }[] {
  const runs: { fold: number; start: number; end: number }[] = [];
  let start = 0;
  while (start < batch.count) {
    const fold = batch.fold[start];
    let end = start + 1;
    while (end < batch.count && batch.fold[end] === fold) end++;
    runs.push({ fold, start, end });
    start = end;
  }
  return runs;
}

export class StatsAccumulator {
  readonly folds: SufficientStats[];
  /** The open batch: words pushed and not yet sealed. */
  pending: PendingWords;
  /** Buffers of batches that were added, ready for reuse. */
  private spare: PendingWords[] = [];

  constructor(
    readonly dims: DecoderDims,
    nFolds: number,
    readonly batchWords: number,
    readonly memory: ArrayMemory = 'local',
  ) {
    this.folds = Array.from({ length: nFolds }, () => emptyStats(dims, memory));
    this.pending = this.newBuffer();
  }

  get isFull(): boolean {
    return this.pending.count >= this.batchWords;
  }

  private newBuffer(): PendingWords {
    const { nChannels: C, nTimes: T } = this.dims;
    const P = nTargets(this.dims);
    const B = this.batchWords;
    const fold = this.memory === 'shared' ? new Int32Array(new SharedArrayBuffer(4 * B)) : new Int32Array(B);
    return { x: float64Array(B * T * C, this.memory), y: float64Array(B * P, this.memory), fold, count: 0 };
  }

  /**
   * Queues one word. `epoch` is [channel][time] (it is transposed here to [time][channel]).
   * The caller seals (or flushes) when `isFull`.
   */
  push(epoch: ArrayLike<number>, y: ArrayLike<number>, fold: number): void {
    const { nChannels: C, nTimes: T } = this.dims;
    const P = nTargets(this.dims);
    const w = this.pending.count;
    if (w >= this.batchWords) throw new Error('StatsAccumulator.push: buffer full; flush first');
    const xo = w * T * C;
    const x = this.pending.x;
    // Sequential writes, strided reads: ~10 % faster than the other order into shared memory.
    for (let t = 0; t < T; t++) {
      const o = xo + t * C;
      for (let c = 0; c < C; c++) x[o + c] = epoch[c * T + t];
    }
    const yo = w * P;
    for (let p = 0; p < P; p++) this.pending.y[yo + p] = y[p];
    this.pending.fold[w] = fold;
    this.pending.count = w + 1;
  }

  /** Hands over the pending words as a batch of their own and starts an empty one; give the batch back with `recycle` once added. */
  seal(): PendingWords {
    const batch = this.pending;
    this.pending = this.spare.pop() ?? this.newBuffer();
    this.pending.count = 0;
    return batch;
  }

  /** Takes back the buffers of a batch that has been added. */
  recycle(batch: PendingWords): void {
    batch.count = 0;
    if (this.spare.length < 2) this.spare.push(batch);
  }

  /** Adds all pending words to their folds' statistics in this thread and empties the buffer. */
  async flush(backend: LinalgBackend, precision: AccumulationPrecision = 'float64'): Promise<void> {
    if (this.pending.count === 0) return;
    const batch = this.seal();
    await accumulatePart(batch, this.folds, backend, batchParts(this.dims, 1)[0], precision);
    finishBatch(batch, this.folds);
    this.recycle(batch);
  }
}

/**
 * Adds a batch's Σxxᵀ (lower triangles) and Σx for time samples [t0, t1) and its Σxyᵀ rows
 * [r0, r1) to the folds. Parts of one batch touch disjoint elements and may run concurrently;
 * `finishBatch` adds the rest (n, Σy, Σy²) once all parts are done.
 */
export async function accumulatePart(batch: PendingWords, folds: readonly SufficientStats[], backend: LinalgBackend, part: BatchPart, precision: AccumulationPrecision): Promise<void> {
  for (const run of foldRuns(batch)) {
    if (precision === 'mixed') await addRunMixed(backend, batch, folds[run.fold], run.start, run.end, part);
    else await addRun(backend, batch, folds[run.fold], run.start, run.end, part);
  }
}

/** n, Σy and Σy² of every fold run of the batch (cheap: done once, after the parts). */
export function finishBatch(batch: PendingWords, folds: readonly SufficientStats[]): void {
  const P = folds[0].sy.length;
  for (const { fold, start, end } of foldRuns(batch)) {
    const stats = folds[fold];
    for (let w = start; w < end; w++) {
      const yo = w * P;
      for (let p = 0; p < P; p++) {
        const v = batch.y[yo + p];
        stats.sy[p] += v;
        stats.syy[p] += v * v;
      }
    }
    stats.n += end - start;
  }
}

async function addRun(backend: LinalgBackend, batch: PendingWords, stats: SufficientStats, start: number, end: number, part: BatchPart): Promise<void> {
  const { nChannels: C, nTimes: T } = stats.dims;
  const P = stats.sy.length;
  const k = end - start;
  const { t0, t1, r0, r1 } = part;
  const x0 = start * T * C; // first row of the run in [word][time·channel]
  if (r1 > r0) {
    // Σxyᵀ rows r0…r1−1: (words × rows)ᵀ (words × P), the words' rows read in place (T·C apart).
    await backend.accumulateCross(batch.x, batch.y, { batch: 1, k, m: r1 - r0, n: P }, stats.sxy.subarray(r0 * P, r1 * P), {
      aLayout: { offset: x0 + r0, ld: T * C, batchStride: 0 },
      bLayout: { offset: start * P, ld: P, batchStride: 0 },
    });
  }
  if (t1 > t0) {
    // Σxxᵀ per time sample: a rank-k update on the words' rows at that time, in place: no copies.
    const layout = { offset: x0 + t0 * C, ld: T * C, batchStride: C };
    await backend.accumulateCross(batch.x, batch.x, { batch: t1 - t0, k, m: C, n: C }, stats.sxx.subarray(t0 * C * C, t1 * C * C), { aLayout: layout, bLayout: layout, lowerOnly: true });
    const sx = stats.sx;
    for (let w = start; w < end; w++) {
      const xo = w * T * C;
      for (let i = t0 * C; i < t1 * C; i++) sx[i] += batch.x[xo + i];
    }
  }
}

/**
 * The mixed-precision run: with m the run's mean and x̃ = fl32(x − m) (likewise ỹ, m_y),
 *   Σxxᵀ = Σx̃x̃ᵀ + k·m mᵀ + m s̃ᵀ + s̃ mᵀ   and   Σxyᵀ = Σx̃ỹᵀ + k·m m_yᵀ + m s̃_yᵀ + s̃ m_yᵀ,
 * where s̃ = Σx̃ (float64). Only Σx̃x̃ᵀ and Σx̃ỹᵀ are float32 products; centring keeps their
 * terms small, so float32 rounding is relative to the spread, not to the offset of the data. The
 * mean terms go to the backend as rank-2 outer products, added in the same pass as the product.
 */
async function addRunMixed(backend: LinalgBackend, batch: PendingWords, stats: SufficientStats, start: number, end: number, part: BatchPart): Promise<void> {
  const { nChannels: C, nTimes: T } = stats.dims;
  const P = stats.sy.length;
  const k = end - start;
  // Σxyᵀ is done per time sample here, over the part's time samples rather than its rows: float32
  // GEMM kernels round differently with the number of rows in a call, and per-time calls keep
  // every element's arithmetic independent of how time samples are split over workers.
  const { t0, t1 } = part;
  const nt = t1 - t0;
  const width = nt * C;
  if (width === 0) return;
  const sum = new Float64Array(width); // Σx over the run, [time − t0][channel]
  for (let w = start; w < end; w++) {
    const xo = w * T * C + t0 * C;
    for (let i = 0; i < width; i++) sum[i] += batch.x[xo + i];
  }
  const mean = sum.map((v) => v / k);
  const xc = centredScratch(k * width); // [word][time − t0][channel]
  const sc = new Float64Array(width); // s̃
  for (let w = 0; w < k; w++) {
    const xo = (start + w) * T * C + t0 * C;
    const co = w * width;
    for (let i = 0; i < width; i++) {
      const v = Math.fround(batch.x[xo + i] - mean[i]);
      xc[co + i] = v;
      sc[i] += v;
    }
  }
  for (let i = 0; i < width; i++) stats.sx[t0 * C + i] += sum[i];
  // Σxxᵀ: k·m mᵀ + m s̃ᵀ + s̃ mᵀ = m hᵀ + h mᵀ with h = s̃ + (k/2)·m.
  const uxx = new Float64Array(nt * 2 * C); // [time][rank][channel]
  const vxx = new Float64Array(nt * 2 * C);
  for (let lt = 0; lt < nt; lt++) {
    for (let c = 0; c < C; c++) {
      const m = mean[lt * C + c];
      const h = sc[lt * C + c] + (k / 2) * m;
      uxx[(lt * 2) * C + c] = m;
      uxx[(lt * 2 + 1) * C + c] = h;
      vxx[(lt * 2) * C + c] = h;
      vxx[(lt * 2 + 1) * C + c] = m;
    }
  }
  const layout = { offset: 0, ld: width, batchStride: C };
  await backend.accumulateCross(xc, xc, { batch: nt, k, m: C, n: C }, stats.sxx.subarray(t0 * C * C, t1 * C * C), {
    aLayout: layout,
    bLayout: layout,
    lowerOnly: true,
    float32Products: true,
    outer: { rank: 2, u: uxx, v: vxx },
  });
  const my = new Float64Array(P);
  for (let w = start; w < end; w++) for (let p = 0; p < P; p++) my[p] += batch.y[w * P + p];
  for (let p = 0; p < P; p++) my[p] /= k;
  const yc = new Float32Array(k * P);
  const syc = new Float64Array(P);
  for (let w = 0; w < k; w++) {
    for (let p = 0; p < P; p++) {
      const v = Math.fround(batch.y[(start + w) * P + p] - my[p]);
      yc[w * P + p] = v;
      syc[p] += v;
    }
  }
  // Σxyᵀ: k·m m_yᵀ + m s̃_yᵀ + s̃ m_yᵀ = m (k·m_y + s̃_y)ᵀ + s̃ m_yᵀ.
  const uxy = new Float64Array(nt * 2 * C);
  for (let lt = 0; lt < nt; lt++) {
    uxy.set(mean.subarray(lt * C, (lt + 1) * C), lt * 2 * C);
    uxy.set(sc.subarray(lt * C, (lt + 1) * C), (lt * 2 + 1) * C);
  }
  const vxy = new Float64Array(2 * P);
  for (let p = 0; p < P; p++) {
    vxy[p] = k * my[p] + syc[p];
    vxy[P + p] = my[p];
  }
  await backend.accumulateCross(xc, yc, { batch: nt, k, m: C, n: P }, stats.sxy.subarray(t0 * C * P, t1 * C * P), {
    aLayout: layout,
    bLayout: { offset: 0, ld: P, batchStride: 0 },
    float32Products: true,
    outer: { rank: 2, u: uxy, v: vxy, vShared: true },
  });
}

/** The centred block's buffer, reused by this thread's runs (a batch's runs are added one at a time). */
let centred = new Float32Array(0);
function centredScratch(length: number): Float32Array {
  if (centred.length < length) centred = new Float32Array(length);
  return centred.subarray(0, length);
}
