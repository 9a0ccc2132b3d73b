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

/** Kinds of channel, as MNE names them. */
export type ChannelType = 'mag' | 'grad' | 'ref_meg' | 'eeg' | 'eog' | 'ecg' | 'stim' | 'misc';

export interface ChannelInfo {
  name: string;
  type: ChannelType;
  /** SI unit of the values: tesla for MEG, volts for EEG/EOG/ECG. */
  unit: 'T' | 'V' | 'unitless';
}

/**
 * A block of continuous multichannel data in its source's clock. Every producer (simulator, file
 * replay, LSL inlet) emits these; every preprocessing operator consumes and emits them.
 */
export interface SampleChunk {
  /** Sampling rate, Hz. */
  sfreqHz: number;
  /** Index of the first sample since the stream started (sample-exact bookkeeping). */
  firstSample: number;
  /** Source-clock time of the first sample, seconds (= firstSample / sfreqHz for file sources). */
  tStartSec: number;
  nChannels: number;
  nSamples: number;
  /** [sample][channel] row-major, SI units. */
  data: Float32Array;
  /**
   * Which continuous recording the chunk belongs to when several play on one clock (replayed runs
   * and sessions); filters restart at a new segment. Absent = one stream.
   */
  segment?: number;
  /**
   * True when the producer has already checked that every value is finite (e.g. the reader's
   * worker thread), so `nonFiniteGuard` need not scan the chunk again on the processing thread.
   */
  allFinite?: boolean;
}

/** A word of the stimulus as it is heard: when, which, and whether it is a content word. */
export interface WordEvent {
  /** Index in the stimulus (stable across sources). */
  wordIndex: number;
  word: string;
  /** Onset in the source clock, seconds. */
  onsetSec: number;
  /** Duration as spoken, seconds (for display). */
  durationSec?: number;
  /** NOUN/VERB/ADJ/ADV; undefined when not tagged. */
  isContent?: boolean;
  /** The recording segment the word was heard in (see SampleChunk.segment). */
  segment?: number;
}

/** One word's epoch, cut from preprocessed data. */
export interface WordEpoch {
  word: WordEvent;
  /** [channel][time] row-major, SI units, at the epoch rate. */
  epoch: Float32Array;
}
