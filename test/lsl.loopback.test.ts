/**
 * lockstep outlet → lockstep inlet over 127.0.0.1, for every channel format: single samples,
 * chunks with deduced timestamps, per-sample timestamps, a marker stream, fullinfo, clock sync,
 * big-endian negotiation; and the outlet's answers to raw protocol requests (what a liblsl inlet
 * or resolver sends), checked byte for byte.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CHANNEL_FORMATS, type ChannelFormat } from '../adapters/lsl/channelFormat.js';
import { concatChunks, type LslChunk } from '../adapters/lsl/chunk.js';
import { localClock } from '../adapters/lsl/clock.js';
import { StreamInlet } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveByProp, resolveStreams } from '../adapters/lsl/resolver.js';
import { encodeSamples, SampleDecoder, testPatternChunk } from '../adapters/lsl/sampleCodec.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { encodeArchive, encodeArchiveSamples } from '../adapters/lsl/protocol100.js';
import { closeTracked, loopbackOnly, newInlet, openOutlet, sleep, waitFor } from './helpers/lslFixtures.js';

loopbackOnly();
after(closeTracked);
let seq = 0;
const uniqueName = (base: string): string => `${base}-${process.pid}-${seq++}`;

async function openPair(format: ChannelFormat, nChannels: number, srate: number, extra: { nativeByteOrder?: 1234 | 4321 } = {}) {
  const info = new StreamInfo({ name: uniqueName(`Loop-${format}`), type: 'Test', channelCount: nChannels, nominalSrate: srate, channelFormat: format, sourceId: uniqueName('src') });
  const outlet = await openOutlet(info);
  const [found] = await resolveByProp('name', info.name, { timeoutSec: 3 });
  assert.ok(found, `resolved ${info.name}`);
  const inlet = newInlet(found!, { ...extra, stallTimeoutSec: 30 });
  await inlet.open(3);
  await outlet.waitForConsumers(3);
  return { outlet, inlet };
}

async function pullAtLeast(inlet: StreamInlet, n: number, format: ChannelFormat, nc: number): Promise<LslChunk> {
  const parts: LslChunk[] = [];
  let got = 0;
  const end = Date.now() + 3000;
  while (got < n && Date.now() < end) {
    const c = await inlet.pullChunk({ timeoutSec: 0.2 });
    parts.push(c);
    got += c.nSamples;
  }
  return concatChunks(format, nc, parts);
}

function valueOf(format: ChannelFormat, v: number): number | bigint | string {
  if (format === 'string') return `s${v}`;
  if (format === 'int64') return BigInt(v) * 3000000000n;
  if (format === 'float32') return Math.fround(v + 0.25);
  if (format === 'double64') return v + 1 / 3;
  return v;
}

describe('lockstep outlet → lockstep inlet (loopback)', () => {
  for (const format of CHANNEL_FORMATS) {
    it(`${format}: single samples, deduced-timestamp chunks and per-sample timestamps arrive exactly`, async () => {
      const nc = 3;
      const srate = 100;
      const { outlet, inlet } = await openPair(format, nc, srate);
      try {
        const expectedValues: (number | bigint | string)[] = [];
        const expectedTs: number[] = [];
        const row = (i: number) => Array.from({ length: nc }, (_, k) => valueOf(format, (k + 1) * (format === 'int8' ? 10 : 100) + (i % 20) - (k === 1 ? 60 : 0)));
        const t0 = localClock();
        let i = 0;
        for (; i < 5; i++) {
          const r = row(i);
          outlet.pushSample(r, t0 + i / srate);
          expectedValues.push(...r);
          expectedTs.push(t0 + i / srate);
        }
        // A chunk with one timestamp: the others are deduced (tag 1) on the wire.
        const rows = Array.from({ length: 10 }, (_, j) => row(i + j));
        const last = t0 + (i + 9) / srate;
        outlet.pushChunk(rows, last);
        for (let j = 0; j < 10; j++) {
          expectedValues.push(...rows[j]!);
          expectedTs.push(last - (9 - j) / srate);
        }
        i += 10;
        // One timestamp per sample: all transmitted.
        const rows2 = Array.from({ length: 4 }, (_, j) => row(i + j));
        const ts2 = rows2.map((_, j) => t0 + 7 + j * 0.013);
        outlet.pushChunk(rows2, ts2);
        for (let j = 0; j < 4; j++) {
          expectedValues.push(...rows2[j]!);
          expectedTs.push(ts2[j]!);
        }
        const got = await pullAtLeast(inlet, 19, format, nc);
        assert.equal(got.nSamples, 19);
        assert.equal(got.nChannels, nc);
        assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), expectedValues);
        for (let s = 0; s < 19; s++) assert.ok(Math.abs(got.timestamps[s]! - expectedTs[s]!) < 1e-9, `sample ${s}: ${got.timestamps[s]} vs ${expectedTs[s]}`);
        assert.equal(inlet.state, 'live');
      } finally {
        inlet.close();
        await outlet.close();
      }
    });
  }

  it('samples pushed without pushthrough wait for the chunk size or the next pushthrough', async () => {
    const { outlet, inlet } = await openPair('float32', 1, 1000);
    try {
      for (let i = 0; i < 5; i++) outlet.pushSample([i], 1 + i / 1000, false);
      assert.equal((await inlet.pullChunk({ timeoutSec: 0.2 })).nSamples, 0, 'held below 10 samples (10 ms at 1 kHz)');
      for (let i = 5; i < 10; i++) outlet.pushSample([i], 1 + i / 1000, false);
      assert.deepEqual(Array.from((await pullAtLeast(inlet, 10, 'float32', 1)).data as Float32Array), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      outlet.pushSample([10], 2, false);
      outlet.pushSample([11], 3);
      assert.deepEqual(Array.from((await pullAtLeast(inlet, 2, 'float32', 1)).data as Float32Array), [10, 11]);
    } finally {
      inlet.close();
      await outlet.close();
    }
  });

  it('a marker (string) stream at an irregular rate carries words, UTF-8 and long strings', async () => {
    const { outlet, inlet } = await openPair('string', 1, 0);
    try {
      const words = ['the', 'whale', 'été', '', 'x'.repeat(300), 'naïve—“quoted”'];
      const ts = words.map((_, i) => 1000 + i * 0.37);
      words.forEach((w, i) => outlet.pushSample([w], ts[i]));
      const got = await pullAtLeast(inlet, words.length, 'string', 1);
      assert.deepEqual(got.data, words);
      assert.deepEqual(Array.from(got.timestamps), ts);
      const one = await (async () => {
        outlet.pushSample(['last'], 2000);
        return inlet.pullSample(2);
      })();
      assert.deepEqual(one, { timestamp: 2000, values: ['last'] });
      assert.equal(await inlet.pullSample(0.05), null);
    } finally {
      inlet.close();
      await outlet.close();
    }
  });

  it('a big-endian inlet gets byte-swapped data from the outlet and decodes it', async () => {
    for (const format of ['float32', 'double64', 'int16', 'int64', 'string'] as const) {
      const { outlet, inlet } = await openPair(format, 2, 10, { nativeByteOrder: 4321 });
      try {
        outlet.pushChunk([[valueOf(format, 7), valueOf(format, -9)], [valueOf(format, 300), valueOf(format, 1)]], [5.5, 5.6]);
        const got = await pullAtLeast(inlet, 2, format, 2);
        assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), [valueOf(format, 7), valueOf(format, -9), valueOf(format, 300), valueOf(format, 1)], format);
        assert.deepEqual(Array.from(got.timestamps), [5.5, 5.6]);
      } finally {
        inlet.close();
        await outlet.close();
      }
    }
  });

  it('fullinfo carries the desc metadata; clock sync finds the shared clock', async () => {
    const info = new StreamInfo({ name: uniqueName('Full'), type: 'MEG', channelCount: 2, nominalSrate: 1200, channelFormat: 'float32', sourceId: uniqueName('meg') });
    info.setChannels([
      { label: 'MLC11', unit: 'T', type: 'MEG' },
      { label: 'MLC12', unit: 'T', type: 'MEG' },
    ]);
    info.desc().children.push({ name: 'manufacturer', text: 'CTF', attributes: {}, children: [] });
    const outlet = await openOutlet(info);
    const [found] = await resolveByProp('type', 'MEG', { timeoutSec: 3, minimum: 1 });
    const match = (await resolveByProp('name', info.name, { timeoutSec: 3 }))[0]!;
    assert.ok(found);
    const inlet = newInlet(match);
    try {
      const full = await inlet.info(3);
      assert.deepEqual(full.channels(), [
        { label: 'MLC11', unit: 'T', type: 'MEG' },
        { label: 'MLC12', unit: 'T', type: 'MEG' },
      ]);
      assert.equal(full.desc().children.find((c) => c.name === 'manufacturer')?.text, 'CTF');
      assert.equal(full.uid, outlet.info.uid);
      assert.equal(full.v4address, '127.0.0.1');
      assert.equal(match.channels(), null, 'the shortinfo has an empty desc');
      // Same machine, same monotonic clock: the correction is ~0 within the probe's round trip.
      const tc = await inlet.timeCorrection(3);
      const est = inlet.clockEstimate()!;
      assert.ok(Math.abs(tc) <= est.uncertainty + 0.002, `time correction ${tc} s, uncertainty ${est.uncertainty} s`);
      assert.ok(est.probes >= 6 && est.uncertainty < 0.05);
    } finally {
      inlet.close();
      await outlet.close();
    }
  });

  it('resolveStreams finds several outlets by scanning the service ports; several inlets share one outlet', async () => {
    const names = [uniqueName('A'), uniqueName('B')];
    const outlets = await Promise.all(names.map((name) => StreamOutlet.open(new StreamInfo({ name, channelCount: 1, nominalSrate: 10, sourceId: name }))));
    const inlets: StreamInlet[] = [];
    try {
      const all = await resolveStreams(0.6);
      for (const n of names) assert.ok(all.some((s) => s.name === n && s.v4address === '127.0.0.1'), `${n} in ${all.map((s) => s.name)}`);
      const info = all.find((s) => s.name === names[0])!;
      inlets.push(newInlet(info), newInlet(info));
      await Promise.all(inlets.map((i) => i.open(3)));
      outlets[0]!.pushChunk([[1], [2], [3]], 9);
      for (const inlet of inlets) assert.deepEqual(Array.from((await pullAtLeast(inlet, 3, 'float32', 1)).data as Float32Array), [1, 2, 3]);
    } finally {
      for (const i of inlets) i.close();
      await Promise.all(outlets.map((o) => o.close()));
    }
  });
});

describe('reading a legacy protocol-100 outlet', () => {
  /** A minimal liblsl-1.0-style outlet: serves the archive for `LSL:streamfeed` (or after a 110 header announcing 100). */
  async function legacyServer(info: StreamInfo, body: Buffer) {
    const requests: string[] = [];
    const server = net.createServer((s) => {
      let text = '';
      s.on('data', (d) => {
        text += d.toString('latin1');
        if (text.startsWith('LSL:streamfeed\r\n') && text.split('\r\n').length >= 3) {
          requests.push(text);
          s.end(body);
        } else if (text.startsWith('LSL:streamfeed/110') && text.includes('\r\n\r\n')) {
          requests.push(text);
          s.end(Buffer.concat([Buffer.from(`LSL/110 200 OK\r\nUID: ${info.uid}\r\nByte-Order: 1234\r\nData-Protocol-Version: 100\r\n\r\n`), body]));
        }
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return { server, requests, port: (server.address() as net.AddressInfo).port };
  }

  for (const version of [100, 110]) {
    it(`info version ${version / 100}: ${version === 100 ? 'legacy request, archive without header' : '110 header with Data-Protocol-Version 100, then the archive'}`, async () => {
      const info = new StreamInfo({ name: uniqueName('Legacy'), channelCount: 2, nominalSrate: 100, channelFormat: 'int32' });
      info.uid = '4efbca4d-eda9-4643-8e56-a312413f0655';
      info.version = version;
      const patterns = testPatternChunk('int32', 2);
      const data = { timestamps: Float64Array.of(7, 7.01, 7.02), data: Int32Array.of(-1, 70000, -300, 2, 5, 6), nSamples: 3, nChannels: 2 };
      const body = Buffer.concat([encodeArchive('int32', info.toShortXml(), { ...patterns, nSamples: 2 }), Buffer.from(encodeArchiveSamples('int32', data, Uint8Array.of(2, 1, 1)))]);
      const srv = await legacyServer(info, body);
      info.v4address = '127.0.0.1';
      info.v4dataPort = srv.port;
      const inlet = newInlet(info, { recover: false });
      try {
        await inlet.open(3);
        const got = await pullAtLeast(inlet, 3, 'int32', 2);
        assert.deepEqual(Array.from(got.data as Int32Array), [-1, 70000, -300, 2, 5, 6]);
        assert.deepEqual(Array.from(got.timestamps), [7, 7.01, 7.02]);
        assert.equal(srv.requests.length, 1);
        if (version === 100) assert.match(srv.requests[0]!, /^LSL:streamfeed\r\n\d+ 0\r\n$/);
        else assert.match(srv.requests[0]!, /^LSL:streamfeed\/110 4efbca4d/);
      } finally {
        inlet.close();
        await new Promise<void>((r) => srv.server.close(() => r()));
      }
    });
  }
});

/** Raw TCP exchange: writes `request`, collects until the peer closes or `untilBytes` arrive. */
function rawExchange(port: number, request: string, untilBytes = Infinity, timeoutMs = 2000): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const parts: Buffer[] = [];
    let len = 0;
    const t = setTimeout(() => {
      s.destroy();
      resolve({ bytes: Buffer.concat(parts), closed: false });
    }, timeoutMs);
    s.on('connect', () => s.write(request));
    s.on('data', (d) => {
      parts.push(d);
      len += d.length;
      if (len >= untilBytes) {
        clearTimeout(t);
        s.destroy();
        resolve({ bytes: Buffer.concat(parts), closed: false });
      }
    });
    s.on('error', reject);
    s.on('end', () => {
      clearTimeout(t);
      s.destroy();
      resolve({ bytes: Buffer.concat(parts), closed: true });
    });
  });
}

describe('the outlet answers raw liblsl requests', () => {
  let outlet: StreamOutlet;
  before(async () => {
    const info = new StreamInfo({ name: uniqueName('Raw'), type: 'EEG', channelCount: 3, nominalSrate: 10, channelFormat: 'float32', sourceId: 'raw-src' });
    info.setChannels([{ label: 'a' }, { label: 'b' }, { label: 'c' }]);
    outlet = await openOutlet(info);
  });
  after(() => outlet.close());

  const request = (uid: string, maxBuf = 360, extra = '') =>
    `LSL:streamfeed/110 ${uid}\r\nNative-Byte-Order: 1234\r\nEndian-Performance: 2.93171e+06\r\nHas-IEEE754-Floats: 1\r\nSupports-Subnormals: 1\r\nValue-Size: 4\r\n${extra}Data-Protocol-Version: 110\r\nMax-Buffer-Length: ${maxBuf}\r\nMax-Chunk-Length: 0\r\nHostname: rawpy\r\nSource-Id: rawpy-src\r\nSession-Id: default\r\n\r\n`;

  it('streamfeed: §8 response, the two test patterns, then pushed samples', async () => {
    const uid = outlet.info.uid;
    const header = `LSL/110 200 OK\r\nUID: ${uid}\r\nByte-Order: 1234\r\nSuppress-Subnormals: 0\r\nData-Protocol-Version: 110\r\n\r\n`;
    const patterns = encodeSamples('float32', testPatternChunk('float32', 3));
    const sample = encodeSamples('float32', { timestamps: Float64Array.of(387.407751337), data: Float32Array.of(17, 1017, 2017), nSamples: 1, nChannels: 3 });
    const pending = rawExchange(outlet.info.v4dataPort, request(uid), header.length + patterns.length + sample.length);
    await waitFor(() => outlet.haveConsumers(), 2000, 'the raw consumer');
    outlet.pushSample([17, 1017, 2017], 387.407751337);
    const { bytes } = await pending;
    assert.equal(bytes.toString('latin1', 0, header.length), header);
    assert.deepEqual(bytes.subarray(header.length), Buffer.concat([patterns, sample]));
  });

  it('a wrong uid gets "LSL/110 404 Not found" without CRLF, and the connection closes', async () => {
    const { bytes, closed } = await rawExchange(outlet.info.v4dataPort, request('00000000-0000-4000-8000-000000000000'));
    assert.equal(bytes.toString(), 'LSL/110 404 Not found');
    assert.ok(closed);
  });

  it('a reader slower than Max-Buffer-Length loses the oldest chunks; what arrives still decodes with exact timestamps', async () => {
    const nc = 300;
    const info = new StreamInfo({ name: uniqueName('Slow'), channelCount: nc, nominalSrate: 1000, sourceId: uniqueName('slow') });
    const o = await openOutlet(info);
    const s = net.connect({ host: '127.0.0.1', port: o.info.v4dataPort });
    try {
      await new Promise<void>((r) => s.on('connect', () => r()));
      s.pause(); // a reader that does not read
      s.write(request(o.info.uid, 100));
      await waitFor(() => o.haveConsumers(), 2000, 'the consumer');
      // 40 chunks of 1000 samples × 300 channels (48 MB): far more than the socket buffers hold.
      for (let c = 0; c < 40; c++) {
        const data = new Float32Array(1000 * nc);
        for (let i = 0; i < 1000; i++) data[i * nc] = c * 1000 + i;
        o.pushChunk(data, 100 + c + 0.999);
      }
      assert.ok(o.droppedSamples > 0, 'the outlet dropped samples for the slow reader');
      const parts: Buffer[] = [];
      s.on('data', (d) => parts.push(d));
      s.resume();
      // Read until the outlet has nothing left for us (no bytes for 300 ms).
      let seen = -1;
      while (seen !== parts.length) {
        seen = parts.length;
        await sleep(300);
      }
      const all = Buffer.concat(parts);
      const he = all.indexOf('\r\n\r\n') + 4;
      const d = new SampleDecoder('float32', nc, 1234, 1000);
      const got = d.push(all.subarray(he));
      const ch0 = Array.from({ length: got.nSamples }, (_, i) => (got.data as Float32Array)[i * nc]!);
      // Two test patterns, then whole chunks; every sample's timestamp matches its index.
      assert.deepEqual(ch0.slice(0, 2), [4, 2]);
      for (let i = 2; i < got.nSamples; i++) {
        const idx = ch0[i]!;
        const chunk = Math.floor(idx / 1000);
        assert.ok(Math.abs(got.timestamps[i]! - (100 + chunk + 0.999 - (999 - (idx % 1000)) / 1000)) < 1e-6, `sample ${idx}`);
      }
      assert.ok(got.nSamples - 2 < 40_000, 'some samples were dropped');
      assert.equal(ch0.at(-1), 39_999, 'the newest sample arrives');
    } finally {
      s.destroy();
      await o.close();
    }
  });

  it('Max-Buffer-Length 0: the test patterns, then close', async () => {
    const { bytes, closed } = await rawExchange(outlet.info.v4dataPort, request(outlet.info.uid, 0));
    assert.ok(closed);
    const body = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(body, encodeSamples('float32', testPatternChunk('float32', 3)));
  });

  it('a request without a uid is served; a 4321 client gets big-endian bytes', async () => {
    const r = request('', 10).replace('/110 \r\n', '/110\r\n').replace('Native-Byte-Order: 1234', 'Native-Byte-Order: 4321').replace('2.93171e+06', '0');
    const { bytes } = await rawExchange(outlet.info.v4dataPort, r, 200, 300);
    const he = bytes.indexOf('\r\n\r\n') + 4;
    assert.match(bytes.toString('latin1', 0, he), /Byte-Order: 4321/);
    assert.deepEqual(bytes.subarray(he, he + 21), Buffer.from('0240fe240c9fbe76c940800000c0a0000040c00000', 'hex'));
  });

  it('LSL:fullinfo returns the XML and closes; TCP LSL:shortinfo answers only a matching query', async () => {
    const full = await rawExchange(outlet.info.v4dataPort, 'LSL:fullinfo\r\n');
    assert.ok(full.closed);
    assert.equal(full.bytes.toString(), outlet.info.toFullXml());
    assert.match(full.bytes.toString(), /<label>b<\/label>/);
    const short = await rawExchange(outlet.info.v4dataPort, "LSL:shortinfo\r\nsource_id='raw-src'\r\n");
    assert.equal(short.bytes.toString(), outlet.info.toShortXml());
    const none = await rawExchange(outlet.info.v4dataPort, "LSL:shortinfo\r\nsource_id='other'\r\n");
    assert.ok(none.closed);
    assert.equal(none.bytes.length, 0);
    const junk = await rawExchange(outlet.info.v4dataPort, 'GET / HTTP/1.0\r\n\r\n');
    assert.equal(junk.bytes.length, 0);
  });

  it('UDP service port: timedata reply " id t0 t1 t2", shortinfo only on a match (queried against the fullinfo)', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    try {
      const t0 = localClock();
      sock.send(`LSL:timedata\r\n1804289383 ${t0}\r\n`, outlet.info.v4servicePort, '127.0.0.1');
      await waitFor(() => replies.length === 1, 2000, 'the timedata reply');
      const tok = replies[0]!.toString().split(' ');
      assert.equal(tok[0], '');
      assert.equal(tok[1], '1804289383');
      assert.ok(Math.abs(Number(tok[2]) - t0) < 1e-9);
      const [t1, t2] = [Number(tok[3]), Number(tok[4])];
      assert.ok(t1 >= t0 && t2 >= t1 && t2 <= localClock());
      const port = sock.address().port;
      sock.send(`LSL:shortinfo\r\ncount(desc/channels/channel)=2\r\n${port} 77\r\n`, outlet.info.v4servicePort, '127.0.0.1');
      sock.send(`LSL:shortinfo\r\ncount(desc/channels/channel)=3\r\n${port} 78\r\n`, outlet.info.v4servicePort, '127.0.0.1');
      await waitFor(() => replies.length === 2, 2000, 'the shortinfo reply');
      await sleep(100);
      assert.equal(replies.length, 2);
      assert.equal(replies[1]!.toString(), `78\r\n${outlet.info.toShortXml()}`);
    } finally {
      sock.close();
    }
  });
});
