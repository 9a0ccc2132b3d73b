/**
 * LSL inlet events → pipeline chunks and words: the clock is anchored at the first MEG sample (plus
 * the time correction unless the sender shares this machine's clock), samples are counted at the
 * nominal rate, an outage reported by the inlet becomes NaN samples of the right length (so the
 * guard downstream logs the span), and word markers parse into words on the same clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { InletEvent } from '../streams/fromInlet.js';
import { lslSampleChunks } from '../streams/lslSampleChunks.js';
import { lslWordEvents } from '../streams/lslWordEvents.js';
import { parseWordMarker, encodeWordMarker } from '../src/live/wordMarker.js';

const chunkEvent = (t0: number, n: number, nCh: number, tc: number | null, fs = 100): InletEvent => ({
  kind: 'chunk',
  state: 'live',
  timeCorrection: tc,
  chunk: { timestamps: Float64Array.from({ length: n }, (_, i) => t0 + i / fs), data: new Float32Array(n * nCh).fill(1), nSamples: n, nChannels: nCh },
});

describe('LSL → pipeline', () => {
  it('anchors the clock, counts samples, and fills an outage with NaN samples', async () => {
    const gaps: number[] = [];
    const events: InletEvent[] = [
      chunkEvent(1000, 50, 2, 0.25),
      chunkEvent(1000.5, 50, 2, 0.26), // a later correction estimate does not move the counted clock
      {
        kind: 'state',
        state: 'recovered',
        timeCorrection: 0.25,
        change: { state: 'recovered', previous: 'connecting', atLocal: 0, gap: { lastTimestampBefore: 1000.99, firstTimestampAfter: 1002.0, spanSec: 1.01, missingSamples: 100, newUid: true } },
      },
      chunkEvent(1002.0, 30, 2, 0.25),
    ];
    const out = await lastValueFrom(from(events).pipe(lslSampleChunks({ sfreqHz: 100, nChannels: 2, onGap: (_g, n) => gaps.push(n) }), toArray()));
    assert.equal(out[0].tStartSec, 1000.25);
    assert.deepEqual(out.map((c) => c.firstSample), [0, 50, 100, 200]);
    assert.equal(out[1].tStartSec, 1000.25 + 0.5);
    assert.equal(out[2].nSamples, 100);
    assert.ok(out[2].data.every((v) => Number.isNaN(v)), 'the outage is missing data');
    assert.equal(out[3].tStartSec, 1000.25 + 2.0, 'after the outage the count continues');
    assert.deepEqual(gaps, [100]);
    // Same host: no correction.
    const same = await lastValueFrom(from([chunkEvent(5, 10, 1, 0.3)]).pipe(lslSampleChunks({ sfreqHz: 100, nChannels: 1, correction: 'none' }), toArray()));
    assert.equal(same[0].tStartSec, 5);
    // A chunk with a different channel count is an error naming the stream's declaration.
    await assert.rejects(lastValueFrom(from([chunkEvent(5, 10, 3, 0)]).pipe(lslSampleChunks({ sfreqHz: 100, nChannels: 2 }))), /3 channels, the stream declared 2/);
  });

  it('parses word markers onto the same clock, skips bad ones with the reason, and stops at #end', async () => {
    const marker = (ts: number[], texts: string[], tc: number | null): InletEvent => ({
      kind: 'chunk',
      state: 'live',
      timeCorrection: tc,
      chunk: { timestamps: Float64Array.from(ts), data: texts as unknown as Float32Array, nSamples: texts.length, nChannels: 1 },
    });
    const bad: string[] = [];
    let endAt: number | null = null;
    const words = await lastValueFrom(
      from([marker([10, 10.4], [encodeWordMarker(7, 'HOLMES'), '{"index": 8, "word": "SAID"}'], 0.5), marker([11, 12, 13], ['oops', '#end', encodeWordMarker(9, 'LATE')], 0.5)]).pipe(
        lslWordEvents({ isContent: (i) => i === 7, onBadMarker: (t) => bad.push(t), onEnd: (t) => (endAt = t) }),
        toArray(),
      ),
    );
    assert.deepEqual(words.map((w) => [w.wordIndex, w.word, w.onsetSec, w.isContent]), [[7, 'HOLMES', 10.5, true], [8, 'SAID', 10.9, false]]);
    assert.deepEqual(bad, ['oops']);
    assert.equal(endAt, 12.5);
    assert.deepEqual(parseWordMarker('12\tDON\'T'), { kind: 'word', index: 12, word: "DON'T" });
    assert.throws(() => parseWordMarker('HOLMES'), /is not "<index>\\t<word>"/);
  });
});
