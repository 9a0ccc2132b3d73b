/**
 * Refits beside the live path: with `refits: 'concurrent'` words keep being scored and snapshots
 * keep coming while a refit computes on the compute pool, and yet every exact refit (defined by the
 * words accepted when it was asked for) equals, bit for bit, the one of a run where every refit
 * blocked; the rolling score records which model scored which words; a checkpoint asked for while a
 * refit computes holds the state as of the request.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { readCheckpoint } from '../adapters/checkpointStore.js';
import { decoderArrays } from '../src/decoderState.js';
import { defaultDepths, epochTimes } from '../src/epochGrid.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import { DecoderSession, type DecoderSessionOptions, type RefitMode } from '../streams/decoderSession.js';
import { scoreSnapshots } from '../streams/scoreSnapshots.js';
import { tempDir } from './helpers/paths.js';
import { smallPlanted, wordsOf } from './helpers/planted.js';

const data = smallPlanted({ nChannels: 24, nTimes: 20, nLayers: 4, nDims: 3 });
const words = wordsOf(data, 360);
const REFIT_EVERY = 60;
const sessionOptions = (refits: RefitMode): DecoderSessionOptions => ({
  decoder: { dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 10 }, batchWords: 16 },
  backend: 'reference',
  times: epochTimes(data.o.tStartSec, data.o.sfreqHz, data.o.nTimes),
  depths: defaultDepths(data.o.nLayers),
  refits,
  computeWorkers: 2,
});

interface RunRecord {
  /** Per refit: the words it covers and its exact results. */
  refits: { nWords: number; R: number[]; targetR: number[]; alphaIndex: number[] }[];
  session: DecoderSession;
}

/** Sends every word without waiting (one word per request, a refit every REFIT_EVERY words), then waits for everything. */
async function run(refits: RefitMode): Promise<RunRecord> {
  const session = await DecoderSession.create(sessionOptions(refits));
  const record: RunRecord['refits'] = [];
  const answers: Promise<unknown>[] = [];
  words.forEach((w, i) => {
    answers.push(session.add([w]));
    if ((i + 1) % REFIT_EVERY === 0) {
      answers.push(
        session.refit().then((r) => {
          // The result is read as soon as this refit is done, before a later one can replace it.
          const latest = session.decoder.latest!;
          record.push({ nWords: r.nWords, R: Array.from(latest.R), targetR: Array.from(latest.targetR), alphaIndex: Array.from(latest.alphaIndex) });
        }),
      );
    }
    answers.push(session.snapshot(i + 1));
  });
  await Promise.all(answers);
  await session.decoder.drain();
  return { refits: record, session };
}

describe('concurrent refits', () => {
  it('give every exact refit bit for bit as when each refit blocked, while words are scored by the model current at arrival', async () => {
    const blocking = await run('blocking');
    const concurrent = await run('concurrent');
    try {
      assert.equal(concurrent.refits.length, words.length / REFIT_EVERY);
      assert.deepEqual(
        concurrent.refits.map((r) => r.nWords),
        blocking.refits.map((r) => r.nWords),
      );
      concurrent.refits.forEach((r, i) => {
        assert.deepEqual(r, blocking.refits[i], `refit at ${r.nWords} words differs`);
      });
      // Same statistics and the same final model, bit for bit.
      const a = decoderArrays(blocking.session.decoder).filter((x) => x.name.startsWith('fold'));
      const b = decoderArrays(concurrent.session.decoder).filter((x) => x.name.startsWith('fold'));
      a.forEach((x, i) => assert.deepEqual(Array.from(b[i].array), Array.from(x.array), `${x.name} differs`));
      assert.deepEqual(Array.from(concurrent.session.decoder.model!.weights), Array.from(blocking.session.decoder.model!.weights));

      // Blocking: the words after refit N are scored by refit N's model, in batches.
      const runsB = blocking.session.decoder.scoredBy;
      assert.deepEqual(
        runsB,
        Array.from({ length: words.length / REFIT_EVERY - 1 }, (_, k) => ({ fromWord: (k + 1) * REFIT_EVERY + 1, toWord: (k + 2) * REFIT_EVERY, modelAtWords: (k + 1) * REFIT_EVERY })),
      );
      // Concurrent: each word is scored on arrival by the model current then. Runs cover the words
      // after the first model in order, and some words were scored by an older model because the
      // refit asked for before them was still computing: the refits ran beside scoring.
      const runsC = concurrent.session.decoder.scoredBy;
      for (let i = 1; i < runsC.length; i++) {
        assert.equal(runsC[i].fromWord, runsC[i - 1].toWord + 1, 'runs are contiguous');
        assert.ok(runsC[i].modelAtWords > runsC[i - 1].modelAtWords, 'models only get newer');
      }
      assert.equal(runsC.at(-1)!.toWord, words.length);
      assert.ok(
        runsC.some((r) => r.toWord > r.modelAtWords + REFIT_EVERY),
        `no word was scored while a newer refit computed: ${JSON.stringify(runsC)}`,
      );
      assert.equal(concurrent.session.decoder.prequential.scored, words.length - runsC[0].fromWord + 1);
    } finally {
      await blocking.session.close();
      await concurrent.session.close();
    }
  });

  it('through the operator in a worker: every exact score equals the blocking run, snapshots carry the scoring runs', async () => {
    const opts = { ...sessionOptions('blocking'), refitEveryWords: REFIT_EVERY, snapshotEveryWords: 1 };
    const blocking = await lastValueFrom(from(words).pipe(scoreSnapshots({ ...opts, refits: 'blocking' }), toArray()));
    const concurrent = await lastValueFrom(from(words).pipe(scoreSnapshots({ ...opts, refits: 'concurrent' }), toArray()));
    const exactByWords = (snaps: ScoreSnapshot[]) => new Map(snaps.filter((s) => s.exact).map((s) => [s.exact!.nWords, s.exact!.R]));
    const b = exactByWords(blocking);
    const c = exactByWords(concurrent);
    assert.deepEqual([...b.keys()], [60, 120, 180, 240, 300, 360]);
    assert.ok(c.size >= 2, `concurrent run showed ${c.size} exact results`);
    for (const [n, R] of c) assert.deepEqual(R, b.get(n), `exact R at ${n} words`);
    // The final snapshot waits for the final refit in both modes.
    assert.deepEqual(concurrent.at(-1)!.exact, { ...blocking.at(-1)!.exact!, computeSeconds: concurrent.at(-1)!.exact!.computeSeconds });
    assert.equal(concurrent.at(-1)!.rolling!.scoring, 'arrival');
    assert.equal(blocking.at(-1)!.rolling!.scoring, 'batch');
    assert.deepEqual(blocking.at(-1)!.rolling!.scoredBy[0], { fromWord: 61, toWord: 120, modelAtWords: 60 });
  });

  it('a checkpoint asked for while a refit computes holds the state as of the request', async () => {
    const dir = tempDir('concurrent-ckpt');
    const file = path.join(dir, 'mid.ckpt');
    const session = await DecoderSession.create(sessionOptions('concurrent'));
    const reference = await DecoderSession.create(sessionOptions('blocking'));
    try {
      const stopAt = 137; // neither a batch nor a refit boundary: pending words are saved raw
      const answers: Promise<unknown>[] = [];
      for (let i = 0; i < words.length; i++) {
        answers.push(session.add([words[i]]));
        if (i < stopAt) answers.push(reference.add([words[i]]));
        if ((i + 1) % REFIT_EVERY === 0) {
          answers.push(session.refit());
          if (i < stopAt) answers.push(reference.refit());
        }
        if (i + 1 === stopAt) answers.push(session.checkpoint(file));
      }
      await Promise.all(answers);
      await reference.decoder.drain();
      const resumed = readCheckpoint(file);
      assert.equal(resumed.accepted, stopAt);
      // Batches restart at each refit (120) and at each fold block (10 words, shorter than a 16-word batch): the open one began at 130.
      assert.equal(resumed.accumulator.pending.count, stopAt - 130, 'batches restart at each refit and each fold block');
      // Statistics and pending words as at word 137, whatever the session did after.
      const want = decoderArrays(reference.decoder).filter((x) => x.name.startsWith('fold') || x.name.startsWith('pending'));
      const got = decoderArrays(resumed).filter((x) => x.name.startsWith('fold') || x.name.startsWith('pending'));
      want.forEach((x, i) => assert.deepEqual(Array.from(got[i].array), Array.from(x.array), `${x.name} differs`));
      assert.equal(resumed.latestAtWords, 120);
      assert.equal(resumed.scoredBy.at(-1)!.toWord, stopAt);
    } finally {
      await session.close();
      await reference.close();
    }
  });
});
