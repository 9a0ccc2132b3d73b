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
  /**
   * Conditions the word belongs to (a closed-loop arm, a surprisal quartile): in `arrival` scoring
   * the decoder also keeps its rolling score per condition, every word predicted by the one model
   * trained on all words (Decoder.conditionScores).
   */
  conditions?: readonly string[];
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

// ---- Language-model feature extraction: the contracts that adapters/llm, adapters/text and adapters/onnx share
/** One word of the stimulus, in stimulus order. */
export interface StimulusWord {
  /** Index in the stimulus (0-based, stable across sources). */
  index: number;
  /** As the events file or the text spells it. */
  word: string;
  /** Story / run the word belongs to; context resets where it changes. */
  story: number;
  /** Content word (NOUN, VERB, ADJ, ADV) per the POS tagger; undefined when untagged. */
  isContent?: boolean;
  pos?: string;
}

/** The stimulus turned into model input: tokens of the original text, each tied to a word. */
export interface TokenizedStimulus {
  /** Token ids of the whole text of one story (no special tokens unless the model needs a BOS). */
  inputIds: number[];
  /** Stimulus word index of each token, −1 for tokens that belong to no word (whitespace, punctuation between words, BOS). */
  tokenWord: Int32Array;
  /** For each stimulus word (by position in the story's word list): [firstToken, lastToken+1), or [-1,-1] when unmatched. */
  wordTokens: Array<[number, number]>;
  /** Words the text could not be matched to, with their position (reported, never silently skipped). */
  unmatched: Array<{ index: number; word: string; reason: string }>;
}

/** A model-input window: tokens [start, stop) of a story, and the words whose activations are read from it. */
export interface ContextWindow {
  story: number;
  tokenStart: number;
  tokenStop: number;
  /** Stimulus word indices whose last token lies in this window and that are read from it. */
  targetWords: number[];
}

/** What one forward pass over a window returns. */
export interface ForwardResult {
  /** L+1 residual-stream states (index 0 = embedding output), each [token][hidden] row-major float32. */
  hidden: Float32Array[];
  /** [token][vocab] row-major float32 logits, or null when the graph has no LM head. */
  logits: Float32Array | null;
}

/**
 * What one batched forward pass returns: rows right-padded to `maxTokens`; only the requested
 * hidden states are present (null elsewhere).
 */
export interface BatchForwardResult {
  /** Tokens per row after padding. */
  maxTokens: number;
  /** Index l = hidden state l: [row][token][hidden] row-major float32 (rows × maxTokens × hidden), or null when not requested. */
  hidden: (Float32Array | null)[];
  /** [row][token][vocab] row-major float32, or null (not requested, or no LM head). */
  logits: Float32Array | null;
}

/** Which outputs a batched pass must return (the others need not be copied out). */
export interface ForwardRequest {
  /** Hidden-state indices (0 = embedding output). */
  layers: readonly number[];
  logits: boolean;
}

/** A causal LM with its residual stream exposed (after graph surgery). */
export interface HiddenStateModel {
  /** Number of blocks L (hidden states are 0…L). */
  readonly nBlocks: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** A content hash of the original model (graph + weights), for cache keys. */
  readonly modelHash: string;
  forward(inputIds: number[]): Promise<ForwardResult>;
  /**
   * Several token rows in one pass (right-padded; each row's real positions equal a `forward` of
   * that row up to float rounding). Optional: without it, rows are run one by one.
   */
  forwardBatch?(rows: readonly (readonly number[])[], want: ForwardRequest): Promise<BatchForwardResult>;
  dispose(): Promise<void>;
}

/** Per-word features, as the extractor emits them and the pipeline consumes them. */
export interface WordActivations {
  wordIndex: number;
  word: string;
  /** Hidden-state index of each emitted layer (0 = embedding). */
  layers: number[];
  /** Relative depth of each emitted layer. */
  depths: number[];
  /** Dimensions per layer (50 after PCA, hiddenSize raw). */
  nDims: number;
  /** [layer][dim] row-major. */
  activations: Float32Array;
  /** −log p(word | context) in nats (sum over the word's tokens), null when the graph has no LM head. */
  surprisalNats: number | null;
  /** Tokens run through the model for this word's window, amortised per word. */
  tokensPerWord: number;
  isContent?: boolean;
}
