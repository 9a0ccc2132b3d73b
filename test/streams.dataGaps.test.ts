/**
 * Non-finite runs in raw data: nonFiniteGuard logs each run with its time span and repairs it so the
 * filters stay finite, and epochs excludes exactly the words whose window comes near a logged span.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import { DataGapLog, type DataGap } from '../src/quality/dataGapLog.js';
import { mulberry32, randomNormal } from '../src/scores/prng.js';
import type { SampleChunk, WordEpoch, WordEvent } from '../src/types.js';
import { epochs, nonFiniteGuard, preprocess, preprocessDelaySec, type EpochOutsideReason } from '../streams/operators.js';
import { randomSplits } from './helpers/chunking.js';

const fs = 1200;
const nChannels = 3;

function signal(seconds: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  const x = new Float32Array(seconds * fs * nChannels);
  for (let i = 0; i < x.length; i++) x[i] = 1e-12 * randomNormal(rng) + 2e-10;
  return x;
}

function chunked(x: Float32Array, lengths: number[]): SampleChunk[] {
  const out: SampleChunk[] = [];
  let s = 0;
  for (const n of lengths) {
    out.push({ sfreqHz: fs, firstSample: s, tStartSec: s / fs, nChannels, nSamples: n, data: x.slice(s * nChannels, (s + n) * nChannels) });
    s += n;
  }
  return out;
}

describe('data gaps', () => {
  it('a NaN run is logged with its span, repaired, and only the words near it are excluded', async () => {
    const seconds = 60;
    const x = signal(seconds, 5);
    // NaN on channel 1 from 30.0 s for 0.25 s, and +Infinity on channel 2 for one sample at 30.1 s.
    const a = 30 * fs;
    const b = a + 0.25 * fs;
    for (let s = a; s < b; s++) x[s * nChannels + 1] = NaN;
    x[(a + 120) * nChannels + 2] = Infinity;
    const words: WordEvent[] = [];
    for (let k = 0; k < 50; k++) words.push({ wordIndex: k, word: `w${k}`, onsetSec: 5 + k });
    const opts = {};
    const delaySec = preprocessDelaySec(opts, fs);
    const runOnce = async (lengths: number[]) => {
      const log = new DataGapLog();
      const seen: DataGap[] = [];
      const outside: [number, EpochOutsideReason][] = [];
      const out: WordEpoch[] = await lastValueFrom(
        from(chunked(x, lengths)).pipe(
          nonFiniteGuard({ log, onGap: (g) => seen.push({ ...g }) }),
          preprocess(opts),
          epochs(from(words), { delaySec, gaps: log, onOutside: (w, r) => outside.push([w.wordIndex, r]) }),
          toArray(),
        ),
      );
      return { log, seen, outside, out };
    };
    const whole = await runOnce([seconds * fs]);
    assert.equal(whole.log.gaps.length, 1, 'one span');
    const g = whole.log.gaps[0];
    assert.equal(g.startSec, 30);
    assert.equal(g.endSec, b / fs);
    assert.equal(g.nSamples, 0.25 * fs);
    assert.deepEqual([...g.channels].sort(), [1, 2]);
    assert.equal(whole.seen.length, 1, 'reported once, when it closed');
    // Every epoch is finite (the filters were not poisoned).
    for (const e of whole.out) assert.ok(e.epoch.every(Number.isFinite), `word ${e.word.wordIndex} finite`);
    // Excluded: exactly the words whose epoch depends on raw data touching 30–30.25 s (+ margin):
    // raw [onset − 2.5 − margin, onset + 3 + delay].
    const m = whole.log.marginSec;
    const expected = words.filter((w) => w.onsetSec - 2.5 <= 30.25 + m && w.onsetSec + 3 + delaySec >= 30).map((w) => w.wordIndex);
    const gapped = whole.outside.filter(([, r]) => r === 'overlaps-data-gap').map(([i]) => i);
    assert.deepEqual(gapped, expected);
    assert.ok(expected.length >= 8 && expected.length <= 12);
    // Chunking does not change the span or the epochs.
    const parts = await runOnce(randomSplits(mulberry32(9), seconds * fs, 2000));
    assert.deepEqual(parts.log.gaps, whole.log.gaps);
    assert.deepEqual(parts.out.map((e) => Array.from(e.epoch)), whole.out.map((e) => Array.from(e.epoch)));
  });

  it('finite chunks pass through untouched', async () => {
    const x = signal(2, 1);
    const input = chunked(x, [1200, 1200]);
    const log = new DataGapLog();
    const out = await lastValueFrom(from(input).pipe(nonFiniteGuard({ log }), toArray()));
    assert.equal(out[0], input[0]);
    assert.equal(out[1], input[1]);
    assert.equal(log.gaps.length, 0);
  });
});
