/**
 * Context-window planning: exact windows (N previous words per target), chunked windows (shared by a
 * block of targets), story resets, unmatched words, BOS accounting and the model's length limit.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planContextWindows, type ContextPlan, type StoryTokens } from '../adapters/llm/contextWindows.js';
import type { ContextWindow } from '../src/types.js';

/**
 * Two stories with irregular tokenization: word p has 1–3 tokens, some words are followed by a
 * punctuation token that belongs to no word, and every 17th word is unmatched (no tokens).
 */
function stories(): StoryTokens[] {
  const out: StoryTokens[] = [];
  let index = 0;
  for (const [story, nWords] of [[0, 230], [1, 140]] as const) {
    const words = [];
    const wordTokens: Array<[number, number]> = [];
    let t = story === 1 ? 1 : 0; // story 1 opens with a quote token
    for (let p = 0; p < nWords; p++) {
      words.push({ index: index++, word: `w${p}`, story });
      if (p % 17 === 9) {
        wordTokens.push([-1, -1]);
        continue;
      }
      const n = 1 + ((p * 7) % 3);
      wordTokens.push([t, t + n]);
      t += n + (p % 5 === 4 ? 1 : 0);
    }
    out.push({ story, words, tokenized: { wordTokens, inputIds: new Array<number>(t).fill(0) } });
  }
  return out;
}

/** The window a target is read from (each target must be in exactly one). */
function windowOf(plan: ContextPlan): Map<number, ContextWindow> {
  const m = new Map<number, ContextWindow>();
  for (const w of plan.windows) {
    for (const target of w.targetWords) {
      assert.ok(!m.has(target), `word ${target} is a target of one window only`);
      m.set(target, w);
    }
  }
  return m;
}

/** Position in its story and token range of every matched word, by stimulus index. */
function wordInfo(ss: StoryTokens[]): Map<number, { story: number; p: number; tokens: [number, number] }> {
  const m = new Map<number, { story: number; p: number; tokens: [number, number] }>();
  for (const s of ss) s.words.forEach((w, p) => m.set(w.index, { story: s.story, p, tokens: s.tokenized.wordTokens[p]! }));
  return m;
}

describe('context windows', () => {
  const ss = stories();
  const info = wordInfo(ss);
  const matchedTargets = [...info.values()].filter((i) => i.tokens[0] >= 0).length;

  for (const N of [0, 1, 5, 50, 1000]) {
    it(`exact, N = ${N}: one window per word, words max(0, p−N)…p of its story`, () => {
      const plan = planContextWindows(ss, { contextWords: N });
      const win = windowOf(plan);
      assert.equal(plan.windows.length, matchedTargets);
      assert.equal(plan.nTargets, matchedTargets);
      for (const [index, { story, p, tokens }] of info) {
        const w = win.get(index);
        if (tokens[0] < 0) {
          assert.equal(w, undefined, 'unmatched words are never targets');
          continue;
        }
        assert.equal(w!.story, story);
        assert.deepEqual(w!.targetWords, [index]);
        assert.equal(w!.tokenStop, tokens[1], 'the context ends with the target word');
        const s = ss.find((x) => x.story === story)!;
        let q = Math.max(0, p - N);
        while (s.tokenized.wordTokens[q]![0] < 0) q++;
        assert.equal(w!.tokenStart, s.tokenized.wordTokens[q]![0], 'the context starts at word p−N (story start at most)');
        assert.equal(plan.contextSeen.get(index), Math.min(N, p));
      }
      const total = plan.windows.reduce((a, w) => a + w.tokenStop - w.tokenStart, 0);
      assert.equal(plan.tokensProcessed, total);
      assert.equal(plan.truncatedTargets, 0);
    });
  }

  for (const [N, B] of [[5, undefined], [50, undefined], [50, 7], [3, 20]] as const) {
    it(`chunked, N = ${N}, B = ${B ?? 'N'}: each exact window is a suffix of the chunk window cut at the target`, () => {
      const exact = windowOf(planContextWindows(ss, { contextWords: N }));
      const plan = planContextWindows(ss, { contextWords: N, mode: 'chunked', chunkWords: B });
      const chunked = windowOf(plan);
      const b = B ?? N;
      assert.equal(plan.chunkWords, b);
      assert.equal(chunked.size, exact.size);
      for (const [index, e] of exact) {
        const c = chunked.get(index)!;
        const stop = info.get(index)!.tokens[1];
        assert.equal(c.story, e.story);
        assert.equal(e.tokenStop, stop);
        assert.ok(c.tokenStart <= e.tokenStart && c.tokenStop >= stop, `word ${index}: [${e.tokenStart}, ${stop}) inside [${c.tokenStart}, ${c.tokenStop})`);
        const p = info.get(index)!.p;
        const seen = plan.contextSeen.get(index)!;
        assert.ok(seen >= Math.min(N, p) && seen <= N + b - 1, `word ${index} sees ${seen} words`);
      }
      // Blocks are B consecutive words of one story.
      for (const w of plan.windows) {
        const ps = w.targetWords.map((t) => info.get(t)!.p);
        assert.ok(Math.floor(ps[0]! / b) === Math.floor(ps[ps.length - 1]! / b));
      }
      // Cheaper than exact by about (N+1)/2 for B = N.
      const exactPlan = planContextWindows(ss, { contextWords: N });
      assert.ok(plan.tokensProcessed < exactPlan.tokensProcessed);
      if (B === undefined) {
        const ratio = exactPlan.tokensPerWord / plan.tokensPerWord;
        assert.ok(ratio > (N + 1) / 2 * 0.6 && ratio < (N + 1) / 2 * 1.4, `saving ${ratio.toFixed(2)} ≈ (N+1)/2`);
      }
    });
  }

  it('chunked with blocks of one word is exact', () => {
    for (const N of [0, 4, 50]) {
      const exact = planContextWindows(ss, { contextWords: N });
      const chunked = planContextWindows(ss, { contextWords: N, mode: 'chunked', chunkWords: 1 });
      assert.deepEqual(chunked.windows, exact.windows);
      assert.equal(chunked.tokensProcessed, exact.tokensProcessed);
    }
  });

  it('counts a BOS per window and respects the model length limit', () => {
    const plain = planContextWindows(ss, { contextWords: 50 });
    const bos = planContextWindows(ss, { contextWords: 50, prependBos: true });
    assert.deepEqual(bos.windows, plain.windows, 'the BOS is not part of the token range');
    assert.equal(bos.tokensProcessed, plain.tokensProcessed + plain.windows.length);

    for (const mode of ['exact', 'chunked'] as const) {
      const limited = planContextWindows(ss, { contextWords: 50, mode, prependBos: true, maxTokens: 40 });
      const win = windowOf(limited);
      assert.equal(win.size, matchedTargets, `${mode}: every target still has a window`);
      for (const w of limited.windows) assert.ok(w.tokenStop - w.tokenStart + 1 <= 40, `${mode}: window fits`);
      assert.ok(limited.truncatedTargets > 0);
      for (const [index, w] of win) {
        assert.ok(w.tokenStop >= info.get(index)!.tokens[1]);
        assert.ok(limited.contextSeen.get(index)! < 50 || info.get(index)!.p < 50 || mode === 'chunked');
      }
    }
    assert.throws(() => planContextWindows(ss, { contextWords: 5, maxTokens: 3, prependBos: true }), /alone needs 4 tokens, more than maxTokens 3/);
  });

  it('rejects bad options', () => {
    assert.throws(() => planContextWindows(ss, { contextWords: -1 }), /contextWords must be a non-negative integer/);
    assert.throws(() => planContextWindows(ss, { contextWords: 2.5 }), /contextWords/);
    assert.throws(() => planContextWindows(ss, { mode: 'chunked', chunkWords: 0 }), /chunkWords must be a positive integer/);
    assert.throws(() => planContextWindows(ss, { mode: 'sliding' as 'exact' }), /mode must be 'exact' or 'chunked'/);
  });
});
