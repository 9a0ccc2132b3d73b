/**
 * The extractor: runs a `HiddenStateModel` over context windows and turns the hidden states of each
 * target word's tokens into one vector per selected layer (mean over the word's tokens by default,
 * method §3; `last` as an option), together with the word's surprisal.
 *
 * Surprisal −log p(word | context) is the sum over the word's tokens of −log softmax(logits at the
 * previous position)[token], in nats, computed in float64 from the window's own logits. It is null
 * when the model has no LM head, or when the token before the word's first token is not in the
 * window (the first word of a story whose tokenization has no BOS, or a window that starts at the
 * word itself, i.e. zero context) and no BOS is prepended: −log p would otherwise need a
 * distribution nobody computed.
 *
 * Owns: windows → per-word raw features. Must not: write files (activationCache.ts does), apply
 * PCA, or decide where windows start (contextWindows.ts does).
 */
import type { ContextWindow, HiddenStateModel, StimulusWord, TokenizedStimulus } from '../../src/types.js';

/** One story as the extractor needs it: its words in order and their tokenization. */
export interface StoryStimulus {
  story: number;
  /** The story's words in stimulus order; wordTokens[i] of `tokens` belongs to words[i]. */
  words: StimulusWord[];
  tokens: TokenizedStimulus;
}

export type Aggregation = 'mean' | 'last';
export const AGGREGATIONS: readonly Aggregation[] = ['mean', 'last'];

export interface ExtractOptions {
  /** Hidden-state indices to read (0 = embedding output), duplicates allowed. */
  layers: number[];
  aggregate: Aggregation;
  /**
   * A BOS token id to put before every window (Llama-style models expect one; GPT-2 has none), or
   * undefined. Windows never contain it (contextWindows.ts); with it, every window's first token has
   * a previous position, so every word gets a surprisal.
   */
  bosTokenId?: number;
}

/** Raw features of one word, before PCA. */
export interface RawWordFeatures {
  wordIndex: number;
  word: string;
  story: number;
  /** [layer][hidden] row-major, float32 as the model computes. */
  activations: Float32Array;
  surprisalNats: number | null;
  /** Tokens of the word's window divided by the number of words read from that window. */
  tokensPerWord: number;
  /** Number of tokens of the word itself. */
  wordTokenCount: number;
  isContent?: boolean;
}

/** Where every stimulus word lives: its story and position in the story's word list. */
export class StimulusIndex {
  private readonly byWord = new Map<number, { story: StoryStimulus; position: number }>();
  private readonly byStory = new Map<number, StoryStimulus>();

  constructor(stories: readonly StoryStimulus[]) {
    for (const s of stories) {
      if (this.byStory.has(s.story)) throw new Error(`story ${s.story} is given twice; each story must appear once`);
      if (s.tokens.wordTokens.length !== s.words.length) {
        throw new Error(`story ${s.story}: the tokenization covers ${s.tokens.wordTokens.length} words but the story has ${s.words.length}; tokenize the same word list`);
      }
      this.byStory.set(s.story, s);
      s.words.forEach((w, position) => {
        if (this.byWord.has(w.index)) throw new Error(`word index ${w.index} ("${w.word}") occurs twice in the stimulus; word indices must be unique`);
        this.byWord.set(w.index, { story: s, position });
      });
    }
  }

  story(story: number): StoryStimulus {
    const s = this.byStory.get(story);
    if (!s) throw new Error(`context window refers to story ${story}, which is not in the stimulus`);
    return s;
  }

  word(index: number): { story: StoryStimulus; position: number } {
    const w = this.byWord.get(index);
    if (!w) throw new Error(`context window targets word ${index}, which is not in the stimulus`);
    return w;
  }
}

/** −log softmax(logits)[token] in float64 for one row of logits. */
export function negLogSoftmax(logits: Float32Array, rowOffset: number, vocab: number, token: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[rowOffset + v]);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[rowOffset + v] - max);
  return Math.log(sum) + max - logits[rowOffset + token];
}

/**
 * Runs the model over one window and returns the features of its target words, in target order.
 * @throws Error naming the window and word when a target word's tokens are not all inside the window,
 *   or when the model returns arrays of the wrong size
 */
export async function extractWindow(model: HiddenStateModel, index: StimulusIndex, window: ContextWindow, opts: ExtractOptions): Promise<RawWordFeatures[]> {
  const story = index.story(window.story);
  const windowIds = story.tokens.inputIds.slice(window.tokenStart, window.tokenStop);
  const where = `story ${window.story}, tokens [${window.tokenStart}, ${window.tokenStop})`;
  if (windowIds.length === 0) throw new Error(`context window ${where} is empty`);
  const bos = opts.bosTokenId === undefined ? 0 : 1;
  const ids = bos ? [opts.bosTokenId!, ...windowIds] : windowIds;
  const T = ids.length;
  /** Row of story token t in the model's input and output. */
  const row = (t: number) => t - window.tokenStart + bos;
  const H = model.hiddenSize;
  const V = model.vocabSize;
  if (bos && (!Number.isInteger(opts.bosTokenId) || opts.bosTokenId! < 0 || opts.bosTokenId! >= V)) throw new RangeError(`BOS token id ${opts.bosTokenId} is outside the vocabulary 0…${V - 1}`);
  const out = await model.forward(ids);
  if (out.hidden.length !== model.nBlocks + 1) throw new Error(`the model returned ${out.hidden.length} hidden states for ${where}, expected ${model.nBlocks + 1} (blocks + embedding)`);
  for (const l of opts.layers) {
    if (!Number.isInteger(l) || l < 0 || l > model.nBlocks) throw new RangeError(`layer ${l} does not exist: the model has hidden states 0…${model.nBlocks}`);
    if (out.hidden[l].length !== T * H) throw new Error(`hidden state ${l} for ${where} has ${out.hidden[l].length} values, expected ${T} tokens × ${H}`);
  }
  if (out.logits && out.logits.length !== T * V) throw new Error(`logits for ${where} have ${out.logits.length} values, expected ${T} tokens × ${V}`);

  const perWord = T / Math.max(1, window.targetWords.length);
  const nL = opts.layers.length;
  return window.targetWords.map((wordIndex) => {
    const { story: s, position } = index.word(wordIndex);
    if (s.story !== window.story) throw new Error(`word ${wordIndex} belongs to story ${s.story} but is a target of the window in ${where}`);
    const [first, stop] = s.tokens.wordTokens[position];
    const w = s.words[position];
    if (first < 0) throw new Error(`word ${wordIndex} ("${w.word}") has no tokens (unmatched) but is a target of the window in ${where}`);
    if (first < window.tokenStart || stop > window.tokenStop) {
      throw new Error(`word ${wordIndex} ("${w.word}") has tokens [${first}, ${stop}), not all inside the window ${where}`);
    }
    const acts = new Float32Array(nL * H);
    opts.layers.forEach((l, li) => {
      const h = out.hidden[l];
      if (opts.aggregate === 'last') {
        acts.set(h.subarray(row(stop - 1) * H, (row(stop - 1) + 1) * H), li * H);
      } else {
        // Sum in float64, then divide: a word's few tokens, but no float32 drift by token order.
        const acc = new Float64Array(H);
        for (let t = first; t < stop; t++) {
          const o = row(t) * H;
          for (let j = 0; j < H; j++) acc[j] += h[o + j];
        }
        for (let j = 0; j < H; j++) acts[li * H + j] = acc[j] / (stop - first);
      }
    });
    let surprisal: number | null = null;
    if (out.logits && row(first) >= 1) {
      surprisal = 0;
      for (let t = first; t < stop; t++) {
        const token = story.tokens.inputIds[t];
        if (!Number.isInteger(token) || token < 0 || token >= V) throw new RangeError(`token ${t} of ${where} has id ${token}, outside the vocabulary 0…${V - 1}`);
        surprisal += negLogSoftmax(out.logits, (row(t) - 1) * V, V, token);
      }
    }
    return {
      wordIndex,
      word: w.word,
      story: s.story,
      activations: acts,
      surprisalNats: surprisal,
      tokensPerWord: perWord,
      wordTokenCount: stop - first,
      isContent: w.isContent,
    };
  });
}

/**
 * Runs every window in order and yields the words as each window finishes.
 * @param startWindow resume point: windows before it are skipped
 */
export async function* extractWords(
  model: HiddenStateModel,
  stories: readonly StoryStimulus[],
  windows: readonly ContextWindow[],
  opts: ExtractOptions,
  startWindow = 0,
): AsyncGenerator<{ windowIndex: number; words: RawWordFeatures[] }> {
  const index = new StimulusIndex(stories);
  for (let i = startWindow; i < windows.length; i++) {
    yield { windowIndex: i, words: await extractWindow(model, index, windows[i], opts) };
  }
}
