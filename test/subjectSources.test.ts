/**
 * The simulated subject as pipeline sources: its recycled chunk buffers (a ring the source
 * overwrites as it goes, to spare the garbage collector) give exactly the decoding that a new
 * array per chunk gives, through the whole analysis pipeline (channel picks, filters, epochs,
 * refits), and the chunks really are recycled.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { syntheticFeatures } from '../adapters/llm/features.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { RECYCLED_CHUNKS, simulatedSources } from '../replay/subjectSources.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import { analysisPipeline } from '../streams/pipeline.js';

const planted = syntheticFeatures(5, 4, 3);
const words = speechTiming(builtinWords(260), { seed: 5, startSec: 3 });
const picks = Array.from({ length: 24 }, (_, i) => i * 11);

async function decode(chunkBuffers: 'recycled' | 'fresh') {
  const sources = simulatedSources({ seed: 5, words, planted, control: 'planted', snr: 4, speed: 'max', chunkBuffers });
  const buffers = new Set<ArrayBufferLike>();
  const snaps = await lastValueFrom(
    analysisPipeline({
      chunks$: sources.chunks$.pipe(tap((c) => buffers.add(c.data.buffer))),
      words$: sources.words$,
      sfreqHz: sources.sfreqHz,
      nChannels: picks.length,
      preprocess: { picks },
      activationOf: (w) => planted.of(w.wordIndex, w.word),
      nLayers: planted.nLayers,
      nDims: planted.nDims,
      depths: planted.depths,
      contentWordsOnly: false,
      backend: 'auto',
      refitEveryWords: 60,
      snapshotEveryWords: 30,
      foldBlockWords: 10,
      halfLifeWords: null,
      flow: sources.flow,
    }).snapshots$.pipe(toArray()),
  );
  return { snaps, buffers: buffers.size };
}

/** A snapshot without its wall-clock timings (which differ from run to run). */
const numbers = (snaps: ScoreSnapshot[]) => snaps.map((s) => ({ ...s, exact: s.exact && { ...s.exact, computeSeconds: 0 } }));

describe('simulated sources', () => {
  it('decode the same with recycled chunk buffers as with a new array per chunk', async () => {
    const recycled = await decode('recycled');
    const fresh = await decode('fresh');
    assert.equal(recycled.buffers, RECYCLED_CHUNKS, 'the chunks cycle through the ring');
    assert.ok(fresh.buffers > 100 * RECYCLED_CHUNKS, `${fresh.buffers} fresh buffers`);
    assert.ok(recycled.snaps.at(-1)!.exact, 'the run reaches an exact score');
    assert.deepEqual(numbers(recycled.snaps), numbers(fresh.snaps));
  });
});
