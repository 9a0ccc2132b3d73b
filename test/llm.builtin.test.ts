/**
 * `lockstep extract` on the built-in trained model (models/lockstep-moby-gpt2, GPT-2 architecture
 * trained on Moby Dick by scripts/train_builtin_model.py) over the first 300 words of the built-in
 * text. The folder is copied to a temp dir first, so the surgery's cached graph is not written into
 * the repository. Skipped (with the reason) when the model folder is absent.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openActivationCache } from '../adapters/llm/activationCache.js';
import { builtinModelDir } from '../adapters/onnx/builder/builtinModel.js';
import { DEFAULT_DEPTHS, layersForDepths } from '../src/llm/depths.js';
import { runExtract } from '../adapters/llm/extract.js';
import { tempDir } from './helpers/paths.js';

const source = builtinModelDir();
const present = fs.existsSync(path.join(source, 'onnx', 'model.onnx'));

describe('lockstep extract on the built-in model', () => {
  it('extracts 300 words of Moby Dick: every word matched, 9 depths × 50 PCA dims, finite surprisal below the uniform rate', { skip: present ? false : `${source} has no onnx/model.onnx` }, async () => {
    const root = tempDir('extract-builtin');
    try {
      const model = path.join(root, 'model');
      fs.cpSync(source, model, { recursive: true });
      const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as { n_layer: number; n_embd: number; vocab_size: number };
      const s = await runExtract({ model, text: 'builtin', maxWords: 300, context: 50, mode: 'exact', aggregate: 'mean', pca: 50, out: path.join(root, 'cache') });
      assert.equal(s.words, 300);
      assert.deepEqual(s.unmatchedWords, []);
      assert.equal(s.nBlocks, config.n_layer);
      assert.equal(s.hiddenSize, config.n_embd);
      assert.deepEqual(s.layers, layersForDepths(DEFAULT_DEPTHS, config.n_layer).layers);
      assert.equal(s.dims, Math.min(50, config.n_embd));
      const reader = openActivationCache(s.cacheDir);
      const rows = [...reader.rows()];
      assert.equal(rows[0].surprisalNats, null, 'GPT-2-style tokenizer: the first word has no context');
      let nats = 0;
      let tokens = 0;
      rows.forEach((r, i) => {
        assert.ok(r.activations.every(Number.isFinite), `word ${i}: non-finite activation`);
        if (i === 0) return;
        assert.ok(Number.isFinite(r.surprisalNats) && r.surprisalNats! > 0, `word ${i}: surprisal ${r.surprisalNats}`);
        nats += r.surprisalNats!;
        tokens += reader.words[i].tokens;
      });
      // A model that learnt anything predicts better than uniform over its vocabulary.
      const perToken = nats / tokens;
      assert.ok(perToken < Math.log(config.vocab_size), `mean surprisal ${perToken.toFixed(3)} nats/token ≥ ln V = ${Math.log(config.vocab_size).toFixed(3)}`);
      process.stderr.write(`built-in model: ${s.wordsPerSec?.toFixed(1)} words/s (${s.runner}), ${s.tokensPerWord.toFixed(1)} tokens/word, ${perToken.toFixed(3)} nats/token\n`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
