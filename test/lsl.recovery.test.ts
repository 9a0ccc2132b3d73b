/**
 * Connection states over loopback: an outlet that restarts with the same source_id (the inlet
 * re-resolves, reports the gap with its span, and goes back to live), an outlet that stalls
 * (stalled, then live), a stream without source_id (lost, final), and the RxJS source
 * `fromInlet` that carries chunks, states and the time correction.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { localClock } from '../adapters/lsl/clock.js';
import { StreamInlet, type StateChange } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveByProp } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { fromInlet, type InletEvent } from '../streams/fromInlet.js';
import { closeTracked, loopbackOnly, newInlet, openOutlet, sleep, waitFor } from './helpers/lslFixtures.js';

loopbackOnly();
after(closeTracked);
let seq = 0;
const uniqueName = (base: string): string => `${base}-${process.pid}-${seq++}`;

/** Counting rows: channel k of sample i = k·1000 + i. */
function rows(first: number, n: number, nc: number): number[][] {
  return Array.from({ length: n }, (_, s) => Array.from({ length: nc }, (_, k) => k * 1000 + first + s));
}

/** Closes an outlet whose UDP sockets a test already closed. */
async function closeQuietly(o: StreamOutlet): Promise<void> {
  const x = o as unknown as { sockets: Set<{ destroy(): void }>; server: { close(cb: () => void): void }; closed: boolean };
  x.closed = true;
  for (const s of x.sockets) s.destroy();
  await new Promise<void>((r) => x.server.close(() => r()));
}

describe('inlet connection states', () => {
  it('outlet restart with the same source_id: connecting → recovered (gap span, missing samples, new uid) → live', async () => {
    const srate = 200;
    const nc = 4;
    const makeInfo = () => new StreamInfo({ name: 'Restart-' + process.pid, type: 'EEG', channelCount: nc, nominalSrate: srate, channelFormat: 'float32', sourceId: uniqueName('restart-src') });
    const info = makeInfo();
    let outlet = await openOutlet(info);
    const firstUid = outlet.info.uid;
    const [found] = await resolveByProp('source_id', info.sourceId, { timeoutSec: 3 });
    const inlet = newInlet(found!, { reconnectDelaySec: 0.1 });
    const events: InletEvent[] = [];
    const sub = fromInlet(inlet).subscribe((e) => events.push(e));
    try {
      await waitFor(() => inlet.state === 'live', 3000, 'live');
      await outlet.waitForConsumers(2);
      const t0 = localClock();
      outlet.pushChunk(rows(0, 100, nc), t0 + 99 / srate);
      await waitFor(() => inlet.receivedSamples >= 100, 3000, 'the first 100 samples');
      await outlet.close();
      await waitFor(() => inlet.state === 'connecting', 3000, 'connecting after EOF');
      await sleep(300);
      // Same stream identity (name, type, source_id), new process: new uid, maybe another port.
      outlet = await openOutlet(info);
      assert.notEqual(outlet.info.uid, firstUid);
      assert.ok(await outlet.waitForConsumers(5), 'the inlet reconnected to the restarted outlet');
      // Samples 100…159 were lost while it was down; it resumes at 160.
      outlet.pushChunk(rows(160, 40, nc), t0 + 199 / srate);
      await waitFor(() => inlet.receivedSamples >= 140, 3000, 'samples after the restart');
      const states = events.filter((e): e is Extract<InletEvent, { kind: 'state' }> => e.kind === 'state').map((e) => e.change);
      assert.deepEqual(
        states.map((s) => s.state),
        ['live', 'connecting', 'recovered', 'live'],
      );
      const gap = states[2]!.gap!;
      assert.equal(gap.newUid, true);
      assert.equal(gap.missingSamples, 60);
      assert.ok(Math.abs(gap.spanSec - 61 / srate) < 1e-9, `span ${gap.spanSec}`);
      assert.ok(Math.abs(gap.lastTimestampBefore! - (t0 + 99 / srate)) < 1e-9);
      assert.ok(Math.abs(gap.firstTimestampAfter - (t0 + 160 / srate)) < 1e-9);
      assert.equal(inlet.resolvedInfo.uid, outlet.info.uid);
      // Every chunk is [sample][channel] Float32Array with timestamps; the values resume at 160.
      const chunks = events.filter((e): e is Extract<InletEvent, { kind: 'chunk' }> => e.kind === 'chunk').map((e) => e.chunk);
      const ch0: number[] = [];
      for (const c of chunks) {
        assert.ok(c.data instanceof Float32Array && c.timestamps instanceof Float64Array);
        assert.equal(c.data.length, c.nSamples * c.nChannels);
        for (let s = 0; s < c.nSamples; s++) ch0.push((c.data as Float32Array)[s * nc]!);
      }
      assert.deepEqual(ch0, [...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => 160 + i)]);
    } finally {
      sub.unsubscribe();
      await outlet.close();
    }
    assert.equal(inlet.isClosed, true, 'unsubscribing closes the inlet');
  });

  it('watchdog: a silent connection whose uid no longer answers discovery is replaced by the successor', async () => {
    const info = new StreamInfo({ name: uniqueName('Watchdog'), channelCount: 1, nominalSrate: 100, sourceId: uniqueName('wd') });
    const a = await openOutlet(info);
    const [found] = await resolveByProp('source_id', info.sourceId, { timeoutSec: 3 });
    const inlet = newInlet(found!, { stallTimeoutSec: 0.2, watchdogSec: 0.6, reconnectDelaySec: 0.1 });
    const states: StateChange[] = [];
    inlet.on('state', (st: StateChange) => states.push(st));
    let b: StreamOutlet | null = null;
    try {
      await inlet.open(3);
      await a.waitForConsumers(2);
      a.pushChunk(rows(0, 5, 1), 10);
      await waitFor(() => inlet.receivedSamples === 5, 2000, 'data from A');
      // A's host "vanishes": its TCP connection stays open but it no longer answers discovery.
      const udp = a as unknown as { service: { close(): void }; responder: { close(): void } | null };
      udp.service.close();
      udp.responder?.close();
      udp.responder = null;
      b = await openOutlet(info);
      assert.ok(await b.waitForConsumers(5), 'the watchdog moved the inlet to B');
      b.pushChunk(rows(100, 5, 1), 11);
      await waitFor(() => inlet.receivedSamples === 10, 3000, 'data from B');
      assert.deepEqual(
        states.map((x) => x.state),
        ['live', 'stalled', 'connecting', 'recovered', 'live'],
      );
      assert.match(states[2]!.reason!, /no longer answers discovery/);
      assert.equal(states[3]!.gap!.newUid, true);
      assert.equal(inlet.resolvedInfo.uid, b.info.uid);
    } finally {
      inlet.close();
      await Promise.allSettled([closeQuietly(a), b?.close()]);
    }
  });

  it('a stalled outlet: live → stalled after stallTimeoutSec without data → live when data resume', async () => {
    const info = new StreamInfo({ name: uniqueName('Stall'), channelCount: 2, nominalSrate: 100, sourceId: uniqueName('stall') });
    const outlet = await openOutlet(info);
    const [found] = await resolveByProp('name', info.name, { timeoutSec: 3 });
    const inlet = newInlet(found!, { stallTimeoutSec: 0.3 });
    const states: StateChange[] = [];
    inlet.on('state', (s: StateChange) => states.push(s));
    try {
      await inlet.open(3);
      await outlet.waitForConsumers(2);
      outlet.pushChunk(rows(0, 10, 2), 1);
      await waitFor(() => inlet.receivedSamples === 10, 2000, 'data');
      await waitFor(() => inlet.state === 'stalled', 2000, 'stalled');
      const stalledAt = states.at(-1)!;
      assert.match(stalledAt.reason!, /no data for 0.3 s/);
      outlet.pushChunk(rows(10, 10, 2), 1.1);
      await waitFor(() => inlet.state === 'live', 2000, 'live again');
      assert.deepEqual(
        states.map((s) => s.state),
        ['live', 'stalled', 'live'],
      );
      const c = await inlet.pullChunk();
      assert.equal(c.nSamples, 20);
    } finally {
      inlet.close();
      await outlet.close();
    }
  });

  it('a stream without source_id is lost when its outlet goes; fromInlet completes', async () => {
    const info = new StreamInfo({ name: uniqueName('NoSrc'), channelCount: 1, nominalSrate: 0, channelFormat: 'string' });
    const outlet = await openOutlet(info);
    const [found] = await resolveByProp('name', info.name, { timeoutSec: 3 });
    const inlet = newInlet(found!);
    const events: InletEvent[] = [];
    let completed = false;
    const sub = fromInlet(inlet).subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
    try {
      await waitFor(() => inlet.state === 'live', 3000, 'live');
      await outlet.waitForConsumers(2);
      outlet.pushSample(['hello'], 3);
      await waitFor(() => events.some((e) => e.kind === 'chunk'), 2000, 'the marker');
      await outlet.close();
      await waitFor(() => completed, 3000, 'completion');
      const last = events.at(-1)!;
      assert.equal(last.kind, 'state');
      assert.equal(last.state, 'lost');
      assert.match((last as Extract<InletEvent, { kind: 'state' }>).change.reason!, /no source_id/);
      const marker = events.find((e): e is Extract<InletEvent, { kind: 'chunk' }> => e.kind === 'chunk')!;
      assert.deepEqual(marker.chunk.data, ['hello']);
      await assert.rejects(inlet.open(1), /lost/);
    } finally {
      sub.unsubscribe();
    }
  });

  it('fromInlet attaches the time correction once the first clock-sync round completes', async () => {
    const info = new StreamInfo({ name: uniqueName('Tc'), channelCount: 1, nominalSrate: 50, sourceId: uniqueName('tc') });
    const outlet = await openOutlet(info);
    const [found] = await resolveByProp('name', info.name, { timeoutSec: 3 });
    const events: InletEvent[] = [];
    const inlet = newInlet(found!);
    const sub = fromInlet(inlet).subscribe((e) => events.push(e));
    try {
      await waitFor(() => inlet.state === 'live', 3000, 'live');
      await outlet.waitForConsumers(2);
      await waitFor(() => inlet.clockEstimate() !== null, 3000, 'a clock estimate');
      outlet.pushSample([1]);
      await waitFor(() => events.some((e) => e.kind === 'chunk'), 2000, 'a chunk');
      const c = events.find((e) => e.kind === 'chunk')!;
      assert.equal(typeof c.timeCorrection, 'number');
      assert.ok(Math.abs(c.timeCorrection!) < 0.01);
      assert.equal(c.state, 'live');
    } finally {
      sub.unsubscribe();
      await outlet.close();
    }
  });
});
