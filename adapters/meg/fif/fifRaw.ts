/**
 * A raw FIF recording (MNE's `read_raw_fif(..., allow_maxshield=True)`) behind the RawRecording
 * contract, streamed: opening reads the tag headers and the measurement info only; data buffers
 * are read row range by row range when asked, so memory does not grow with the file.
 *
 * What it follows from MNE (mne/io/fiff/raw.py): the raw block is FIFFB_RAW_DATA, else
 * FIFFB_CONTINUOUS_DATA, else the MaxShield FIFFB_IAS_RAW_DATA (119); FIFF_FIRST_SAMPLE and an
 * initial FIFF_DATA_SKIP set first_samp; a later FIFF_DATA_SKIP n inserts n × (next buffer's
 * nsamp) zeros and a BAD_ACQ_SKIP annotation; SI = stored × (range × cal) in float64; split
 * files continue through FIFFB_REF (role 2: next file, by name or by number).
 *
 * Owns: the sample layout (segments) and reading rows of it. Must not: filter, resample or pace.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { SampleChunk } from '../../../src/types.js';
import {
  RecordingFormatError,
  type ChunkOptions,
  type RawDiscontinuity,
  type RawEvent,
  type RawHeader,
  type RawRecording,
} from '../rawRecording.js';
import { FIFF, FIFFB, FIFFT, FIFFV_ROLE_NEXT_FILE, ORIG_FORMAT, SAMPLE_BYTES } from './fifConstants.js';
import { FifFile, type DirectoryInfo } from './fifFile.js';
import { readAnnotations, readMeasInfo, stampToIso, toRawChannel, type FifAnnotations, type FifMeasInfo } from './fifMeasInfo.js';
import { buildTree, findBlocks, type FifNode } from './fifTree.js';
import { findStimEvents, type StimEvent } from './stimEvents.js';

/** A stretch of samples: one data buffer, or zeros standing for a FIFF_DATA_SKIP. */
export interface FifSegment {
  /** First sample, relative to sample 0 of the recording. */
  start: number;
  nSamples: number;
  /** Index into parts (split files). */
  part: number;
  /** Byte offset of the payload (tag position + 16), or −1 for a skip. */
  payloadPos: number;
  /** Byte offset of the tag header (of the FIFF_DATA_BUFFER, or of the FIFF_DATA_SKIP). */
  tagPos: number;
  /** FIFFT data type of the buffer (0 for a skip). */
  type: number;
}

export interface FifPart {
  path: string;
  firstSample: number;
  nSamples: number;
  directory: Omit<DirectoryInfo, 'entries'> & { nTags: number };
}

export interface OpenFifOptions {
  /** Fill header.events with stim-channel events (a pass over those channels); true = every stim channel. */
  stimEvents?: boolean | string[];
  /** false: ignore FIFF_DIR and walk the tag chain (for tests; default: use a valid directory). */
  useDirectory?: boolean;
}

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';
type StoredArray = Int16Array | Int32Array | Float32Array | Float64Array;

/**
 * The stored numbers of `buf` (big-endian, `type`) as a native typed array. The buffer must own
 * its ArrayBuffer from offset 0 (FifFile.readExact); it is byte-swapped in place.
 */
function nativeView(buf: Buffer, type: number): StoredArray {
  switch (type) {
    case FIFFT.SHORT:
    case FIFFT.DAU_PACK16:
      if (LITTLE_ENDIAN_HOST) buf.swap16();
      return new Int16Array(buf.buffer, buf.byteOffset, buf.length / 2);
    case FIFFT.INT:
      if (LITTLE_ENDIAN_HOST) buf.swap32();
      return new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    case FIFFT.FLOAT:
      if (LITTLE_ENDIAN_HOST) buf.swap32();
      return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    case FIFFT.DOUBLE:
      if (LITTLE_ENDIAN_HOST) buf.swap64();
      return new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8);
    default:
      throw new Error(`nativeView: unsupported type ${type}`);
  }
}

/** MNE's name of the next split file from a FIFF_REF_FILE_NUM (mne/io/open.py `_get_next_fname`). */
function nextNameByNumber(current: string, num: number): string {
  const dir = path.dirname(current);
  const base = path.basename(current);
  const idx = base.indexOf('.');
  let idx2 = base.lastIndexOf('-');
  const numStr = idx2 >= 0 && idx > idx2 ? base.slice(idx2 + 1, idx) : '';
  if (!/^\d+$/.test(numStr)) idx2 = -1;
  const ext = idx >= 0 ? base.slice(idx + 1) : '';
  const stem = idx >= 0 ? base.slice(0, idx) : base;
  if (idx2 < 0) return path.join(dir, `${stem}-${num}.${ext}`);
  return path.join(dir, `${base.slice(0, idx2)}-${num}.${ext}`);
}

async function nextFileName(file: FifFile, tree: FifNode): Promise<string | null> {
  let next: string | null = null;
  for (const node of findBlocks(tree, FIFFB.REF)) {
    next = null;
    for (const e of node.entries) {
      if (e.kind === FIFF.REF_ROLE) {
        if ((await file.readInt(e, 'reference role')) !== FIFFV_ROLE_NEXT_FILE) { next = null; break; }
      } else if (e.kind === FIFF.REF_FILE_NAME) {
        const name = await file.readString(e, 'next file name');
        // A split file names its successor by base name; refuse anything that climbs out of the folder.
        if (name.includes('/') || name.includes('\\') || name === '..' || name.length === 0) {
          throw file.error(e.pos, e.kind, `a plain file name for the next split file, found ${JSON.stringify(name)}`);
        }
        next = path.join(path.dirname(file.path), name);
      } else if (e.kind === FIFF.REF_FILE_NUM && next === null) {
        next = nextNameByNumber(file.path, await file.readInt(e, 'next file number'));
      }
    }
    if (next !== null) break;
  }
  return next;
}

interface ParsedPart {
  file: FifFile;
  info: FifMeasInfo;
  tree: FifNode;
  annotations: FifAnnotations | null;
  firstSample: number;
  /** Segments with `start` relative to this part's first sample. */
  segments: FifSegment[];
  maxshield: boolean;
  directory: DirectoryInfo;
  origFormat: string | null;
  next: string | null;
}

async function parsePart(file: FifFile, partIndex: number, useDirectory: boolean | undefined): Promise<ParsedPart> {
  const directory = await file.directory({ useDirectory });
  const tree = await buildTree(file, directory.entries);
  const { info, meas } = await readMeasInfo(file, tree);
  const annotations = await readAnnotations(file, tree);
  let raw = findBlocks(meas, FIFFB.RAW_DATA)[0] ?? findBlocks(meas, FIFFB.CONTINUOUS_DATA)[0];
  let maxshield = false;
  if (!raw) {
    raw = findBlocks(meas, FIFFB.IAS_RAW_DATA)[0];
    maxshield = true;
  }
  if (!raw) throw file.error(meas.pos, FIFF.BLOCK_START, 'a raw data block (FIFFB_RAW_DATA 102, CONTINUOUS_DATA 112 or IAS_RAW_DATA 119) in the measurement', 'this FIF holds no continuous data (epochs or evoked?)');
  const ents = raw.entries;
  const nchan = info.nchan;
  let k = 0;
  let firstSamp = 0;
  let firstSkip = 0;
  if (ents[k]?.kind === FIFF.FIRST_SAMPLE) {
    firstSamp = await file.readInt(ents[k], 'first sample');
    k++;
  }
  if (ents[k]?.kind === FIFF.DATA_SKIP) {
    firstSkip = await file.readInt(ents[k], 'initial data skip');
    if (firstSkip < 0) throw file.error(ents[k].pos, ents[k].kind, `a skip count >= 0, found ${firstSkip}`);
    k++;
  }
  const segments: FifSegment[] = [];
  let cursor = 0; // relative to the part's (final) first sample
  let nskip = 0;
  let skipPos = -1;
  let origFormat: string | null = null;
  for (; k < ents.length; k++) {
    const e = ents[k];
    if (e.kind === FIFF.DATA_SKIP) {
      nskip = await file.readInt(e, 'data skip');
      skipPos = e.pos;
      if (nskip < 0) throw file.error(e.pos, e.kind, `a skip count >= 0, found ${nskip}`);
    } else if (e.kind === FIFF.DATA_BUFFER) {
      const bytes = SAMPLE_BYTES[e.type];
      if (bytes === undefined) throw file.error(e.pos, e.kind, `a data buffer of type 2, 3, 4, 5, 16, 20 or 21 (as MNE reads), found type ${e.type}`);
      if (e.type === FIFFT.COMPLEX_FLOAT || e.type === FIFFT.COMPLEX_DOUBLE) {
        throw file.error(e.pos, e.kind, 'real-valued data buffers (this file holds complex data, which lockstep does not read)', 'convert it with MNE first');
      }
      if (e.size % (bytes * nchan) !== 0 || e.size === 0) {
        throw file.error(e.pos, e.kind, `a data buffer of whole samples (${nchan} channels × ${bytes} bytes), found ${e.size} bytes`);
      }
      const nsamp = e.size / (bytes * nchan);
      origFormat ??= ORIG_FORMAT[e.type];
      if (firstSkip > 0) {
        firstSamp += nsamp * firstSkip;
        firstSkip = 0;
      }
      if (nskip > 0) {
        segments.push({ start: cursor, nSamples: nskip * nsamp, part: partIndex, payloadPos: -1, tagPos: skipPos, type: 0 });
        cursor += nskip * nsamp;
        nskip = 0;
      }
      segments.push({ start: cursor, nSamples: nsamp, part: partIndex, payloadPos: e.pos + 16, tagPos: e.pos, type: e.type });
      cursor += nsamp;
    }
  }
  if (segments.length === 0) throw file.error(raw.pos, FIFF.BLOCK_START, 'at least one data buffer (FIFF_DATA_BUFFER 300) in the raw data block');
  if (!Number.isSafeInteger(firstSamp + cursor)) throw file.error(raw.pos, FIFF.FIRST_SAMPLE, 'a sample range that fits in a safe integer');
  const next = await nextFileName(file, tree);
  return { file, info, tree, annotations, firstSample: firstSamp, segments, maxshield, directory, origFormat, next };
}

/** Events of one stim channel as mne.find_events gives them: [absolute sample, previous value, new value]. */
export type StimEventsByChannel = Map<string, StimEvent[]>;

export class FifRecording implements RawRecording {
  readonly header: RawHeader;
  /** The sample layout: data buffers and skips in order, `start` relative to sample 0. */
  readonly segments: readonly FifSegment[];
  readonly parts: readonly FifPart[];
  private readonly files: FifFile[];
  private readonly nchan: number;
  private readonly cals: Float64Array;
  private stimCache: StimEventsByChannel | null = null;

  constructor(header: RawHeader, segments: FifSegment[], parts: FifPart[], files: FifFile[]) {
    this.header = header;
    this.segments = segments;
    this.parts = parts;
    this.files = files;
    this.nchan = header.channels.length;
    this.cals = Float64Array.from(header.channels, (c) => c.cal);
  }

  private checkRange(start: number, stop: number, picks: number[]): void {
    const n = this.header.nSamples;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(stop) || start < 0 || stop < start || stop > n) {
      throw new RangeError(`${this.header.path}: sample range [${start}, ${stop}) outside [0, ${n}]`);
    }
    for (const p of picks) {
      if (!Number.isInteger(p) || p < 0 || p >= this.nchan) throw new RangeError(`${this.header.path}: channel pick ${p} outside [0, ${this.nchan})`);
    }
  }

  /** Index of the segment holding sample s (binary search). */
  private segmentAt(s: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].start <= s) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Samples [start, stop) of `picks` into `out` ([sample][pick]); `scale` null: stored numbers,
   * else multiplied by scale[pick] (float64 product, then stored in out's element type).
   */
  private async fill(start: number, stop: number, picks: number[], out: Float64Array | Float32Array, scale: Float64Array | null): Promise<void> {
    const P = picks.length;
    const C = this.nchan;
    if (stop <= start || P === 0) return;
    for (let si = this.segmentAt(start); si < this.segments.length; si++) {
      const seg = this.segments[si];
      if (seg.start >= stop) break;
      const a = Math.max(start, seg.start) - seg.start;
      const b = Math.min(stop, seg.start + seg.nSamples) - seg.start;
      if (b <= a) continue;
      const o0 = (seg.start + a - start) * P;
      if (seg.payloadPos < 0) {
        out.fill(0, o0, o0 + (b - a) * P);
        continue;
      }
      const bytes = SAMPLE_BYTES[seg.type];
      const rowBytes = bytes * C;
      const file = this.files[seg.part];
      const buf = await file.readExact(seg.payloadPos + a * rowBytes, (b - a) * rowBytes, FIFF.DATA_BUFFER, `data buffer rows ${a}…${b} of the buffer at byte ${seg.tagPos}`);
      const v = nativeView(buf, seg.type);
      let o = o0;
      const rows = b - a;
      if (scale) {
        for (let r = 0; r < rows; r++) {
          const base = r * C;
          for (let p = 0; p < P; p++) out[o++] = v[base + picks[p]] * scale[p];
        }
      } else {
        for (let r = 0; r < rows; r++) {
          const base = r * C;
          for (let p = 0; p < P; p++) out[o++] = v[base + picks[p]];
        }
      }
    }
  }

  async readStored(start: number, stop: number, picks: number[]): Promise<Float64Array> {
    this.checkRange(start, stop, picks);
    const out = new Float64Array((stop - start) * picks.length);
    await this.fill(start, stop, picks, out, null);
    return out;
  }

  async readSI(start: number, stop: number, picks: number[]): Promise<Float64Array> {
    this.checkRange(start, stop, picks);
    const out = new Float64Array((stop - start) * picks.length);
    await this.fill(start, stop, picks, out, Float64Array.from(picks, (p) => this.cals[p]));
    return out;
  }

  /** Chunk windows: fixed size when asked, else the file's own buffers (and skips) cut to [start, stop). */
  private *windows(start: number, stop: number, chunkSamples: number | undefined): Generator<[number, number]> {
    if (chunkSamples !== undefined) {
      for (let s = start; s < stop; s += chunkSamples) yield [s, Math.min(stop, s + chunkSamples)];
      return;
    }
    if (start >= stop) return;
    for (let si = this.segmentAt(start); si < this.segments.length; si++) {
      const seg = this.segments[si];
      if (seg.start >= stop) break;
      const a = Math.max(start, seg.start);
      const b = Math.min(stop, seg.start + seg.nSamples);
      if (b > a) yield [a, b];
    }
  }

  async *chunks(opts: ChunkOptions = {}): AsyncIterable<SampleChunk> {
    const picks = opts.picks ?? Array.from({ length: this.nchan }, (_, i) => i);
    const start = opts.start ?? 0;
    const stop = opts.stop ?? this.header.nSamples;
    this.checkRange(start, stop, picks);
    if (opts.chunkSamples !== undefined && (!Number.isSafeInteger(opts.chunkSamples) || opts.chunkSamples <= 0)) {
      throw new RangeError(`chunkSamples must be a positive integer, got ${opts.chunkSamples}`);
    }
    const scale = Float64Array.from(picks, (p) => this.cals[p]);
    const sfreq = this.header.sfreqHz;
    const P = picks.length;
    const read = async ([a, b]: [number, number]): Promise<SampleChunk> => {
      const data = new Float32Array((b - a) * P);
      await this.fill(a, b, picks, data, scale);
      return { sfreqHz: sfreq, firstSample: a, tStartSec: a / sfreq, nChannels: P, nSamples: b - a, data };
    };
    const it = this.windows(start, stop, opts.chunkSamples);
    let w = it.next();
    // Read one window ahead so disk and decoding overlap; at most two chunks are alive.
    let pending: Promise<SampleChunk> | null = w.done ? null : read(w.value);
    try {
      while (pending) {
        const chunk = await pending;
        w = it.next();
        pending = w.done ? null : read(w.value);
        yield chunk;
      }
    } finally {
      // A consumer that stops early must not leave an unhandled rejection behind.
      pending?.catch(() => undefined);
    }
  }

  /**
   * Trigger events of stim channels as mne.find_events(stim_channel=name, shortest_event=1,
   * consecutive=True, initial_event=True), one data pass over those channels (cached).
   * Samples are absolute (first_samp included), as MNE's events array.
   */
  async stimEvents(names?: string[]): Promise<StimEventsByChannel> {
    const all = this.header.channels.map((c, i) => ({ c, i })).filter(({ c }) => c.type === 'stim');
    const wanted = names ? names.map((n) => {
      const i = this.header.channels.findIndex((c) => c.name === n);
      if (i < 0) throw new RecordingFormatError(this.header.path, 'stim channel', `a channel named ${n}`, `channels are: ${this.header.channels.map((c) => c.name).join(', ')}`);
      return { c: this.header.channels[i], i };
    }) : all;
    if (!names && this.stimCache) return this.stimCache;
    const picks = wanted.map((w) => w.i);
    const found = await findStimEvents(this.chunksF64(picks), picks.length, this.header.firstSample);
    const out: StimEventsByChannel = new Map();
    wanted.forEach((w, k) => out.set(w.c.name, found[k]));
    if (!names) this.stimCache = out;
    return out;
  }

  /** float64 SI blocks of some channels in file-buffer order (for exact integer stim values). */
  private async *chunksF64(picks: number[]): AsyncIterable<Float64Array> {
    const scale = Float64Array.from(picks, (p) => this.cals[p]);
    for (const [a, b] of this.windows(0, this.header.nSamples, 65536)) {
      const out = new Float64Array((b - a) * picks.length);
      await this.fill(a, b, picks, out, scale);
      yield out;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

/** Opens a raw FIF file (and the split files it names) for streaming reads. */
export async function openFif(filePath: string, opts: OpenFifOptions = {}): Promise<FifRecording> {
  const files: FifFile[] = [];
  try {
    const parsed: ParsedPart[] = [];
    const seen = new Set<string>();
    let next: string | null = filePath;
    while (next !== null) {
      const resolved = path.resolve(next);
      if (seen.has(resolved)) {
        const prev = parsed[parsed.length - 1];
        throw new RecordingFormatError(prev.file.path, 'FIFFB_REF next file', `a chain of split files that ends, but it names ${next} again (a loop)`);
      }
      seen.add(resolved);
      if (parsed.length > 0 && !fs.existsSync(next)) {
        const prev = parsed[parsed.length - 1];
        throw new RecordingFormatError(prev.file.path, 'FIFFB_REF next file', `the next split file ${next} to exist`, 'copy every part of the split recording into the same folder, with the names MNE gave them');
      }
      const file = await FifFile.open(next);
      files.push(file);
      const part = await parsePart(file, parsed.length, opts.useDirectory);
      if (parsed.length > 0) {
        const first = parsed[0].info;
        if (part.info.nchan !== first.nchan || part.info.sfreqHz !== first.sfreqHz) {
          throw new RecordingFormatError(file.path, 'measurement info', `the same channels and sampling rate as ${parsed[0].file.path} (${first.nchan} ch, ${first.sfreqHz} Hz), found ${part.info.nchan} ch, ${part.info.sfreqHz} Hz`);
        }
      }
      parsed.push(part);
      next = part.next;
    }
    const first = parsed[0];
    const info = first.info;
    const sfreq = info.sfreqHz;
    const segments: FifSegment[] = [];
    const parts: FifPart[] = [];
    let offset = 0;
    for (const p of parsed) {
      const n = p.segments.reduce((s, g) => s + g.nSamples, 0);
      for (const g of p.segments) segments.push({ ...g, start: g.start + offset });
      const { entries, ...dirRest } = p.directory;
      parts.push({ path: p.file.path, firstSample: p.firstSample, nSamples: n, directory: { ...dirRest, nTags: entries.length } });
      offset += n;
    }
    const nSamples = offset;
    const firstSample = first.firstSample;
    const channels = info.records.map(toRawChannel);

    const events: RawEvent[] = [];
    const discontinuities: RawDiscontinuity[] = [];
    // Annotations: onsets are seconds since orig_time (or absolute sample 0 without one).
    const ann = first.annotations;
    if (ann) {
      const shift = ann.origTime && info.measDate ? (ann.origTime[0] - info.measDate[0]) + (ann.origTime[1] - info.measDate[1]) * 1e-6 : 0;
      for (const a of ann.items) {
        const sample = Math.round((a.onsetSec + shift) * sfreq) - firstSample;
        events.push({ onsetSec: sample / sfreq, sample, durationSec: a.durationSec, value: a.description, source: 'annotation', ...(a.chNames.length ? { channel: a.chNames.join(',') } : {}) });
      }
    }
    for (const g of segments) {
      if (g.payloadPos >= 0) continue;
      discontinuities.push({ sample: g.start, kind: 'skip', missingSamples: g.nSamples });
      events.push({ onsetSec: g.start / sfreq, sample: g.start, durationSec: g.nSamples / sfreq, value: 'BAD_ACQ_SKIP', source: 'annotation' });
    }
    const header: RawHeader = {
      format: 'fif',
      path: filePath,
      sfreqHz: sfreq,
      nSamples,
      firstSample,
      measDate: info.measDate ? stampToIso(info.measDate) : null,
      channels,
      bads: info.bads,
      events,
      discontinuities,
      lineFreqHz: info.lineFreqHz,
      highpassHz: info.highpassHz,
      lowpassHz: info.lowpassHz,
      extra: {
        origFormat: first.origFormat,
        maxshield: first.maxshield,
        dataPack: info.dataPack,
        nDataBuffers: segments.filter((g) => g.payloadPos >= 0).length,
        nSkips: discontinuities.length,
        parts: parts.map((p) => p.path),
        dirPointer: first.directory.dirPointer,
        usedDirectory: first.directory.usedDirectory,
        directoryProblem: first.directory.directoryProblem,
        measDateStamp: info.measDate,
      },
    };
    const rec = new FifRecording(header, segments, parts, files);
    if (opts.stimEvents) {
      const byCh = await rec.stimEvents(Array.isArray(opts.stimEvents) ? opts.stimEvents : undefined);
      for (const [name, evs] of byCh) {
        for (const e of evs) {
          const sample = e.sample - firstSample;
          events.push({ onsetSec: sample / sfreq, sample, durationSec: 0, value: String(e.value), source: 'stim', channel: name });
        }
      }
      events.sort((a, b) => a.sample - b.sample);
    }
    return rec;
  } catch (e) {
    await Promise.all(files.map((f) => f.close().catch(() => undefined)));
    throw e;
  }
}
