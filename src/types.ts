/**
 * Domain types shared by src/, streams/ and adapters/. Flat typed arrays with their layouts named.
 */

/** The shape of the decoding problem. */
export interface DecoderDims {
  /** MEG channels (after picks). */
  nChannels: number;
  /** Time samples per epoch (166 for −2.5…+3.0 s at 30 Hz). */
  nTimes: number;
  /** Layers (relative depths) decoded. */
  nLayers: number;
  /** Target dimensions per layer (50 after PCA). */
  nDims: number;
}

/** One word's data as the decoder consumes it. */
export interface WordPair {
  /** Stable word id (story, run, index), used for fold assignment and reporting. */
  wordIndex: number;
  /** Word onset in the source clock, seconds. */
  onsetSec: number;
  /** The word's text, for the dashboard (optional). */
  word?: string;
  /** MEG epoch, [channel][time] row-major (MNE's epochs.get_data() layout for one word). */
  epoch: Float32Array | Float64Array;
  /** Layer activations, [layer][dim] row-major. */
  activations: Float32Array | Float64Array;
}

export type SkipReason = 'nonfinite-epoch' | 'nonfinite-activations';

/** Number of targets (all layers' dims together). */
export function nTargets(d: DecoderDims): number {
  return d.nLayers * d.nDims;
}

export function sameDims(a: DecoderDims, b: DecoderDims): boolean {
  return a.nChannels === b.nChannels && a.nTimes === b.nTimes && a.nLayers === b.nLayers && a.nDims === b.nDims;
}

export function describeDims(d: DecoderDims): string {
  return `${d.nChannels} channels × ${d.nTimes} times, ${d.nLayers} layers × ${d.nDims} dims`;
}
