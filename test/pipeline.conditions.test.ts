/**
 * Per-condition decoding in the analysis pipeline: each condition's decoder sees exactly its own
 * words and gives the numbers a pipeline fed only those words gives; the overall decoder is
 * unchanged by the conditions beside it; a word may belong to several conditions. And coalesced
 * refits (what a live session that cannot wait uses) end cleanly when the source completes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { SimulatedSubject } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import type { SampleChunk, WordEvent } from '../src/types.js';
import { analysisPipeline, type AnalysisPipelineOptions } from '../streams/pipeline.js';
import { scoreSnapshots } from '../streams/scoreSnapshots.js';
import { epochTimes, defaultDepths } from '../src/epochGrid.js';
import { smallPlanted, wordsOf } from './helpers/planted.js';

const L = 3;
const D = 4;
const depths = [0.2, 0.5, 0.8];
const act = syntheticActivations({ seed: 4, nLayers: L, nDims: D });
const words = speechTiming(builtinWords(150), { seed: 4, startSec: 4 });
const subject = new SimulatedSubject({ seed: 4, words, activation: act, nLayers: L, nDims: D, depths, snr: 4 });
const seconds = Math.ceil(words.at(-1)!.onsetSec + 4);
const chunks: SampleChunk[] = Array.from({ length: seconds }, (_, k) => subject.chunk(k * 1200, 1200));
const picks = Array.from({ length: 16 }, (_, i) => i * 17);

function options(ws: WordEvent[]): AnalysisPipelineOptions {
  return {
    chunks$: from(chunks),
    words$: from(ws),
    sfreqHz: 1200,
    nChannels: picks.length,
    preprocess: { picks },
    activationOf: (w) => act(w.wordIndex, w.word),
    nLayers: L,
    nDims: D,
    depths,
    contentWordsOnly: false,
    backend: 'auto',
    refitEveryWords: 40,
    snapshotEveryWords: 20,
    foldBlockWords: 10,
    halfLifeWords: null,
  };
}

/** A snapshot without its wall-clock timings (which differ from run to run). */
const numbers = (snaps: ScoreSnapshot[]) => snaps.map((s) => ({ ...s, exact: s.exact && { ...s.exact, computeSeconds: 0 } }));

const conditionsOf = (w: WordEvent) => [w.wordIndex % 2 === 0 ? 'even' : 'odd', ...(w.wordIndex % 3 === 0 ? ['third'] : [])];

describe('per-condition decoding', () => {
  it('gives each condition the scores of a pipeline fed only its words, and leaves the overall decoder unchanged', async () => {
    const byCondition = new Map<string, ScoreSnapshot[]>();
    const withConditions = await lastValueFrom(
      analysisPipeline({
        ...options(words),
        conditionsOf,
        conditionDecoder: { refitEveryWords: 30, foldBlockWords: 5, snapshotEveryWords: 20 },
        onConditionSnapshot: (c, s) => byCondition.set(c, [...(byCondition.get(c) ?? []), s]),
      }).snapshots$.pipe(toArray()),
    );
    const plain = await lastValueFrom(analysisPipeline(options(words)).snapshots$.pipe(toArray()));
    assert.deepEqual(numbers(withConditions), numbers(plain), 'the overall snapshots are identical with or without conditions');
    assert.deepEqual([...byCondition.keys()].sort(), ['even', 'odd', 'third']);

    // "third" overlaps both "even" and "odd": a word in two conditions reaches both decoders.
    const alone = await lastValueFrom(
      analysisPipeline({ ...options(words.filter((w) => w.wordIndex % 3 === 0)), refitEveryWords: 30, foldBlockWords: 5, snapshotEveryWords: 20 }).snapshots$.pipe(toArray()),
    );
    const mine = byCondition.get('third')!;
    assert.ok(mine.at(-1)!.exact, 'the condition has an exact score');
    assert.deepEqual(numbers(mine), numbers(alone), 'every snapshot identical to decoding its words alone');
    const total = (c: string) => byCondition.get(c)!.at(-1)!.nWords;
    assert.equal(total('even') + total('odd'), plain.at(-1)!.nWords, 'every word in exactly one of even/odd');
  });
});

describe('words without activations', () => {
  it('are cut, reported to onNoActivations one by one, counted, and never decoded', async () => {
    const cut: number[] = [];
    const missing: number[] = [];
    const gap = (w: WordEvent) => w.wordIndex % 7 === 3;
    const pipeline = analysisPipeline({
      ...options(words),
      activationOf: (w) => (gap(w) ? undefined : act(w.wordIndex, w.word)),
      onEpoch: (w) => cut.push(w.wordIndex),
      onNoActivations: (w) => missing.push(w.wordIndex),
    });
    const snaps = await lastValueFrom(pipeline.snapshots$.pipe(toArray()));
    assert.deepEqual(missing, cut.filter((i) => gap({ wordIndex: i } as WordEvent)));
    assert.ok(missing.length > 10, `${missing.length} words without activations`);
    assert.equal(pipeline.counters.excluded()['no-activations'], missing.length);
    assert.equal(snaps.at(-1)!.nWords, cut.length - missing.length);
  });
});

describe('coalesced refits', () => {
  it('end cleanly when the words end while a refit runs and another is wanted', async () => {
    const data = smallPlanted();
    const snaps = await lastValueFrom(
      from(wordsOf(data, 300)).pipe(
        scoreSnapshots({
          decoder: { dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 10 } },
          backend: 'reference',
          times: epochTimes(data.o.tStartSec, data.o.sfreqHz, data.o.nTimes),
          depths: defaultDepths(data.o.nLayers),
          refitEveryWords: 20,
          snapshotEveryWords: 100,
          refitPolicy: 'coalesce',
        }),
        toArray(),
      ),
    );
    const last = snaps.at(-1)!;
    assert.equal(last.nWords, 300);
    assert.equal(last.exact?.nWords, 300, 'the final refit covers every word');
  });
});
