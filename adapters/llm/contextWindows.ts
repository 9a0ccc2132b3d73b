/**
 * Context windows: which tokens of a story go through the model so that each target word is read
 * with N previous words of context (method §3: default 50 words, swept 0…1000; the context ends
 * with the target word and resets at story boundaries).
 *
 * A window for target word p (position in its story) holds the tokens of words max(0, p−N) … p,
 * from the first token of the earliest of those words to the last token of p, everything in between
 * included (punctuation, and text words that have no event). Material before that first word
 * (an opening quote, the previous sentence's full stop) is not included; nothing after the target
 * is (a causal model's states at the target's tokens never depend on later tokens anyway).
 * Context is counted in stimulus words, matched or not; unmatched words have no tokens and are never
 * targets.
 *
 * Two modes:
 * - `exact`: one window per target. Every target sees exactly min(N, p) previous words: the paper's
 *   definition. Cost: the window has ≈ (N+1)·τ tokens (τ ≈ 1.2–1.4 tokens per word for English
 *   BPE), so ≈ (N+1)·τ tokens per word, and attention ≈ ((N+1)·τ)² per word.
 * - `chunked`: targets are cut into blocks of B consecutive words (default B = N); one window covers
 *   the N words before the block plus the block, and all the block's targets are read from it.
 *   A target sees between min(N, p) and N+B−1 previous words. Cost: ≈ (N+B)/B·τ tokens per word,
 *   i.e. ≈ 2τ for B = N, a saving of ≈ (N+1)/2 over exact (25× at N = 50, 500× at N = 1000).
 *   The price: every target but a block's first sees more than N words of context, so activations
 *   differ from `exact` (by how much depends on the model; the paper's context curve flattens after
 *   ~50 words). For each target, its exact window is a suffix of its chunked window cut at the
 *   target, and with B = 1 the two modes coincide.
 *
 * `prependBos`: the extractor puts the tokenizer's BOS before every window (Llama-style models expect
 * it; GPT-2 has none); the planner only counts it in costs and in `maxTokens`. Windows are token
 * ranges of the story's token sequence and never contain the BOS.
 *
 * `maxTokens` (the model's context length): a window that would be longer loses context words from
 * its left, at word boundaries; in chunked mode a block that alone does not fit is split. Targets
 * that end up with fewer than min(N, p) previous words are counted in `truncatedTargets`.
 *
 * Owns: planning windows and their cost. Must not: run the model or add special tokens.
 */
import type { ContextWindow, StimulusWord, TokenizedStimulus } from '../../src/types.js';

export type ContextMode = 'exact' | 'chunked';

export interface ContextWindowOptions {
  /** N: previous words of context (0 = the target word alone). Default 50. */
  contextWords?: number;
  /** Default 'exact'. */
  mode?: ContextMode;
  /** B: targets per window in chunked mode. Default max(1, N). */
  chunkWords?: number;
  /** The model expects a BOS before each window (counted in costs and maxTokens). Default false. */
  prependBos?: boolean;
  /** Longest model input, BOS included; default unlimited. */
  maxTokens?: number;
}

/** One story's words and tokens, as the planner needs them. */
export interface StoryTokens {
  story: number;
  /** The story's stimulus words, in order (their `index` names targets). */
  words: readonly StimulusWord[];
  tokenized: Pick<TokenizedStimulus, 'wordTokens' | 'inputIds'>;
}

export interface ContextPlan {
  windows: ContextWindow[];
  mode: ContextMode;
  contextWords: number;
  chunkWords: number;
  prependBos: boolean;
  /** Stimulus word index → previous words (positions in the story) its window holds. */
  contextSeen: Map<number, number>;
  /** Targets that got fewer than min(N, p) previous words because of maxTokens. */
  truncatedTargets: number;
  /** Stimulus indices of those targets, in window order. */
  truncatedWords: number[];
  /**
   * The fewest previous words a truncated target kept (null when none was truncated). In exact
   * mode this is the longest context that fits the model for every word of the stimulus.
   */
  shortestTruncatedContext: number | null;
  /** Tokens run through the model, BOS included. */
  tokensProcessed: number;
  /** Words with a window. */
  nTargets: number;
  /** tokensProcessed / nTargets. */
  tokensPerWord: number;
  /** Σ over windows of length², a proxy for attention cost (BOS included). */
  attentionCost: number;
}

function checkOptions(o: ContextWindowOptions): Required<Omit<ContextWindowOptions, 'maxTokens'>> & { maxTokens: number } {
  const contextWords = o.contextWords ?? 50;
  if (!Number.isInteger(contextWords) || contextWords < 0) throw new RangeError(`contextWords must be a non-negative integer, got ${contextWords}`);
  const mode = o.mode ?? 'exact';
  if (mode !== 'exact' && mode !== 'chunked') throw new RangeError(`mode must be 'exact' or 'chunked', got ${JSON.stringify(mode)}`);
  const chunkWords = mode === 'exact' ? 1 : (o.chunkWords ?? Math.max(1, contextWords));
  if (!Number.isInteger(chunkWords) || chunkWords < 1) throw new RangeError(`chunkWords must be a positive integer, got ${chunkWords}`);
  const prependBos = o.prependBos ?? false;
  const maxTokens = o.maxTokens ?? Infinity;
  if (!(maxTokens >= (prependBos ? 2 : 1))) throw new RangeError(`maxTokens must leave room for at least one token, got ${maxTokens}`);
  return { contextWords, mode, chunkWords, prependBos, maxTokens };
}

/**
 * Plans the windows of every story.
 *
 * @example
 * const plan = planContextWindows(stories, { contextWords: 50, mode: 'chunked' });
 * for (const w of plan.windows) model.forward([bos, ...ids.slice(w.tokenStart, w.tokenStop)]);
 */
export function planContextWindows(stories: readonly StoryTokens[], options: ContextWindowOptions = {}): ContextPlan {
  const o = checkOptions(options);
  const windows: ContextWindow[] = [];
  const contextSeen = new Map<number, number>();
  let truncatedTargets = 0;
  let shortestTruncatedContext: number | null = null;
  const truncatedWords: number[] = [];
  const bos = o.prependBos ? 1 : 0;
  for (const s of stories) {
    const { words, tokenized } = s;
    if (tokenized.wordTokens.length !== words.length) {
      throw new Error(`story ${s.story}: ${words.length} words but ${tokenized.wordTokens.length} word token ranges`);
    }
    const matched = (p: number) => tokenized.wordTokens[p]![0] >= 0;
    /** Earliest matched position in [from, to], or −1. */
    const firstMatched = (from: number, to: number) => {
      for (let q = from; q <= to; q++) if (matched(q)) return q;
      return -1;
    };
    const emit = (b0: number, b1: number) => {
      // Block of target positions [b0, b1): context starts N words before b0.
      const targets: number[] = [];
      for (let p = b0; p < b1; p++) if (matched(p)) targets.push(p);
      if (targets.length === 0) return;
      const last = targets[targets.length - 1]!;
      const tokenStop = tokenized.wordTokens[last]![1];
      const nominalStart = Math.max(0, b0 - o.contextWords);
      let from = firstMatched(nominalStart, last);
      let trimmed = false;
      // Trim context from the left, word by word, until the window fits.
      while (tokenStop - tokenized.wordTokens[from]![0] + bos > o.maxTokens && from < targets[0]!) {
        from = firstMatched(from + 1, last);
        trimmed = true;
      }
      if (tokenStop - tokenized.wordTokens[from]![0] + bos > o.maxTokens) {
        if (b1 - b0 === 1) {
          throw new Error(`story ${s.story}: word ${words[b0]!.index} ("${words[b0]!.word}") alone needs ${tokenStop - tokenized.wordTokens[b0]![0] + bos} tokens, more than maxTokens ${o.maxTokens}`);
        }
        const mid = b0 + Math.floor((b1 - b0) / 2);
        emit(b0, mid);
        emit(mid, b1);
        return;
      }
      const tokenStart = tokenized.wordTokens[from]![0];
      // The window's context starts at word position `windowStart` (unmatched words there have no
      // tokens but were part of the nominal context).
      const windowStart = trimmed ? from : nominalStart;
      for (const p of targets) {
        contextSeen.set(words[p]!.index, p - windowStart);
        if (windowStart > Math.max(0, p - o.contextWords)) {
          truncatedTargets++;
          truncatedWords.push(words[p]!.index);
          shortestTruncatedContext = Math.min(shortestTruncatedContext ?? Infinity, p - windowStart);
        }
      }
      windows.push({ story: s.story, tokenStart, tokenStop, targetWords: targets.map((p) => words[p]!.index) });
    };
    for (let b0 = 0; b0 < words.length; b0 += o.chunkWords) emit(b0, Math.min(words.length, b0 + o.chunkWords));
  }
  let tokensProcessed = 0;
  let attentionCost = 0;
  let nTargets = 0;
  for (const w of windows) {
    const len = w.tokenStop - w.tokenStart + bos;
    tokensProcessed += len;
    attentionCost += len * len;
    nTargets += w.targetWords.length;
  }
  return {
    windows,
    mode: o.mode,
    contextWords: o.contextWords,
    chunkWords: o.chunkWords,
    prependBos: o.prependBos,
    contextSeen,
    truncatedTargets,
    truncatedWords,
    shortestTruncatedContext,
    tokensProcessed,
    nTargets,
    tokensPerWord: nTargets > 0 ? tokensProcessed / nTargets : 0,
    attentionCost,
  };
}
