/**
 * `StreamInlet` (pylsl's class): receives one stream over `LSL:streamfeed/110`, with an explicit
 * connection state:
 *
 *   connecting ──handshake + test patterns──▶ live ──no data for stallTimeoutSec──▶ stalled
 *        ▲                                     │  ◀──────────── data again ─────────────┘
 *        └── connection dropped (EOF/error/404), re-resolve by source_id (recovery query) ◀┘
 *   first data after a reconnection ▶ recovered (with the gap: time span, missing samples) ▶ live
 *   dropped without a source_id, recovery disabled, or recoverTimeoutSec passed ▶ lost (final)
 *
 * liblsl's order (doc §11): the stream is resolved beforehand; data connection; clock sync on the
 * first `timeCorrection()` call. Timestamps are the sender's; add `timeCorrection()` for local time.
 *
 * Each connection is a `DataConnection` (dataConnection.ts: socket, handshake, test patterns,
 * decoding); the inlet opens a new one for every (re)connection and learns only that it became
 * ready, delivered a chunk, or ended (EOF or an error).
 *
 * Owns: the state machine, the stall check and liblsl's watchdog, recovery (re-resolving by
 * source_id, opening new connections), the pull buffer, clock sync and the optional timestamp
 * processing. Must not: touch sockets or bytes (the connection does), or resolve streams other
 * than for recovery.
 */
import { EventEmitter } from 'node:events';
import { cellValue } from './channelFormat.js';
import { concatChunks, emptyChunk, sliceChunk, type LslChunk } from './chunk.js';
import { ClockSync } from './clockSync.js';
import { localClock } from './clock.js';
import { resolveConfig, type LslNetworkConfig } from './config.js';
import { DataConnection, describeStream, fetchFullInfoXml } from './dataConnection.js';
import { recoveryQuery } from './query.js';
import { resolveQuery } from './resolver.js';
import type { ByteOrder } from './sampleCodec.js';
import { StreamInfo } from './streamInfo.js';
import type { ClockEstimate } from './timeSync.js';
import { TimestampProcessor, type ProcessingFlags } from './timestampProcessing.js';

export type ConnectionState = 'connecting' | 'live' | 'stalled' | 'recovered' | 'lost';

/** What a reconnection missed, reported with the `recovered` state. */
export interface GapInfo {
  /** Sender timestamp of the last sample before the loss (null if none had arrived). */
  lastTimestampBefore: number | null;
  /** Sender timestamp of the first sample after it. */
  firstTimestampAfter: number;
  /** firstTimestampAfter − lastTimestampBefore, seconds (0 if unknown). */
  spanSec: number;
  /** Samples the span should have held at the nominal rate, minus one; null for irregular streams. */
  missingSamples: number | null;
  /** The stream came back with a new uid (the outlet restarted); the clock correction was reset. */
  newUid: boolean;
}

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Local clock when the state changed. */
  atLocal: number;
  reason?: string;
  gap?: GapInfo;
}

export interface InletOptions {
  /** Seconds of data the inlet and the outlet buffer for this connection (pylsl max_buflen, 360). */
  maxBufferSec?: number;
  /** Re-resolve and reconnect after a loss (liblsl recover=True). */
  recover?: boolean;
  /** Seconds without data before `live` becomes `stalled` (default 2 s for regular streams; never for irregular ones). */
  stallTimeoutSec?: number;
  /** Give up recovering after this long (default: never, as liblsl). */
  recoverTimeoutSec?: number;
  /** Wait before reconnecting (liblsl 0.5 s). */
  reconnectDelaySec?: number;
  /**
   * liblsl's watchdog: after this long without data, re-resolve by source_id and, if this uid no
   * longer answers but exactly one successor does, drop the silent connection and recover (15 s).
   */
  watchdogSec?: number;
  config?: Partial<LslNetworkConfig>;
  /** Byte order announced in the request (1234; 4321 exercises the outlet's conversion). */
  nativeByteOrder?: ByteOrder;
  /**
   * liblsl's post-processing flags (default none: timestamps as sent). With clocksync, delivered
   * timestamps are on the local clock (the first chunks, before the first clock-sync round, use 0).
   * The dejitter fit restarts after every recovery.
   */
  processing?: ProcessingFlags;
}

export interface PulledSample {
  timestamp: number;
  values: (number | string)[];
}

export class LslLostError extends Error {}

export class StreamInlet extends EventEmitter {
  private streamInfo: StreamInfo;
  readonly config: LslNetworkConfig;
  private opts: Required<Omit<InletOptions, 'config' | 'stallTimeoutSec' | 'nativeByteOrder' | 'processing'>> & { stallTimeoutSec: number; nativeByteOrder: ByteOrder };
  private processor: TimestampProcessor;
  private _state: ConnectionState = 'connecting';
  private connection: DataConnection | null = null;
  private queue: LslChunk[] = [];
  private queued = 0;
  private sink: ((c: LslChunk) => void) | null = null;
  private started = false;
  private closed = false;
  private waiters: (() => void)[] = [];
  private liveWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private lastTimestamp: number | null = null;
  private lastDataLocal = 0;
  private reconnecting = false;
  private uidChanged = false;
  private watchdog: NodeJS.Timeout | null = null;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | null = null;
  private clock: ClockSync;
  /** Samples dropped because nobody pulled them within maxBufferSec. */
  overflowSamples = 0;
  /** Samples received since creation (all connections). */
  receivedSamples = 0;
  readonly maxBufferSamples: number;
  private lastError: Error | null = null;
  private watchdogBusy = false;
  private lastWatchdog = 0;

  constructor(info: StreamInfo, options: InletOptions = {}) {
    super();
    if (!info.uid || !info.v4address || !info.v4dataPort) {
      throw new Error(`LSL inlet for ${info.name}: the stream info has no address/uid/data port; pass a StreamInfo returned by resolveStreams/resolveByProp`);
    }
    this.streamInfo = info.clone();
    this.config = resolveConfig(options.config);
    const srate = info.nominalSrate;
    this.opts = {
      maxBufferSec: options.maxBufferSec ?? 360,
      recover: options.recover ?? true,
      stallTimeoutSec: options.stallTimeoutSec ?? (srate > 0 ? 2 : Infinity),
      recoverTimeoutSec: options.recoverTimeoutSec ?? Infinity,
      reconnectDelaySec: options.reconnectDelaySec ?? 0.5,
      watchdogSec: options.watchdogSec ?? 15,
      nativeByteOrder: options.nativeByteOrder ?? 1234,
    };
    this.maxBufferSamples = Math.max(1, Math.ceil(this.opts.maxBufferSec * (srate > 0 ? srate : 100)));
    this.processor = new TimestampProcessor(options.processing ?? {}, srate);
    this.clock = new ClockSync(() => (this.closed ? null : { address: this.streamInfo.v4address, port: this.streamInfo.v4servicePort }), this.config);
    // clocksync post-processing needs rounds running from the start.
    if (options.processing?.clocksync) this.clock.start();
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The stream info as resolved (shortinfo; `info()` fetches the full one). */
  get resolvedInfo(): StreamInfo {
    return this.streamInfo;
  }

  private get what(): string {
    return describeStream(this.streamInfo);
  }

  private setState(state: ConnectionState, extra: { reason?: string; gap?: GapInfo } = {}): void {
    if (state === this._state && !extra.gap) return;
    const ev: StateChange = { state, previous: this._state, atLocal: localClock(), ...extra };
    this._state = state;
    this.emit('state', ev);
    if (state === 'live') for (const w of this.liveWaiters.splice(0)) w.resolve();
    if (state === 'lost') {
      for (const w of this.liveWaiters.splice(0)) w.reject(new LslLostError(`${this.what} is lost: ${extra.reason ?? 'connection closed'}`));
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Opens the data connection (pylsl `open_stream`); resolves once live. */
  open(timeoutSec = Infinity): Promise<void> {
    if (this._state === 'lost') return Promise.reject(new LslLostError(`${this.what} is lost`));
    if (this.closed) return Promise.reject(new Error(`${this.what}: inlet closed`));
    if (!this.started) {
      this.started = true;
      void this.run();
      const period = Math.min(250, Number.isFinite(this.opts.stallTimeoutSec) ? (this.opts.stallTimeoutSec * 1000) / 4 : 250);
      this.watchdog = setInterval(() => this.checkStall(), period);
    }
    if (this._state === 'live' || this._state === 'stalled') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = { resolve: () => (clearTimeout(t), resolve()), reject: (e: Error) => (clearTimeout(t), reject(e)) };
      const t = Number.isFinite(timeoutSec)
        ? setTimeout(() => {
            this.liveWaiters = this.liveWaiters.filter((x) => x !== w);
            reject(new Error(`${this.what}: not connected within ${timeoutSec} s${this.lastError ? ` (${this.lastError.message})` : ''}`));
          }, timeoutSec * 1000)
        : undefined;
      this.liveWaiters.push(w);
    });
  }

  private checkStall(): void {
    const now = localClock();
    if (this._state === 'live' && now - this.lastDataLocal > this.opts.stallTimeoutSec) {
      this.setState('stalled', { reason: `no data for ${this.opts.stallTimeoutSec} s` });
    }
    // A host that vanished without closing TCP leaves a silent socket: ask the network (liblsl watchdog).
    const silent = (this._state === 'live' || this._state === 'stalled') && now - this.lastDataLocal > this.opts.watchdogSec;
    if (silent && this.opts.recover && this.streamInfo.sourceId && !this.watchdogBusy && now - this.lastWatchdog > this.opts.watchdogSec) {
      this.lastWatchdog = now;
      this.watchdogBusy = true;
      const uid = this.streamInfo.uid;
      resolveQuery(recoveryQuery(this.streamInfo), { timeoutSec: Math.max(0.2, this.config.resolveWaveIntervalSec), config: this.config })
        .then((found) => {
          if (this.closed || this.streamInfo.uid !== uid || found.some((f) => f.uid === uid) || found.length !== 1) return;
          this.connection?.destroy(new Error(`no data for ${(localClock() - this.lastDataLocal).toFixed(1)} s and uid ${uid} no longer answers discovery; switching to ${found[0]!.uid}`));
        })
        .catch(() => {})
        .finally(() => (this.watchdogBusy = false));
    }
  }

  private async run(): Promise<void> {
    let lossStarted: number | null = null;
    while (!this.closed) {
      let reason = 'connection closed by the outlet';
      try {
        await this.connect();
      } catch (e) {
        this.lastError = e as Error;
        reason = (e as Error).message;
      }
      if (this.closed) return;
      lossStarted ??= localClock();
      if (!this.opts.recover || !this.streamInfo.sourceId) {
        this.setState('lost', { reason: `${reason}${this.streamInfo.sourceId ? '' : ' (the stream has no source_id, so it cannot be recovered)'}` });
        return;
      }
      this.setState('connecting', { reason });
      this.reconnecting = true;
      // Re-resolve until the same uid or exactly one successor with the same source_id answers.
      for (;;) {
        await this.sleep(this.opts.reconnectDelaySec);
        if (this.closed) return;
        if (localClock() - lossStarted > this.opts.recoverTimeoutSec) {
          this.setState('lost', { reason: `not recovered within ${this.opts.recoverTimeoutSec} s (${reason})` });
          return;
        }
        let found: StreamInfo[] = [];
        try {
          found = await resolveQuery(recoveryQuery(this.streamInfo), { timeoutSec: Math.max(0.2, this.config.resolveWaveIntervalSec), minimum: 0, config: this.config });
        } catch {
          found = [];
        }
        if (this.closed) return;
        const same = found.find((f) => f.uid === this.streamInfo.uid);
        if (same) break;
        if (found.length === 1) {
          const next = found[0]!;
          this.uidChanged = true;
          this.streamInfo = next;
          this.clock.reset();
          break;
        }
      }
      lossStarted = null;
    }
  }

  private sleep(sec: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping = null;
        resolve();
      }, sec * 1000);
      this.sleeping = { timer, wake: resolve };
    });
  }

  /** Opens one data connection and waits for its end: resolves on EOF, rejects on errors. */
  private connect(): Promise<void> {
    this.connection = new DataConnection(
      this.streamInfo,
      { maxBufferSamples: this.maxBufferSamples, nativeByteOrder: this.opts.nativeByteOrder },
      {
        onReady: () => {
          // After a loss the state stays `connecting` until data arrive: `deliver` reports the gap.
          if (!this.reconnecting) this.setState('live');
          this.lastDataLocal = localClock();
        },
        onChunk: (chunk) => this.deliver(chunk),
      },
    );
    return this.connection.ended;
  }

  private deliver(chunk: LslChunk): void {
    const now = localClock();
    this.lastDataLocal = now;
    if (this.reconnecting) {
      const first = chunk.timestamps[0]!;
      const span = this.lastTimestamp === null ? 0 : first - this.lastTimestamp;
      const srate = this.streamInfo.nominalSrate;
      const gap: GapInfo = {
        lastTimestampBefore: this.lastTimestamp,
        firstTimestampAfter: first,
        spanSec: span,
        missingSamples: srate > 0 && this.lastTimestamp !== null ? Math.max(0, Math.round(span * srate) - 1) : null,
        newUid: this.uidChanged,
      };
      this.reconnecting = false;
      this.uidChanged = false;
      this.processor.reset();
      this.setState('recovered', { gap, reason: gap.newUid ? 'the outlet restarted (new uid, same source_id)' : 'reconnected to the same outlet' });
    }
    this.receivedSamples += chunk.nSamples;
    // The gap above is measured on the raw sender timestamps; post-processing comes after.
    this.lastTimestamp = chunk.timestamps[chunk.nSamples - 1]!;
    if (this.processor.active) {
      chunk = { ...chunk, timestamps: Float64Array.from(chunk.timestamps) };
      this.processor.process(chunk.timestamps, this.clock.latest?.timeCorrection ?? null);
    }
    if (this.sink) this.sink(chunk);
    else {
      this.queue.push(chunk);
      this.queued += chunk.nSamples;
      while (this.queued > this.maxBufferSamples && this.queue.length > 0) {
        const excess = this.queued - this.maxBufferSamples;
        const head = this.queue[0]!;
        if (head.nSamples <= excess) {
          this.queue.shift();
          this.queued -= head.nSamples;
          this.overflowSamples += head.nSamples;
        } else {
          this.queue[0] = sliceChunk(head, excess, head.nSamples);
          this.queued -= excess;
          this.overflowSamples += excess;
        }
      }
      for (const w of this.waiters.splice(0)) w();
    }
    if (this._state !== 'live') this.setState('live');
    this.emit('chunk', chunk);
  }

  /**
   * Sends chunks to `fn` as they arrive instead of buffering them for pull*() (used by fromInlet).
   * Returns a function that restores buffering.
   */
  setChunkSink(fn: (c: LslChunk) => void): () => void {
    this.sink = fn;
    if (this.queued > 0) {
      const pending = concatChunks(this.streamInfo.channelFormat, this.streamInfo.channelCount, this.queue);
      this.queue = [];
      this.queued = 0;
      fn(pending);
    }
    return () => {
      if (this.sink === fn) this.sink = null;
    };
  }

  /** Samples waiting to be pulled. */
  samplesAvailable(): number {
    return this.queued;
  }

  private waitForData(timeoutSec: number): Promise<void> {
    if (this.queued > 0 || timeoutSec <= 0 || this.closed || this._state === 'lost') return Promise.resolve();
    return new Promise((resolve) => {
      const fire = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(
        () => {
          this.waiters = this.waiters.filter((w) => w !== fire);
          resolve();
        },
        Number.isFinite(timeoutSec) ? timeoutSec * 1000 : 2 ** 31 - 1,
      );
      this.waiters.push(fire);
    });
  }

  /**
   * Up to `maxSamples` buffered samples (pylsl `pull_chunk`), waiting up to `timeoutSec` for the
   * first one. Returns an empty chunk on timeout.
   */
  async pullChunk(options: { timeoutSec?: number; maxSamples?: number } = {}): Promise<LslChunk> {
    if (!this.started) void this.open().catch(() => {});
    const maxSamples = options.maxSamples ?? Infinity;
    await this.waitForData(options.timeoutSec ?? 0);
    const f = this.streamInfo.channelFormat;
    const n = this.streamInfo.channelCount;
    if (this.queued === 0) return emptyChunk(f, n);
    const take: LslChunk[] = [];
    let got = 0;
    while (this.queue.length > 0 && got < maxSamples) {
      const head = this.queue[0]!;
      const want = maxSamples - got;
      if (head.nSamples <= want) {
        take.push(head);
        this.queue.shift();
        got += head.nSamples;
      } else {
        take.push(sliceChunk(head, 0, want));
        this.queue[0] = sliceChunk(head, want, head.nSamples);
        got += want;
      }
    }
    this.queued -= got;
    return concatChunks(f, n, take);
  }

  /** One sample (pylsl `pull_sample`), or null after `timeoutSec` (default: wait forever). */
  async pullSample(timeoutSec = Infinity): Promise<PulledSample | null> {
    const c = await this.pullChunk({ timeoutSec, maxSamples: 1 });
    if (c.nSamples === 0) return null;
    const values: (number | string)[] = [];
    for (let k = 0; k < c.nChannels; k++) values.push(cellValue(c.data, k));
    return { timestamp: c.timestamps[0]!, values };
  }

  /**
   * Seconds to add to this stream's timestamps to get local time (pylsl `time_correction`). The
   * first call starts clock-sync rounds and waits for the first estimate.
   */
  async timeCorrection(timeoutSec = 5): Promise<number> {
    return (await this.clock.waitForEstimate(timeoutSec, this.what)).timeCorrection;
  }

  /** The latest clock estimate without waiting (null before the first round completes). */
  clockEstimate(): ClockEstimate | null {
    this.clock.start();
    return this.clock.latest;
  }

  /** The full stream info with `<desc>` (pylsl `info()`), over `LSL:fullinfo`. */
  async info(timeoutSec = 5): Promise<StreamInfo> {
    const src = this.streamInfo;
    const deadline = Date.now() + timeoutSec * 1000;
    for (;;) {
      const xml = await fetchFullInfoXml(src.v4address, src.v4dataPort, Math.max(0.05, (deadline - Date.now()) / 1000));
      const full = StreamInfo.fromXml(xml, `fullinfo of ${this.what}`);
      // liblsl discards a fullinfo with created_at 0 and asks again.
      if (full.createdAt !== 0 || Date.now() > deadline) {
        full.v4address = src.v4address;
        full.v6address = src.v6address;
        return full;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Closes the data connection and clock sync (pylsl `close_stream` + delete). Pending pulls return empty. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
    this.connection?.destroy();
    this.clock.stop();
    for (const w of this.waiters.splice(0)) w();
    for (const w of this.liveWaiters.splice(0)) w.reject(new Error(`${this.what}: inlet closed`));
    this.emit('close');
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
