/**
 * Replay of recordings as a source: the same items in the same order at speed 'max' and ×50,
 * words right after the chunk holding their onset, several recordings on one clock with their
 * offsets, pacing on a virtual clock, backpressure, progress. The recording here is an in-memory
 * RawRecording (this tests the merge order and clock, not a reader).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { ChunkOptions, RawHeader, RawRecording } from '../adapters/meg/rawRecording.js';
import { recordingReplay, type ReplayItem, type ReplayProgress, type ReplaySegment } from '../replay/recordingReplay.js';
import type { SampleChunk } from '../src/types.js';

const CAL = [1e-15, 2.5e-13, 1];

/** Stored integers, a deterministic function of (recording id, sample, channel). */
const stored = (id: number, s: number, c: number) => ((id * 7919 + s * 31 + c * 1009) % 2001) - 1000;

function memoryRecording(id: number, nSamples: number, sfreqHz = 100, names = ['MLC11', 'MRT22', 'UPPT001']): RawRecording {
  const header: RawHeader = {
    format: 'ctf',
    path: `mem://${id}`,
    sfreqHz,
    nSamples,
    firstSample: 0,
    measDate: null,
    channels: names.map((name, i) => ({ name, type: i < 2 ? 'mag' : 'stim', unit: i < 2 ? 'T' : 'V', cal: CAL[i] })),
    bads: [],
    events: [],
    discontinuities: [],
    lineFreqHz: 50,
    highpassHz: null,
    lowpassHz: null,
  };
  const read = (si: boolean) => async (a: number, b: number, picks: number[]) => {
    if (a < 0 || b > nSamples || a >= b) throw new RangeError(`bad range ${a}:${b}`);
    const out = new Float64Array((b - a) * picks.length);
    for (let s = a; s < b; s++) picks.forEach((c, j) => (out[(s - a) * picks.length + j] = stored(id, s, c) * (si ? CAL[c] : 1)));
    return out;
  };
  const readSI = read(true);
  return {
    header,
    readStored: read(false),
    readSI,
    async *chunks(o: ChunkOptions = {}): AsyncIterable<SampleChunk> {
      const picks = o.picks ?? names.map((_, i) => i);
      const step = o.chunkSamples ?? 64;
      for (let s = o.start ?? 0; s < (o.stop ?? nSamples); s += step) {
        const e = Math.min(s + step, o.stop ?? nSamples);
        yield { sfreqHz, firstSample: s, tStartSec: s / sfreqHz, nChannels: picks.length, nSamples: e - s, data: Float32Array.from(await readSI(s, e, picks)) };
      }
    },
    close: async () => {},
  };
}

/** Three recordings (2.05 s, 1.3 s, 0.7 s at 100 Hz) with words on chunk boundaries, inside chunks, before 0 and past the end. */
function segments(): ReplaySegment[] {
  return [
    { recording: memoryRecording(1, 205), label: 'ses-001', words: [{ word: 'LATE', onsetSec: 1.99 }, { word: 'TO', onsetSec: 0.1 }, { word: 'SHERLOCK', onsetSec: 0.15, run: 1 }, { word: 'EDGE', onsetSec: 0.3 }, { word: 'LAST', onsetSec: 2.04 }, { word: 'PAST', onsetSec: 2.05 }] },
    { recording: memoryRecording(2, 130), label: 'ses-002', words: [{ word: 'EARLY', onsetSec: -0.5 }, { word: 'FIRST', onsetSec: 0 }, { word: 'HOLMES', onsetSec: 0.29 }] },
    { recording: memoryRecording(3, 70), label: 'ses-003', words: [{ word: 'END', onsetSec: 0.69 }] },
  ];
}

const flat = (items: ReplayItem[]) =>
  items.map((it) => (it.kind === 'chunk' ? ['chunk', it.segment, it.chunk.firstSample, it.chunk.tStartSec, it.chunk.nSamples, it.chunk.nChannels, Array.from(it.chunk.data)] : ['word', it.word]));

describe('recordingReplay', () => {
  it('gives identical output at speed max and ×50', async () => {
    const run = (speed: number | 'max') => lastValueFrom(recordingReplay(segments(), { speed, chunkSamples: 20 }).source.pipe(toArray()));
    const max = await run('max');
    const x50 = await run(50);
    assert.ok(max.length > 20);
    assert.deepEqual(flat(x50), flat(max));
  });

  it('puts several recordings on one clock, each word after the chunk holding its onset', async () => {
    const { plan, source } = recordingReplay(segments(), { speed: 'max', chunkSamples: 20, gapSec: 0.5 });
    assert.deepEqual(plan.segments.map((s) => [s.label, s.offsetSamples, s.offsetSec, s.nSamples, s.nWords, s.droppedWords]), [
      ['ses-001', 0, 0, 205, 5, 1],
      ['ses-002', 255, 2.55, 130, 2, 1],
      ['ses-003', 435, 4.35, 70, 1, 0],
    ]);
    assert.equal(plan.totalSamples, 505);
    assert.equal(plan.nWords, 8);
    const items = await lastValueFrom(source.pipe(toArray()));
    const chunks = items.flatMap((it) => (it.kind === 'chunk' ? [it] : []));
    // Chunks cover each recording exactly, never across two, with global sample indices.
    assert.deepEqual(chunks.map((c) => [c.segment, c.chunk.firstSample, c.chunk.nSamples]), [
      ...[0, 20, 40, 60, 80, 100, 120, 140, 160, 180].map((f) => [0, f, 20]), [0, 200, 5],
      ...[0, 20, 40, 60, 80, 100].map((f) => [1, 255 + f, 20]), [1, 375, 10],
      ...[0, 20, 40].map((f) => [2, 435 + f, 20]), [2, 495, 10],
    ]);
    // Data = the recording's SI values as float32, [sample][channel].
    const c = chunks[12].chunk; // segment 1, local samples 20…39
    assert.equal(c.tStartSec, 275 / 100);
    for (let s = 0; s < 20; s++) for (let ch = 0; ch < 3; ch++) assert.equal(c.data[s * 3 + ch], Math.fround(stored(2, 20 + s, ch) * CAL[ch]));
    // Each word right after the chunk that contains its onset sample, in onset order.
    const order = items.map((it) => (it.kind === 'chunk' ? `c${it.chunk.firstSample}` : it.word.word));
    const after = (w: string) => order[order.indexOf(w) - 1];
    assert.equal(after('TO'), 'c0');
    assert.deepEqual(order.slice(order.indexOf('c0'), order.indexOf('c20')), ['c0', 'TO', 'SHERLOCK']);
    assert.equal(after('EDGE'), 'c20'); // onset 0.3 s = sample 30 lies in 20…39
    assert.equal(after('LATE'), 'c180');
    assert.equal(after('LAST'), 'c200');
    assert.equal(after('FIRST'), 'c255');
    assert.equal(order[order.indexOf('c275') + 1], 'HOLMES'); // 0.29·100 = 28.999… in float64: the onset sample is 29, not 28
    assert.equal(after('END'), 'c495');
    const words = items.flatMap((it) => (it.kind === 'word' ? [it.word] : []));
    assert.deepEqual(words.map((w) => [w.wordIndex, w.word, w.segment, w.sample, w.localOnsetSec]), [
      [0, 'TO', 0, 10, 0.1],
      [1, 'SHERLOCK', 0, 15, 0.15],
      [2, 'EDGE', 0, 30, 0.3],
      [3, 'LATE', 0, 199, 1.99],
      [4, 'LAST', 0, 204, 2.04],
      [5, 'FIRST', 1, 255, 0],
      [6, 'HOLMES', 1, 284, 0.29],
      [7, 'END', 2, 504, 0.69],
    ]);
    assert.equal(words[6].onsetSec, 2.55 + 0.29);
    assert.equal(words[1].run, 1);
    assert.equal(words[0].run, null);
  });

  it('paces chunks at k·chunkSec/speed across recordings on a virtual clock', async () => {
    const scheduler = new TestScheduler(assert.deepEqual);
    const got: [number, number][] = [];
    let done = false;
    const segs = segments().slice(0, 2);
    recordingReplay(segs, { speed: 10, chunkSamples: 50, scheduler }).source.subscribe({
      next: (it) => {
        if (it.kind === 'chunk') got.push([scheduler.now(), it.chunk.firstSample]);
      },
      complete: () => (done = true),
    });
    for (let i = 0; i < 500 && !done; i++) {
      scheduler.flush();
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(done, 'the replay completes');
    // 50 samples at 100 Hz = 0.5 s of source = 50 ms at ×10; segment 2 starts when segment 1 ends (205 samples → 205 ms).
    assert.deepEqual(got, [[0, 0], [50, 50], [100, 100], [150, 150], [200, 200], [205, 205], [255, 255], [305, 305]]);
  });

  it('waits for its gate (backpressure) and reports progress', async () => {
    let open = false;
    let release: (() => void) | undefined;
    const gate = () => (open ? undefined : new Promise<void>((r) => (release = r)));
    const progress: ReplayProgress[] = [];
    let wall = 0;
    const { source } = recordingReplay(segments(), { speed: 'max', chunkSamples: 40, gate, onProgress: (p) => progress.push(p), now: () => (wall += 100) });
    const got: ReplayItem[] = [];
    const finished = new Promise<void>((resolve, reject) => source.subscribe({ next: (x) => got.push(x), complete: resolve, error: reject }));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(got.length, 0, 'nothing passes a closed gate');
    open = true;
    release?.();
    await finished;
    assert.equal(got.filter((x) => x.kind === 'chunk').length, 6 + 4 + 2);
    const last = progress[progress.length - 1];
    assert.equal(last.replayedSec, 4.05);
    assert.equal(last.totalSec, 4.05);
    assert.equal(last.etaSec, 0);
    assert.equal(last.wordsEmitted, 8);
    assert.equal(last.label, 'ses-003');
    assert.ok(progress.every((p, i) => i === 0 || p.replayedSec > progress[i - 1].replayedSec));
    assert.ok(Math.abs(progress[0].speedX - 0.4 / 0.1) < 1e-9, '0.4 s replayed in 0.1 s wall = ×4');
    assert.ok(Math.abs(progress[0].replayedMinutes - 0.4 / 60) < 1e-12);
  });

  it('picks channels by name in every recording and refuses what cannot share one clock', async () => {
    const a = memoryRecording(1, 30);
    const b = memoryRecording(2, 30, 100, ['UPPT001', 'MRT22', 'MLC11']);
    const items = await lastValueFrom(recordingReplay([{ recording: a, words: [] }, { recording: b, words: [] }], { speed: 'max', chunkSamples: 30, channels: ['MRT22', 'UPPT001'] }).source.pipe(toArray()));
    const second = items[1];
    assert.ok(second.kind === 'chunk');
    assert.equal(second.chunk.nChannels, 2);
    assert.equal(second.chunk.data[0], Math.fround(stored(2, 0, 1) * CAL[1]));
    assert.equal(second.chunk.data[1], Math.fround(stored(2, 0, 0) * CAL[0]));
    assert.throws(() => recordingReplay([{ recording: a, words: [] }, { recording: memoryRecording(2, 30, 200), words: [] }], { speed: 'max', chunkSamples: 10 }), /mem:\/\/2: sampling rate 200 Hz, the first recording has 100 Hz/);
    assert.throws(() => recordingReplay([{ recording: a, words: [] }], { speed: 'max', chunkSamples: 10, channels: ['MZZ01'] }), /no channel "MZZ01"/);
    const failing: RawRecording = {
      ...a,
      async *chunks() {
        throw new Error('disk gone');
      },
    };
    await assert.rejects(lastValueFrom(recordingReplay([{ recording: failing, words: [] }], { speed: 'max', chunkSamples: 10 }).source), /disk gone/);
    const sloppy: RawRecording = { ...a, chunks: (o?: ChunkOptions) => a.chunks({ ...o, chunkSamples: 7 }) };
    await assert.rejects(lastValueFrom(recordingReplay([{ recording: sloppy, words: [] }], { speed: 'max', chunkSamples: 10 }).source), /mem:\/\/1: the reader gave samples 0…6 × 3 channels where samples 0…9 × 3 were due/);
  });
});
