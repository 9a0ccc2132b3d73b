/**
 * Hand-made stimuli for extractor tests: stories given as token ids per word, and the two simplest
 * window plans (one window per word with `context` preceding words; one window per story).
 * The real plans come from adapters/llm/contextWindows.ts; these exist so the extractor's tests
 * depend only on the contracts.
 */
import type { StoryStimulus } from '../../adapters/llm/extractor.js';
import type { ContextWindow } from '../../src/types.js';

/** A story whose i-th word has the token ids wordIds[i]; word indices start at firstIndex. */
export function toyStory(story: number, firstIndex: number, wordIds: number[][], content?: boolean[]): StoryStimulus {
  const inputIds: number[] = [];
  const tokenWord: number[] = [];
  const wordTokens: Array<[number, number]> = [];
  wordIds.forEach((ids, i) => {
    wordTokens.push([inputIds.length, inputIds.length + ids.length]);
    for (const id of ids) {
      inputIds.push(id);
      tokenWord.push(firstIndex + i);
    }
  });
  return {
    story,
    words: wordIds.map((ids, i) => ({ index: firstIndex + i, word: `w${firstIndex + i}`, story, isContent: content?.[i] })),
    tokens: { inputIds, tokenWord: Int32Array.from(tokenWord), wordTokens, unmatched: [] },
  };
}

/** One window per word: from the first token of the word `context` words back to the word's last token. */
export function exactWindows(stories: StoryStimulus[], context: number): ContextWindow[] {
  return stories.flatMap((s) =>
    s.words.map((w, i) => ({ story: s.story, tokenStart: s.tokens.wordTokens[Math.max(0, i - context)][0], tokenStop: s.tokens.wordTokens[i][1], targetWords: [w.index] })),
  );
}

/** One window per story holding every word. */
export function storyWindows(stories: StoryStimulus[]): ContextWindow[] {
  return stories.map((s) => ({ story: s.story, tokenStart: 0, tokenStop: s.tokens.inputIds.length, targetWords: s.words.map((w) => w.index) }));
}

/** A deterministic pseudo-random story of n words of 1–3 tokens each (ids < vocab). */
export function randomStory(story: number, firstIndex: number, n: number, vocab: number, seed: number): StoryStimulus {
  let x = seed >>> 0;
  const next = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
  const wordIds = Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(next() * 3) }, () => Math.floor(next() * vocab)));
  return toyStory(story, firstIndex, wordIds, wordIds.map((_, i) => i % 2 === 0));
}
