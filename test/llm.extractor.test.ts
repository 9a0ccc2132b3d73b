/**
 * The extractor on a causal toy model whose hidden states and next-token probabilities are known in
 * closed form (test/helpers/toyCausalLm.ts): aggregation and surprisal against values worked out
 * by hand, and exact vs chunked windows giving identical features when each chunk covers the word's
 * exact window.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractWindow, extractWords, negLogSoftmax, StimulusIndex, type RawWordFeatures } from '../adapters/llm/extractor.js';
import type { ContextWindow } from '../src/types.js';
import { ToyCausalLm } from './helpers/toyCausalLm.js';
import { exactWindows, randomStory, toyStory } from './helpers/toyStimulus.js';

const close = (a: ArrayLike<number>, b: number[], tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `element ${i}: ${a[i]} vs ${b[i]}`);
};

async function collect(model: ToyCausalLm, stories: ReturnType<typeof toyStory>[], windows: ContextWindow[], layers: number[], aggregate: 'mean' | 'last') {
  const out: RawWordFeatures[] = [];
  for await (const w of extractWords(model, stories, windows, { layers, aggregate })) out.push(...w.words);
  return out;
}

describe('extractor on the toy causal model', () => {
  // Story: w0 = [1], w1 = [2, 3], w2 = [4]; tokens 1 2 3 4.
  const story = toyStory(0, 0, [[1], [2, 3], [4]]);

  it('averages a word\'s tokens per layer (hand-computed), in the requested layer order', async () => {
    const words = await collect(new ToyCausalLm(), [story], exactWindows([story], 1), [2, 0], 'mean');
    assert.deepEqual(words.map((w) => w.wordIndex), [0, 1, 2]);
    // w1, layer 2: token 2 (prev 1) = 9 + (h+1) + 0.02h; token 3 (prev 2) = 12 + 1.5(h+1) + 0.02h.
    // layer 0: token 2 = 3 + (h+1); token 3 = 4 + 1.5(h+1).
    close(words[1].activations, [11.75, 13.02, 14.29, 15.56, 4.75, 6, 7.25, 8.5]);
    // w0 alone at the story start (no previous token): layer 2 = 3·2 + 0.02h; layer 0 = 2.
    close(words[0].activations, [6, 6.02, 6.04, 6.06, 2, 2, 2, 2]);
    assert.deepEqual(words.map((w) => w.wordTokenCount), [1, 2, 1]);
    assert.deepEqual(words.map((w) => w.tokensPerWord), [1, 3, 3]);
  });

  it('takes the last token with aggregate=last', async () => {
    const words = await collect(new ToyCausalLm(), [story], exactWindows([story], 1), [2, 0], 'last');
    // token 3 (prev 2): layer 2 = 12 + 1.5(h+1) + 0.02h; layer 0 = 4 + 1.5(h+1).
    close(words[1].activations, [13.5, 15.02, 16.54, 18.06, 5.5, 7, 8.5, 10]);
  });

  it('sums −ln p over the word\'s tokens from the previous positions\' logits (hand-computed)', async () => {
    const words = await collect(new ToyCausalLm(), [story], exactWindows([story], 1), [0], 'mean');
    // w0: first token of the story, no BOS → unknown.
    assert.equal(words[0].surprisalNats, null);
    // w1: p(2 | 1) = (1 + 0)/12, p(3 | 2) = (1 + 2)/12 → ln 12 + ln 4 = ln 48.
    assert.ok(Math.abs(words[1].surprisalNats! - Math.log(48)) < 1e-6, String(words[1].surprisalNats));
    // w2: p(4 | 3) = (1 + 1)/12 → ln 6.
    assert.ok(Math.abs(words[2].surprisalNats! - Math.log(6)) < 1e-6, String(words[2].surprisalNats));
  });

  it('gives no surprisal without an LM head, or when the window starts at the word (zero context)', async () => {
    const noHead = await collect(new ToyCausalLm({ noLmHead: true }), [story], exactWindows([story], 1), [0], 'mean');
    assert.deepEqual(noHead.map((w) => w.surprisalNats), [null, null, null]);
    const zero = await collect(new ToyCausalLm(), [story], exactWindows([story], 0), [0], 'mean');
    assert.deepEqual(zero.map((w) => w.surprisalNats), [null, null, null]);
    // With zero context w1's first token has no predecessor: layer 0 of token 2 = 3, token 3 = 4 + 1.5(h+1).
    close(zero[1].activations, [4.25, 5, 5.75, 6.5]);
  });

  it('a BOS token before the first word gives the first word a surprisal', async () => {
    const s = toyStory(0, 0, [[5], [1], [2, 3]]);
    // Treat token 0 (id 5) as BOS: it belongs to no word.
    const bos = { ...s, words: s.words.slice(1), tokens: { ...s.tokens, tokenWord: Int32Array.from([-1, 1, 2, 2]), wordTokens: s.tokens.wordTokens.slice(1) } };
    const words = await collect(new ToyCausalLm(), [bos], [{ story: 0, tokenStart: 0, tokenStop: 4, targetWords: [1, 2] }], [0], 'mean');
    // p(1 | 5) = (1 + 0)/12 → ln 12.
    assert.ok(Math.abs(words[0].surprisalNats! - Math.log(12)) < 1e-6);
    assert.deepEqual(words.map((w) => w.tokensPerWord), [2, 2]);
  });

  it('prepends bosTokenId to every window: shifted rows, and a surprisal for every word', async () => {
    const model = new ToyCausalLm();
    const index = new StimulusIndex([story]);
    const got = [];
    for (const w of exactWindows([story], 0)) got.push(...(await extractWindow(model, index, w, { layers: [0], aggregate: 'mean', bosTokenId: 5 })));
    assert.equal(model.tokensSeen, 1 + 1 + 2 + 1 + 1 + 1);
    // w0 = [1] after BOS 5: p(1 | 5) = (1 + 0)/12 → ln 12; layer 0 of token 1 (prev 5) = 2 + (h+1)·3.
    assert.ok(Math.abs(got[0].surprisalNats! - Math.log(12)) < 1e-6);
    close(got[0].activations, [5, 8, 11, 14]);
    // w1 = [2, 3] after BOS: p(2 | 5) = (1 + 1)/12, p(3 | 2) = 3/12 → ln 6 + ln 4 = ln 24.
    assert.ok(Math.abs(got[1].surprisalNats! - Math.log(24)) < 1e-6);
    // tokens: 2 (prev 5) = 3 + 3(h+1); 3 (prev 2) = 4 + 1.5(h+1); mean 3.5 + 2.25(h+1).
    close(got[1].activations, [5.75, 8, 10.25, 12.5]);
    assert.deepEqual(got.map((w) => w.tokensPerWord), [2, 3, 2]);
    await assert.rejects(extractWindow(model, index, exactWindows([story], 0)[0], { layers: [0], aggregate: 'mean', bosTokenId: 6 }), /BOS token id 6 is outside the vocabulary 0…5/);
  });

  it('negLogSoftmax is stable for large logits', () => {
    const l = Float32Array.from([1000, 1000 + Math.log(3)]);
    assert.ok(Math.abs(negLogSoftmax(l, 0, 2, 0) - Math.log(4)) < 1e-4);
  });

  it('exact and chunked windows give identical activations and surprisal when the chunk covers the exact window', async () => {
    const stories = [randomStory(0, 0, 150, 6, 1), randomStory(1, 150, 90, 6, 2)];
    const context = 5;
    const exact = await collect(new ToyCausalLm(), stories, exactWindows(stories, context), [0, 1, 2, 3], 'mean');
    // Chunks of 40 words every 20 words; each word is read from the first chunk in which it has
    // ≥ context preceding words inside the chunk (or the story start).
    const chunked: ContextWindow[] = [];
    for (const s of stories) {
      const n = s.words.length;
      let nextTarget = 0;
      for (let startWord = 0; nextTarget < n; startWord += 20) {
        const stopWord = Math.min(n, startWord + 40);
        const targets: number[] = [];
        for (let i = nextTarget; i < stopWord; i++) if (i - startWord >= context || startWord === 0) targets.push(s.words[i].index);
        nextTarget += targets.length;
        chunked.push({ story: s.story, tokenStart: s.tokens.wordTokens[startWord][0], tokenStop: s.tokens.wordTokens[stopWord - 1][1], targetWords: targets });
      }
    }
    const model = new ToyCausalLm();
    const viaChunks = await collect(model, stories, chunked, [0, 1, 2, 3], 'mean');
    assert.ok(model.forwardCalls < exact.length / 5, 'chunked mode must run far fewer windows');
    assert.deepEqual(viaChunks.map((w) => w.wordIndex), exact.map((w) => w.wordIndex));
    for (let i = 0; i < exact.length; i++) {
      assert.deepEqual(viaChunks[i].activations, exact[i].activations, `word ${i}`);
      assert.equal(viaChunks[i].surprisalNats, exact[i].surprisalNats, `word ${i}`);
    }
    assert.equal(exact.filter((w) => w.surprisalNats === null).length, 2, 'only the first word of each story lacks a surprisal');
  });

  it('names the window and word when a target word is not inside its window', async () => {
    const index = new StimulusIndex([story]);
    await assert.rejects(extractWindow(new ToyCausalLm(), index, { story: 0, tokenStart: 2, tokenStop: 4, targetWords: [1] }, { layers: [0], aggregate: 'mean' }), /word 1 \("w1"\) has tokens \[1, 3\), not all inside the window story 0, tokens \[2, 4\)/);
    await assert.rejects(extractWindow(new ToyCausalLm(), index, { story: 3, tokenStart: 0, tokenStop: 1, targetWords: [0] }, { layers: [0], aggregate: 'mean' }), /story 3, which is not in the stimulus/);
    await assert.rejects(extractWindow(new ToyCausalLm(), index, { story: 0, tokenStart: 0, tokenStop: 1, targetWords: [0] }, { layers: [4], aggregate: 'mean' }), /layer 4 does not exist: the model has hidden states 0…3/);
  });
});
