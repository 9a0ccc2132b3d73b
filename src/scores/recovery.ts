/**
 * How well a decoded Tmax profile recovers the latencies a simulation planted: the ground-truth
 * check of a simulated subject (demo, simulate → replay), reported beside the temporal score so a
 * control can be judged by whether the decoder follows the brain (e.g. `--shuffle`: Tmax should
 * follow the shuffled latencies, whatever their relation to depth).
 *
 * Owns: the comparison. Must not: know where the latencies came from.
 */
import { pearson } from './pearson.js';

export interface PlantedRecovery {
  /** Pearson r between decoded Tmax and planted latency over the layers (null when either is constant). */
  r: number | null;
  /** Decoded Tmax − planted latency per layer, seconds. */
  errorsSec: number[];
  maxAbsErrorSec: number;
}

/** null when nothing was planted (a NaN latency: the null control) or the lengths differ. */
export function plantedRecovery(tmax: readonly number[], plantedSec: readonly number[]): PlantedRecovery | null {
  if (tmax.length === 0 || tmax.length !== plantedSec.length) return null;
  if (![...tmax, ...plantedSec].every(Number.isFinite)) return null;
  const errorsSec = tmax.map((t, l) => t - plantedSec[l]);
  const r = pearson(tmax, plantedSec);
  return { r: Number.isFinite(r) ? r : null, errorsSec, maxAbsErrorSec: Math.max(...errorsSec.map(Math.abs)) };
}
