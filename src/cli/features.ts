/**
 * Where a session's layer activations come from, behind one small interface: the seeded synthetic
 * generator (demo controls, tests), or a language model through the extraction cache (issue 4).
 * `simulate` plants the same features that `replay`/`live` then decode, so a simulated dataset
 * written with one feature source is analysed with the same one.
 *
 * Owns: the choice and its label. Must not: extract (adapters/llm does) or decode.
 */
import { syntheticActivations, describe as SYNTHETIC_DESCRIBE } from '../../adapters/simulator/syntheticActivations.js';
import { defaultDepths } from '../epochGrid.js';

/** Per-word features for a stimulus of known words, by stimulus index. */
export interface FeatureTable {
  /** What the dashboard and results say the features are. */
  label: string;
  nLayers: number;
  nDims: number;
  depths: number[];
  /** [layer][dim] of stimulus word `index`, or undefined when the word has none (unmatched in the text). */
  of(index: number, word: string): Float32Array | undefined;
  /** Content word (NOUN/VERB/ADJ/ADV) per the tagger; undefined when not tagged. */
  isContent(index: number): boolean | undefined;
}

/** The seeded synthetic activations of the simulator (not a language model; clearly labelled). */
export function syntheticFeatures(seed: number, nDims = 50, nLayers = 9): FeatureTable {
  const act = syntheticActivations({ seed, nLayers, nDims });
  return {
    label: `${SYNTHETIC_DESCRIBE}, seed ${seed}`,
    nLayers,
    nDims,
    depths: defaultDepths(nLayers),
    of: (i, w) => act(i, w),
    isContent: () => undefined,
  };
}
