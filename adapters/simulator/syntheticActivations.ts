/**
 * Synthetic "layer activations" for the simulator and tests. NOT A LANGUAGE MODEL: no text is
 * understood; the vectors only have the statistical shape that matters for the analysis.
 *
 * Layer l's vector, per dimension d, mixes two unit-variance parts:
 * - word identity: a function of the (lower-cased) word alone, so repeated words share it;
 * - context: a smooth random function of the word's position in the text (knots every
 *   CONTEXT_SPACING_WORDS words), so neighbouring words share it, as LM context does.
 * The context weight grows with depth (shallow layers mostly lexical, deep layers mostly
 * contextual, as in real LMs). Each part is a chain along depth, part_l = ρ·part_{l−1} +
 * √(1−ρ²)·innovation_l, so adjacent layers correlate (ρ = LAYER_CORRELATION) while every layer has
 * its own independent innovation that tells it apart. Each dimension has variance exactly 1.
 *
 * Layer l sits at relative depth (l + 1)/(nLayers + 1), i.e. 0.1 … 0.9 for 9 layers.
 *
 * Owns: the generator. Must not: pretend to be an LLM in anything it reports (see `describe`).
 */
import { hashString, hashedNormal, splineTable, subKey } from './hashedNoise.js';

/** How this generator introduces itself in reports and snapshots. */
export const describe = 'synthetic activations (seeded, not a language model)';

/** Correlation of each part between adjacent layers. */
export const LAYER_CORRELATION = 0.5;

/** Words between knots of the context part (its correlation time, in words). */
export const CONTEXT_SPACING_WORDS = 4;

/** Share of variance from context at relative depth δ: 0.1 + 0.6·δ (0.16 at 0.1 … 0.64 at 0.9). */
export function contextWeight(depth: number): number {
  return 0.1 + 0.6 * depth;
}

export interface SyntheticActivationOptions {
  seed: number;
  nLayers: number;
  nDims: number;
}

/** Activation of one word: Float32Array [layer][dim] row-major. */
export type ActivationFn = (wordIndex: number, word: string) => Float32Array;

/**
 * Creates the generator. Deterministic: the same (seed, word, wordIndex) always gives the same
 * vector, whatever order words are asked in.
 *
 * @example
 * const act = syntheticActivations({ seed: 1, nLayers: 9, nDims: 50 });
 * act(0, 'Call') // Float32Array(450)
 */
export function syntheticActivations(opts: SyntheticActivationOptions): ActivationFn {
  const { seed, nLayers: L, nDims: D } = opts;
  for (const [k, v] of [['nLayers', L], ['nDims', D]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`syntheticActivations: ${k} must be a positive integer, got ${v}`);
  }
  const identityKey = subKey(seed, 0x1d);
  const contextKey = subKey(seed, 0xc7);
  // Exact per-position normalisation: every word's context value has variance 1.
  const table = splineTable(CONTEXT_SPACING_WORDS, true);
  const rho = LAYER_CORRELATION;
  const innov = Math.sqrt(1 - rho * rho);
  const wC = Array.from({ length: L }, (_, l) => Math.sqrt(contextWeight((l + 1) / (L + 1))));
  const wI = wC.map((c) => Math.sqrt(1 - c * c));
  // Per (layer, dim) keys, derived once.
  const idKeys = new Uint32Array(L * D);
  const ctxKeys = new Uint32Array(L * D);
  for (let l = 0; l < L; l++) {
    for (let d = 0; d < D; d++) {
      idKeys[l * D + d] = subKey(identityKey, l, d);
      ctxKeys[l * D + d] = subKey(contextKey, l, d);
    }
  }
  // Context knots of the last few knot indices, [layer][dim] each: consecutive words share
  // knots, so this saves ~3/4 of the normal draws when words are asked in order.
  const knotCache = new Map<number, Float64Array>();
  const knotsAt = (m: number): Float64Array => {
    let k = knotCache.get(m);
    if (k === undefined) {
      k = new Float64Array(L * D);
      for (let i = 0; i < L * D; i++) k[i] = hashedNormal(ctxKeys[i], m);
      if (knotCache.size >= 8) knotCache.delete(knotCache.keys().next().value as number);
      knotCache.set(m, k);
    }
    return k;
  };
  return (wordIndex: number, word: string): Float32Array => {
    if (!Number.isInteger(wordIndex) || wordIndex < 0) throw new RangeError(`syntheticActivations: wordIndex must be a non-negative integer, got ${wordIndex}`);
    const wordId = hashString(word.toLowerCase());
    const out = new Float32Array(L * D);
    // The context part: a B-spline through knots every CONTEXT_SPACING_WORDS words.
    const m = Math.floor(wordIndex / CONTEXT_SPACING_WORDS);
    const w = (wordIndex - m * CONTEXT_SPACING_WORDS) * 4;
    const k0 = knotsAt(m - 1);
    const k1 = knotsAt(m);
    const k2 = knotsAt(m + 1);
    const k3 = knotsAt(m + 2);
    for (let d = 0; d < D; d++) {
      let identity = 0;
      let context = 0;
      for (let l = 0; l < L; l++) {
        const i = l * D + d;
        const iNew = hashedNormal(idKeys[i], wordId);
        const cNew = table[w] * k0[i] + table[w + 1] * k1[i] + table[w + 2] * k2[i] + table[w + 3] * k3[i];
        // The first layer starts the chain with variance 1; later ones keep variance 1.
        identity = l === 0 ? iNew : rho * identity + innov * iNew;
        context = l === 0 ? cNew : rho * context + innov * cNew;
        out[l * D + d] = wI[l] * identity + wC[l] * context;
      }
    }
    return out;
  };
}
