/**
 * The rolling ("prequential", test-then-train) score: every word is predicted by the current
 * models before it is added to the statistics, and running Pearson sums per (time, target) compare
 * predictions with the truth. With a half-life (in words) older words are forgotten exponentially,
 * giving a sliding-window view; without one it is the cumulative prequential r.
 *
 * Owns: the decayed sums. Must not: fit models (the refit does) or decide when to predict.
 */
import { nTargets, type DecoderDims } from '../types.js';
import { float64Array, type ArrayMemory } from './sufficientStats.js';

export const PREQUENTIAL_SUMS = ['w', 'sh', 'sy', 'shh', 'syy', 'shy'] as const;

export class PrequentialScorer {
  /** Each [time][target]: total weight, Σŷ, Σy, Σŷ², Σy², Σŷy (all decayed). */
  readonly sums: Record<(typeof PREQUENTIAL_SUMS)[number], Float64Array>;
  /** Words scored so far (undecayed count). */
  scored = 0;
  private readonly decay: number;

  constructor(
    readonly dims: DecoderDims,
    readonly halfLifeWords: number | null,
    memory: ArrayMemory = 'local',
  ) {
    const size = dims.nTimes * nTargets(dims);
    const a = () => float64Array(size, memory);
    this.sums = { w: a(), sh: a(), sy: a(), shh: a(), syy: a(), shy: a() };
    if (halfLifeWords !== null && !(halfLifeWords > 0)) throw new RangeError(`half-life must be > 0 words, got ${halfLifeWords}`);
    this.decay = halfLifeWords === null ? 1 : 0.5 ** (1 / halfLifeWords);
  }

  /** A scorer over existing sums (e.g. shared memory filled by another thread's scorer). */
  static over(dims: DecoderDims, halfLifeWords: number | null, sums: PrequentialScorer['sums']): PrequentialScorer {
    const s = new PrequentialScorer(dims, halfLifeWords);
    Object.assign(s.sums, sums);
    return s;
  }

  /**
   * Scores a batch of W words in arrival order.
   * @param yhat predictions [time][word][target]
   * @param y truth [word][target]
   */
  update(yhat: Float64Array, y: Float64Array, W: number): void {
    this.updateTimes(yhat, y, W, 0, this.dims.nTimes);
    this.scored += W;
  }

  /**
   * The sums of time samples [t0, t1) only, for a batch of W words (the caller counts the words
   * once with `scored += W`). Time samples are independent, so disjoint ranges may be updated by
   * different threads (on shared sums) with the same result as one `update`.
   * @param yhat predictions [time − t0][word][target]
   */
  updateTimes(yhat: Float64Array, y: Float64Array, W: number, t0: number, t1: number): void {
    const P = nTargets(this.dims);
    const { w: sw, sh, sy, shh, syy, shy } = this.sums;
    // Word i of the batch ends up decayed W−1−i times; the old sums W times.
    const old = this.decay ** W;
    const weights = Array.from({ length: W }, (_, i) => this.decay ** (W - 1 - i));
    for (let t = t0; t < t1; t++) {
      const row = t * P;
      if (old !== 1) {
        for (let p = 0; p < P; p++) {
          sw[row + p] *= old;
          sh[row + p] *= old;
          sy[row + p] *= old;
          shh[row + p] *= old;
          syy[row + p] *= old;
          shy[row + p] *= old;
        }
      }
      for (let i = 0; i < W; i++) {
        const g = weights[i];
        const ho = ((t - t0) * W + i) * P;
        const yo = i * P;
        for (let p = 0; p < P; p++) {
          const h = yhat[ho + p];
          const v = y[yo + p];
          sw[row + p] += g;
          sh[row + p] += g * h;
          sy[row + p] += g * v;
          shh[row + p] += g * h * h;
          syy[row + p] += g * v * v;
          shy[row + p] += g * h * v;
        }
      }
    }
  }

  /** Weighted Pearson r per (time, target), [time][target]; 0 where undefined. */
  targetR(): Float64Array {
    const size = this.sums.w.length;
    const out = new Float64Array(size);
    const { w, sh, sy, shh, syy, shy } = this.sums;
    for (let i = 0; i < size; i++) {
      const n = w[i];
      if (!(n > 0)) continue;
      const vh = shh[i] - (sh[i] * sh[i]) / n;
      const vy = syy[i] - (sy[i] * sy[i]) / n;
      const cov = shy[i] - (sh[i] * sy[i]) / n;
      out[i] = vh > 0 && vy > 0 ? cov / Math.sqrt(vh * vy) : 0;
    }
    return out;
  }

  /** [layer][time] mean over the layer's dims of the rolling r. */
  curves(): Float64Array {
    const { nTimes: T, nLayers: L, nDims: D } = this.dims;
    const P = L * D;
    const r = this.targetR();
    const out = new Float64Array(L * T);
    for (let t = 0; t < T; t++) {
      for (let l = 0; l < L; l++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += r[t * P + l * D + d];
        out[l * T + t] = s / D;
      }
    }
    return out;
  }
}
