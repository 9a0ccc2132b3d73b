/**
 * `StreamOutlet` (pylsl's class): publishes one stream. Binds, as liblsl does (doc §1, §13):
 *  - a TCP listener in 16572…16603 for `LSL:shortinfo`, `LSL:fullinfo`, `LSL:streamfeed/110`;
 *  - a UDP service socket in 16572…16603 answering `LSL:shortinfo` and `LSL:timedata`;
 *  - a UDP responder on 16571 (reuseAddr) answering `LSL:shortinfo`, joined to the multicast
 *    groups only when the network config enables multicast.
 * Each data connection gets its own queue of at most Max-Buffer-Length samples (oldest dropped
 * when the peer reads too slowly). The first sample sent on a connection always carries its
 * timestamp, so no inlet has to guess it.
 *
 * Owns: the outlet's sockets and per-connection queues. Must not: generate signals (callers do)
 * or send discovery queries.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { allocate, type ChannelFormat, type ChunkData, type NumericArray } from './channelFormat.js';
import type { LslChunk } from './chunk.js';
import { localClock } from './clock.js';
import { resolveConfig, type LslNetworkConfig } from './config.js';
import { encodeShortinfoReply, packetMethod, parseShortinfoQuery } from './discoveryPackets.js';
import { headerEnd, lineEnd, negotiate, parseHeaderLines, parseStreamfeedLine } from './handshake.js';
import { queryMatches } from './query.js';
import { assertSendAllowed, multicastInterfaces } from './resolver.js';
import { DEDUCED_TIMESTAMP, encodeSamples, TAG_DEDUCED, TAG_TRANSMITTED, testPatternChunk, type ByteOrder } from './sampleCodec.js';
import type { StreamInfo } from './streamInfo.js';
import { encodeTimeReply, parseTimeProbe } from './timeSync.js';
import type { XmlElement } from './xml.js';

export interface OutletOptions {
  /** Seconds of data kept per connection for a slow reader (liblsl max_buffered, default 360). */
  maxBufferedSec?: number;
  config?: Partial<LslNetworkConfig>;
  /**
   * Samples pushed without pushthrough are sent once this many are pending (liblsl chunk_size;
   * default 0 = about 10 ms of data, at least 1 sample).
   */
  chunkSize?: number;
  /** Claimed byte-swapping speed (liblsl Endian-Performance); the faster side converts. Default: always convert for big-endian inlets. */
  endianPerformance?: number;
}

type Scalar = number | bigint | string;
export type SampleValues = ArrayLike<Scalar>;

interface QueueItem {
  chunk: LslChunk;
  tags: Uint8Array;
  buf: Buffer;
}

interface Consumer {
  socket: net.Socket;
  byteOrder: ByteOrder;
  maxSamples: number;
  queue: QueueItem[];
  queuedSamples: number;
  blocked: boolean;
  /** The next sample written must carry its timestamp. */
  needsTimestamp: boolean;
  droppedSamples: number;
}

async function bindInRange<T>(config: LslNetworkConfig, tryPort: (port: number) => Promise<T>, what: string): Promise<T> {
  for (let p = config.basePort; p < config.basePort + config.portRange; p++) {
    try {
      return await tryPort(p);
    } catch {
      /* port taken: try the next, as liblsl does */
    }
  }
  if (config.allowRandomPorts) return tryPort(0);
  throw new Error(`LSL outlet: no free ${what} port in ${config.basePort}…${config.basePort + config.portRange - 1} and random ports are disabled`);
}

function listenTcp(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ port, host, backlog: 10, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function bindUdp(port: number, host: string, reuseAddr: boolean): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr });
    const onError = (e: Error): void => {
      s.close();
      reject(e);
    };
    s.once('error', onError);
    s.bind({ port, address: host, exclusive: true }, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

export class StreamOutlet {
  readonly info: StreamInfo;
  readonly config: LslNetworkConfig;
  private server!: net.Server;
  private service!: dgram.Socket;
  private responder: dgram.Socket | null = null;
  private consumers = new Set<Consumer>();
  private sockets = new Set<net.Socket>();
  private fullInfo!: XmlElement;
  private shortXml!: string;
  private fullXml!: string;
  private queryCache = new Map<string, boolean>();
  private pendingChunks: { chunk: LslChunk; tags: Uint8Array }[] = [];
  private pendingSamples = 0;
  private readonly chunkSize: number;
  private lastPushedTimestamp: number | null = null;
  private closed = false;
  private consumerWaiters: (() => void)[] = [];
  readonly bufferSamples: number;
  private readonly endianPerformance: number;

  private constructor(info: StreamInfo, options: OutletOptions) {
    this.info = info.clone();
    this.config = resolveConfig(options.config);
    const sec = options.maxBufferedSec ?? 360;
    this.bufferSamples = Math.max(1, Math.ceil(this.info.nominalSrate > 0 ? sec * this.info.nominalSrate : sec * 100));
    this.endianPerformance = options.endianPerformance ?? Infinity;
    this.chunkSize = options.chunkSize && options.chunkSize > 0 ? Math.floor(options.chunkSize) : Math.max(1, Math.round(this.info.nominalSrate / 100));
  }

  /** Creates the outlet and binds its sockets (pylsl's constructor; binding is asynchronous in Node). */
  static async open(info: StreamInfo, options: OutletOptions = {}): Promise<StreamOutlet> {
    const o = new StreamOutlet(info, options);
    await o.bind();
    return o;
  }

  private async bind(): Promise<void> {
    const host = this.config.listenAddress;
    this.server = net.createServer((s) => this.onConnection(s));
    const dataPort = await bindInRange(this.config, (p) => listenTcp(this.server, p, host), 'TCP data');
    this.service = await bindInRange(this.config, (p) => bindUdp(p, host, false), 'UDP service');
    this.service.on('message', (msg, rinfo) => this.onServicePacket(msg, rinfo, true));
    this.service.on('error', () => {});
    try {
      const r = await bindUdp(this.config.multicastPort, this.config.multicast ? '0.0.0.0' : host, true);
      r.on('message', (msg, rinfo) => this.onServicePacket(msg, rinfo, false));
      r.on('error', () => {});
      if (this.config.multicast) {
        for (const group of this.config.multicastAddresses) {
          if (!/^2(2[4-9]|3\d)\./.test(group)) continue;
          // liblsl joins each group on every IPv4 interface (joining sends IGMP: lab mode only, never in tests).
          for (const iface of multicastInterfaces()) {
            try {
              r.addMembership(group, iface);
            } catch {
              /* an interface without multicast */
            }
          }
        }
      }
      this.responder = r;
    } catch {
      // Another process holds 16571 without reuseAddr: unicast discovery through the service port still works.
      this.responder = null;
    }
    this.info.assignIdentity(localClock());
    this.info.sessionId = this.config.sessionId;
    this.info.v4address = '';
    this.info.v6address = '';
    this.info.v4dataPort = dataPort;
    this.info.v4servicePort = this.service.address().port;
    this.info.v6dataPort = 0;
    this.info.v6servicePort = 0;
    this.fullInfo = this.info.toElement(true);
    this.shortXml = this.info.toShortXml();
    this.fullXml = this.info.toFullXml();
  }

  private onServicePacket(msg: Buffer, rinfo: dgram.RemoteInfo, isService: boolean): void {
    if (this.closed) return;
    // Take t1 first: the reply's accuracy is the time between receive and send.
    const t1 = localClock();
    const method = packetMethod(msg);
    if (method === 'LSL:shortinfo') {
      const q = parseShortinfoQuery(msg);
      if (!q || !this.matches(q.query)) return;
      const socket = isService ? this.service : this.responder;
      if (!socket) return;
      try {
        assertSendAllowed(rinfo.address);
        socket.send(encodeShortinfoReply(q.queryId, this.shortXml), q.returnPort, rinfo.address, () => {});
      } catch {
        /* not allowed or socket closing */
      }
    } else if (method === 'LSL:timedata' && isService) {
      const p = parseTimeProbe(msg);
      if (!p) return;
      try {
        assertSendAllowed(rinfo.address);
        this.service.send(encodeTimeReply(p.waveId, p.t0, t1, localClock()), rinfo.port, rinfo.address, () => {});
      } catch {
        /* ignore */
      }
    }
  }

  private matches(query: string): boolean {
    let m = this.queryCache.get(query);
    if (m === undefined) {
      m = queryMatches(query, this.fullInfo);
      if (this.queryCache.size > 1000) this.queryCache.clear();
      this.queryCache.set(query, m);
    }
    return m;
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    const timeout = setTimeout(() => socket.destroy(), 10_000);
    const onData = (d: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (buf.length > 64 * 1024) {
        socket.destroy();
        return;
      }
      const e1 = lineEnd(buf);
      if (e1 < 0) return;
      const line = buf.toString('latin1', 0, e1).trim();
      if (line === 'LSL:fullinfo') {
        done();
        socket.end(this.fullXml);
      } else if (line === 'LSL:shortinfo') {
        const e2 = lineEnd(buf, e1);
        if (e2 < 0) return;
        done();
        const query = buf.toString('utf8', e1, e2).trim();
        socket.end(this.matches(query) ? this.shortXml : '');
      } else if (line.startsWith('LSL:streamfeed/')) {
        const he = headerEnd(buf, e1 - 2);
        if (he < 0) return;
        done();
        const req = parseStreamfeedLine(line);
        if (!req) {
          socket.destroy();
          return;
        }
        this.startFeed(socket, { ...req, headers: parseHeaderLines(buf.toString('latin1', e1, he)) });
      } else {
        // Legacy protocol 100 (`LSL:streamfeed`) and unknown requests: dropped (doc §9 recommendation).
        done();
        socket.destroy();
      }
    };
    const done = (): void => {
      clearTimeout(timeout);
      socket.off('data', onData);
    };
    socket.on('data', onData);
    socket.on('close', () => clearTimeout(timeout));
  }

  private startFeed(socket: net.Socket, req: { version: number; uid: string | null; headers: Map<string, string> }): void {
    const n = negotiate(req, { uid: this.info.uid, channelFormat: this.info.channelFormat, endianPerformance: this.endianPerformance, bufferSamples: this.bufferSamples });
    if (!n.ok) {
      socket.end(n.response);
      return;
    }
    socket.write(n.response);
    socket.write(encodeSamples(this.info.channelFormat, testPatternChunk(this.info.channelFormat, this.info.channelCount), n.byteOrder));
    if (n.maxBufferSamples <= 0) {
      socket.end();
      return;
    }
    const c: Consumer = { socket, byteOrder: n.byteOrder, maxSamples: n.maxBufferSamples, queue: [], queuedSamples: 0, blocked: false, needsTimestamp: true, droppedSamples: 0 };
    this.consumers.add(c);
    socket.on('drain', () => {
      c.blocked = false;
      this.flushConsumer(c);
    });
    socket.on('close', () => this.consumers.delete(c));
    // A peer that sends anything after the header is not an LSL inlet; liblsl ignores it too.
    socket.resume();
    for (const w of this.consumerWaiters.splice(0)) w();
  }

  /** True while at least one inlet is connected (pylsl `have_consumers`). */
  haveConsumers(): boolean {
    return this.consumers.size > 0;
  }

  /** Resolves true once an inlet connects, false after `timeoutSec` (pylsl `wait_for_consumers`). */
  waitForConsumers(timeoutSec: number): Promise<boolean> {
    if (this.haveConsumers()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.consumerWaiters = this.consumerWaiters.filter((w) => w !== fire);
        resolve(false);
      }, timeoutSec * 1000);
      const fire = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.consumerWaiters.push(fire);
    });
  }

  /** Samples dropped for slow consumers since they connected (all connections together). */
  get droppedSamples(): number {
    let n = 0;
    for (const c of this.consumers) n += c.droppedSamples;
    return n;
  }

  /**
   * Pushes one sample. `timestamp` 0 = now (liblsl), DEDUCED_TIMESTAMP (−1) = previous + 1/srate.
   * `pushthrough` false keeps it until the next pushthrough.
   */
  pushSample(values: SampleValues, timestamp = 0, pushthrough = true): void {
    this.pushChunk([values], timestamp === DEDUCED_TIMESTAMP ? DEDUCED_TIMESTAMP : timestamp, pushthrough);
  }

  /**
   * Pushes several samples: rows (`[[…], […]]`) or one flat [sample][channel] array. `timestamps`:
   * none/0 = now for the last sample; one number = the last sample's timestamp, the others spaced
   * 1/srate before it and sent as deduced (pylsl's default); an array = one per sample, all sent.
   */
  pushChunk(samples: ArrayLike<SampleValues> | SampleValues, timestamps?: number | ArrayLike<number>, pushthrough = true): void {
    if (this.closed) throw new Error(`LSL outlet ${this.info.name}: pushed after close()`);
    const chunk = this.toChunk(samples);
    const n = chunk.nSamples;
    if (n === 0) return;
    const tags = new Uint8Array(n);
    const dt = this.info.nominalSrate > 0 ? 1 / this.info.nominalSrate : 0;
    if (timestamps !== undefined && typeof timestamps !== 'number') {
      if (timestamps.length !== n) throw new RangeError(`LSL outlet ${this.info.name}: ${timestamps.length} timestamps for ${n} samples`);
      for (let i = 0; i < n; i++) chunk.timestamps[i] = timestamps[i]!;
      tags.fill(TAG_TRANSMITTED);
    } else if (timestamps === DEDUCED_TIMESTAMP) {
      const prev = this.lastPushedTimestamp ?? localClock() - dt;
      for (let i = 0; i < n; i++) chunk.timestamps[i] = prev + (i + 1) * dt;
      tags.fill(TAG_DEDUCED);
    } else {
      const last = timestamps === undefined || timestamps === 0 ? localClock() : timestamps;
      for (let i = 0; i < n; i++) chunk.timestamps[i] = last - (n - 1 - i) * dt;
      tags.fill(TAG_DEDUCED);
      tags[0] = TAG_TRANSMITTED;
    }
    this.lastPushedTimestamp = chunk.timestamps[n - 1]!;
    this.pendingChunks.push({ chunk, tags });
    this.pendingSamples += n;
    if (pushthrough || this.pendingSamples >= this.chunkSize) this.flush();
  }

  private toChunk(samples: ArrayLike<SampleValues> | SampleValues): LslChunk {
    const nc = this.info.channelCount;
    const format = this.info.channelFormat;
    const first = samples.length > 0 ? samples[0] : undefined;
    const rows = first !== undefined && typeof first === 'object' && first !== null && 'length' in (first as object);
    const nSamples = rows ? samples.length : samples.length / nc;
    if (!Number.isInteger(nSamples)) throw new RangeError(`LSL outlet ${this.info.name}: ${samples.length} values is not a whole number of ${nc}-channel samples`);
    const data = allocate(format, nSamples * nc);
    const put = (i: number, v: Scalar): void => {
      if (format === 'string') (data as string[])[i] = String(v);
      else if (format === 'int64') (data as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
      else (data as Exclude<NumericArray, BigInt64Array>)[i] = Number(v);
    };
    if (rows) {
      const rs = samples as ArrayLike<SampleValues>;
      for (let s = 0; s < nSamples; s++) {
        const r = rs[s]!;
        if (r.length !== nc) throw new RangeError(`LSL outlet ${this.info.name}: sample ${s} has ${r.length} values, the stream has ${nc} channels`);
        for (let k = 0; k < nc; k++) put(s * nc + k, r[k]!);
      }
    } else if (!Array.isArray(samples) && format !== 'string' && ArrayBuffer.isView(samples) && samples.constructor === data.constructor) {
      (data as NumericArray).set(samples as never);
    } else {
      const flat = samples as SampleValues;
      for (let i = 0; i < flat.length; i++) put(i, flat[i]!);
    }
    return { timestamps: new Float64Array(nSamples), data: data as ChunkData, nSamples, nChannels: nc };
  }

  /** Sends everything pushed without pushthrough. */
  flush(): void {
    const items = this.pendingChunks.splice(0);
    this.pendingSamples = 0;
    if (items.length === 0 || this.consumers.size === 0) return;
    const format: ChannelFormat = this.info.channelFormat;
    const cache = new Map<string, Buffer>();
    for (const { chunk, tags } of items) {
      for (const c of this.consumers) {
        let t = tags;
        if (c.needsTimestamp && tags[0] === TAG_DEDUCED) {
          t = Uint8Array.from(tags);
          t[0] = TAG_TRANSMITTED;
        }
        c.needsTimestamp = false;
        const key = `${c.byteOrder}:${t === tags ? 'shared' : 'first'}`;
        let buf = cache.get(key);
        if (!buf) {
          buf = encodeSamples(format, chunk, c.byteOrder, t);
          cache.set(key, buf);
        }
        this.enqueue(c, { chunk, tags: t, buf });
      }
      cache.clear();
    }
  }

  private enqueue(c: Consumer, item: QueueItem): void {
    if (!c.blocked && c.queue.length === 0) {
      if (!c.socket.write(item.buf)) c.blocked = true;
      return;
    }
    c.queue.push(item);
    c.queuedSamples += item.chunk.nSamples;
    // Drop the oldest whole chunks beyond Max-Buffer-Length, keep at least the newest.
    let dropped = false;
    while (c.queuedSamples > c.maxSamples && c.queue.length > 1) {
      const old = c.queue.shift()!;
      c.queuedSamples -= old.chunk.nSamples;
      c.droppedSamples += old.chunk.nSamples;
      dropped = true;
    }
    if (dropped && c.queue[0]!.tags[0] === TAG_DEDUCED) {
      const head = c.queue[0]!;
      const t = Uint8Array.from(head.tags);
      t[0] = TAG_TRANSMITTED;
      c.queue[0] = { chunk: head.chunk, tags: t, buf: encodeSamples(this.info.channelFormat, head.chunk, c.byteOrder, t) };
    }
  }

  private flushConsumer(c: Consumer): void {
    while (!c.blocked && c.queue.length > 0) {
      const item = c.queue.shift()!;
      c.queuedSamples -= item.chunk.nSamples;
      if (!c.socket.write(item.buf)) c.blocked = true;
    }
  }

  /** Closes every socket; connected inlets see EOF (pylsl: deleting the outlet). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.consumers.clear();
    await Promise.all([
      new Promise<void>((r) => this.server.close(() => r())),
      new Promise<void>((r) => this.service.close(() => r())),
      this.responder ? new Promise<void>((r) => this.responder!.close(() => r())) : Promise.resolve(),
    ]);
  }
}
