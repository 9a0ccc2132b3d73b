/**
 * Adds words to per-fold sufficient statistics in batches, so that the heavy sums (Σxxᵀ per time
 * sample, Σxyᵀ for all time samples at once) run as matrix products on a linear-algebra backend.
 *
 * Batches are cut at fixed word counts (`batchWords`) and at explicit flushes; with a fixed flush
 * schedule the sums are reproducible bit for bit, which the checkpoint relies on: unflushed words
 * are saved raw rather than flushed early.
 *
 * Owns: the pending buffer and the order of additions. Must not: validate user input (the decoder does).
 */
import type { LinalgBackend } from '../linalg/backend.js';
import { nTargets, type DecoderDims } from '../types.js';
import { emptyStats, type SufficientStats } from './sufficientStats.js';

export interface PendingWords {
  /** [word][time][channel] */
  x: Float64Array;
  /** [word][target] */
  y: Float64Array;
  /** [word] outer fold */
  fold: Int32Array;
  count: number;
}

export class StatsAccumulator {
  readonly folds: SufficientStats[];
  readonly pending: PendingWords;
  private readonly xT: Float64Array;

  constructor(
    readonly dims: DecoderDims,
    nFolds: number,
    readonly batchWords: number,
  ) {
    this.folds = Array.from({ length: nFolds }, () => emptyStats(dims));
    const { nChannels: C, nTimes: T } = dims;
    const P = nTargets(dims);
    this.pending = { x: new Float64Array(batchWords * T * C), y: new Float64Array(batchWords * P), fold: new Int32Array(batchWords), count: 0 };
    this.xT = new Float64Array(batchWords * T * C);
  }

  get isFull(): boolean {
    return this.pending.count >= this.batchWords;
  }

  /**
   * Queues one word. `epoch` is [channel][time] (it is transposed here to [time][channel]).
   * The caller flushes when `isFull`.
   */
  push(epoch: ArrayLike<number>, y: ArrayLike<number>, fold: number): void {
    const { nChannels: C, nTimes: T } = this.dims;
    const P = nTargets(this.dims);
    const w = this.pending.count;
    if (w >= this.batchWords) throw new Error('StatsAccumulator.push: buffer full; flush first');
    const xo = w * T * C;
    for (let c = 0; c < C; c++) {
      const row = c * T;
      for (let t = 0; t < T; t++) this.pending.x[xo + t * C + c] = epoch[row + t];
    }
    const yo = w * P;
    for (let p = 0; p < P; p++) this.pending.y[yo + p] = y[p];
    this.pending.fold[w] = fold;
    this.pending.count = w + 1;
  }

  /**
   * The pending words laid out [time][word][channel] (the per-time-sample design matrices), for the
   * prequential predictions that must happen before the words are added.
   */
  pendingByTime(): Float64Array {
    const { nChannels: C, nTimes: T } = this.dims;
    const W = this.pending.count;
    const out = this.xT.subarray(0, T * W * C);
    for (let w = 0; w < W; w++) {
      for (let t = 0; t < T; t++) {
        const src = (w * T + t) * C;
        const dst = (t * W + w) * C;
        for (let c = 0; c < C; c++) out[dst + c] = this.pending.x[src + c];
      }
    }
    return out;
  }

  /** Adds all pending words to their folds' statistics and empties the buffer. */
  async flush(backend: LinalgBackend): Promise<void> {
    const W = this.pending.count;
    if (W === 0) return;
    const { nChannels: C, nTimes: T } = this.dims;
    const P = nTargets(this.dims);
    // Words of one fold are contiguous runs in arrival order; each run is one product per statistic.
    let start = 0;
    while (start < W) {
      const fold = this.pending.fold[start];
      let end = start + 1;
      while (end < W && this.pending.fold[end] === fold) end++;
      await this.addRun(backend, this.folds[fold], start, end, C, T, P);
      start = end;
    }
    this.pending.count = 0;
  }

  private async addRun(backend: LinalgBackend, stats: SufficientStats, start: number, end: number, C: number, T: number, P: number): Promise<void> {
    const k = end - start;
    const x = this.pending.x.subarray(start * T * C, end * T * C); // [word][time·channel]
    const y = this.pending.y.subarray(start * P, end * P); // [word][target]
    // Σxyᵀ for all time samples in one product: (words × T·C)ᵀ (words × P).
    await backend.accumulateCross(x, y, { batch: 1, k, m: T * C, n: P }, stats.sxy);
    // Σxxᵀ per time sample: batch over time of (words × C)ᵀ (words × C).
    const byTime = this.xT.subarray(0, T * k * C);
    for (let w = 0; w < k; w++) {
      for (let t = 0; t < T; t++) {
        const src = ((start + w) * T + t) * C;
        const dst = (t * k + w) * C;
        for (let c = 0; c < C; c++) byTime[dst + c] = this.pending.x[src + c];
      }
    }
    await backend.accumulateCross(byTime, byTime, { batch: T, k, m: C, n: C }, stats.sxx);
    for (let w = 0; w < k; w++) {
      const xo = w * T * C;
      for (let i = 0; i < T * C; i++) stats.sx[i] += x[xo + i];
      const yo = w * P;
      for (let p = 0; p < P; p++) {
        const v = y[yo + p];
        stats.sy[p] += v;
        stats.syy[p] += v * v;
      }
    }
    stats.n += k;
  }
}
