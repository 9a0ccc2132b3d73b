/**
 * Which hidden states of a language model to read: relative depths (method §3: 0.1 … 0.9) turned
 * into hidden-state indices, or every layer.
 *
 * Convention (method §3 "choice"): hidden_states[0] is the embedding output and hidden_states[i]
 * the residual stream after block i, so a model with L blocks has L + 1 hidden states and depth d
 * maps to index round(d × L), halves rounded up.
 *
 * Owns: the depth → index rule and its validation. Must not: know how hidden states are computed.
 */

/** The paper's nine relative depths. */
export const DEFAULT_DEPTHS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export interface LayerSelection {
  /** Hidden-state index of each selected layer (0 = embedding output), in request order. */
  layers: number[];
  /** Relative depth of each selected layer (as requested, or i / L for all layers). */
  depths: number[];
  /** Hidden-state indices that more than one requested depth maps to (small L); empty otherwise. */
  duplicates: Array<{ layer: number; depths: number[] }>;
}

/**
 * round(depth × L), with halves rounded up. The product is first rounded to 9 decimals so that
 * 0.7 × 45 = 31.499999999999996 in binary still counts as the half it is meant to be.
 */
export function layerIndexForDepth(depth: number, nBlocks: number): number {
  return Math.floor(Number((depth * nBlocks).toFixed(9)) + 0.5);
}

/**
 * Maps relative depths to hidden-state indices for a model with `nBlocks` blocks.
 * Duplicated indices are kept (the decoder expects one layer per requested depth) and reported.
 * @example
 *   layersForDepths(DEFAULT_DEPTHS, 12).layers // [1, 2, 4, 5, 6, 7, 8, 10, 11]
 * @throws RangeError naming the offending depth when it is not a finite number in [0, 1], or when
 *   nBlocks is not a positive integer, or the list is empty
 */
export function layersForDepths(depths: readonly number[], nBlocks: number): LayerSelection {
  if (!Number.isInteger(nBlocks) || nBlocks < 1) throw new RangeError(`the model must have at least one block, got ${nBlocks}`);
  if (depths.length === 0) throw new RangeError('no depths given; pass e.g. --depths 0.1,0.5,0.9 or --all-layers');
  depths.forEach((d, i) => {
    if (!Number.isFinite(d) || d < 0 || d > 1) {
      throw new RangeError(`depth ${i + 1} of ${depths.length} is ${d}; relative depths must lie in [0, 1] (0 = embedding output, 1 = last block)`);
    }
  });
  const layers = depths.map((d) => layerIndexForDepth(d, nBlocks));
  const byLayer = new Map<number, number[]>();
  layers.forEach((l, i) => byLayer.set(l, [...(byLayer.get(l) ?? []), depths[i]]));
  const duplicates = [...byLayer.entries()].filter(([, ds]) => ds.length > 1).map(([layer, ds]) => ({ layer, depths: ds }));
  return { layers, depths: [...depths], duplicates };
}

/** Every hidden state 0 … L, with depth i / L. */
export function allLayers(nBlocks: number): LayerSelection {
  if (!Number.isInteger(nBlocks) || nBlocks < 1) throw new RangeError(`the model must have at least one block, got ${nBlocks}`);
  const layers = Array.from({ length: nBlocks + 1 }, (_, i) => i);
  return { layers, depths: layers.map((i) => i / nBlocks), duplicates: [] };
}

/** One line for users when depths collapse onto the same hidden state, or null when none do. */
export function describeDuplicates(sel: LayerSelection, nBlocks: number): string | null {
  if (sel.duplicates.length === 0) return null;
  const parts = sel.duplicates.map((d) => `depths ${d.depths.join(', ')} → hidden state ${d.layer}`);
  return `the model has only ${nBlocks} blocks, so several depths read the same hidden state (${parts.join('; ')}); their activations are identical`;
}
