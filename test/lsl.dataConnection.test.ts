/**
 * One `DataConnection` on its own, over 127.0.0.1: against a lockstep outlet (ready after the test
 * patterns, exact samples, EOF and destroy end it cleanly) and against raw TCP servers playing a
 * broken outlet (404 without CRLF, wrong test patterns, a header that never ends), which must end
 * the connection with an error that names the stream. No recovery here: that is StreamInlet's.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import type { LslChunk } from '../adapters/lsl/chunk.js';
import { DataConnection, describeStream } from '../adapters/lsl/dataConnection.js';
import { LslHandshakeError } from '../adapters/lsl/handshake.js';
import { resolveByProp } from '../adapters/lsl/resolver.js';
import { encodeSamples, LslStreamError, TAG_DEDUCED, TAG_TRANSMITTED, testPatternChunk } from '../adapters/lsl/sampleCodec.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { closeTracked, loopbackOnly, openOutlet, waitFor } from './helpers/lslFixtures.js';

loopbackOnly();
after(closeTracked);
let seq = 0;
const uniqueName = (base: string): string => `${base}-${process.pid}-${seq++}`;
/** A connection that never ends is a failure, not a hang. */
const LIMIT = { timeout: 5000 };
const OPTIONS = { maxBufferSamples: 360, nativeByteOrder: 1234 as const };

/** Records what a connection reports, in order. */
function recorder() {
  const events: string[] = [];
  const chunks: LslChunk[] = [];
  return {
    events,
    chunks,
    handlers: {
      onReady: () => events.push('ready'),
      onChunk: (c: LslChunk) => {
        events.push(`chunk ${c.nSamples}`);
        chunks.push(c);
      },
    },
  };
}

/**
 * A loopback TCP server that reads the request header, then writes `reply` and closes (or stays
 * open). `close()` also drops its accepted sockets, so a failed test leaves nothing open.
 */
async function rawOutlet(reply: Buffer, closeAfter: boolean): Promise<{ port: number; close: () => void }> {
  const accepted = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepted.add(s);
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      if (closeAfter) s.end(reply);
      else s.write(reply);
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const close = (): void => {
    for (const s of accepted) s.destroy();
    server.close();
  };
  return { port: (server.address() as net.AddressInfo).port, close };
}

function infoFor(port: number): StreamInfo {
  const info = new StreamInfo({ name: uniqueName('Raw'), channelCount: 3, nominalSrate: 10, channelFormat: 'float32', sourceId: 'raw-src' });
  info.uid = '4efbca4d-eda9-4643-8e56-a312413f0655';
  info.v4address = '127.0.0.1';
  info.v4dataPort = port;
  return info;
}

const okHeader = (uid: string): string => `LSL/110 200 OK\r\nUID: ${uid}\r\nByte-Order: 1234\r\nSuppress-Subnormals: 0\r\nData-Protocol-Version: 110\r\n\r\n`;

describe('DataConnection against a lockstep outlet', () => {
  it('reports ready after the test patterns, then the pushed samples exactly; the outlet closing ends it without error', LIMIT, async () => {
    const info = new StreamInfo({ name: uniqueName('Conn'), channelCount: 2, nominalSrate: 100, channelFormat: 'int32', sourceId: uniqueName('src') });
    const outlet = await openOutlet(info);
    const [found] = await resolveByProp('name', info.name, { timeoutSec: 3 });
    assert.ok(found);
    const r = recorder();
    const conn = new DataConnection(found!, OPTIONS, r.handlers);
    await waitFor(() => r.events.includes('ready'), 3000, 'ready');
    await outlet.waitForConsumers(3);
    // 3 samples at 100 Hz, the last stamped 50.02: the first carries its timestamp, the others are deduced.
    outlet.pushChunk(Int32Array.of(1, 1001, 2, 1002, 3, 1003), 50.02);
    await waitFor(() => r.chunks.reduce((s, c) => s + c.nSamples, 0) >= 3, 3000, 'three samples');
    assert.equal(r.events[0], 'ready');
    const ts = r.chunks.flatMap((c) => Array.from(c.timestamps));
    const values = r.chunks.flatMap((c) => Array.from(c.data as Int32Array));
    assert.deepEqual(values, [1, 1001, 2, 1002, 3, 1003]);
    assert.deepEqual(ts.map((t) => t.toFixed(9)), ['50.000000000', '50.010000000', '50.020000000']);
    await outlet.close();
    await conn.ended; // resolves on EOF
  });

  it('destroy() ends it without error; destroy(error) rejects with the error, naming the stream', LIMIT, async () => {
    const info = new StreamInfo({ name: uniqueName('Conn'), channelCount: 1, nominalSrate: 10, sourceId: uniqueName('src') });
    await openOutlet(info);
    const [found] = await resolveByProp('name', info.name, { timeoutSec: 3 });
    const a = recorder();
    const quiet = new DataConnection(found!, OPTIONS, a.handlers);
    await waitFor(() => a.events.includes('ready'), 3000, 'ready');
    quiet.destroy();
    await quiet.ended;
    const b = recorder();
    const loud = new DataConnection(found!, OPTIONS, b.handlers);
    await waitFor(() => b.events.includes('ready'), 3000, 'ready');
    loud.destroy(new Error('silent for 15 s'));
    await assert.rejects(loud.ended, { message: `${describeStream(found!)}: silent for 15 s` });
  });
});

describe('DataConnection against a broken outlet (raw TCP on 127.0.0.1)', () => {
  it('"LSL/110 404 Not found" without CRLF, then close: rejects with the status', LIMIT, async () => {
    const { port, close } = await rawOutlet(Buffer.from('LSL/110 404 Not found'), true);
    try {
      const r = recorder();
      const conn = new DataConnection(infoFor(port), OPTIONS, r.handlers);
      await assert.rejects(conn.ended, (e: Error) => e instanceof LslHandshakeError && /outlet answered 404 Not found/.test(e.message) && e.message.includes(`127.0.0.1:${port}`));
      assert.deepEqual(r.events, []);
    } finally {
      close();
    }
  });

  it('test patterns that differ from liblsl\'s: rejects before ready, and no samples are delivered', LIMIT, async () => {
    const info = infoFor(0);
    const wrong = testPatternChunk('float32', 3);
    (wrong.data as Float32Array)[0] = 5; // liblsl's first pattern starts with 4
    const sample = encodeSamples('float32', { timestamps: Float64Array.of(1), data: Float32Array.of(1, 2, 3), nSamples: 1, nChannels: 3 });
    const { port, close } = await rawOutlet(Buffer.concat([Buffer.from(okHeader(info.uid), 'latin1'), encodeSamples('float32', wrong), sample]), false);
    try {
      info.v4dataPort = port;
      const r = recorder();
      const conn = new DataConnection(info, OPTIONS, r.handlers);
      await assert.rejects(conn.ended, (e: Error) => e instanceof LslStreamError && /test-pattern samples differ/.test(e.message));
      assert.deepEqual(r.events, []);
    } finally {
      close();
    }
  });

  it('the right test patterns and two samples in a single TCP write: ready, then the samples (the deduced one continues from the first)', LIMIT, async () => {
    const info = infoFor(0);
    const samples = encodeSamples('float32', { timestamps: Float64Array.of(7.5, 0), data: Float32Array.of(1, 2, 3, 4, 5, 6), nSamples: 2, nChannels: 3 }, 1234, Uint8Array.of(TAG_TRANSMITTED, TAG_DEDUCED));
    const body = Buffer.concat([Buffer.from(okHeader(info.uid), 'latin1'), encodeSamples('float32', testPatternChunk('float32', 3)), samples]);
    const { port, close } = await rawOutlet(body, true);
    try {
      info.v4dataPort = port;
      const r = recorder();
      const conn = new DataConnection(info, OPTIONS, r.handlers);
      await conn.ended;
      assert.deepEqual(r.events, ['ready', 'chunk 2']);
      assert.deepEqual(Array.from(r.chunks[0]!.timestamps), [7.5, 7.5 + 1 / 10]);
      assert.deepEqual(Array.from(r.chunks[0]!.data as Float32Array), [1, 2, 3, 4, 5, 6]);
    } finally {
      close();
    }
  });

  it('a deduced sample right after the test patterns is not dated from them: it waits for a transmitted timestamp', LIMIT, async () => {
    const info = infoFor(0);
    const deduced = encodeSamples('float32', { timestamps: Float64Array.of(0), data: Float32Array.of(1, 2, 3), nSamples: 1, nChannels: 3 }, 1234, Uint8Array.of(TAG_DEDUCED));
    const body = Buffer.concat([Buffer.from(okHeader(info.uid), 'latin1'), encodeSamples('float32', testPatternChunk('float32', 3)), deduced]);
    const { port, close } = await rawOutlet(body, true);
    try {
      info.v4dataPort = port;
      const r = recorder();
      const conn = new DataConnection(info, OPTIONS, r.handlers);
      await conn.ended;
      // Dated from the patterns it would arrive stamped 123456.889 (123456.789 + 1/10).
      assert.deepEqual(r.events, ['ready']);
    } finally {
      close();
    }
  });

  it('a handler that throws ends the connection with its error', LIMIT, async () => {
    const info = infoFor(0);
    const body = Buffer.concat([Buffer.from(okHeader(info.uid), 'latin1'), encodeSamples('float32', testPatternChunk('float32', 3))]);
    const { port, close } = await rawOutlet(body, false);
    try {
      info.v4dataPort = port;
      const conn = new DataConnection(info, OPTIONS, {
        onReady: () => {
          throw new Error('listener failed');
        },
        onChunk: () => {},
      });
      await assert.rejects(conn.ended, { message: 'listener failed' });
    } finally {
      close();
    }
  });

  it('a response header with no end after 64 KiB: rejects', LIMIT, async () => {
    const info = infoFor(0);
    const { port, close } = await rawOutlet(Buffer.from(`LSL/110 200 OK\r\nX: ${'x'.repeat(70 * 1024)}`), false);
    try {
      info.v4dataPort = port;
      const conn = new DataConnection(info, OPTIONS, recorder().handlers);
      await assert.rejects(conn.ended, (e: Error) => e instanceof LslHandshakeError && /no end of response header after 64 KiB/.test(e.message));
    } finally {
      close();
    }
  });
});
