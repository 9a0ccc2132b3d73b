/**
 * LSL protocol 110, byte by byte, against the examples captured from liblsl 1.17.7 in
 * docs/lsl-protocol.md (§3 discovery, §4 stream info, §5 handshake, §6–7 samples,
 * §10 clock sync). No sockets here: the loopback tests exercise the same code over the network.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { CHANNEL_FORMATS, type ChannelFormat } from '../adapters/lsl/channelFormat.js';
import { formatLslDouble, formatLslTime } from '../adapters/lsl/clock.js';
import { defaultNetworkConfig, discoveryTargets, isLoopback, labNetworkConfig, networkConfigFromEnv } from '../adapters/lsl/config.js';
import { encodeShortinfoQuery, encodeShortinfoReply, parseShortinfoQuery, parseShortinfoReply } from '../adapters/lsl/discoveryPackets.js';
import { buildStreamfeedRequest, negotiate, parseHeaderLines, parseStreamfeedLine, parseStreamfeedResponse } from '../adapters/lsl/handshake.js';
import { evaluateQuery, propQuery, queryMatches, recoveryQuery } from '../adapters/lsl/query.js';
import { encodeSamples, LslStreamError, SampleDecoder, TAG_DEDUCED, TAG_TRANSMITTED, testPattern, testPatternChunk } from '../adapters/lsl/sampleCodec.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { encodeTimeProbe, encodeTimeReply, estimateClock, parseTimeProbe, parseTimeReply } from '../adapters/lsl/timeSync.js';
import { parseXml } from '../adapters/lsl/xml.js';
import { encodeArchive, encodeArchiveSamples, Protocol100Decoder, readArchiveInt, writeArchiveInt } from '../adapters/lsl/protocol100.js';
import { assertSendAllowed } from '../adapters/lsl/resolver.js';
import { DEBIAN_PYTHON, REPO_ROOT } from './helpers/paths.js';
import {
  CAPTURED_BIG_ENDIAN_PATTERN,
  CAPTURED_CHUNK_BODY,
  CAPTURED_FLOAT32_BODY,
  CAPTURED_LIBLSL_REQUEST,
  CAPTURED_QUERY,
  CAPTURED_REPLY_HEAD,
  CAPTURED_REQUEST,
  CAPTURED_RESPONSE,
  CAPTURED_SHORTINFO,
  CAPTURED_STRING_BODY,
  hex,
} from './helpers/lslFixtures.js';

function probeInfo(): StreamInfo {
  const info = new StreamInfo({ name: 'ProbeEEG', type: 'EEG', channelCount: 3, nominalSrate: 10, channelFormat: 'float32', sourceId: 'ProbeEEG-src' });
  info.createdAt = 385.707543648;
  info.uid = '4efbca4d-eda9-4643-8e56-a312413f0655';
  info.hostname = 'vm';
  info.v4dataPort = 16576;
  info.v4servicePort = 16572;
  info.v6dataPort = 16577;
  info.v6servicePort = 16573;
  return info;
}

describe('discovery packets (§3)', () => {
  it('builds the captured LSL:shortinfo query byte for byte and parses it back', () => {
    const q = { query: "session_id='default' and name='ProbeEEG'", returnPort: 57863, queryId: '1234567890' };
    assert.deepEqual(encodeShortinfoQuery(q), CAPTURED_QUERY);
    assert.deepEqual(parseShortinfoQuery(CAPTURED_QUERY), q);
    assert.equal(parseShortinfoQuery(Buffer.from('LSL:timedata\r\n1 2\r\n')), null);
    assert.equal(parseShortinfoQuery(Buffer.from('LSL:shortinfo\r\nname=1\r\nnotaport id\r\n')), null);
  });

  it('builds the captured reply head and parses id + XML', () => {
    const reply = encodeShortinfoReply('1234567890', CAPTURED_SHORTINFO);
    assert.deepEqual(reply.subarray(0, CAPTURED_REPLY_HEAD.length), CAPTURED_REPLY_HEAD);
    const parsed = parseShortinfoReply(reply)!;
    assert.equal(parsed.queryId, '1234567890');
    assert.equal(StreamInfo.fromXml(parsed.xml).name, 'ProbeEEG');
  });

  it('default targets are loopback only: 127.0.0.1 on 16571 and every service port 16572…16603', () => {
    const t = discoveryTargets(defaultNetworkConfig());
    assert.equal(t.length, 33);
    assert.ok(t.every((x) => x.address === '127.0.0.1' && x.via === 'unicast' && isLoopback(x.address)));
    assert.deepEqual(
      t.map((x) => x.port),
      Array.from({ length: 33 }, (_, i) => 16571 + i),
    );
  });

  it('lab config adds liblsl multicast/broadcast targets (built and inspected, never sent)', () => {
    const t = discoveryTargets(labNetworkConfig());
    const groups = t.filter((x) => x.via !== 'unicast');
    // The expected groups come from the protocol document's table (liblsl's multicast.LinkAddresses
    // and SiteAddresses), not from literals here: this file never names an address it could send to.
    const expected = [...liblslGroupsFromDoc('LinkAddresses'), ...liblslGroupsFromDoc('SiteAddresses')];
    assert.equal(expected.length, 4, 'the doc lists 3 link-scope and 1 site-scope IPv4 groups');
    assert.deepEqual(
      groups.map((x) => [x.address, x.port, x.via, x.ttl]),
      expected.map((a) => (a.endsWith('.255') ? [a, 16571, 'broadcast', undefined] : [a, 16571, 'multicast', 24])),
    );
    // None of them can be reached while tests run: the loopback-only guard refuses each one.
    const before = process.env.LOCKSTEP_LSL_LOOPBACK_ONLY;
    process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = '1';
    try {
      for (const g of groups) assert.throws(() => assertSendAllowed(g.address), /allows only 127\.0\.0\.0\/8/);
      assert.doesNotThrow(() => assertSendAllowed('127.0.0.1'));
    } finally {
      if (before === undefined) delete process.env.LOCKSTEP_LSL_LOOPBACK_ONLY;
      else process.env.LOCKSTEP_LSL_LOOPBACK_ONLY = before;
    }
    // The datagram such a wave would send is the same §3.1 query.
    const packet = encodeShortinfoQuery({ query: propQuery('default'), returnPort: 16580, queryId: '42' });
    assert.equal(packet.toString(), "LSL:shortinfo\r\nsession_id='default'\r\n16580 42\r\n");
    assert.equal(labNetworkConfig().listenAddress, '0.0.0.0');
  });

  it('the environment opts in to multicast and peers; the default is loopback', () => {
    assert.equal(networkConfigFromEnv({}).multicast, false);
    assert.equal(networkConfigFromEnv({}).listenAddress, '127.0.0.1');
    const lab = networkConfigFromEnv({ LOCKSTEP_LSL_MULTICAST: '1', LOCKSTEP_LSL_PEERS: 'eeg-pc, 10.0.0.7', LOCKSTEP_LSL_SESSION: 'lab1' });
    assert.equal(lab.multicast, true);
    assert.equal(lab.listenAddress, '0.0.0.0');
    assert.deepEqual(lab.unicastHosts, ['127.0.0.1', 'eeg-pc', '10.0.0.7']);
    assert.equal(lab.sessionId, 'lab1');
    assert.equal(networkConfigFromEnv({}, { multicast: true }).listenAddress, '0.0.0.0');
  });
});

describe('stream info XML (§4)', () => {
  it('writes the captured shortinfo exactly (pugixml layout, %#.16g doubles, empty fields)', () => {
    assert.equal(probeInfo().toShortXml(), CAPTURED_SHORTINFO);
  });

  it('parses the captured shortinfo with liblsl rules', () => {
    const s = StreamInfo.fromXml(CAPTURED_SHORTINFO);
    assert.equal(s.name, 'ProbeEEG');
    assert.equal(s.channelCount, 3);
    assert.equal(s.channelFormat, 'float32');
    assert.equal(s.nominalSrate, 10);
    assert.equal(s.version, 110);
    assert.equal(s.createdAt, 385.707543648);
    assert.equal(s.uid, '4efbca4d-eda9-4643-8e56-a312413f0655');
    assert.deepEqual([s.v4dataPort, s.v4servicePort, s.v6dataPort, s.v6servicePort], [16576, 16572, 16577, 16573]);
    assert.equal(s.v4address, '');
    assert.equal(s.toShortXml(), CAPTURED_SHORTINFO);
  });

  it('round-trips a fullinfo with desc channel metadata and escaped text', () => {
    const info = probeInfo();
    info.desc().children.push({ name: 'manufacturer', text: 'A&B <Labs>', attributes: {}, children: [] });
    info.setChannels([
      { label: 'Fp1', unit: 'microvolts', type: 'EEG' },
      { label: 'Fp2', unit: 'microvolts', type: 'EEG' },
      { label: 'Cz', unit: 'microvolts', type: 'EEG' },
    ]);
    const xml = info.toFullXml();
    assert.match(xml, /<manufacturer>A&amp;B &lt;Labs&gt;<\/manufacturer>/);
    assert.match(xml, /\t<desc>\n\t\t<manufacturer>/);
    const back = StreamInfo.fromXml(xml);
    assert.deepEqual(back.channels(), info.channels());
    assert.equal(back.desc().children[0]!.text, 'A&B <Labs>');
    assert.equal(back.toFullXml(), xml);
    assert.equal(StreamInfo.fromXml(info.toShortXml()).channels(), null);
  });

  it('rejects what liblsl rejects, naming the field', () => {
    assert.throws(() => StreamInfo.fromXml(CAPTURED_SHORTINFO.replace('<name>ProbeEEG</name>', '<name></name>')), /<name> is empty/);
    assert.throws(() => StreamInfo.fromXml(CAPTURED_SHORTINFO.replace(/\t<created_at>.*\n/, '')), /missing <created_at>/);
    assert.throws(() => StreamInfo.fromXml(CAPTURED_SHORTINFO.replace('float32</channel_format>', 'float16</channel_format>')), /unknown channel format "float16"/);
    assert.throws(() => StreamInfo.fromXml(CAPTURED_SHORTINFO.replace('16576<', '70000<')), /v4data_port.*0…65535/);
    assert.throws(() => StreamInfo.fromXml(CAPTURED_SHORTINFO.replace('</info>', '')), /missing <\/info>.*character/);
  });

  it("formats doubles like C's %#.16g (oracle: Python's format(v, '#.16g'))", () => {
    const values = [10, 0, 1.1, 385.707543648, 123456.789, 1200, 0.5, 1e-5, 2.5e-7, 1e16, 1.234e20, 7921.308904457, 3.141592653589793, 0.0001];
    const py = execFileSync(DEBIAN_PYTHON, ['-c', `import json,sys\nfor v in json.load(sys.stdin): print(format(v, '#.16g'))`], { input: JSON.stringify(values) })
      .toString()
      .trim()
      .split('\n');
    assert.deepEqual(values.map(formatLslDouble), py);
    assert.equal(formatLslTime(427.196661306), '427.196661306');
  });
});

describe('queries (§3.4)', () => {
  const full = probeInfo();
  full.desc().children.push({ name: 'manufacturer', text: 'BioSemi', attributes: {}, children: [] });
  full.setChannels([{ label: 'a' }, { label: 'b' }, { label: 'c' }]);
  const el = full.toElement(true);

  it('generates the query strings of liblsl APIs', () => {
    assert.equal(propQuery('default'), "session_id='default'");
    assert.equal(propQuery('default', 'name', 'ProbeEEG'), "session_id='default' and name='ProbeEEG'");
    assert.equal(recoveryQuery(full), "channel_count='3' and name='ProbeEEG' and type='EEG' and source_id='ProbeEEG-src' and channel_format='float32'");
    assert.equal(recoveryQuery({ ...full, type: '', sourceId: '', name: 'X', channelCount: 1, channelFormat: 'string' }), "channel_count='1' and name='X' and channel_format='string'");
  });

  it('evaluates the XPath subset against the full info', () => {
    const yes = [
      '',
      "session_id='default' and name='ProbeEEG'",
      'name="ProbeEEG"',
      'channel_count=3',
      "channel_count='3'",
      "desc/manufacturer='BioSemi'",
      'count(desc/channels/channel)=3',
      "starts-with(name,'Probe')",
      "contains(type, 'E')",
      "not(type='MEG')",
      "type!='MEG'",
      'nominal_srate>5 and nominal_srate<=10',
      "name='nope' or name='ProbeEEG'",
      "session_id='x' and name='nope' or name='ProbeEEG'", // (session and a) or b, as in liblsl
      "(name='ProbeEEG')",
      "desc/channels/channel/label='c'",
      recoveryQuery(full),
    ];
    for (const q of yes) assert.equal(evaluateQuery(q, el), true, q);
    const no = ["name='ProbeEEG2'", "session_id='x' and (name='nope' or name='ProbeEEG')", 'count(desc/channels/channel)=32', "desc/manufacturer='X'", "missing='1'", 'channel_count>3'];
    for (const q of no) assert.equal(evaluateQuery(q, el), false, q);
  });

  it('an invalid expression is "no match", as a liblsl outlet treats it', () => {
    assert.throws(() => evaluateQuery("name='x", el), /unterminated/);
    assert.equal(queryMatches("name='x", el), false);
    assert.equal(queryMatches('frobnicate(name)', el), false);
  });
});

describe('streamfeed handshake (§5, §8)', () => {
  it('builds the transcript request of §8 byte for byte', () => {
    const req = buildStreamfeedRequest({ uid: '4efbca4d-eda9-4643-8e56-a312413f0655', channelFormat: 'float32', maxBufferSamples: 360, hostname: 'probe', sourceId: 'probe', sessionId: 'default' });
    assert.equal(req, CAPTURED_REQUEST);
  });

  it("answers a real liblsl inlet's request with the §8 response", () => {
    const firstLine = CAPTURED_REQUEST.slice(0, CAPTURED_REQUEST.indexOf('\r\n'));
    const line = parseStreamfeedLine(firstLine)!;
    assert.deepEqual(line, { version: 110, uid: '4efbca4d-eda9-4643-8e56-a312413f0655' });
    const headers = parseHeaderLines(CAPTURED_REQUEST.slice(firstLine.length + 2));
    assert.equal(headers.get('max-buffer-length'), '360');
    assert.equal(headers.get('hostname'), 'probe');
    const n = negotiate({ ...line, headers }, { uid: line.uid!, channelFormat: 'float32', bufferSamples: 3600 });
    assert.equal(n.response, CAPTURED_RESPONSE);
    assert.equal(n.ok, true);
    assert.equal(n.maxBufferSamples, 360);
    // The §5.1 liblsl request: its Endian-Performance parses, little endian is kept.
    const l2 = parseStreamfeedLine(CAPTURED_LIBLSL_REQUEST.split('\r\n')[0]!)!;
    const n2 = negotiate({ ...l2, headers: parseHeaderLines(CAPTURED_LIBLSL_REQUEST) }, { uid: 'af1a8f31-ab56-42c9-a062-ef7697d0ab72', channelFormat: 'float32', bufferSamples: 100 });
    assert.equal(n2.byteOrder, 1234);
    assert.equal(n2.maxBufferSamples, 100); // capped at the outlet's own buffer
  });

  it('refuses a wrong uid with 404 and a newer major version with 505, without CRLF', () => {
    const own = { uid: 'aaaa', channelFormat: 'float32' as const, bufferSamples: 10 };
    assert.equal(negotiate({ version: 110, uid: 'bbbb', headers: new Map() }, own).response, 'LSL/110 404 Not found');
    assert.equal(negotiate({ version: 200, uid: null, headers: new Map() }, own).response, 'LSL/110 505 Version not supported');
    // Value-Size mismatch would force protocol 100, which this outlet does not serve.
    assert.equal(negotiate({ version: 110, uid: null, headers: new Map([['value-size', '8']]) }, own).ok, false);
    assert.equal(negotiate({ version: 110, uid: null, headers: new Map([['has-ieee754-floats', 'true']]) }, own).ok, false);
    // Strings ignore Value-Size.
    assert.equal(negotiate({ version: 110, uid: null, headers: new Map([['value-size', '32']]) }, { ...own, channelFormat: 'string' }).ok, true);
  });

  it('negotiates big endian for a 4321 client and suppresses subnormals on request', () => {
    const n = negotiate(
      { version: 110, uid: null, headers: parseHeaderLines('Native-Byte-Order: 4321\r\nEndian-Performance: 0\r\nSupports-Subnormals: 0 ; a comment\r\n') },
      { uid: 'u', channelFormat: 'double64', bufferSamples: 10 },
    );
    assert.equal(n.byteOrder, 4321);
    assert.match(n.response, /Byte-Order: 4321\r\nSuppress-Subnormals: 1\r\n/);
    // A faster client converts itself; int8 has nothing to swap.
    const hdr = parseHeaderLines('Native-Byte-Order: 4321\r\nEndian-Performance: 1e9\r\n');
    assert.equal(negotiate({ version: 110, uid: null, headers: hdr }, { uid: 'u', channelFormat: 'float32', bufferSamples: 1, endianPerformance: 1e6 }).byteOrder, 1234);
    assert.equal(negotiate({ version: 110, uid: null, headers: parseHeaderLines('Native-Byte-Order: 4321') }, { uid: 'u', channelFormat: 'int8', bufferSamples: 1 }).byteOrder, 1234);
  });

  it('checks responses as a liblsl inlet does', () => {
    const r = parseStreamfeedResponse(CAPTURED_RESPONSE, '4EFBCA4D-EDA9-4643-8E56-A312413F0655', 'test');
    assert.deepEqual([r.status, r.byteOrder, r.dataProtocolVersion, r.suppressSubnormals], [200, 1234, 110, false]);
    assert.equal(parseStreamfeedResponse('LSL/110 404 Not found', 'x', 't').status, 404);
    assert.equal(parseStreamfeedResponse(CAPTURED_RESPONSE.replace('Byte-Order: 1234', 'byte-order: 0'), '4efbca4d-eda9-4643-8e56-a312413f0655', 't').byteOrder, 1234);
    assert.throws(() => parseStreamfeedResponse('LSL/110 200\r\n\r\n', 'x', 'stream S'), /stream S: bad status line/);
    assert.throws(() => parseStreamfeedResponse(CAPTURED_RESPONSE, 'other-uid', 'stream S'), /uid 4efbca4d.*expected other-uid/);
    assert.throws(() => parseStreamfeedResponse(CAPTURED_RESPONSE.replace('1234', '2143'), '4efbca4d-eda9-4643-8e56-a312413f0655', 'S'), /Byte-Order "2143"/);
    assert.equal(parseStreamfeedResponse(CAPTURED_RESPONSE.replace('Data-Protocol-Version: 110', 'Data-Protocol-Version: 100'), '4efbca4d-eda9-4643-8e56-a312413f0655', 'S').dataProtocolVersion, 100);
    assert.throws(() => parseStreamfeedResponse(CAPTURED_RESPONSE.replace('Data-Protocol-Version: 110', 'Data-Protocol-Version: 90'), '4efbca4d-eda9-4643-8e56-a312413f0655', 'S'), /Data-Protocol-Version 90/);
  });
});

describe('samples (§5.4, §6, §7)', () => {
  it('encodes both float32 test patterns and a data sample exactly as captured', () => {
    const patterns = encodeSamples('float32', testPatternChunk('float32', 3));
    const data = encodeSamples('float32', { timestamps: Float64Array.of(387.407751337), data: Float32Array.of(17, 1017, 2017), nSamples: 1, nChannels: 3 });
    assert.deepEqual(Buffer.concat([patterns, data]), CAPTURED_FLOAT32_BODY);
  });

  it('test patterns of every format match the values verified on the wire', () => {
    assert.deepEqual(Array.from(testPattern('float32', 3, 4) as Float32Array), [4, -5, 6]);
    assert.deepEqual(Array.from(testPattern('float32', 3, 2) as Float32Array), [2, -3, 4]);
    assert.deepEqual(Array.from(testPattern('double64', 3, 4) as Float64Array), [16777221, -16777222, 16777223]);
    assert.deepEqual(Array.from(testPattern('double64', 3, 2) as Float64Array), [16777219, -16777220, 16777221]);
    assert.deepEqual(Array.from(testPattern('int32', 3, 4) as Int32Array), [65541, -65542, 65543]);
    assert.deepEqual(Array.from(testPattern('int16', 3, 4) as Int16Array), [261, -262, 263]);
    assert.deepEqual(Array.from(testPattern('int8', 3, 4) as Int8Array), [5, -6, 7]);
    assert.deepEqual(Array.from(testPattern('int8', 130, 4) as Int8Array).slice(122, 125), [0, -1, 2]); // (k+o+1) mod 127
    assert.deepEqual(Array.from(testPattern('int64', 3, 4) as BigInt64Array), [2147483653n, -2147483654n, 2147483655n]);
    assert.deepEqual(testPattern('string', 3, 4), ['10', '-11', '12']);
    assert.deepEqual(testPattern('string', 1, 2), ['10']);
  });

  it('decodes the captured float32 body (patterns, then data)', () => {
    const d = new SampleDecoder('float32', 3, 1234, 10);
    const c = d.push(CAPTURED_FLOAT32_BODY);
    assert.equal(c.nSamples, 3);
    assert.deepEqual(Array.from(c.timestamps), [123456.789, 123456.789, 387.407751337]);
    assert.deepEqual(Array.from(c.data as Float32Array), [4, -5, 6, 2, -3, 4, 17, 1017, 2017]);
  });

  it('deduces timestamps (tag 1) as previous + 1/srate, and encodes them back identically', () => {
    const d = new SampleDecoder('float32', 2, 1234, 50);
    const c = d.push(CAPTURED_CHUNK_BODY);
    assert.deepEqual(Array.from(c.data as Float32Array), [85, 1085, 86, 1086, 87, 1087]);
    const t0 = c.timestamps[0]!;
    assert.ok(Math.abs(t0 - 397.13596) < 1e-5);
    assert.equal(c.timestamps[1], t0 + 0.02);
    assert.equal(c.timestamps[2], t0 + 0.02 + 0.02);
    const again = encodeSamples('float32', c, 1234, Uint8Array.of(TAG_TRANSMITTED, TAG_DEDUCED, TAG_DEDUCED));
    assert.deepEqual(again, CAPTURED_CHUNK_BODY);
  });

  it('holds deduced samples that arrive before any timestamp, then back-dates them', () => {
    const body = CAPTURED_CHUNK_BODY.subarray(17); // the two deduced samples only
    const first = CAPTURED_CHUNK_BODY.subarray(0, 17);
    const d = new SampleDecoder('float32', 2, 1234, 50);
    assert.equal(d.push(Buffer.from(body)).nSamples, 0);
    assert.equal(d.heldSamples, 2);
    const c = d.push(Buffer.from(first));
    assert.equal(c.nSamples, 3);
    const t = c.timestamps[2]!;
    assert.deepEqual(Array.from(c.data as Float32Array), [86, 1086, 87, 1087, 85, 1085]);
    assert.deepEqual(Array.from(c.timestamps), [t - 0.04, t - 0.02, t]);
    // The same when the deduced samples and the first timestamp come in one read.
    const one = new SampleDecoder('float32', 2, 1234, 50).push(Buffer.concat([body, first]));
    assert.deepEqual(Array.from(one.timestamps), [t - 0.04, t - 0.02, t]);
    // liblsl's own behaviour (start from 0) is available too.
    const raw = new SampleDecoder('float32', 2, 1234, 50, 'x', false).push(Buffer.from(body));
    assert.deepEqual(Array.from(raw.timestamps), [0.02, 0.04]);
  });

  it('decodes the captured string stream (length-of-length prefix)', () => {
    const d = new SampleDecoder('string', 1, 1234, 0);
    const c = d.push(CAPTURED_STRING_BODY);
    assert.deepEqual(c.data, ['10', '10', 'world']);
    assert.ok(Math.abs(c.timestamps[2]! - 404.888772332) < 1e-9);
    const enc = encodeSamples('string', { timestamps: Float64Array.of(123456.789, 123456.789), data: ['10', '10'], nSamples: 2, nChannels: 1 });
    assert.deepEqual(enc, CAPTURED_STRING_BODY.subarray(0, 26));
    const long = encodeSamples('string', { timestamps: Float64Array.of(1), data: ['a-much-longer-marker-word'], nSamples: 1, nChannels: 1 });
    assert.deepEqual(long.subarray(9, 13), hex('01 19 61 2d'));
  });

  it('writes 1-byte lengths up to 255 and 4-byte lengths above; reads widths 1, 2, 4, 8', () => {
    const s255 = 'x'.repeat(255);
    const s256 = 'é'.repeat(150); // 300 UTF-8 bytes
    const enc = encodeSamples('string', { timestamps: Float64Array.of(5), data: [s255, s256], nSamples: 1, nChannels: 2 });
    assert.deepEqual(enc.subarray(9, 11), hex('01 ff'));
    assert.deepEqual(enc.subarray(9 + 2 + 255, 9 + 2 + 255 + 5), hex('04 2c 01 00 00'));
    assert.deepEqual(new SampleDecoder('string', 2, 1234, 0).push(enc).data, [s255, s256]);
    const be = encodeSamples('string', { timestamps: Float64Array.of(5), data: [s256, 'ok'], nSamples: 1, nChannels: 2 }, 4321);
    assert.deepEqual(be.subarray(9, 14), hex('04 00 00 01 2c'));
    assert.deepEqual(new SampleDecoder('string', 2, 4321, 0).push(be).data, [s256, 'ok']);
    // Widths 2 and 8 are never written by liblsl but must be read.
    const w2 = Buffer.concat([hex('01 02 03 00 61 62 63'), hex('08 02 00 00 00 00 00 00 00 68 69')]);
    const c = new SampleDecoder('string', 2, 1234, 0, 'x', false).push(w2);
    assert.deepEqual(c.data, ['abc', 'hi']);
  });

  it('rejects a corrupt string length width with the byte offset', () => {
    const d = new SampleDecoder('string', 1, 1234, 0, 'stream "Markers"');
    assert.throws(() => d.push(Buffer.concat([CAPTURED_STRING_BODY.subarray(0, 13), hex('02 00 00 00 00 00 00 00 00 03 41')])), (e: Error) => e instanceof LslStreamError && /stream "Markers": string length field of width 3.*data byte 22/.test(e.message));
  });

  it('decodes the captured big-endian test pattern and encodes it identically', () => {
    const c = new SampleDecoder('float32', 3, 4321, 10).push(CAPTURED_BIG_ENDIAN_PATTERN);
    assert.deepEqual(Array.from(c.data as Float32Array), [4, -5, 6]);
    assert.equal(c.timestamps[0], 123456.789);
    const one = { timestamps: Float64Array.of(123456.789), data: testPattern('float32', 3, 4), nSamples: 1, nChannels: 3 };
    assert.deepEqual(encodeSamples('float32', one, 4321), CAPTURED_BIG_ENDIAN_PATTERN);
  });

  it('round-trips every format in both byte orders, byte by byte across segment boundaries', () => {
    for (const format of CHANNEL_FORMATS as readonly ChannelFormat[]) {
      for (const order of [1234, 4321] as const) {
        const chunk = testPatternChunk(format, 5);
        chunk.timestamps.set([10.25, 10.5]);
        const tags = Uint8Array.of(TAG_TRANSMITTED, TAG_DEDUCED);
        const bytes = encodeSamples(format, chunk, order, tags);
        const d = new SampleDecoder(format, 5, order, 4);
        const got: unknown[] = [];
        const ts: number[] = [];
        for (let i = 0; i < bytes.length; i++) {
          const c = d.push(bytes.subarray(i, i + 1));
          got.push(...Array.from(c.data as ArrayLike<unknown>));
          ts.push(...c.timestamps);
        }
        assert.deepEqual(got, Array.from(chunk.data as ArrayLike<unknown>), `${format} ${order}`);
        assert.deepEqual(ts, [10.25, 10.5], `${format} ${order}`);
        assert.equal(d.pendingBytes, 0);
      }
    }
  });
});

describe('clock sync packets and estimate (§10)', () => {
  it('matches the captured probe and reply', () => {
    assert.equal(encodeTimeProbe(1804289383, 427.196661306).toString(), 'LSL:timedata\r\n1804289383 427.196661306\r\n');
    assert.deepEqual(parseTimeProbe(Buffer.from('LSL:timedata\r\n1804289383 427.196661306\r\n')), { waveId: '1804289383', t0: 427.196661306 });
    assert.equal(encodeTimeReply('1804289383', 427.196661306, 427.196768097, 427.196804581).toString(), ' 1804289383 427.196661306 427.196768097 427.196804581');
    assert.deepEqual(parseTimeReply(Buffer.from(' 1804289383 427.196661306 427.196768097 427.196804581')), { waveId: 1804289383, t0: 427.196661306, t1: 427.196768097, t2: 427.196804581 });
    assert.equal(parseTimeProbe(Buffer.from('LSL:timedata\r\nabc 1\r\n')), null);
  });

  it('takes the minimum-RTT probe: correction = −offset, uncertainty = rtt', () => {
    // Remote clock = local + 100; probe 2 has the smallest rtt (2 ms) and a 1 ms asymmetry.
    const probes = [
      { t0: 1.0, t1: 101.004, t2: 101.005, t3: 1.011 },
      { t0: 2.0, t1: 102.001, t2: 102.0015, t3: 2.0025 },
      { t0: 3.0, t1: 103.003, t2: 103.004, t3: 3.009 },
      { t0: 4.0, t1: 104.003, t2: 104.004, t3: 4.009 },
      { t0: 5.0, t1: 105.003, t2: 105.004, t3: 5.009 },
      { t0: 6.0, t1: 106.003, t2: 106.004, t3: 6.009 },
    ];
    const e = estimateClock(probes, 6)!;
    assert.ok(Math.abs(e.uncertainty - 0.002) < 1e-12);
    assert.ok(Math.abs(e.timeCorrection - -((102.001 - 2.0 + (102.0015 - 2.0025)) / 2)) < 1e-12);
    assert.ok(Math.abs(e.timeCorrection + 100) < 0.001);
    assert.equal(e.remoteTime, (102.001 + 102.0015) / 2);
    assert.equal(estimateClock(probes.slice(0, 5), 6), null);
  });
});

describe('legacy protocol 100 archive (§9, read only)', () => {
  const int = (v: bigint) => {
    const out: number[] = [];
    writeArchiveInt(v, out);
    return Buffer.from(out);
  };

  it('encodes integers and float bit patterns in the variable-length code of the captures', () => {
    assert.deepEqual(int(9n), hex('01 09'));
    assert.deepEqual(int(639n), hex('02 7f 02'));
    assert.deepEqual(int(0n), hex('00'));
    assert.deepEqual(int(0x40800000n), hex('04 00 00 80 40')); // 4.0f
    assert.deepEqual(int(0x40fe240c9fbe76c9n), hex('08 c9 76 be 9f 0c 24 fe 40')); // 123456.789
    // Negative: EOS keeps the low-order bytes until only sign bits remain; the reader sign-extends.
    assert.deepEqual(int(-5n), hex('ff fb'));
    assert.deepEqual(int(-256n), hex('ff 00'));
    assert.deepEqual(int(-257n), hex('fe ff fe'));
    for (const v of [1n, -1n, 127n, 128n, 255n, 256n, -128n, -129n, 65535n, -65536n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      assert.equal(readArchiveInt(int(v), 0).value, v, String(v));
    }
  });

  it('decodes the captured archive prefix (header, 639-byte shortinfo, class info, test patterns)', () => {
    const captured = Buffer.concat([hex('7f 01 09 02 7f 02'), Buffer.from(CAPTURED_SHORTINFO), hex('00 00 01 02 08 c9 76 be 9f 0c 24 fe 40 04 00 00 80 40 04 00 00 a0 c0 04 00 00 c0 40')]);
    const built = encodeArchive('float32', CAPTURED_SHORTINFO, testPatternChunk('float32', 3));
    assert.deepEqual(built.subarray(0, captured.length), captured);
    const d = new Protocol100Decoder('float32', 3, 10);
    // Byte by byte: items straddle segments.
    const vals: number[] = [];
    const ts: number[] = [];
    for (let i = 0; i < built.length; i++) {
      const c = d.push(built.subarray(i, i + 1));
      vals.push(...(c.data as Float32Array));
      ts.push(...c.timestamps);
    }
    assert.equal(d.archiveInfoXml, CAPTURED_SHORTINFO);
    assert.deepEqual(vals, [4, -5, 6, 2, -3, 4]);
    assert.deepEqual(ts, [123456.789, 123456.789]);
  });

  it('round-trips every format, with deduced timestamps', () => {
    for (const format of CHANNEL_FORMATS as readonly ChannelFormat[]) {
      const chunk = testPatternChunk(format, 4);
      chunk.timestamps.set([50, 0]);
      const body = Buffer.concat([encodeArchive(format, CAPTURED_SHORTINFO, chunk, Uint8Array.of(2, 1))]);
      const c = new Protocol100Decoder(format, 4, 4).push(body);
      assert.deepEqual(Array.from(c.data as ArrayLike<unknown>), Array.from(chunk.data as ArrayLike<unknown>), format);
      assert.deepEqual(Array.from(c.timestamps), [50, 50.25], format);
    }
    assert.deepEqual(Buffer.from(encodeArchiveSamples('string', { timestamps: Float64Array.of(0), data: ['10'], nSamples: 1, nChannels: 1 }, Uint8Array.of(1))), hex('01 01 01 02 31 30'));
  });

  it('reports a stream that is not an archive with its position', () => {
    assert.throws(() => new Protocol100Decoder('float32', 1, 0, 'stream "Old"').push(hex('02 00')), /stream "Old": protocol-100 archive starts with 0x2 at data byte 0, expected 0x7f/);
  });
});

describe('XML reader', () => {
  it('reads attributes, comments, CDATA and entities and reports malformed input with a position', () => {
    const el = parseXml('<?xml version="1.0"?><!-- c --><info a="1&amp;2"><name><![CDATA[x<y]]></name><v>&#65;&#x42;</v></info>');
    assert.equal(el.attributes.a, '1&2');
    assert.equal(el.children[0]!.text, 'x<y');
    assert.equal(el.children[1]!.text, 'AB');
    assert.throws(() => parseXml('<info><a></b></info>', 'reply'), /reply: <\/b> closes <a> at character/);
  });
});

/**
 * The IPv4 groups of liblsl's `multicast.<name>` row in the protocol document's configuration table
 * (docs/, not test/fixtures/: the test tree names no address beyond loopback).
 */
function liblslGroupsFromDoc(name: 'LinkAddresses' | 'SiteAddresses'): string[] {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/lsl-protocol.md'), 'utf8');
  const row = doc.split('\n').find((l) => l.includes(`\`multicast.${name}\``));
  assert.ok(row, `multicast.${name} in the protocol document`);
  const set = /\{([^}]*)\}/.exec(row)![1];
  return set.split(',').map((a) => a.trim()).filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
}
