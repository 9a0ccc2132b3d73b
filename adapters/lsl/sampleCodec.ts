/**
 * Protocol 110 samples on the wire (doc §6): `tag:u8 [timestamp:f64] values`, back to back, no
 * framing. Tag 1 = deduced timestamp (previous + 1/srate), 2 = transmitted. Strings carry a
 * length-of-length byte (1, 2, 4 or 8) and the length, then the UTF-8 bytes. Also the two test
 * pattern samples that open every data connection (doc §5.4).
 *
 * Owns: encoding, incremental decoding (samples straddle TCP segments), byte order, deduced
 * timestamps. Must not: touch sockets.
 */
import { allocate, VALUE_SIZE, type ChannelFormat, type ChunkData, type NumericArray } from './channelFormat.js';
import { concatChunks, type LslChunk } from './chunk.js';

export const TAG_DEDUCED = 1;
export const TAG_TRANSMITTED = 2;
/** Timestamp of both test-pattern samples. */
export const TEST_PATTERN_TIMESTAMP = 123456.789;
/** Byte order as the protocol names it: 1234 = little endian, 4321 = big endian. */
export type ByteOrder = 1234 | 4321;
export const HOST_BYTE_ORDER: ByteOrder = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1234 : 4321;

/** Marks a sample whose timestamp the receiver deduces (liblsl's LSL_DEDUCED_TIMESTAMP). */
export const DEDUCED_TIMESTAMP = -1.0;

export class LslStreamError extends Error {}

/** The test-pattern sample for `offset` (4 first, then 2), liblsl's `assign_test_pattern`. */
export function testPattern(format: ChannelFormat, nChannels: number, offset: number): ChunkData {
  const out = allocate(format, nChannels);
  for (let k = 0; k < nChannels; k++) {
    const sign = k % 2 === 0 ? 1 : -1;
    switch (format) {
      case 'float32':
        (out as Float32Array)[k] = sign * (k + offset);
        break;
      case 'double64':
        (out as Float64Array)[k] = sign * (k + offset + 16777217);
        break;
      case 'int32':
        (out as Int32Array)[k] = sign * ((k + offset + 65537) % 2147483647);
        break;
      case 'int16':
        (out as Int16Array)[k] = sign * ((k + offset + 257) % 32767);
        break;
      case 'int8':
        (out as Int8Array)[k] = sign * ((k + offset + 1) % 127);
        break;
      case 'int64':
        (out as BigInt64Array)[k] = BigInt(sign) * BigInt(k + offset + 2147483649);
        break;
      case 'string':
        (out as string[])[k] = String(sign * (k + 10));
        break;
    }
  }
  return out;
}

/** The two test-pattern samples as one chunk (timestamps 123456.789, offsets 4 then 2). */
export function testPatternChunk(format: ChannelFormat, nChannels: number): LslChunk {
  const a = { timestamps: Float64Array.of(TEST_PATTERN_TIMESTAMP), data: testPattern(format, nChannels, 4), nSamples: 1, nChannels };
  const b = { timestamps: Float64Array.of(TEST_PATTERN_TIMESTAMP), data: testPattern(format, nChannels, 2), nSamples: 1, nChannels };
  return concatChunks(format, nChannels, [a, b]);
}

/** Width byte of a string length prefix, as liblsl writers choose it. */
function lengthWidth(len: number): 1 | 4 | 8 {
  return len <= 0xff ? 1 : len <= 0xffffffff ? 4 : 8;
}

function swapInPlace(bytes: Uint8Array, start: number, end: number, width: number): void {
  if (width === 1) return;
  for (let i = start; i < end; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Encodes samples. `tags[i]` is 1 (deduced: no timestamp bytes) or 2 (transmitted); by default
 * every sample carries its timestamp.
 */
export function encodeSamples(format: ChannelFormat, chunk: LslChunk, byteOrder: ByteOrder = 1234, tags?: Uint8Array): Buffer {
  const { nSamples, nChannels, timestamps, data } = chunk;
  const le = byteOrder === 1234;
  const tagOf = (i: number): number => (tags ? tags[i]! : TAG_TRANSMITTED);
  if (format === 'string') {
    const strs = data as string[];
    const encoded = strs.map((s) => Buffer.from(s, 'utf8'));
    let size = 0;
    for (let i = 0; i < nSamples; i++) size += 1 + (tagOf(i) === TAG_DEDUCED ? 0 : 8);
    for (const b of encoded) size += 1 + lengthWidth(b.length) + b.length;
    const out = Buffer.allocUnsafe(size);
    let p = 0;
    for (let i = 0; i < nSamples; i++) {
      const tag = tagOf(i);
      out[p++] = tag;
      if (tag !== TAG_DEDUCED) p = le ? out.writeDoubleLE(timestamps[i]!, p) : out.writeDoubleBE(timestamps[i]!, p);
      for (let k = 0; k < nChannels; k++) {
        const b = encoded[i * nChannels + k]!;
        const w = lengthWidth(b.length);
        out[p++] = w;
        if (w === 1) out[p++] = b.length;
        else if (w === 4) p = le ? out.writeUInt32LE(b.length, p) : out.writeUInt32BE(b.length, p);
        else p = le ? out.writeBigUInt64LE(BigInt(b.length), p) : out.writeBigUInt64BE(BigInt(b.length), p);
        b.copy(out, p);
        p += b.length;
      }
    }
    return out;
  }
  const w = VALUE_SIZE[format];
  const valueBytes = nChannels * w;
  let size = nSamples * (1 + valueBytes);
  for (let i = 0; i < nSamples; i++) if (tagOf(i) !== TAG_DEDUCED) size += 8;
  const out = Buffer.allocUnsafe(size);
  const arr = data as NumericArray;
  const src = new Uint8Array(arr.buffer, arr.byteOffset, nSamples * valueBytes);
  const swap = byteOrder !== HOST_BYTE_ORDER;
  let p = 0;
  for (let i = 0; i < nSamples; i++) {
    const tag = tagOf(i);
    out[p++] = tag;
    if (tag !== TAG_DEDUCED) p = le ? out.writeDoubleLE(timestamps[i]!, p) : out.writeDoubleBE(timestamps[i]!, p);
    out.set(src.subarray(i * valueBytes, (i + 1) * valueBytes), p);
    if (swap) swapInPlace(out, p, p + valueBytes, w);
    p += valueBytes;
  }
  return out;
}

/** Decoded samples before timestamp deduction. */
export interface RawSamples {
  chunk: LslChunk;
  /** 1 where the sample's tag said "deduced" (its timestamp slot is to be filled). */
  deduced: Uint8Array;
}

/**
 * Incremental decoder for one data connection. `push` takes whatever TCP delivered and returns the
 * complete samples in it (possibly none). Deduced timestamps follow liblsl (previous + 1/srate);
 * deduced samples that arrive before any transmitted timestamp on this connection (doc §6 caveat)
 * are held and back-dated from the first transmitted one instead of being stamped 1/srate.
 */
export class SampleDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private lastTimestamp: number | null = null;
  private held: LslChunk[] = [];
  /** Bytes consumed so far on this connection after the header (for error positions). */
  bytesConsumed = 0;
  readonly valueSize: number;

  constructor(
    readonly format: ChannelFormat,
    readonly nChannels: number,
    readonly byteOrder: ByteOrder,
    readonly nominalSrate: number,
    /** Names the stream in errors. */
    readonly what = 'LSL stream',
    /** Hold deduced samples until the first transmitted timestamp (else liblsl's behaviour: start from 0). */
    readonly holdUntilTimestamp = true,
  ) {
    this.valueSize = VALUE_SIZE[format];
  }

  /** Forget the previous timestamp (after the test patterns, before live data). */
  resetTimestamps(): void {
    this.lastTimestamp = null;
  }

  /** Unparsed bytes (an incomplete sample). */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Samples held because no transmitted timestamp has arrived yet. */
  get heldSamples(): number {
    return this.held.reduce((s, c) => s + c.nSamples, 0);
  }

  /** Decodes complete samples; `maxSamples` stops early (the rest stays pending). */
  push(data: Buffer, maxSamples = Infinity): LslChunk {
    const buf = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    return this.stamp(this.decodeRaw(buf, maxSamples));
  }

  /** Complete samples at the start of `buf` (calls `consume` with how far it got); deduced[i] = 1 for tag-1 samples. */
  protected decodeRaw(buf: Buffer, maxSamples: number): RawSamples {
    return this.format === 'string' ? this.decodeStrings(buf, maxSamples) : this.decodeNumeric(buf, maxSamples);
  }

  private decodeNumeric(buf: Buffer, maxSamples: number): RawSamples {
    const n = this.nChannels;
    const w = this.valueSize;
    const valueBytes = n * w;
    const cap = Math.min(maxSamples, Math.floor(buf.length / (1 + valueBytes)));
    const data = allocate(this.format, cap * n) as NumericArray;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, cap * valueBytes);
    const timestamps = new Float64Array(cap);
    const deduced = new Uint8Array(cap);
    const le = this.byteOrder === 1234;
    const swap = this.byteOrder !== HOST_BYTE_ORDER;
    let p = 0;
    let s = 0;
    while (s < cap) {
      if (p >= buf.length) break;
      const tag = buf[p]!;
      const size = 1 + (tag === TAG_DEDUCED ? 0 : 8) + valueBytes;
      if (buf.length - p < size) break;
      if (tag === TAG_DEDUCED) {
        deduced[s] = 1;
        p += 1;
      } else {
        timestamps[s] = le ? buf.readDoubleLE(p + 1) : buf.readDoubleBE(p + 1);
        p += 9;
      }
      bytes.set(buf.subarray(p, p + valueBytes), s * valueBytes);
      if (swap) swapInPlace(bytes, s * valueBytes, (s + 1) * valueBytes, w);
      p += valueBytes;
      s++;
    }
    this.consume(buf, p);
    return { chunk: { timestamps: timestamps.subarray(0, s), data: data.subarray(0, s * n) as NumericArray, nSamples: s, nChannels: n }, deduced: deduced.subarray(0, s) };
  }

  private decodeStrings(buf: Buffer, maxSamples: number): RawSamples {
    const n = this.nChannels;
    const le = this.byteOrder === 1234;
    const strs: string[] = [];
    const ts: number[] = [];
    const ded: number[] = [];
    let p = 0;
    outer: while (ts.length < maxSamples && p < buf.length) {
      let q = p;
      const tag = buf[q++]!;
      let t = 0;
      if (tag !== TAG_DEDUCED) {
        if (buf.length - q < 8) break;
        t = le ? buf.readDoubleLE(q) : buf.readDoubleBE(q);
        q += 8;
      }
      const row: string[] = [];
      for (let k = 0; k < n; k++) {
        if (q >= buf.length) break outer;
        const width = buf[q]!;
        if (width !== 1 && width !== 2 && width !== 4 && width !== 8) {
          throw new LslStreamError(`${this.what}: string length field of width ${width} (expected 1, 2, 4 or 8) at data byte ${this.bytesConsumed + q}, channel ${k}; the stream is corrupted or not a string stream`);
        }
        q++;
        if (buf.length - q < width) break outer;
        let len: number;
        if (width === 1) len = buf[q]!;
        else if (width === 2) len = le ? buf.readUInt16LE(q) : buf.readUInt16BE(q);
        else if (width === 4) len = le ? buf.readUInt32LE(q) : buf.readUInt32BE(q);
        else {
          const big = le ? buf.readBigUInt64LE(q) : buf.readBigUInt64BE(q);
          if (big > 0x7fffffffn) throw new LslStreamError(`${this.what}: string of ${big} bytes at data byte ${this.bytesConsumed + q}; refusing lengths over 2 GiB`);
          len = Number(big);
        }
        q += width;
        if (buf.length - q < len) break outer;
        row.push(buf.toString('utf8', q, q + len));
        q += len;
      }
      strs.push(...row);
      ts.push(t);
      ded.push(tag === TAG_DEDUCED ? 1 : 0);
      p = q;
    }
    this.consume(buf, p);
    return { chunk: { timestamps: Float64Array.from(ts), data: strs, nSamples: ts.length, nChannels: n }, deduced: Uint8Array.from(ded) };
  }

  protected consume(buf: Buffer, p: number): void {
    this.bytesConsumed += p;
    // Copy the remainder: it is small (less than one sample) and must not pin the large TCP buffer.
    this.pending = p >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(p));
  }

  private stamp({ chunk, deduced }: RawSamples): LslChunk {
    const dt = this.nominalSrate > 0 ? 1 / this.nominalSrate : 0;
    const ts = chunk.timestamps;
    let firstKnown = -1;
    for (let i = 0; i < chunk.nSamples; i++) {
      if (!deduced[i]) {
        this.lastTimestamp = ts[i]!;
        if (firstKnown < 0) firstKnown = i;
      } else if (this.lastTimestamp !== null) {
        this.lastTimestamp += dt;
        ts[i] = this.lastTimestamp;
      } else if (!this.holdUntilTimestamp) {
        this.lastTimestamp = dt;
        ts[i] = dt;
      } else {
        ts[i] = NaN;
      }
    }
    if (!this.holdUntilTimestamp) return chunk;
    const heldCount = this.heldSamples;
    if (firstKnown < 0 && (heldCount > 0 || (chunk.nSamples > 0 && Number.isNaN(ts[0]!)))) {
      // Still no transmitted timestamp on this connection: hold everything.
      if (chunk.nSamples > 0) this.held.push(chunk);
      return { ...chunk, timestamps: new Float64Array(0), data: chunk.data.slice(0, 0) as ChunkData, nSamples: 0 };
    }
    // Deduced samples before the first transmitted timestamp (held from earlier reads, or leading
    // this very chunk) are back-dated from it at the nominal rate.
    const anchor = heldCount + Math.max(0, firstKnown);
    if (anchor === 0) return chunk;
    const merged = heldCount === 0 ? chunk : concatChunks(this.format, this.nChannels, [...this.held, chunk]);
    this.held = [];
    const t0 = merged.timestamps[anchor]!;
    for (let i = 0; i < anchor; i++) merged.timestamps[i] = t0 - (anchor - i) * dt;
    return merged;
  }
}
