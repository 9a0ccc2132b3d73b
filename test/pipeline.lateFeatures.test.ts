/**
 * The analysis pipeline (streams/pipeline.ts, what replay and live run) does not depend on how fast
 * features arrive: the same MEG and words with a finished feature table, and with one whose words
 * become available late and out of order (as a streaming extraction delivers them; the epochs wait
 * in streams/joinActivations.ts), give the same snapshots, bit for bit. Small data (8 channels,
 * 70 s) so that the refits cost nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import { syntheticFeatures } from '../adapters/llm/features.js';
import { analysisPipeline } from '../streams/pipeline.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { SampleChunk, WordEvent } from '../src/types.js';

const SFREQ = 1200;
const CHANNELS = 8;
const SECONDS = 70;
const features = syntheticFeatures(4, 6);

/** Seeded noise plus a response to each word's first activation dim, 0.3 s after its onset. */
function data(): { chunks: SampleChunk[]; words: WordEvent[] } {
  const words: WordEvent[] = [];
  for (let i = 0, t = 3; t < SECONDS - 4; i++, t += 0.33 + 0.05 * (i % 4)) words.push({ wordIndex: i, word: `w${i}`, onsetSec: t, isContent: true });
  const n = SECONDS * SFREQ;
  const x = new Float32Array(n * CHANNELS);
  let s = 7;
  for (let k = 0; k < x.length; k++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[k] = (s / 2 ** 32 - 0.5) * 1e-12;
  }
  for (const w of words) {
    const a = features.of(w.wordIndex, w.word)!;
    const at = Math.round((w.onsetSec + 0.3) * SFREQ);
    for (let d = 0; d < 120; d++) for (let c = 0; c < CHANNELS; c++) x[(at + d) * CHANNELS + c] += a[c % 6] * 2e-13 * Math.sin((Math.PI * d) / 120);
  }
  const chunks: SampleChunk[] = [];
  for (let first = 0; first < n; first += 120) {
    const len = Math.min(120, n - first);
    chunks.push({ sfreqHz: SFREQ, firstSample: first, tStartSec: first / SFREQ, nChannels: CHANNELS, nSamples: len, data: x.slice(first * CHANNELS, (first + len) * CHANNELS) });
  }
  return { chunks, words };
}

async function run(activationOf: Parameters<typeof analysisPipeline>[0]['activationOf']): Promise<ScoreSnapshot[]> {
  const { chunks, words } = data();
  const { snapshots$ } = analysisPipeline({
    chunks$: from(chunks),
    words$: from(words),
    sfreqHz: SFREQ,
    nChannels: CHANNELS,
    activationOf,
    nLayers: features.nLayers,
    nDims: features.nDims,
    depths: features.depths,
    contentWordsOnly: false,
    backend: 'reference',
    refitEveryWords: 60,
    snapshotEveryWords: 20,
    foldBlockWords: 10,
    halfLifeWords: null,
  });
  return lastValueFrom(snapshots$.pipe(toArray()));
}

describe('analysis pipeline with features that arrive late', () => {
  it('gives the snapshots of a finished table, bit for bit', async () => {
    const ahead = await run((w) => features.of(w.wordIndex, w.word));
    let waited = 0;
    // Every third word is ready at once; the others 0–24 ms after they are asked for, in a scrambled order.
    const streamed = await run((w) => {
      if (w.wordIndex % 3 === 0) return features.of(w.wordIndex, w.word);
      waited++;
      return new Promise((resolve) => setTimeout(() => resolve(features.of(w.wordIndex, w.word)), (w.wordIndex * 7919) % 25));
    });
    assert.ok(waited > 80, `${waited} words waited`);
    assert.ok(ahead.length > 5 && ahead.at(-1)!.exact, `${ahead.length} snapshots, the last with an exact score`);
    assert.equal(streamed.length, ahead.length);
    const strip = (s: ScoreSnapshot) => ({ ...s, health: undefined, wallSec: undefined, timing: undefined });
    streamed.forEach((s, i) => {
      assert.equal(s.nWords, ahead[i].nWords);
      assert.deepEqual(s.exact?.R ?? null, ahead[i].exact?.R ?? null, `snapshot ${i}: exact R`);
      assert.deepEqual(s.rolling, ahead[i].rolling, `snapshot ${i}: rolling scores`);
      assert.deepEqual(strip(s).lastWord, strip(ahead[i]).lastWord);
    });
  });
});
