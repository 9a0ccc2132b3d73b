/**
 * `lockstep extract` end to end on a tiny generated model folder (ONNX builder graph + a byte-level
 * BPE tokenizer trained on Moby Dick): the CLI's JSON summary and exit codes, and the cached
 * activations and surprisal checked against an independent computation with the onnxruntime-node
 * runner (adapters/onnx/hiddenStateRunner.ts) on each word's exact window.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openActivationCache } from '../adapters/llm/activationCache.js';
import { readNpyFile, writeNpyFile } from '../adapters/npyFile.js';
import { runDecode } from '../cli/decode.js';
import { OnnxHiddenStateModel } from '../adapters/onnx/hiddenStateRunner.js';
import { loadStimulusTokenizer, tokenizeStimulus } from '../adapters/text/wordAlignment.js';
import { builtinStory, stimulusFromStories } from '../adapters/text/stimulusText.js';
import { splitWords } from '../adapters/text/builtinText.js';
import { Command } from 'commander';
import { runExtract, type ExtractSummary } from '../adapters/llm/extract.js';
import { registerExtractCommand } from '../cli/extract.js';
import { CLI, tempDir } from './helpers/paths.js';
import { writeTinyModelFolder, type TinyModelFolder } from './helpers/tinyModelFolder.js';

const WORDS = 60;
const CONTEXT = 6;

function lockstep(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('lockstep extract on a tiny generated model', () => {
  let root: string;
  let tiny: TinyModelFolder;
  let summary: ExtractSummary;
  before(() => {
    root = tempDir('extract-cli');
    tiny = writeTinyModelFolder(root, { layers: 4, hidden: 32 });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('writes the cache and prints a JSON summary', () => {
    const res = lockstep(['extract', '--model', tiny.dir, '--text', 'builtin', '--max-words', String(WORDS), '--context', String(CONTEXT), '--pca', 'none', '--depths', '0,0.5,1', '--out', path.join(root, 'cache'), '--json']);
    assert.equal(res.status, 0, res.stderr);
    summary = JSON.parse(res.stdout) as ExtractSummary;
    assert.equal(summary.words, WORDS);
    assert.deepEqual(summary.layers, [0, 2, 4]);
    assert.equal(summary.dims, 32);
    assert.equal(summary.nBlocks, 4);
    assert.equal(summary.fromCache, false);
    assert.deepEqual(summary.unmatchedWords, []);
    assert.ok(summary.tokensPerWord > 1 && summary.wordsPerSec! > 0);
    assert.match(summary.runner, /transformers\.js|onnxruntime-node/);
    assert.match(res.stderr, /extract: .*words\/s/);
    assert.ok(fs.existsSync(path.join(summary.cacheDir, 'manifest.json')));
  });

  it('cached activations and surprisal equal an independent onnxruntime-node computation on each word\'s exact window', async () => {
    const reader = openActivationCache(summary.cacheDir);
    const rows = [...reader.rows()];
    assert.equal(rows.length, WORDS);
    const tok = await loadStimulusTokenizer(tiny.dir);
    const story = builtinStory();
    const words = splitWords(story.text).slice(0, WORDS);
    const stim = stimulusFromStories([{ ...story, text: story.text.slice(0, words.at(-1)!.end) }]);
    const [ts] = tokenizeStimulus(tok, stim.words, stim.texts);
    const ort = await OnnxHiddenStateModel.open(tiny.dir);
    try {
      for (const p of [0, 1, 7, 33, WORDS - 1]) {
        const [a, b] = ts.wordTokens[p];
        const start = ts.wordTokens[Math.max(0, p - CONTEXT)][0];
        const out = await ort.forward(ts.inputIds.slice(start, b));
        const H = 32;
        [0, 2, 4].forEach((layer, li) => {
          for (let j = 0; j < H; j++) {
            let s = 0;
            for (let t = a; t < b; t++) s += out.hidden[layer][(t - start) * H + j];
            const want = s / (b - a);
            const got = rows[p].activations[li * H + j];
            assert.ok(Math.abs(got - want) <= 1e-4 * (1 + Math.abs(want)), `word ${p} layer ${layer} dim ${j}: ${got} vs ${want}`);
          }
        });
        if (p === 0) {
          assert.equal(rows[p].surprisalNats, null, 'GPT-2 tokenizer: no BOS, so the first word has no surprisal');
          continue;
        }
        let want = 0;
        const V = tiny.vocab;
        for (let t = a; t < b; t++) {
          const o = (t - 1 - start) * V;
          let m = -Infinity;
          for (let v = 0; v < V; v++) m = Math.max(m, out.logits![o + v]);
          let z = 0;
          for (let v = 0; v < V; v++) z += Math.exp(out.logits![o + v] - m);
          want += m + Math.log(z) - out.logits![o + ts.inputIds[t]];
        }
        assert.ok(Math.abs(rows[p].surprisalNats! - want) < 1e-3, `word ${p} surprisal ${rows[p].surprisalNats} vs ${want}`);
      }
    } finally {
      await ort.dispose();
    }
  });

  it('finds the cache on a rerun, and chunked mode with 1-word blocks gives the same activations as exact', async () => {
    const common = { model: tiny.dir, text: 'builtin', maxWords: WORDS, context: CONTEXT, aggregate: 'mean' as const, pca: 'none' as const, depths: [0, 0.5, 1], out: path.join(root, 'cache'), runner: 'onnxruntime' as const };
    const again = await runExtract({ ...common, mode: 'exact' });
    assert.equal(again.fromCache, true, 'the runner is not part of the key: both compute the same graph');
    assert.equal(again.cacheDir, summary.cacheDir);
    const chunked = await runExtract({ ...common, mode: 'chunked', chunkWords: 1 });
    assert.notEqual(chunked.cacheDir, summary.cacheDir);
    const a = readNpyFile(path.join(summary.cacheDir, 'raw.npy')).data;
    const b = readNpyFile(path.join(chunked.cacheDir, 'raw.npy')).data;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    assert.ok(worst < 1e-4, `exact vs chunked (B = 1) differ by ${worst}`);
    // Chunked with 10-word blocks reads most words with more context: fewer tokens per word.
    const wide = await runExtract({ ...common, mode: 'chunked', chunkWords: 10, pca: 5 });
    assert.ok(wide.tokensPerWord < summary.tokensPerWord / 2, `${wide.tokensPerWord} vs ${summary.tokensPerWord}`);
    assert.equal(wide.dims, 5);
    // targets.npy is what `lockstep decode --targets` reads: [layers, words, dims].
    const X = new Float32Array(WORDS * 3 * 6).map((_, i) => Math.sin(i * 0.7) + Math.cos(i * 0.13));
    writeNpyFile(path.join(root, 'X.npy'), X, [WORDS, 3, 6]);
    const dec = await runDecode({ epochs: path.join(root, 'X.npy'), targets: path.join(wide.cacheDir, 'targets.npy'), depths: wide.depths, timesStart: 0, sfreq: 30, folds: 3, backend: 'reference', quiet: true });
    assert.equal(dec.R.length, 3);
  });

  it('an extraction stopped midway resumes from its checkpoint and ends with byte-identical files', async () => {
    const stop = new AbortController();
    const o = { model: tiny.dir, text: 'builtin', maxWords: WORDS, context: CONTEXT, mode: 'exact' as const, aggregate: 'mean' as const, pca: 'none' as const, depths: [0, 0.5, 1], out: path.join(root, 'cache-stopped'), checkpointEvery: 8 };
    await assert.rejects(
      runExtract({ ...o, signal: stop.signal }, { progress: (p) => p.phase === 'extract' && p.wordsDone >= 20 && stop.abort() }),
      /extraction stopped after 20 of 60 words; rerun to resume/,
    );
    const resumed = await runExtract(o);
    assert.equal(resumed.resumedWords, 20);
    assert.equal(resumed.computedWords, WORDS - 20);
    assert.equal(path.basename(resumed.cacheDir), path.basename(summary.cacheDir));
    for (const f of fs.readdirSync(summary.cacheDir)) {
      assert.ok(fs.readFileSync(path.join(summary.cacheDir, f)).equals(fs.readFileSync(path.join(resumed.cacheDir, f))), `${f} differs`);
    }
  });

  it('reads an events.tsv with the story text, and reports words the text lacks', async () => {
    const text = 'Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.';
    const tsv = ['onset\tduration\ttrial_type\tword', ...['CALL', 'ME', 'ISHMAEL', 'SOME', 'YEARS', 'AGO', 'ZANZIBAR', 'NEVER', 'MIND'].map((w, i) => `${(i + 1) * 0.4}\t0.3\tword\t${w}`)].join('\n') + '\n';
    fs.writeFileSync(path.join(root, 'sub-01_task-x_run-01_events.tsv'), tsv);
    fs.writeFileSync(path.join(root, 'story.txt'), text);
    const s = await runExtract({ model: tiny.dir, text: path.join(root, 'sub-01_task-x_run-01_events.tsv'), storyText: [path.join(root, 'story.txt')], context: 3, mode: 'exact', aggregate: 'last', pca: 'none', out: path.join(root, 'cache-events'), runner: 'onnxruntime' });
    assert.equal(s.words, 8);
    assert.deepEqual(s.unmatchedWords.map((u) => u.word), ['ZANZIBAR']);
  });

  it('exits with status 2 and one line for bad input', () => {
    const noModel = lockstep(['extract', '--model', path.join(root, 'nope'), '--text', 'builtin', '--out', path.join(root, 'x')]);
    assert.equal(noModel.status, 2);
    assert.match(noModel.stderr, /^lockstep extract: --model .*nope: no such folder; give a model folder/);
    const noText = lockstep(['extract', '--model', tiny.dir, '--text', path.join(root, 'missing.txt'), '--out', path.join(root, 'x')]);
    assert.equal(noText.status, 2);
    assert.match(noText.stderr, /missing\.txt: no such file/);
  });

  it('rejects bad option values before loading anything', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerExtractCommand(program);
    const base = ['node', 'lockstep', 'extract', '--model', tiny.dir, '--text', 'builtin', '--out', path.join(root, 'x')];
    await assert.rejects(program.parseAsync([...base, '--depths', '0.5,1.5']), /relative depths in \[0, 1\].*item 2/);
    await assert.rejects(program.parseAsync([...base, '--pca', '0']), /number of components \(e\.g\. 50\) or "none", got "0"/);
    await assert.rejects(program.parseAsync([...base, '--context', '-1']), /non-negative integer, got "-1"/);
    await assert.rejects(program.parseAsync([...base, '--depths', '0.5', '--all-layers']), /give --depths or --all-layers, not both/);
  });
});
