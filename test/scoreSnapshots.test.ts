/**
 * The scoreSnapshots operator: cadence by words and by source time, rolling and exact scores in the
 * snapshots, the same numbers in a worker and in-process, errors surfacing as stream errors, and
 * the main event loop kept free while a refit runs in the worker.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { epochTimes, defaultDepths } from '../src/epochGrid.js';
import { SNAPSHOT_SCHEMA, type ScoreSnapshot } from '../src/snapshot.js';
import { startDecoderHost } from '../streams/decoderHost.js';
import { scoreSnapshots, type ScoreSnapshotsOptions } from '../streams/scoreSnapshots.js';
import { smallPlanted, wordsOf } from './helpers/planted.js';

const data = smallPlanted();
const words = wordsOf(data, 400);
const T = data.o.nTimes;
const base: ScoreSnapshotsOptions = {
  decoder: { dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 20 }, batchWords: 32 },
  backend: 'reference',
  times: epochTimes(data.o.tStartSec, data.o.sfreqHz, T),
  depths: defaultDepths(data.o.nLayers),
  refitEveryWords: 100,
  snapshotEveryWords: 50,
};

describe('scoreSnapshots operator', () => {
  it('emits snapshots on the word cadence with rolling and exact scores, and a final one', async () => {
    const snaps = await lastValueFrom(from(words).pipe(scoreSnapshots(base), toArray()));
    assert.equal(snaps.length, 400 / 50 + 1);
    assert.deepEqual(snaps.map((s) => s.seq), snaps.map((_, i) => i + 1));
    assert.ok(snaps.every((s) => s.schema === SNAPSHOT_SCHEMA));
    assert.equal(snaps[0].nWords, 50);
    assert.equal(snaps[0].exact, null, 'no refit before 100 words');
    assert.ok(snaps[2].exact && snaps[2].exact.nWords === 100, 'the snapshot after the first refit carries it');
    assert.ok(snaps[3].rolling && snaps[3].rolling.nScored > 0, 'words after the first refit are scored prequentially');
    const last = snaps.at(-1)!;
    assert.equal(last.nWords, 400);
    assert.ok(last.exact && last.exact.temporalScore > 0.95 && last.exact.p < 0.05, `exact temporal score ${last.exact?.temporalScore}`);
    assert.ok(last.rolling && last.rolling.temporalScore > 0.9, `rolling temporal score ${last.rolling?.temporalScore}`);
    assert.equal(last.exact.R.length, data.o.nLayers);
    assert.equal(last.exact.R[0].length, T);
    assert.ok(last.exact.ci.low <= last.exact.temporalScore && last.exact.temporalScore <= last.exact.ci.high);
    assert.equal(last.lastWord?.index, 399);
  });

  it('gives the same numbers in a worker thread and in-process', async () => {
    const worker = await lastValueFrom(from(words).pipe(scoreSnapshots({ ...base, where: 'worker' })));
    const inProcess = await lastValueFrom(from(words).pipe(scoreSnapshots({ ...base, where: 'in-process' })));
    assert.deepEqual(worker.exact?.R, inProcess.exact?.R);
    assert.deepEqual(worker.rolling?.R, inProcess.rolling?.R);
  });

  it('also emits on a source-time cadence', async () => {
    // Words are 1/3 s apart in the planted data: one snapshot per 10 s of source time is every 30 words.
    const snaps = await lastValueFrom(from(words.slice(0, 120)).pipe(scoreSnapshots({ ...base, snapshotEveryWords: 0, snapshotEverySourceSec: 10 }), toArray()));
    const sourceTimes = snaps.map((s) => s.sourceTimeSec);
    assert.deepEqual(sourceTimes.slice(0, -1), [0, 10, 20, 30]);
  });

  it('a word of the wrong shape errors the stream with a message naming the shapes', async () => {
    const bad = [...words.slice(0, 5), { ...words[5], epoch: new Float32Array(3) }];
    await assert.rejects(firstValueFrom(from(bad).pipe(scoreSnapshots({ ...base, snapshotEveryWords: 0 }), toArray())), /word 5: epoch has 3 values, expected 12 channels × 24 times/);
  });

  it('keeps the main event loop running while a refit computes in the worker or on the compute pool', async () => {
    const big = smallPlanted({ nChannels: 60, nTimes: 30, nLayers: 5, nDims: 6 });
    const bigWords = wordsOf(big, 300);
    const opts = {
      decoder: { dims: big.o, foldPlan: { kind: 'blocks' as const, folds: 5, blockWords: 20 } },
      backend: 'reference' as const,
      times: epochTimes(big.o.tStartSec, big.o.sfreqHz, big.o.nTimes),
      depths: defaultDepths(5),
    };
    const ticksDuringRefit = async (where: 'worker' | 'in-process', computeWorkers: number) => {
      const host = await startDecoderHost({ ...opts, computeWorkers }, where);
      await host.add(bigWords);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const started = performance.now();
      await host.refit();
      const seconds = (performance.now() - started) / 1000;
      clearInterval(timer);
      await host.close();
      return { ticks, seconds };
    };
    // In-process without a pool the refit holds the loop; in the worker, or on the pool, the timer keeps firing.
    const inProcess = await ticksDuringRefit('in-process', 0);
    const worker = await ticksDuringRefit('worker', 0);
    const pool = await ticksDuringRefit('in-process', 2);
    for (const [name, r] of [['worker', worker], ['pool', pool]] as const) {
      assert.ok(r.ticks > inProcess.ticks, `${name} ${JSON.stringify(r)} vs in-process ${JSON.stringify(inProcess)}`);
      assert.ok(r.ticks >= (r.seconds * 1000) / 5 / 4, `${name}: timer fired only ${r.ticks} times in ${r.seconds} s`);
    }
  });
});

export type { ScoreSnapshot };
