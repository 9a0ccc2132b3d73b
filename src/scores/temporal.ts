/**
 * The temporal score of method.md §5: per layer, the latency Tmax of the decoding curve's peak
 * region; across layers, the Pearson r of Tmax against relative depth (with its t-test p-value);
 * and the alignment score (peak decoding R over time at the best layer). Pure functions of one
 * score matrix R; fold-level uncertainty is foldCI.ts's concern.
 */
import { pearson } from './pearson.js';
import { pearsonPValue } from './studentT.js';

/** Paper threshold: a sample belongs to the peak region when R(t)/max R ≥ 0.95. */
export const DEFAULT_TMAX_THRESHOLD = 0.95;

/** The temporal score of one R matrix. */
export interface TemporalScore {
  /** Per layer, seconds: the peak latency Tmax (see `tmaxOf`). NaN for an all-NaN curve. */
  tmax: number[];
  /** Pearson r of Tmax against relative depth; NaN when Tmax (or depth) is constant. */
  r: number;
  /** Two-sided p-value of r, t-distribution with df = L − 2; NaN when r is NaN or L < 3. */
  p: number;
  /** Degrees of freedom of the test, L − 2. */
  df: number;
  /** Peak R over all layers and times (= peak over time at the best layer); NaN if no finite R. */
  alignmentScore: number;
  /** Layer holding that peak (first in layer-major order on ties); −1 if no finite R. */
  bestLayer: number;
  /** Time of that peak, seconds; NaN if no finite R. */
  peakTime: number;
}

/**
 * Peak latency of one decoding curve (paper definition): normalise by the curve's maximum and
 * average the times whose normalised score is ≥ `threshold`.
 *
 * Several separate peaks above the threshold are averaged together, as the paper's definition
 * implies (Tmax then falls between them). NaN samples never qualify and are ignored when taking
 * the maximum.
 *
 * When the maximum is ≤ 0 (or +Infinity) dividing by it does not normalise anything (for a
 * negative maximum the inequality would flip and select the *lowest* samples), so the time of
 * the maximum itself is returned instead (the first one on ties).
 *
 * @param curve R(t), one value per time sample
 * @param times sample times in seconds, same length as `curve`
 * @param threshold fraction of the maximum defining the peak region, in (0, 1], default 0.95
 * @returns Tmax in the units of `times`; NaN when the curve has no non-NaN value
 * @throws RangeError when the lengths differ or the threshold is outside (0, 1]
 */
export function tmaxOf(curve: ArrayLike<number>, times: ArrayLike<number>, threshold: number = DEFAULT_TMAX_THRESHOLD): number {
  if (times.length !== curve.length) throw new RangeError(`tmaxOf: curve has ${curve.length} samples but times has ${times.length}`);
  checkThreshold(threshold);
  return tmaxAt(curve, 0, times, threshold);
}

function checkThreshold(threshold: number): void {
  // Above 1 no sample qualifies (not even the maximum); at or below 0 every sample does.
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`Tmax threshold must be in (0, 1], got ${threshold}`);
}

/** Tmax of the curve R[offset … offset + times.length), read in place (no copy per layer). */
function tmaxAt(R: ArrayLike<number>, offset: number, times: ArrayLike<number>, threshold: number): number {
  const n = times.length;
  let max = -Infinity;
  let argmax = -1;
  for (let i = 0; i < n; i++) {
    const v = R[offset + i];
    if (v > max || (argmax < 0 && v === -Infinity)) {
      max = v;
      argmax = i;
    }
  }
  if (argmax < 0) return NaN;
  if (!(max > 0) || !Number.isFinite(max)) return times[argmax];
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (R[offset + i] / max >= threshold) {
      sum += times[i];
      count++;
    }
  }
  return sum / count; // count ≥ 1: the maximum itself qualifies for any threshold ≤ 1
}

/**
 * Temporal score, alignment score and best layer of a decoding-score matrix.
 *
 * @param R decoding scores, flat [layer][time] (length nLayers × times.length)
 * @param nLayers number of layers L
 * @param times sample times in seconds (the curves' time axis)
 * @param depths relative depth of each layer, length L
 * @param threshold Tmax threshold in (0, 1], default 0.95 (paper)
 * @returns see `TemporalScore`
 * @throws RangeError on inconsistent sizes or a threshold outside (0, 1]
 */
export function temporalScore(
  R: ArrayLike<number>,
  nLayers: number,
  times: ArrayLike<number>,
  depths: ArrayLike<number>,
  threshold: number = DEFAULT_TMAX_THRESHOLD,
): TemporalScore {
  const T = times.length;
  if (!Number.isInteger(nLayers) || nLayers < 1) throw new RangeError(`temporalScore: nLayers must be a positive integer, got ${nLayers}`);
  if (R.length !== nLayers * T) throw new RangeError(`temporalScore: R has ${R.length} values, expected ${nLayers} layers × ${T} times`);
  if (depths.length !== nLayers) throw new RangeError(`temporalScore: ${depths.length} depths for ${nLayers} layers`);
  checkThreshold(threshold);
  const tmax: number[] = new Array(nLayers);
  let alignmentScore = -Infinity;
  let best = -1;
  for (let l = 0; l < nLayers; l++) {
    tmax[l] = tmaxAt(R, l * T, times, threshold);
    for (let t = 0; t < T; t++) {
      const v = R[l * T + t];
      if (v > alignmentScore || (best < 0 && v === -Infinity)) {
        alignmentScore = v;
        best = l * T + t;
      }
    }
  }
  // NaN Tmax (an all-NaN layer) propagates into r and p rather than being silently dropped.
  const r = pearson(tmax, depths);
  const df = nLayers - 2;
  return {
    tmax,
    r,
    p: pearsonPValue(r, nLayers),
    df,
    alignmentScore: best < 0 ? NaN : alignmentScore,
    bestLayer: best < 0 ? -1 : Math.floor(best / T),
    peakTime: best < 0 ? NaN : times[best % T],
  };
}
