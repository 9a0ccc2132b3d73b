/**
 * Batched extraction computes what one window per pass computes: windows right-padded into one
 * forward pass (adapters/onnx/batchRunner.ts), in this thread and on worker threads
 * (adapters/llm/extractionPool.ts), against batch-1 passes of the same modified graph, on small
 * generated models of three families (learned positions, rotary positions with grouped KV heads,
 * parallel residuals) and on a real torch export. Also: the batch partition, and a resumed batched
 * run giving the same bits as an uninterrupted one.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExtractionPool, poolExtractWords } from '../adapters/llm/extractionPool.js';
import { extractWords, type RawWordFeatures, type StoryStimulus } from '../adapters/llm/extractor.js';
import { planWindowBatches } from '../adapters/llm/windowBatches.js';
import { buildTinyCausalLM, type TinyCausalLMSpec } from '../adapters/onnx/builder/tinyCausalLM.js';
import { OnnxHiddenStateModel } from '../adapters/onnx/hiddenStateRunner.js';
import type { ContextWindow } from '../src/types.js';
import { GPT2_PAST_MASK_ONE } from './helpers/onnxFixtures.js';
import { tempDir } from './helpers/paths.js';
import { exactWindows, randomStory } from './helpers/toyStimulus.js';

const LAYERS = [0, 1, 2];

/** Largest |a − b| over all words and values, relative to the largest |a|. */
function relDiff(a: RawWordFeatures[], b: RawWordFeatures[]): { act: number; surprisal: number } {
  assert.deepEqual(b.map((w) => w.wordIndex), a.map((w) => w.wordIndex));
  let d = 0;
  let s = 0;
  let sd = 0;
  a.forEach((w, i) => {
    for (let j = 0; j < w.activations.length; j++) {
      d = Math.max(d, Math.abs(w.activations[j] - b[i].activations[j]));
      s = Math.max(s, Math.abs(w.activations[j]));
    }
    assert.equal(b[i].surprisalNats === null, w.surprisalNats === null, `word ${w.wordIndex}: surprisal presence`);
    if (w.surprisalNats !== null) sd = Math.max(sd, Math.abs(w.surprisalNats - b[i].surprisalNats!) / Math.max(1, Math.abs(w.surprisalNats)));
    assert.equal(b[i].tokensPerWord, w.tokensPerWord);
    assert.equal(b[i].wordTokenCount, w.wordTokenCount);
  });
  return { act: d / s, surprisal: sd };
}

async function collect(gen: AsyncGenerator<{ windowIndex: number; words: RawWordFeatures[] }>): Promise<{ windows: number[]; words: RawWordFeatures[] }> {
  const windows: number[] = [];
  const words: RawWordFeatures[] = [];
  for await (const w of gen) {
    windows.push(w.windowIndex);
    words.push(...w.words);
  }
  return { windows, words };
}

describe('window batches', () => {
  const windows: ContextWindow[] = [5, 9, 9, 12, 3, 30, 30, 2, 7, 7, 7, 40].map((len, i) => ({ story: 0, tokenStart: i, tokenStop: i + len, targetWords: [i] }));

  it('cover every window once, in order, within the padded-token and window limits', () => {
    for (const [maxBatchTokens, maxBatchWindows] of [[40, 64], [60, 3], [1, 64], [10_000, 5]] as const) {
      const batches = planWindowBatches(windows, { maxBatchTokens, maxBatchWindows });
      assert.deepEqual(batches.flat(), windows.map((_, i) => i));
      for (const b of batches) {
        assert.ok(b.length <= maxBatchWindows);
        const longest = Math.max(...b.map((i) => windows[i].tokenStop - windows[i].tokenStart));
        // A window longer than the limit goes alone; otherwise the padded batch fits.
        assert.ok(b.length === 1 || b.length * longest <= maxBatchTokens, `batch ${b} pads to ${b.length * longest} > ${maxBatchTokens}`);
      }
    }
    // BOS counts in each window's length.
    assert.deepEqual(planWindowBatches(windows.slice(0, 2), { maxBatchTokens: 19 }), [[0, 1]]);
    assert.deepEqual(planWindowBatches(windows.slice(0, 2), { maxBatchTokens: 19, prependBos: true }), [[0], [1]]);
    assert.throws(() => planWindowBatches(windows, { maxBatchTokens: 0 }), /maxBatchTokens must be a positive integer/);
  });
});

describe('batched forward passes = one window per pass (float32 rounding)', () => {
  let root: string;
  const models: { name: string; model: OnnxHiddenStateModel }[] = [];
  const stories: StoryStimulus[] = [randomStory(0, 0, 70, 90, 11), randomStory(1, 70, 40, 90, 12)];
  const windows = exactWindows(stories, 12);
  const opts = { layers: LAYERS, aggregate: 'mean' as const };

  before(async () => {
    root = tempDir('batching');
    const specs: [string, TinyCausalLMSpec][] = [
      ['gpt2 (learned positions)', { family: 'gpt2', layers: 2, hidden: 32, heads: 4, vocab: 96, kvCache: true, seed: 5 }],
      ['llama (rotary, grouped KV heads)', { family: 'llama', layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 96, kvCache: true, seed: 6 }],
      ['gpt-neox (parallel residual)', { family: 'gpt-neox', layers: 2, hidden: 32, heads: 4, vocab: 96, kvCache: true, seed: 7 }],
    ];
    for (const [name, spec] of specs) {
      const file = path.join(root, `${spec.family}.onnx`);
      fs.writeFileSync(file, buildTinyCausalLM(spec).model);
      models.push({ name, model: await OnnxHiddenStateModel.open(file, { cacheDir: path.join(root, 'surgery') }) });
    }
  });
  after(async () => {
    for (const m of models) await m.model.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('in this thread: every family, with mean and last aggregation', async () => {
    for (const { name, model } of models) {
      assert.equal(model.batchable, true, `${name} takes batches`);
      const batches = planWindowBatches(windows, { maxBatchTokens: 200 });
      assert.ok(batches.length < windows.length / 4, `${name}: ${batches.length} batches for ${windows.length} windows`);
      for (const aggregate of ['mean', 'last'] as const) {
        const one = await collect(extractWords(model, stories, windows, { ...opts, aggregate }));
        const batched = await collect(extractWords(model, stories, windows, { ...opts, aggregate }, 0, batches));
        assert.deepEqual(batched.windows, one.windows);
        const d = relDiff(one.words, batched.words);
        assert.ok(d.act < 1e-5 && d.surprisal < 1e-5, `${name} ${aggregate}: relative differences ${JSON.stringify(d)}`);
      }
    }
  });

  it('with a BOS before every window', async () => {
    const { model } = models[1];
    const withBos = { ...opts, bosTokenId: 95 };
    const one = await collect(extractWords(model, stories, windows, withBos));
    const batched = await collect(extractWords(model, stories, windows, withBos, 0, planWindowBatches(windows, { maxBatchTokens: 300, prependBos: true })));
    const d = relDiff(one.words, batched.words);
    assert.ok(d.act < 1e-5 && d.surprisal < 1e-5, JSON.stringify(d));
    assert.ok(one.words.every((w) => w.surprisalNats !== null), 'with a BOS every word has a surprisal');
  });

  it('on two worker threads (their sessions fully optimised): same words, in order, every family', async () => {
    const batches = planWindowBatches(windows, { maxBatchTokens: 150 });
    for (const { name, model } of models.slice(1)) {
      const pool = await ExtractionPool.start(model.recipe(), { workers: 2, threads: 1 });
      try {
        const one = await collect(extractWords(model, stories, windows, opts));
        const pooled = await collect(poolExtractWords(pool, stories, windows, opts, batches));
        const d = relDiff(one.words, pooled.words);
        assert.ok(d.act < 1e-5 && d.surprisal < 1e-5, `${name}: ${JSON.stringify(d)}`);
      } finally {
        await pool.close();
      }
    }
    const { model } = models[0];
    const pool = await ExtractionPool.start(model.recipe(), { workers: 2, threads: 1 });
    try {
      assert.equal(pool.workers, 2);
      const one = await collect(extractWords(model, stories, windows, opts));
      const pooled = await collect(poolExtractWords(pool, stories, windows, opts, batches));
      assert.deepEqual(pooled.windows, windows.map((_, i) => i));
      const d = relDiff(one.words, pooled.words);
      assert.ok(d.act < 1e-5 && d.surprisal < 1e-5, JSON.stringify(d));
      // A run resumed inside a batch recomputes that batch whole: the same bits as the full run.
      const start = batches[3][1];
      const resumed = await collect(poolExtractWords(pool, stories, windows, opts, batches, start));
      assert.equal(resumed.windows[0], start);
      const tail = pooled.words.filter((w) => w.wordIndex >= windows[start].targetWords[0]);
      resumed.words.forEach((w, i) => assert.deepEqual(w.activations, tail[i].activations, `word ${w.wordIndex}`));
    } finally {
      await pool.close();
    }
  });

  it('a real torch export with an attention mask takes batches too', async (t) => {
    if (!fs.existsSync(GPT2_PAST_MASK_ONE)) return t.skip('fixture missing');
    const model = await OnnxHiddenStateModel.open(GPT2_PAST_MASK_ONE, { cacheDir: path.join(root, 'surgery') });
    try {
      if (!model.batchable) return t.skip('this export takes no batch');
      const rows = [[4, 7, 1, 12], [4, 7], [11, 3, 19, 0, 5, 13, 2]];
      const batch = await model.forwardBatch(rows, { layers: [0, model.nBlocks], logits: true });
      for (let b = 0; b < rows.length; b++) {
        const one = await model.forward(rows[b]);
        const H = model.hiddenSize;
        for (const l of [0, model.nBlocks]) {
          const got = batch.hidden[l]!.subarray(b * batch.maxTokens * H, (b * batch.maxTokens + rows[b].length) * H);
          let d = 0;
          let s = 0;
          for (let j = 0; j < got.length; j++) {
            d = Math.max(d, Math.abs(got[j] - one.hidden[l][j]));
            s = Math.max(s, Math.abs(one.hidden[l][j]));
          }
          assert.ok(d <= 1e-5 * s, `row ${b}, hidden state ${l}: ${d} vs scale ${s}`);
        }
      }
    } finally {
      await model.dispose();
    }
  });
});
