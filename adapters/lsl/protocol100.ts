/**
 * Reading the legacy data protocol 100 (doc §9): liblsl's "portable binary archive" (EOS
 * portable_archive on a slimmed Boost.Serialization), used by outlets configured with
 * `UseProtocolVersion = 100` or very old libraries.
 *
 *   header   7f 01 09                 magic 0x7F, archive version 9 (as an integer)
 *   info     <string: shortinfo XML>
 *   once     00 00                    Boost class info before the first sample (two zero integers)
 *   sample   <int tag: 1 deduced | 2 timestamp follows> [<double timestamp>] <values…>
 * Integers: a signed size byte n (0 = the value 0), then |n| little-endian bytes; n < 0 marks a
 * negative value, sign-extended on read. Floats/doubles: their IEEE bit pattern as an unsigned
 * integer in that code. Strings: length (integer), then the bytes.
 *
 * Owns: the archive decoder (and an encoder, used to build test streams). Must not: touch
 * sockets. lockstep outlets do not serve protocol 100 (every liblsl ≥ 1.10 inlet requests 110).
 */
import { allocate, VALUE_SIZE, type ChannelFormat, type ChunkData, type NumericArray } from './channelFormat.js';
import type { LslChunk } from './chunk.js';
import { LslStreamError, SampleDecoder, TAG_DEDUCED, type RawSamples } from './sampleCodec.js';

const ARCHIVE_MAGIC = 0x7f;

/** Thrown internally when the buffer ends inside an item. */
class NeedMore extends Error {}

/** Reads one archive integer at `p`: its value as a bigint (bit pattern for floats) and the next offset. */
export function readArchiveInt(buf: Buffer, p: number): { value: bigint; next: number } {
  if (p >= buf.length) throw new NeedMore();
  const n = buf.readInt8(p);
  if (n === 0) return { value: 0n, next: p + 1 };
  const size = Math.abs(n);
  if (size > 8) throw new LslStreamError(`integer of ${size} bytes`);
  if (buf.length - p - 1 < size) throw new NeedMore();
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[p + 1 + i]!);
  if (n < 0) v -= 1n << BigInt(8 * size); // sign extension of the |n| low-order bytes
  return { value: v, next: p + 1 + size };
}

/** Encodes an integer (or a float's bit pattern, as unsigned) in the archive's variable-length code. */
export function writeArchiveInt(value: bigint, out: number[]): void {
  if (value === 0n) {
    out.push(0);
    return;
  }
  const negative = value < 0n;
  let size = 1;
  // EOS: shift right until only sign bits remain, so −256 takes 1 byte (00, sign-extended with ff on read).
  if (negative) while (size < 8 && value < -(1n << BigInt(8 * size))) size++;
  else while (size < 8 && value >= 1n << BigInt(8 * size)) size++;
  const bits = negative ? value + (1n << BigInt(8 * size)) : value;
  out.push(negative ? 256 - size : size);
  for (let i = 0; i < size; i++) out.push(Number((bits >> BigInt(8 * i)) & 0xffn));
}

const f32 = new DataView(new ArrayBuffer(8));
function floatBits(format: 'float32' | 'double64', v: number): bigint {
  if (format === 'float32') {
    f32.setFloat32(0, v, true);
    return BigInt(f32.getUint32(0, true));
  }
  f32.setFloat64(0, v, true);
  return f32.getBigUint64(0, true);
}
function bitsToFloat(format: 'float32' | 'double64', bits: bigint): number {
  if (format === 'float32') {
    f32.setUint32(0, Number(bits & 0xffffffffn), true);
    return f32.getFloat32(0, true);
  }
  f32.setBigUint64(0, BigInt.asUintN(64, bits), true);
  return f32.getFloat64(0, true);
}

/** An archive (header, shortinfo, then samples) as a protocol-100 outlet sends it; for tests. */
export function encodeArchive(format: ChannelFormat, shortinfoXml: string, chunk: LslChunk, tags?: Uint8Array): Buffer {
  const out: number[] = [ARCHIVE_MAGIC];
  writeArchiveInt(9n, out);
  const xml = Buffer.from(shortinfoXml, 'utf8');
  writeArchiveInt(BigInt(xml.length), out);
  out.push(...xml);
  out.push(0, 0);
  out.push(...encodeArchiveSamples(format, chunk, tags));
  return Buffer.from(out);
}

export function encodeArchiveSamples(format: ChannelFormat, chunk: LslChunk, tags?: Uint8Array): number[] {
  const out: number[] = [];
  for (let s = 0; s < chunk.nSamples; s++) {
    const tag = tags ? tags[s]! : 2;
    writeArchiveInt(BigInt(tag), out);
    if (tag !== TAG_DEDUCED) writeArchiveInt(floatBits('double64', chunk.timestamps[s]!), out);
    for (let k = 0; k < chunk.nChannels; k++) {
      const v = chunk.data[s * chunk.nChannels + k]!;
      if (format === 'string') {
        const b = Buffer.from(v as string, 'utf8');
        writeArchiveInt(BigInt(b.length), out);
        out.push(...b);
      } else if (format === 'float32' || format === 'double64') writeArchiveInt(floatBits(format, v as number), out);
      else writeArchiveInt(BigInt(v as number | bigint), out);
    }
  }
  return out;
}

/**
 * Incremental protocol-100 decoder with the same interface as SampleDecoder (and the same
 * deduced-timestamp handling). The archive header and the shortinfo are consumed first; the
 * shortinfo text is kept in `archiveInfoXml`.
 */
export class Protocol100Decoder extends SampleDecoder {
  private stage: 'header' | 'classinfo' | 'samples' = 'header';
  archiveInfoXml: string | null = null;

  constructor(format: ChannelFormat, nChannels: number, nominalSrate: number, what = 'LSL stream', holdUntilTimestamp = true) {
    super(format, nChannels, 1234, nominalSrate, what, holdUntilTimestamp);
  }

  protected override decodeRaw(buf: Buffer, maxSamples: number): RawSamples {
    const n = this.nChannels;
    const format = this.format;
    let p = 0;
    const ts: number[] = [];
    const ded: number[] = [];
    const values: (number | bigint | string)[] = [];
    try {
      if (this.stage === 'header') {
        if (p >= buf.length) throw new NeedMore();
        if (buf[p] !== ARCHIVE_MAGIC) throw new LslStreamError(`${this.what}: protocol-100 archive starts with 0x${buf[p]!.toString(16)} at data byte ${this.bytesConsumed + p}, expected 0x7f`);
        const version = readArchiveInt(buf, p + 1);
        const len = readArchiveInt(buf, version.next);
        const end = len.next + Number(len.value);
        if (buf.length < end) throw new NeedMore();
        this.archiveInfoXml = buf.toString('utf8', len.next, end);
        p = end;
        this.stage = 'classinfo';
        this.consume(buf, p);
        buf = buf.subarray(p);
        p = 0;
      }
      if (this.stage === 'classinfo') {
        const a = readArchiveInt(buf, p);
        const b = readArchiveInt(buf, a.next);
        p = b.next;
        this.stage = 'samples';
        this.consume(buf, p);
        buf = buf.subarray(p);
        p = 0;
      }
      while (ts.length < maxSamples && p < buf.length) {
        let q = p;
        const tag = readArchiveInt(buf, q);
        q = tag.next;
        let t = 0;
        if (tag.value !== BigInt(TAG_DEDUCED)) {
          const bits = readArchiveInt(buf, q);
          t = bitsToFloat('double64', BigInt.asUintN(64, bits.value));
          q = bits.next;
        }
        const row: (number | bigint | string)[] = [];
        for (let k = 0; k < n; k++) {
          const v = readArchiveInt(buf, q);
          q = v.next;
          if (format === 'string') {
            const end = q + Number(v.value);
            if (v.value < 0n || v.value > 0x7fffffffn) throw new LslStreamError(`${this.what}: string length ${v.value} at data byte ${this.bytesConsumed + q}`);
            if (buf.length < end) throw new NeedMore();
            row.push(buf.toString('utf8', q, end));
            q = end;
          } else if (format === 'float32' || format === 'double64') row.push(bitsToFloat(format, BigInt.asUintN(format === 'float32' ? 32 : 64, v.value)));
          else if (format === 'int64') row.push(BigInt.asIntN(64, v.value));
          else row.push(Number(BigInt.asIntN(VALUE_SIZE[format] * 8, v.value)));
        }
        values.push(...row);
        ts.push(t);
        ded.push(tag.value === BigInt(TAG_DEDUCED) ? 1 : 0);
        p = q;
      }
    } catch (e) {
      if (!(e instanceof NeedMore)) {
        if (e instanceof LslStreamError && !e.message.startsWith(this.what)) throw new LslStreamError(`${this.what}: protocol-100 ${e.message} at data byte ${this.bytesConsumed + p}`);
        throw e;
      }
    }
    this.consume(buf, p);
    const data = allocate(format, ts.length * n) as ChunkData;
    if (format === 'string') for (let i = 0; i < values.length; i++) (data as string[])[i] = values[i] as string;
    else (data as NumericArray).set(values as never);
    return { chunk: { timestamps: Float64Array.from(ts), data, nSamples: ts.length, nChannels: n }, deduced: Uint8Array.from(ded) };
  }
}
