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
 * A window is first *prepared* (its model input and, per target word, the rows of the word's
 * tokens; every check on the plan happens there), then run, alone (`extractWindow`) or with others
 * in one padded batch (`extractBatch`, or an extraction worker: extractionPool.ts), and the word
 * vectors are read from the output by `wordVectors`, the one function every path shares. A batched
 * row's real positions compute what a batch-1 pass computes, up to float rounding (tested).
 *
 * Owns: windows → per-word raw features. Must not: write files (activationCache.ts does), apply
 * PCA, or decide where windows start (contextWindows.ts does).
 */
import type { BatchForwardResult, ContextWindow, ForwardResult, HiddenStateModel, StimulusWord, TokenizedStimulus } from '../../src/types.js';

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

/** A target word of a prepared window: who it is, and the rows of its tokens in the window's input. */
export interface PreparedTarget {
  wordIndex: number;
  word: string;
  story: number;
  isContent?: boolean;
  /** Rows [first, stop) of the word's tokens in `ids`. */
  first: number;
  stop: number;
}

/** A window ready for the model: its input (BOS first when one is prepended) and its targets. */
export interface PreparedWindow {
  window: ContextWindow;
  ids: number[];
  targets: PreparedTarget[];
}

/** What the model computes for one word (the rest of RawWordFeatures comes from the plan). */
export interface WordVectors {
  /** [layer][hidden] row-major. */
  activations: Float32Array;
  surprisalNats: number | null;
}

/**
 * Checks a window against the stimulus and builds its input and target rows.
 * @throws Error naming the window and word when a target word's tokens are not all inside the window
 */
export function prepareWindow(index: StimulusIndex, window: ContextWindow, opts: ExtractOptions, vocabSize: number): PreparedWindow {
  const story = index.story(window.story);
  const windowIds = story.tokens.inputIds.slice(window.tokenStart, window.tokenStop);
  const where = `story ${window.story}, tokens [${window.tokenStart}, ${window.tokenStop})`;
  if (windowIds.length === 0) throw new Error(`context window ${where} is empty`);
  const bos = opts.bosTokenId === undefined ? 0 : 1;
  if (bos && (!Number.isInteger(opts.bosTokenId) || opts.bosTokenId! < 0 || opts.bosTokenId! >= vocabSize)) throw new RangeError(`BOS token id ${opts.bosTokenId} is outside the vocabulary 0…${vocabSize - 1}`);
  const ids = bos ? [opts.bosTokenId!, ...windowIds] : windowIds;
  /** Row of story token t in the model's input and output. */
  const row = (t: number) => t - window.tokenStart + bos;
  const targets = window.targetWords.map((wordIndex): PreparedTarget => {
    const { story: s, position } = index.word(wordIndex);
    if (s.story !== window.story) throw new Error(`word ${wordIndex} belongs to story ${s.story} but is a target of the window in ${where}`);
    const [first, stop] = s.tokens.wordTokens[position];
    const w = s.words[position];
    if (first < 0) throw new Error(`word ${wordIndex} ("${w.word}") has no tokens (unmatched) but is a target of the window in ${where}`);
    if (first < window.tokenStart || stop > window.tokenStop) {
      throw new Error(`word ${wordIndex} ("${w.word}") has tokens [${first}, ${stop}), not all inside the window ${where}`);
    }
    return { wordIndex, word: w.word, story: s.story, isContent: w.isContent, first: row(first), stop: row(stop) };
  });
  for (const t of targets) {
    for (let r = t.first; r < t.stop; r++) {
      const token = ids[r];
      if (!Number.isInteger(token) || token < 0 || token >= vocabSize) throw new RangeError(`token ${r - bos + window.tokenStart} of ${where} has id ${token}, outside the vocabulary 0…${vocabSize - 1}`);
    }
  }
  return { window, ids, targets };
}

/**
 * The vectors of a window's targets from row `b` of a (padded) batch output: per layer the mean
 * (float64 sum, then divided) or last of the word's token rows; surprisal Σ −log softmax(logits at
 * the previous row)[token], null when the word's first token is the window's first row or there
 * are no logits.
 */
export function wordVectors(out: BatchForwardResult, b: number, ids: readonly number[], targets: readonly Pick<PreparedTarget, 'first' | 'stop'>[], layers: readonly number[], aggregate: Aggregation, hiddenSize: number, vocabSize: number): WordVectors[] {
  const H = hiddenSize;
  const V = vocabSize;
  const base = b * out.maxTokens;
  const nL = layers.length;
  const acc = new Float64Array(H);
  return targets.map(({ first, stop }) => {
    const acts = new Float32Array(nL * H);
    layers.forEach((l, li) => {
      const h = out.hidden[l];
      if (!h) throw new Error(`hidden state ${l} was not computed`);
      if (aggregate === 'last') {
        const o = (base + stop - 1) * H;
        acts.set(h.subarray(o, o + H), li * H);
      } else {
        // Sum in float64, then divide: a word's few tokens, but no float32 drift by token order.
        acc.fill(0);
        for (let r = first; r < stop; r++) {
          const o = (base + r) * H;
          for (let j = 0; j < H; j++) acc[j] += h[o + j];
        }
        for (let j = 0; j < H; j++) acts[li * H + j] = acc[j] / (stop - first);
      }
    });
    let surprisal: number | null = null;
    if (out.logits && first >= 1) {
      surprisal = 0;
      for (let r = first; r < stop; r++) surprisal += negLogSoftmax(out.logits, (base + r - 1) * V, V, ids[r]);
    }
    return { activations: acts, surprisalNats: surprisal };
  });
}

/** RawWordFeatures of a prepared window from its computed vectors. */
export function rawFeatures(p: PreparedWindow, vectors: readonly WordVectors[]): RawWordFeatures[] {
  const perWord = p.ids.length / Math.max(1, p.targets.length);
  return p.targets.map((t, i) => ({
    wordIndex: t.wordIndex,
    word: t.word,
    story: t.story,
    activations: vectors[i].activations,
    surprisalNats: vectors[i].surprisalNats,
    tokensPerWord: perWord,
    wordTokenCount: t.stop - t.first,
    isContent: t.isContent,
  }));
}

/** A batch-1 forward result as a batch of one row. */
function asBatch(out: ForwardResult, T: number): BatchForwardResult {
  return { maxTokens: T, hidden: out.hidden, logits: out.logits };
}

/**
 * Runs the model over one window and returns the features of its target words, in target order.
 * @throws Error naming the window and word when a target word's tokens are not all inside the window,
 *   or when the model returns arrays of the wrong size
 */
export async function extractWindow(model: HiddenStateModel, index: StimulusIndex, window: ContextWindow, opts: ExtractOptions): Promise<RawWordFeatures[]> {
  const p = prepareWindow(index, window, opts, model.vocabSize);
  const where = `story ${window.story}, tokens [${window.tokenStart}, ${window.tokenStop})`;
  const T = p.ids.length;
  const H = model.hiddenSize;
  const V = model.vocabSize;
  const out = await model.forward(p.ids);
  if (out.hidden.length !== model.nBlocks + 1) throw new Error(`the model returned ${out.hidden.length} hidden states for ${where}, expected ${model.nBlocks + 1} (blocks + embedding)`);
  for (const l of opts.layers) {
    if (!Number.isInteger(l) || l < 0 || l > model.nBlocks) throw new RangeError(`layer ${l} does not exist: the model has hidden states 0…${model.nBlocks}`);
    if (out.hidden[l].length !== T * H) throw new Error(`hidden state ${l} for ${where} has ${out.hidden[l].length} values, expected ${T} tokens × ${H}`);
  }
  if (out.logits && out.logits.length !== T * V) throw new Error(`logits for ${where} have ${out.logits.length} values, expected ${T} tokens × ${V}`);
  return rawFeatures(p, wordVectors(asBatch(out, T), 0, p.ids, p.targets, opts.layers, opts.aggregate, H, V));
}

/**
 * Runs several windows in one padded pass (`model.forwardBatch`; models without it run the windows
 * one by one) and returns each window's target features, window by window.
 */
export async function extractBatch(model: HiddenStateModel, index: StimulusIndex, windows: readonly ContextWindow[], opts: ExtractOptions): Promise<RawWordFeatures[][]> {
  if (!model.forwardBatch) {
    const each: RawWordFeatures[][] = [];
    for (const w of windows) each.push(await extractWindow(model, index, w, opts));
    return each;
  }
  for (const l of opts.layers) if (!Number.isInteger(l) || l < 0 || l > model.nBlocks) throw new RangeError(`layer ${l} does not exist: the model has hidden states 0…${model.nBlocks}`);
  const prepared = windows.map((w) => prepareWindow(index, w, opts, model.vocabSize));
  const out = await model.forwardBatch(prepared.map((p) => p.ids), { layers: opts.layers, logits: true });
  return prepared.map((p, b) => rawFeatures(p, wordVectors(out, b, p.ids, p.targets, opts.layers, opts.aggregate, model.hiddenSize, model.vocabSize)));
}

/**
 * Runs every window in order and yields the words as each window finishes.
 * @param startWindow resume point: windows before it are skipped
 * @param batches when given, the windows run in these groups (consecutive window indices, a fixed
 *   partition of all windows: see windowBatches.ts); a batch holding `startWindow` is run whole and
 *   its windows before `startWindow` are dropped, so a resumed run computes every window in the same
 *   batch as an uninterrupted one
 */
export async function* extractWords(
  model: HiddenStateModel,
  stories: readonly StoryStimulus[],
  windows: readonly ContextWindow[],
  opts: ExtractOptions,
  startWindow = 0,
  batches?: readonly (readonly number[])[],
): AsyncGenerator<{ windowIndex: number; words: RawWordFeatures[] }> {
  const index = new StimulusIndex(stories);
  if (!batches) {
    for (let i = startWindow; i < windows.length; i++) {
      yield { windowIndex: i, words: await extractWindow(model, index, windows[i], opts) };
    }
    return;
  }
  for (const batch of batches) {
    if (batch[batch.length - 1] < startWindow) continue;
    const got = await extractBatch(model, index, batch.map((i) => windows[i]), opts);
    for (let k = 0; k < batch.length; k++) if (batch[k] >= startWindow) yield { windowIndex: batch[k], words: got[k] };
  }
}
