/**
 * Pacing is the scheduler's business, never the data's: on a virtual clock, chunks go out at
 * k·chunkSec/speed, "max" does not wait, a gate holds the source back, and the data are the same
 * at any speed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { pacedChunks, parseSpeed } from '../replay/pacedChunks.js';
import type { SampleChunk } from '../src/types.js';

const sfreqHz = 100;
const read = (first: number, n: number): SampleChunk => ({
  sfreqHz,
  firstSample: first,
  tStartSec: first / sfreqHz,
  nChannels: 1,
  nSamples: n,
  data: Float32Array.from({ length: n }, (_, i) => first + i),
});

/** Runs the source on a virtual clock and returns (virtual ms, firstSample) per chunk. */
async function emissions(speed: number | 'max', totalSamples: number): Promise<[number, number][]> {
  const scheduler = new TestScheduler(assert.deepEqual);
  const out: [number, number][] = [];
  let done = false;
  pacedChunks(read, { sfreqHz, totalSamples, chunkSamples: 10, speed, scheduler }).subscribe({
    next: (c) => out.push([scheduler.now(), c.firstSample]),
    complete: () => (done = true),
  });
  // Each emission awaits a (resolved) gate before it is due: flush the virtual clock repeatedly.
  for (let i = 0; i < 100 && !done; i++) {
    scheduler.flush();
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(done, 'the source completes');
  return out;
}

describe('pacedChunks (replay scheduler)', () => {
  it('emits chunk k at k·chunkSec/speed on the scheduler clock', async () => {
    assert.deepEqual(await emissions(1, 40), [[0, 0], [100, 10], [200, 20], [300, 30]]);
    assert.deepEqual(await emissions(10, 40), [[0, 0], [10, 10], [20, 20], [30, 30]]);
    const max = await emissions('max', 40);
    assert.deepEqual(max.map(([, f]) => f), [0, 10, 20, 30]);
    assert.ok(max.every(([t]) => t === 0), 'max speed never waits for the clock');
  });

  it('gives the same data at any speed, and the last chunk is short', async () => {
    const collect = (speed: number | 'max') => lastValueFrom(pacedChunks(read, { sfreqHz, totalSamples: 35, chunkSamples: 10, speed: speed }).pipe(toArray()));
    const fast = await collect('max');
    const paced = await collect(1000);
    assert.deepEqual(fast.map((c) => Array.from(c.data)), paced.map((c) => Array.from(c.data)));
    assert.deepEqual(fast.map((c) => c.nSamples), [10, 10, 10, 5]);
  });

  it('waits for its gate before each chunk', async () => {
    let release: (() => void) | undefined;
    let closed = true;
    const gate = () => (closed ? new Promise<void>((r) => (release = r)) : undefined);
    const got: number[] = [];
    const finished = new Promise<void>((resolve) => {
      pacedChunks(read, { sfreqHz, totalSamples: 30, chunkSamples: 10, speed: 'max', gate }).subscribe({ next: (c) => got.push(c.firstSample), complete: resolve });
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(got, [], 'nothing passes a closed gate');
    closed = false;
    release?.();
    await finished;
    assert.deepEqual(got, [0, 10, 20]);
  });

  it('parses --speed', () => {
    assert.equal(parseSpeed('max'), 'max');
    assert.equal(parseSpeed('20'), 20);
    assert.throws(() => parseSpeed('0'), /positive number \(1 = real time\) or "max"/);
    assert.throws(() => parseSpeed('fast'), /got "fast"/);
  });
});
