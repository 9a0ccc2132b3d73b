/**
 * How well a decoded Tmax profile recovers the latencies a simulation planted: the ground-truth
 * check of a simulated subject (demo, simulate → replay), reported beside the temporal score so a
 * control can be judged by whether the decoder follows the brain (e.g. `--shuffle`: Tmax should
 * follow the shuffled latencies, whatever their relation to depth).
 *
 * Owns: the comparison. Must not: know where the latencies came from.
 */
import { pearson } from './pearson.js';
import { mulberry32 } from './prng.js';

export interface PlantedRecovery {
  /** Pearson r between decoded Tmax and planted latency over the layers (null when either is constant). */
  r: number | null;
  /**
   * One-sided permutation p of r: the share of the layers' orderings of the planted latencies
   * whose r with the Tmax is at least r (every ordering for up to 9 layers, else 100,000 seeded
   * ones). Small when the Tmax follow the planted latencies; null with r.
   */
  pPermutation: number | null;
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
  const ok = Number.isFinite(r);
  return { r: ok ? r : null, pPermutation: ok ? permutationP(tmax, plantedSec, r) : null, errorsSec, maxAbsErrorSec: Math.max(...errorsSec.map(Math.abs)) };
}

/** Orderings enumerated exactly up to this many layers (9! = 362,880); sampled beyond. */
const EXACT_LAYERS = 9;
const SAMPLED_ORDERINGS = 100_000;

/**
 * P(r(tmax, permuted planted) ≥ r): r's numerator Σ(t − t̄)(p − p̄) is all that changes between
 * orderings (the norms do not), so each ordering costs one dot product.
 */
function permutationP(tmax: readonly number[], planted: readonly number[], r: number): number {
  const n = tmax.length;
  const centred = (a: readonly number[]) => {
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    return a.map((v) => v - mean);
  };
  const tc = centred(tmax);
  const pc = centred(planted);
  const norm = Math.sqrt(tc.reduce((s, v) => s + v * v, 0) * pc.reduce((s, v) => s + v * v, 0));
  const threshold = r * norm - 1e-12 * norm; // ties count as at least as large
  const perm = pc.slice();
  let atLeast = 0;
  let total = 0;
  const score = () => {
    let dot = 0;
    for (let i = 0; i < n; i++) dot += tc[i] * perm[i];
    total++;
    if (dot >= threshold) atLeast++;
  };
  if (n <= EXACT_LAYERS) {
    // Heap's algorithm: every ordering once.
    const c = new Array<number>(n).fill(0);
    score();
    for (let i = 0; i < n; ) {
      if (c[i] < i) {
        const j = i % 2 === 0 ? 0 : c[i];
        [perm[j], perm[i]] = [perm[i], perm[j]];
        score();
        c[i]++;
        i = 0;
      } else {
        c[i] = 0;
        i++;
      }
    }
    return atLeast / total;
  }
  const rng = mulberry32(0x70726d);
  for (let k = 0; k < SAMPLED_ORDERINGS; k++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    score();
  }
  // The observed ordering counts as one of the orderings (a sampled p is never 0).
  return (atLeast + 1) / (total + 1);
}
