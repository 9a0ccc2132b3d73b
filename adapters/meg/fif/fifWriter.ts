/**
 * Writes a raw FIF recording from a stream of SI chunks, laid out as MNE-Python's `raw.save()`
 * lays it out (mne/io/base.py `_write_raw`): file id, directory pointer −1, free list −1;
 * FIFFB_MEAS { block id, FIFFB_MEAS_INFO { nchan, sfreq, filters, meas date, line freq, data pack,
 * FIFF_CH_INFO × n, FIFFB_CH_INFO × n when a name is longer than 15 characters, bad channels },
 * FIFFB_MNE_ANNOTATIONS, FIFFB_RAW_DATA { first sample, [previous-file ref], data buffers,
 * [next-file ref] } }, then a NOP with next = −1. Stored = SI / (range × cal) as float32 or
 * float64, or rounded to int16 (FIFFT_DAU_PACK16) / int32 with the cal you give.
 *
 * Splitting follows MNE: after a buffer, when the file has grown past split size − that buffer
 * − a margin (1 MiB in MNE) and more data follows, the file ends with a FIFFB_REF naming the
 * next part, `<name>-1.fif`, `<name>-2.fif`, … (MNE's "neuromag" naming).
 *
 * Owns: the byte layout of what it writes. Must not: generate, filter or resample data.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SampleChunk } from '../../../src/types.js';
import type { RawChannelType } from '../rawRecording.js';
import { DATE_NONE, FIFF, FIFFB, FIFFT, FIFFV_COIL, FIFFV_NEXT_NONE, FIFFV_ROLE_NEXT_FILE, FIFFV_ROLE_PREV_FILE, FIFF_UNIT, KIND_OF_TYPE } from './fifConstants.js';

export type FifWriteFormat = 'single' | 'double' | 'short' | 'int';

export interface FifWriteChannel {
  name: string;
  type: RawChannelType;
  /**
   * Calibration written in the channel record (float32); stored = SI / (range × cal). Default 1
   * for float formats; required for 'short' and 'int'.
   */
  cal?: number;
  range?: number;
  /** FIFF coil type; default by type (mag 3024, grad 3012, eeg 1, else 0). */
  coilType?: number;
  /** FIFF unit code; default by type (T, T/m, V). */
  unitCode?: number;
  /** r0, ex, ey, ez (12 values); default zeros. */
  loc?: number[];
  logno?: number;
}

export interface FifWriteAnnotation {
  /** Seconds from sample 0 of the recording. */
  onsetSec: number;
  durationSec: number;
  description: string;
}

export interface FifWriteOptions {
  sfreqHz: number;
  channels: FifWriteChannel[];
  /** Absolute index of sample 0 (FIFF_FIRST_SAMPLE); default 0. */
  firstSample?: number;
  /** Measurement start, UTC; null/undefined = none. */
  measDate?: Date | [number, number] | null;
  lineFreqHz?: number | null;
  highpassHz?: number;
  lowpassHz?: number;
  bads?: string[];
  format?: FifWriteFormat;
  /** Samples per FIFF_DATA_BUFFER (default: 1 s, as MNE). */
  bufferSamples?: number;
  /** Split when a file would exceed this many bytes (default 2 GiB as MNE's '2GB'). */
  splitSizeBytes?: number;
  /** Room kept for the tags after the data (default 1 MiB, MNE's _NEXT_FILE_BUFFER). */
  splitMarginBytes?: number;
  annotations?: FifWriteAnnotation[];
}

export interface FifWriteResult {
  /** The files written, first one = the path given. */
  files: string[];
  nSamples: number;
  bytes: number[];
}

const DATA_TYPE: Record<FifWriteFormat, number> = { single: FIFFT.FLOAT, double: FIFFT.DOUBLE, short: FIFFT.DAU_PACK16, int: FIFFT.INT };
const BYTES: Record<FifWriteFormat, number> = { single: 4, double: 8, short: 2, int: 4 };
const INT_LIMIT: Partial<Record<FifWriteFormat, number>> = { short: 32767, int: 2147483647 };
const FIFFC_VERSION = (1 << 16) | 3;
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** Tag encoders: each returns the complete tag (16-byte header with next = 0, then payload). */
function tag(kind: number, type: number, payload: Buffer, next = 0): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32BE(kind, 0);
  h.writeUInt32BE(type, 4);
  h.writeInt32BE(payload.length, 8);
  h.writeInt32BE(next, 12);
  return Buffer.concat([h, payload]);
}
const intTag = (kind: number, values: number[]): Buffer => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeInt32BE(v, 4 * i));
  return tag(kind, FIFFT.INT, b);
};
const floatTag = (kind: number, values: number[]): Buffer => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeFloatBE(v, 4 * i));
  return tag(kind, FIFFT.FLOAT, b);
};
const doubleTag = (kind: number, values: number[]): Buffer => {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeDoubleBE(v, 8 * i));
  return tag(kind, FIFFT.DOUBLE, b);
};
const stringTag = (kind: number, s: string): Buffer => tag(kind, FIFFT.STRING, Buffer.from(s, 'latin1'));
const startBlock = (kind: number): Buffer => intTag(FIFF.BLOCK_START, [kind]);
const endBlock = (kind: number): Buffer => intTag(FIFF.BLOCK_END, [kind]);
function idTag(kind: number, secs: number, usecs: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeInt32BE(FIFFC_VERSION, 0);
  b.writeInt32BE(0x6c6f636b, 4); // "lock": a fixed machine id, so output is reproducible
  b.writeInt32BE(0x73746570, 8); // "step"
  b.writeInt32BE(secs, 12);
  b.writeInt32BE(usecs, 16);
  return tag(kind, FIFFT.ID_STRUCT, b);
}

function defaultUnit(type: RawChannelType): number {
  if (type === 'grad') return FIFF_UNIT.T_M;
  if (type === 'mag' || type === 'ref_meg') return FIFF_UNIT.T;
  return FIFF_UNIT.V;
}
function defaultCoil(type: RawChannelType): number {
  if (type === 'mag') return FIFFV_COIL.VV_MAG_T3;
  if (type === 'grad') return FIFFV_COIL.VV_PLANAR_T1;
  if (type === 'eeg') return FIFFV_COIL.EEG;
  return FIFFV_COIL.NONE;
}

/** Names as written in the 16-byte records: ≤ 15 characters, unique (MNE remaps longer names). */
function shortNames(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((n, i) => {
    let s = n.length <= 15 ? n : n.slice(0, 15);
    if (n.length > 15 && used.has(s)) {
      const suffix = `-${i}`;
      s = n.slice(0, 15 - suffix.length) + suffix;
    }
    used.add(s);
    return s;
  });
}

function chInfoTag(ch: FifWriteChannel, index: number, shortName: string): Buffer {
  const b = Buffer.alloc(96);
  const kind = KIND_OF_TYPE[ch.type];
  if (kind === undefined) throw new RangeError(`writeFif: channel ${ch.name}: no FIFF kind for type ${ch.type}`);
  b.writeInt32BE(index + 1, 0); // scanno starts at 1, as MNE rewrites it
  b.writeInt32BE(ch.logno ?? index + 1, 4);
  b.writeInt32BE(kind, 8);
  b.writeFloatBE(ch.range ?? 1, 12);
  b.writeFloatBE(ch.cal ?? 1, 16);
  b.writeInt32BE(ch.coilType ?? defaultCoil(ch.type), 20);
  const loc = ch.loc ?? new Array<number>(12).fill(0);
  for (let i = 0; i < 12; i++) b.writeFloatBE(loc[i] ?? 0, 24 + 4 * i);
  b.writeInt32BE(ch.unitCode ?? defaultUnit(ch.type), 72);
  b.writeInt32BE(0, 76);
  const nb = Buffer.from(shortName, 'latin1');
  if (nb.length > 15) throw new RangeError(`writeFif: channel name ${shortName} is longer than 15 bytes in latin-1`);
  nb.copy(b, 80);
  return tag(FIFF.CH_INFO, FIFFT.CH_INFO_STRUCT, b);
}

function measStamp(d: FifWriteOptions['measDate']): [number, number] | null {
  if (!d) return null;
  if (Array.isArray(d)) return d;
  const ms = d.getTime();
  const secs = Math.floor(ms / 1000);
  return [secs, Math.round((ms - secs * 1000) * 1000)];
}

/**
 * A raw FIF written incrementally: `write()` chunks in order, then `close()`. Holds at most one
 * buffer of samples in memory.
 */
export class FifWriter {
  private readonly nchan: number;
  private readonly format: FifWriteFormat;
  private readonly bufferSamples: number;
  private readonly splitSize: number;
  private readonly margin: number;
  /** Per channel 1 / (range × cal) computed as MNE divides: SI / (range × cal) in float64. */
  private readonly calEff: Float64Array;
  private readonly pending: Float64Array;
  private nPending = 0;
  private written = 0;
  private fh: fs.FileHandle | null = null;
  private pos = 0;
  private partIndex = 0;
  private lastBufferBytes = 0;
  private splitDue = false;
  readonly files: string[] = [];
  private readonly bytes: number[] = [];
  private closed = false;

  private constructor(private readonly filePath: string, private readonly opts: FifWriteOptions) {
    this.nchan = opts.channels.length;
    this.format = opts.format ?? 'single';
    this.bufferSamples = opts.bufferSamples ?? Math.round(opts.sfreqHz);
    this.splitSize = opts.splitSizeBytes ?? 2 ** 31;
    this.margin = opts.splitMarginBytes ?? 2 ** 20;
    if (!(opts.sfreqHz > 0)) throw new RangeError(`writeFif: sfreqHz must be > 0, got ${opts.sfreqHz}`);
    if (this.nchan === 0) throw new RangeError('writeFif: no channels');
    if (!Number.isSafeInteger(this.bufferSamples) || this.bufferSamples <= 0) throw new RangeError(`writeFif: bufferSamples must be a positive integer, got ${this.bufferSamples}`);
    if (this.splitSize > 2 ** 31) throw new RangeError('writeFif: splitSizeBytes must be at most 2 GiB (FIF offsets are signed 32-bit)');
    const isInt = INT_LIMIT[this.format] !== undefined;
    this.calEff = Float64Array.from(opts.channels, (c) => {
      if (isInt && c.cal === undefined) throw new RangeError(`writeFif: format '${this.format}' needs a cal for channel ${c.name} (SI value of one stored unit)`);
      return Math.fround(c.range ?? 1) * Math.fround(c.cal ?? 1);
    });
    this.pending = new Float64Array(this.bufferSamples * this.nchan);
  }

  static async create(filePath: string, opts: FifWriteOptions): Promise<FifWriter> {
    const w = new FifWriter(filePath, opts);
    await w.startPart(null);
    return w;
  }

  private partName(i: number): string {
    if (i === 0) return this.filePath;
    const ext = path.extname(this.filePath);
    return `${this.filePath.slice(0, this.filePath.length - ext.length)}-${i}${ext}`;
  }

  private async put(b: Buffer): Promise<void> {
    if (!this.fh) throw new Error('FifWriter: file not open');
    await this.fh.write(b, 0, b.length, this.pos);
    this.pos += b.length;
  }

  private async startPart(prevName: string | null): Promise<void> {
    const name = this.partName(this.partIndex);
    this.fh = await fs.open(name, 'w');
    this.pos = 0;
    this.files.push(name);
    const o = this.opts;
    const stamp = measStamp(o.measDate);
    const parts: Buffer[] = [];
    parts.push(idTag(FIFF.FILE_ID, stamp?.[0] ?? DATE_NONE[0], stamp?.[1] ?? DATE_NONE[1]));
    parts.push(intTag(FIFF.DIR_POINTER, [-1]));
    parts.push(intTag(FIFF.FREE_LIST, [-1]));
    parts.push(startBlock(FIFFB.MEAS));
    parts.push(idTag(FIFF.BLOCK_ID, stamp?.[0] ?? DATE_NONE[0], stamp?.[1] ?? DATE_NONE[1]));
    parts.push(startBlock(FIFFB.MEAS_INFO));
    parts.push(intTag(FIFF.NCHAN, [this.nchan]));
    parts.push(floatTag(FIFF.SFREQ, [o.sfreqHz]));
    parts.push(floatTag(FIFF.LOWPASS, [o.lowpassHz ?? o.sfreqHz / 2]));
    parts.push(floatTag(FIFF.HIGHPASS, [o.highpassHz ?? 0]));
    if (stamp) parts.push(intTag(FIFF.MEAS_DATE, stamp));
    if (o.lineFreqHz != null) parts.push(floatTag(FIFF.LINE_FREQ, [o.lineFreqHz]));
    parts.push(intTag(FIFF.DATA_PACK, [DATA_TYPE[this.format]]));
    const names = o.channels.map((c) => c.name);
    const shorts = shortNames(names);
    if (new Set(names).size !== names.length) throw new RangeError('writeFif: channel names must be unique');
    o.channels.forEach((c, i) => parts.push(chInfoTag(c, i, shorts[i])));
    if (names.some((n) => n.length > 15)) {
      // MNE >= 0.24 writes every channel's full record in a FIFFB_CH_INFO block; the name is what matters here.
      for (const n of names) parts.push(startBlock(FIFFB.CH_INFO), stringTag(FIFF.CH_DACQ_NAME, n), endBlock(FIFFB.CH_INFO));
    }
    if (o.bads && o.bads.length > 0) {
      for (const b of o.bads) if (!names.includes(b)) throw new RangeError(`writeFif: bad channel ${b} is not a channel`);
      const shortOf = new Map(names.map((n, i) => [n, shorts[i]]));
      parts.push(startBlock(FIFFB.MNE_BAD_CHANNELS), stringTag(FIFF.MNE_CH_NAME_LIST, o.bads.map((b) => shortOf.get(b)!).join(':')), endBlock(FIFFB.MNE_BAD_CHANNELS));
    }
    parts.push(endBlock(FIFFB.MEAS_INFO));
    const ann = o.annotations ?? [];
    if (ann.length > 0) {
      // MNE's convention: onsets in seconds of the absolute sample clock (first_samp included),
      // counted from orig_time = meas date when there is one.
      const first = (o.firstSample ?? 0) / o.sfreqHz;
      parts.push(startBlock(FIFFB.MNE_ANNOTATIONS));
      parts.push(floatTag(FIFF.MNE_BASELINE_MIN, ann.map((a) => a.onsetSec + first)));
      parts.push(floatTag(FIFF.MNE_BASELINE_MAX, ann.map((a) => a.onsetSec + first + a.durationSec)));
      parts.push(stringTag(FIFF.COMMENT, ann.map((a) => a.description.replaceAll(':', '{COLON}')).join(':')));
      if (stamp) parts.push(doubleTag(FIFF.MEAS_DATE, stamp));
      parts.push(endBlock(FIFFB.MNE_ANNOTATIONS));
    }
    parts.push(startBlock(FIFFB.RAW_DATA));
    const firstSample = (o.firstSample ?? 0) + this.written;
    if (firstSample !== 0) parts.push(intTag(FIFF.FIRST_SAMPLE, [firstSample]));
    if (prevName !== null) {
      parts.push(startBlock(FIFFB.REF), intTag(FIFF.REF_ROLE, [FIFFV_ROLE_PREV_FILE]), stringTag(FIFF.REF_FILE_NAME, path.basename(prevName)), intTag(FIFF.REF_FILE_NUM, [this.partIndex - 1]), endBlock(FIFFB.REF));
    }
    await this.put(Buffer.concat(parts));
  }

  private async endPart(nextName: string | null): Promise<void> {
    const parts: Buffer[] = [];
    if (nextName !== null) {
      parts.push(startBlock(FIFFB.REF), intTag(FIFF.REF_ROLE, [FIFFV_ROLE_NEXT_FILE]), stringTag(FIFF.REF_FILE_NAME, path.basename(nextName)), intTag(FIFF.REF_FILE_NUM, [this.partIndex + 1]), endBlock(FIFFB.REF));
    }
    parts.push(endBlock(FIFFB.RAW_DATA), endBlock(FIFFB.MEAS));
    parts.push(tag(FIFF.NOP, FIFFT.VOID, Buffer.alloc(0), FIFFV_NEXT_NONE));
    await this.put(Buffer.concat(parts));
    await this.fh!.close();
    this.fh = null;
    this.bytes.push(this.pos);
  }

  /** Appends a chunk ([sample][channel] SI; its firstSample must continue the previous one). */
  async write(chunk: SampleChunk): Promise<void> {
    if (this.closed) throw new Error('FifWriter: write after close');
    if (chunk.nChannels !== this.nchan) throw new RangeError(`writeFif: chunk has ${chunk.nChannels} channels, the file ${this.nchan}`);
    const expected = this.written + this.nPending;
    if (chunk.firstSample !== expected) throw new RangeError(`writeFif: chunk starts at sample ${chunk.firstSample}, expected ${expected} (chunks must be contiguous)`);
    const C = this.nchan;
    let s = 0;
    while (s < chunk.nSamples) {
      const n = Math.min(chunk.nSamples - s, this.bufferSamples - this.nPending);
      for (let i = 0; i < n * C; i++) this.pending[this.nPending * C + i] = chunk.data[s * C + i];
      this.nPending += n;
      s += n;
      if (this.nPending === this.bufferSamples) await this.flushBuffer();
    }
  }

  private encode(rows: number): Buffer {
    const C = this.nchan;
    const n = rows * C;
    const payload = Buffer.allocUnsafeSlow(n * BYTES[this.format]);
    const lim = INT_LIMIT[this.format];
    let arr: Int16Array | Int32Array | Float32Array | Float64Array;
    if (this.format === 'single') arr = new Float32Array(payload.buffer, 0, n);
    else if (this.format === 'double') arr = new Float64Array(payload.buffer, 0, n);
    else if (this.format === 'short') arr = new Int16Array(payload.buffer, 0, n);
    else arr = new Int32Array(payload.buffer, 0, n);
    for (let i = 0; i < n; i++) {
      const c = i % C;
      const v = this.pending[i] / this.calEff[c];
      if (lim !== undefined) {
        const r = Math.round(v);
        if (!(Math.abs(r) <= lim)) {
          throw new RangeError(`writeFif: sample ${this.written + Math.floor(i / C)} of channel ${this.opts.channels[c].name} is ${this.pending[i]} SI = ${v} stored units, outside the ${this.format} range; use a larger cal`);
        }
        arr[i] = r;
      } else arr[i] = v;
    }
    if (LITTLE_ENDIAN_HOST) {
      if (this.format === 'short') payload.swap16();
      else if (this.format === 'double') payload.swap64();
      else payload.swap32();
    }
    return tag(FIFF.DATA_BUFFER, DATA_TYPE[this.format], payload);
  }

  private async flushBuffer(): Promise<void> {
    if (this.nPending === 0) return;
    if (this.splitDue) {
      // More data is coming, so the split MNE would have made after the previous buffer happens now.
      const next = this.partName(this.partIndex + 1);
      await this.endPart(next);
      const prev = this.files[this.files.length - 1];
      this.partIndex++;
      await this.startPart(prev);
      this.splitDue = false;
    }
    const t = this.encode(this.nPending);
    const before = this.pos;
    await this.put(t);
    this.written += this.nPending;
    this.nPending = 0;
    this.lastBufferBytes = this.pos - before;
    if (this.pos > this.splitSize - this.margin) {
      throw new RangeError(`writeFif: a buffer of ${this.lastBufferBytes} bytes does not fit the split size ${this.splitSize} with a margin of ${this.margin}; use a smaller bufferSamples or a larger splitSizeBytes`);
    }
    if (this.pos >= this.splitSize - this.lastBufferBytes - this.margin) this.splitDue = true;
  }

  /** Writes the last (possibly short) buffer and ends the file. */
  async close(): Promise<FifWriteResult> {
    if (this.closed) throw new Error('FifWriter: closed twice');
    this.splitDue = this.splitDue && this.nPending > 0;
    await this.flushBuffer();
    await this.endPart(null);
    this.closed = true;
    return { files: this.files.slice(), nSamples: this.written, bytes: this.bytes.slice() };
  }

  /** Closes the open file without finishing it (after an error), and removes what was written. */
  async abort(): Promise<void> {
    this.closed = true;
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    await Promise.all(this.files.map((f) => fs.rm(f, { force: true })));
  }
}

/** Writes a whole stream of chunks to `filePath` (and split parts). */
export async function writeFif(filePath: string, chunks: AsyncIterable<SampleChunk> | Iterable<SampleChunk>, opts: FifWriteOptions): Promise<FifWriteResult> {
  const w = await FifWriter.create(filePath, opts);
  try {
    for await (const c of chunks) await w.write(c);
    return await w.close();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
