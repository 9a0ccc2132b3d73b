/**
 * Contracts between the parts of language-model feature extraction: the model runner (ONNX graph
 * with exposed residual streams), words ↔ tokens alignment, context windows, and the extractor
 * that turns a stimulus into per-word, per-layer activations.
 *
 * Owns: shapes and names only. Must not: run anything.
 */

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

/** A causal LM with its residual stream exposed (after graph surgery). */
export interface HiddenStateModel {
  /** Number of blocks L (hidden states are 0…L). */
  readonly nBlocks: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** A content hash of the original model (graph + weights), for cache keys. */
  readonly modelHash: string;
  forward(inputIds: number[]): Promise<ForwardResult>;
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
