/**
 * The TCP data-port conversation (doc §5, §8): request lines (`LSL:streamfeed/110 <uid>`,
 * `LSL:fullinfo`, `LSL:shortinfo`), the streamfeed request headers, the outlet's negotiation and
 * response (`LSL/110 200 OK` + UID/Byte-Order/Suppress-Subnormals/Data-Protocol-Version), and the
 * inlet's checks of that response.
 *
 * Owns: the text of the handshake. Must not: touch sockets or sample bytes.
 */
import { VALUE_SIZE, type ChannelFormat } from './channelFormat.js';
import type { ByteOrder } from './sampleCodec.js';
import { LSL_PROTOCOL_VERSION } from './streamInfo.js';

export class LslHandshakeError extends Error {}

export interface StreamfeedRequest {
  /** Protocol version in the request line (110), or 100 for the legacy `LSL:streamfeed`. */
  version: number;
  /** The uid the inlet resolved, if given. */
  uid: string | null;
  /** Lowercased header keys → lowercased values, comments stripped (as liblsl reads them). */
  headers: Map<string, string>;
}

export interface InletRequestOptions {
  uid: string;
  channelFormat: ChannelFormat;
  /** Max-Buffer-Length in samples (> 0; 0 makes the outlet close after the test patterns). */
  maxBufferSamples: number;
  hostname: string;
  sourceId: string;
  sessionId: string;
  nativeByteOrder?: ByteOrder;
  version?: number;
}

/** The legacy protocol-100 request (doc §9): no headers, and the reply has no status line. */
export function buildLegacyStreamfeedRequest(maxBufferSamples: number, maxChunk = 0): string {
  return `LSL:streamfeed\r\n${Math.max(0, Math.floor(maxBufferSamples))} ${maxChunk}\r\n`;
}

/** The streamfeed request a liblsl 1.17 inlet sends (doc §5.1), every header, CRLF, blank line. */
export function buildStreamfeedRequest(o: InletRequestOptions): string {
  const floaty = o.channelFormat === 'float32' || o.channelFormat === 'double64';
  const v = o.version ?? LSL_PROTOCOL_VERSION;
  return (
    `LSL:streamfeed/${v} ${o.uid}\r\n` +
    `Native-Byte-Order: ${o.nativeByteOrder ?? 1234}\r\n` +
    'Endian-Performance: 0\r\n' +
    'Has-IEEE754-Floats: 1\r\n' +
    `Supports-Subnormals: ${floaty ? 1 : 0}\r\n` +
    `Value-Size: ${VALUE_SIZE[o.channelFormat]}\r\n` +
    `Data-Protocol-Version: ${v}\r\n` +
    `Max-Buffer-Length: ${Math.max(0, Math.floor(o.maxBufferSamples))}\r\n` +
    'Max-Chunk-Length: 0\r\n' +
    `Hostname: ${o.hostname}\r\n` +
    `Source-Id: ${o.sourceId}\r\n` +
    `Session-Id: ${o.sessionId}\r\n` +
    '\r\n'
  );
}

/** Index just past the first `\n`, or -1. */
export function lineEnd(buf: Buffer, from = 0): number {
  const i = buf.indexOf(0x0a, from);
  return i < 0 ? -1 : i + 1;
}

/** Index just past `\r\n\r\n` (end of a header block), or -1. */
export function headerEnd(buf: Buffer, from = 0): number {
  const i = buf.indexOf('\r\n\r\n', from);
  return i < 0 ? -1 : i + 4;
}

/** Parses `Key: value` lines as liblsl does: lowercase everything, strip `;` comments, trim. */
export function parseHeaderLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rawLine of text.split('\n')) {
    let line = rawLine.toLowerCase();
    const semi = line.indexOf(';');
    if (semi >= 0) line = line.slice(0, semi);
    line = line.trim();
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    out.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return out;
}

/** Parses the trimmed request line `LSL:streamfeed/110 <uid>`; null if it is not a streamfeed/NNN line. */
export function parseStreamfeedLine(line: string): { version: number; uid: string | null } | null {
  const m = /^LSL:streamfeed\/(\d+)(?:\s+(\S+))?$/.exec(line.trim());
  if (!m) return null;
  return { version: Number(m[1]), uid: m[2] ?? null };
}

export interface Negotiation {
  /** The response to write (status line + headers + blank line, or an error line without CRLF). */
  response: string;
  /** Whether samples follow; false ⇒ close after writing the response. */
  ok: boolean;
  byteOrder: ByteOrder;
  /** Max-Buffer-Length: 0 ⇒ send the test patterns, then close. */
  maxBufferSamples: number;
  /** Why the request was refused (ok = false). */
  reason?: string;
}

/**
 * The outlet's side of §5.2. This outlet speaks protocol 110 only: requests that liblsl would
 * force down to protocol 100 (wrong Value-Size, no IEEE floats) are refused.
 */
export function negotiate(
  req: StreamfeedRequest,
  own: { uid: string; channelFormat: ChannelFormat; version?: number; endianPerformance?: number; bufferSamples: number },
): Negotiation {
  const ownVersion = own.version ?? LSL_PROTOCOL_VERSION;
  const fail = (code: string, reason: string): Negotiation => ({ response: `LSL/${ownVersion} ${code}`, ok: false, byteOrder: 1234, maxBufferSamples: 0, reason });
  if (Math.floor(req.version / 100) > Math.floor(ownVersion / 100)) return fail('505 Version not supported', `client protocol ${req.version}`);
  if (req.uid !== null && req.uid !== own.uid) return fail('404 Not found', `uid ${req.uid} is not this outlet's (${own.uid})`);
  const h = req.headers;
  const valueSize = h.has('value-size') ? Number(h.get('value-size')) : VALUE_SIZE[own.channelFormat];
  const ieee = h.has('has-ieee754-floats') ? h.get('has-ieee754-floats') === '1' : true;
  const dataProtocol = Math.min(ownVersion, req.version);
  if (dataProtocol < 110 || (own.channelFormat !== 'string' && valueSize !== VALUE_SIZE[own.channelFormat]) || !ieee) {
    return fail('505 Version not supported', 'the client needs protocol 100 (legacy archive), which this outlet does not serve');
  }
  const clientOrder = Number(h.get('native-byte-order') ?? '1234');
  const clientPerf = Number(h.get('endian-performance') ?? '0');
  let byteOrder: ByteOrder = 1234;
  // liblsl: the faster side converts; this outlet claims endianPerformance (default: it always converts).
  if ((clientOrder === 4321 || clientOrder === 1234) && clientOrder !== 1234 && VALUE_SIZE[own.channelFormat] > 1 && (own.endianPerformance ?? Infinity) > (Number.isFinite(clientPerf) ? clientPerf : 0)) {
    byteOrder = 4321;
  }
  const floaty = own.channelFormat === 'float32' || own.channelFormat === 'double64';
  const suppress = floaty && h.get('supports-subnormals') === '0';
  const maxBuf = Number(h.get('max-buffer-length') ?? '0');
  return {
    response: `LSL/${ownVersion} 200 OK\r\nUID: ${own.uid}\r\nByte-Order: ${byteOrder}\r\nSuppress-Subnormals: ${suppress ? 1 : 0}\r\nData-Protocol-Version: ${dataProtocol}\r\n\r\n`,
    ok: true,
    byteOrder,
    maxBufferSamples: Number.isFinite(maxBuf) && maxBuf > 0 ? Math.min(Math.floor(maxBuf), own.bufferSamples) : 0,
  };
}

export interface StreamfeedResponse {
  status: number;
  reason: string;
  version: number;
  byteOrder: ByteOrder;
  suppressSubnormals: boolean;
  dataProtocolVersion: number;
  uid: string | null;
}

/**
 * Checks the outlet's response as a liblsl inlet does (§5.3). `text` is everything up to and
 * including the blank line, or the whole error line (sent without CRLF) when the peer closed.
 */
export function parseStreamfeedResponse(text: string, expectedUid: string, what: string): StreamfeedResponse {
  const lines = text.split('\n');
  const statusLine = lines[0]!.trim();
  const parts = statusLine.split(/\s+/);
  if (parts.length < 3 || !parts[0]!.startsWith('LSL/')) throw new LslHandshakeError(`${what}: bad status line ${JSON.stringify(statusLine.slice(0, 80))} (expected "LSL/110 200 OK")`);
  const version = Number(parts[0]!.slice(4));
  const status = Number(parts[1]);
  if (!Number.isFinite(version) || Math.floor(version / 100) > 1) throw new LslHandshakeError(`${what}: unsupported protocol version ${parts[0]}`);
  const res: StreamfeedResponse = { status, reason: parts.slice(2).join(' '), version, byteOrder: 1234, suppressSubnormals: false, dataProtocolVersion: 110, uid: null };
  if (status !== 200) return res;
  const h = parseHeaderLines(lines.slice(1).join('\n'));
  const bo = h.get('byte-order');
  if (bo !== undefined) {
    if (bo === '1234' || bo === '0') res.byteOrder = 1234;
    else if (bo === '4321') res.byteOrder = 4321;
    else throw new LslHandshakeError(`${what}: Byte-Order "${bo}" (expected 1234 or 4321)`);
  }
  res.suppressSubnormals = h.get('suppress-subnormals') === '1';
  const uid = h.get('uid');
  if (uid !== undefined) {
    res.uid = uid;
    if (uid !== expectedUid.toLowerCase()) throw new LslHandshakeError(`${what}: outlet answered for uid ${uid}, expected ${expectedUid}`);
  }
  if (h.has('data-protocol-version')) res.dataProtocolVersion = Number(h.get('data-protocol-version'));
  if (res.dataProtocolVersion > 110) throw new LslHandshakeError(`${what}: Data-Protocol-Version ${res.dataProtocolVersion} > 110`);
  if (res.dataProtocolVersion !== 110 && res.dataProtocolVersion !== 100) throw new LslHandshakeError(`${what}: Data-Protocol-Version ${res.dataProtocolVersion} (expected 110, or 100 for the legacy archive)`);
  return res;
}
