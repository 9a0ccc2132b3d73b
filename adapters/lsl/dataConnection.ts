/**
 * The inlet's side of an outlet's TCP data port (liblsl's `data_receiver` and `info_receiver`):
 *
 *  - `DataConnection`: one `LSL:streamfeed/110` connection (or the legacy protocol-100 feed):
 *    connect, send the request, check the response, verify both test patterns (doc §8), then decode
 *    samples as they arrive. It ends once: `ended` resolves on EOF and rejects on errors (socket
 *    error, 404/505, a corrupt header, wrong test patterns, undecodable samples).
 *  - `fetchFullInfoXml`: the one-shot `LSL:fullinfo` request.
 *
 * Owns: one socket per connection, the handshake and the sample decoder of that connection.
 * Must not: reconnect, resolve streams, keep state across connections, buffer samples or change
 * timestamps beyond the decoder's deduction (recovery, the state machine and the buffer belong to
 * `StreamInlet`).
 */
import net from 'node:net';
import os from 'node:os';
import type { ChunkData } from './channelFormat.js';
import { concatChunks, type LslChunk } from './chunk.js';
import { buildLegacyStreamfeedRequest, buildStreamfeedRequest, headerEnd, LslHandshakeError, parseStreamfeedResponse } from './handshake.js';
import { Protocol100Decoder } from './protocol100.js';
import { LslStreamError, SampleDecoder, testPatternChunk, type ByteOrder } from './sampleCodec.js';
import type { StreamInfo } from './streamInfo.js';

/** How errors and messages name a stream: `LSL stream "MEG" (127.0.0.1:16573)`. */
export function describeStream(info: StreamInfo): string {
  return `LSL stream "${info.name}" (${info.v4address}:${info.v4dataPort})`;
}

export interface DataConnectionOptions {
  /** Max-Buffer-Length sent in the request: samples the outlet keeps for this connection. */
  maxBufferSamples: number;
  /** Byte order announced in the request (1234; 4321 exercises the outlet's conversion). */
  nativeByteOrder: ByteOrder;
}

/**
 * Called synchronously from the socket's data handler. A handler that throws ends the connection
 * with that error, as a decoding error would.
 */
export interface DataConnectionHandlers {
  /** Handshake accepted and both test patterns verified; samples follow. */
  onReady(): void;
  /** Decoded samples (nSamples > 0), sender-clock timestamps with deduced ones filled in. */
  onChunk(chunk: LslChunk): void;
}

export class DataConnection {
  /** Resolves when the outlet closes the connection (EOF) or `destroy()` is called; rejects on errors. */
  readonly ended: Promise<void>;
  private socket: net.Socket | null = null;

  /** Connects at once to the stream's v4 address and data port. */
  constructor(info: StreamInfo, options: DataConnectionOptions, handlers: DataConnectionHandlers) {
    this.ended = new Promise<void>((resolve, reject) => this.start(info, options, handlers, resolve, reject));
  }

  /** Closes the socket. With an error, `ended` rejects with it (prefixed by the stream); without, it resolves. */
  destroy(error?: Error): void {
    this.socket?.destroy(error);
  }

  private start(info: StreamInfo, options: DataConnectionOptions, handlers: DataConnectionHandlers, resolve: () => void, reject: (e: Error) => void): void {
    const what = describeStream(info);
    const socket = net.connect({ host: info.v4address, port: info.v4dataPort });
    this.socket = socket;
    socket.setNoDelay(true);
    let header: Buffer | null = Buffer.alloc(0);
    let decoder: SampleDecoder | null = null;
    let patternsSeen = 0;
    let patternBuf: LslChunk[] = [];
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(e);
    };
    // Outlets advertising version 1.00 speak only the legacy archive (doc §9): no header, no status line.
    const legacy = info.version < 110;
    if (legacy) {
      header = null;
      decoder = new Protocol100Decoder(info.channelFormat, info.channelCount, info.nominalSrate, what);
    }
    socket.on('connect', () => {
      if (legacy) {
        socket.write(buildLegacyStreamfeedRequest(options.maxBufferSamples));
        return;
      }
      socket.write(
        buildStreamfeedRequest({
          uid: info.uid,
          channelFormat: info.channelFormat,
          maxBufferSamples: options.maxBufferSamples,
          hostname: os.hostname(),
          sourceId: info.sourceId,
          sessionId: info.sessionId,
          nativeByteOrder: options.nativeByteOrder,
        }),
      );
    });
    const handleSamples = (data: Buffer): void => {
      if (!decoder) return;
      if (patternsSeen < 2) {
        // Decode at most the two pattern samples; the bytes after them stay in the decoder.
        const c = decoder.push(data, 2 - patternsSeen);
        patternBuf.push(c);
        patternsSeen += c.nSamples;
        if (patternsSeen < 2) return;
        const got = concatChunks(info.channelFormat, info.channelCount, patternBuf);
        patternBuf = [];
        const want = testPatternChunk(info.channelFormat, info.channelCount);
        if (!sameChunk(got, want)) {
          throw new LslStreamError(`${what}: the test-pattern samples differ from liblsl's (got ts ${got.timestamps[0]}, values ${describeValues(got.data)}); protocol formats are likely incompatible`);
        }
        // Deduced timestamps must not continue from the patterns' 123456.789.
        decoder.resetTimestamps();
        handlers.onReady();
        data = Buffer.alloc(0);
      }
      const chunk = decoder.push(data);
      if (chunk.nSamples > 0) handlers.onChunk(chunk);
    };
    socket.on('data', (d: Buffer) => {
      try {
        if (header) {
          header = Buffer.concat([header, d]);
          const he = headerEnd(header);
          if (he < 0) {
            if (header.length > 64 * 1024) throw new LslHandshakeError(`${what}: no end of response header after 64 KiB`);
            return;
          }
          const res = parseStreamfeedResponse(header.toString('latin1', 0, he), info.uid, what);
          if (res.status !== 200) throw new LslHandshakeError(`${what}: outlet answered ${res.status} ${res.reason}`);
          decoder =
            res.dataProtocolVersion === 100
              ? new Protocol100Decoder(info.channelFormat, info.channelCount, info.nominalSrate, what)
              : new SampleDecoder(info.channelFormat, info.channelCount, res.byteOrder, info.nominalSrate, what);
          const rest = header.subarray(he);
          header = null;
          handleSamples(rest);
        } else handleSamples(d);
      } catch (e) {
        fail(e as Error);
      }
    });
    socket.on('error', (e) => fail(new Error(`${what}: ${e.message}`)));
    socket.on('close', () => {
      if (settled) return;
      settled = true;
      if (header && header.length > 0) {
        // Error statuses (404, 505) come without CRLF, then the outlet closes.
        try {
          const res = parseStreamfeedResponse(header.toString('latin1'), info.uid, what);
          reject(new LslHandshakeError(`${what}: outlet answered ${res.status} ${res.reason}`));
        } catch (e) {
          reject(e as Error);
        }
        return;
      }
      resolve();
    });
  }
}

/** `LSL:fullinfo` over TCP: connect, ask, read to EOF. */
export function fetchFullInfoXml(host: string, port: number, timeoutSec: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const parts: Buffer[] = [];
    const t = setTimeout(() => {
      socket.destroy();
      reject(new Error(`LSL:fullinfo from ${host}:${port}: no complete reply within ${timeoutSec.toFixed(1)} s`));
    }, timeoutSec * 1000);
    socket.on('connect', () => socket.write('LSL:fullinfo\r\n'));
    socket.on('data', (d) => parts.push(d));
    socket.on('error', (e) => {
      clearTimeout(t);
      reject(new Error(`LSL:fullinfo from ${host}:${port}: ${e.message}`));
    });
    socket.on('end', () => {
      clearTimeout(t);
      socket.destroy();
      resolve(Buffer.concat(parts).toString('utf8'));
    });
  });
}

function sameChunk(a: LslChunk, b: LslChunk): boolean {
  if (a.nSamples !== b.nSamples || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.nSamples; i++) if (a.timestamps[i] !== b.timestamps[i]) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

function describeValues(d: ChunkData): string {
  const xs: string[] = [];
  for (let i = 0; i < Math.min(4, d.length); i++) xs.push(String(d[i]));
  return `[${xs.join(', ')}${d.length > 4 ? ', …' : ''}]`;
}
