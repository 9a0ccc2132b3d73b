/**
 * Words read by the model as they arrive (adapters/llm/liveFeatures.ts: a live session whose
 * markers carry the words): on a tiny generated model folder, every word's features equal those of
 * extracting the same words ahead of time (an events file without its text, the same reference
 * PCA basis, exact context), up to float rounding; the running text lower-cases an all-capitals
 * stream as the ahead-of-time text does; words out of order are ignored; fits that need the whole
 * stimulus are refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelFeatures } from '../adapters/llm/features.js';
import { LiveFeatureTable } from '../adapters/llm/liveFeatures.js';
import { parsePcaFit } from '../adapters/llm/pcaBasis.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { tempDir } from './helpers/paths.js';
import { writeTinyModelFolder, type TinyModelFolder } from './helpers/tinyModelFolder.js';

const CONTEXT = 8;
const fit = parsePcaFit('reference:60');

describe('live word-by-word extraction', () => {
  let root: string;
  let tiny: TinyModelFolder;
  let words: string[];
  before(() => {
    root = tempDir('live-extract');
    tiny = writeTinyModelFolder(root, { layers: 3, hidden: 32 });
    // Events-file words: upper case, no punctuation (as the Armeni events and `publish` markers).
    words = builtinWords(2000).slice(1500, 1590).map((w) => w.word.replace(/[^A-Za-z'-]/g, '').toUpperCase()).filter((w) => w.length > 0);
    fs.writeFileSync(path.join(root, 'sub-01_task-x_events.tsv'), ['onset\tduration\ttrial_type\tword', ...words.map((w, i) => `${(i * 0.3).toFixed(2)}\t0.2\tword\t${w}`)].join('\n') + '\n');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('gives the features of extracting the same words ahead of time', async () => {
    const cacheRoot = path.join(root, 'cache');
    const live = await LiveFeatureTable.open({ model: tiny.dir, context: CONTEXT, pcaFit: fit, cacheRoot, workers: 1 });
    const got: (Float32Array | undefined)[] = [];
    try {
      words.forEach((w, i) => live.hear(i, w));
      assert.ok(live.when(words.length - 1) instanceof Promise, 'the last word is still being read');
      for (let i = 0; i < words.length; i++) got.push(await live.when(i));
      // An index already heard changes nothing.
      live.hear(3, 'WHATEVER');
      assert.deepEqual(await live.when(3), got[3]);
      assert.equal(live.latenciesSec.length, words.length);
    } finally {
      await live.close();
    }
    const ahead = await modelFeatures([{ text: path.join(root, 'sub-01_task-x_events.tsv') }], { model: tiny.dir, context: CONTEXT, mode: 'exact', cacheRoot, pcaFit: fit });
    assert.equal(ahead.nDims, live.nDims);
    assert.match(live.label, /context 8 words \(exact, computed as the words arrive\), PCA \d+ \(basis: reference:60\)/);
    let d = 0;
    let m = 0;
    let tags = 0;
    for (let i = 0; i < words.length; i++) {
      const a = ahead.of(i, words[i])!;
      const b = got[i]!;
      assert.ok(a && b, `word ${i} has features both ways`);
      for (let j = 0; j < a.length; j++) {
        d = Math.max(d, Math.abs(a[j] - b[j]));
        m = Math.max(m, Math.abs(a[j]));
      }
      if (ahead.isContent(i) === live.isContent(i)) tags++;
    }
    assert.ok(d <= 1e-5 * m, `live vs ahead of time: ${d} (scale ${m})`);
    // Tags see only the words before in a live session: most agree with the whole-text tagging.
    assert.ok(tags >= 0.8 * words.length, `${tags} of ${words.length} content tags agree`);
  });

  it('refuses fits that need the whole stimulus', async () => {
    await assert.rejects(LiveFeatureTable.open({ model: tiny.dir, context: CONTEXT, pcaFit: parsePcaFit('sample'), cacheRoot: path.join(root, 'c2') }), /needs --pca-fit reference\[:N\]: the sample fit needs words spread over the whole stimulus/);
    await assert.rejects(LiveFeatureTable.open({ model: tiny.dir, context: CONTEXT, pcaFit: parsePcaFit('all'), cacheRoot: path.join(root, 'c2') }), /all-words fit needs every word/);
    assert.throws(() => parsePcaFit('sample:1'), /at least 2 words/);
    assert.throws(() => parsePcaFit('half'), /expected all, sample\[:N\] or reference\[:N\]/);
  });
});
