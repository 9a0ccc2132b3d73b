/**
 * The CTF `.res4` header, byte for byte, in both directions: `parseRes4` turns the file's bytes
 * into a `Res4` (every field MNE-Python's `_read_res4` reads, at the same offsets, with the same
 * alignment), and `encodeRes4` writes a `Res4` back in the same layout (for ctfWriter). Both go
 * through one field table per record (RES4_GENERAL, RES4_FILTER, RES4_CHANNEL, RES4_COIL,
 * RES4_COMP: each field's name, MNE's name, offset, type and length), so every offset is written
 * once.
 *
 * Layout (all big-endian; offsets checked against MNE 1.3 `mne/io/ctf/res4.py` and against the
 * Donders CTF-275 test set, where parsing ends exactly at EOF): a fixed 1844-byte general header,
 * run_desc[rdlen], nfilt filters (packed), nchan × char[32] names, nchan × 1328-byte channel
 * records, ncomp × 1992-byte compensation records.
 *
 * Every count read from the file is checked before it is used to size or index anything, so a
 * damaged header gives a RecordingFormatError naming the byte offset, never a RangeError.
 *
 * Owns: the res4 byte layout. Must not: decide channel types or units (ctfChannels.ts does) or
 * touch the data files.
 */
import { RecordingFormatError } from '../rawRecording.js';

/** Plausibility limits: a count above these is a damaged header, not a big recording. */
const MAX_CHANNELS = 4096;

export interface Res4Coil {
  /** Position in cm, as stored (MNE divides by 100). */
  posCm: [number, number, number];
  norm: [number, number, number];
  turns: number;
  /** Area in cm², as stored. */
  areaCm2: number;
}

export interface Res4Channel {
  /** The full stored name (up to 32 bytes, NUL-terminated), e.g. `MLC11-4304`. */
  name: string;
  sensorTypeIndex: number;
  originalRunNo: number;
  coilType: number;
  properGain: number;
  qgain: number;
  ioGain: number;
  ioOffset: number;
  numCoils: number;
  gradOrderNo: number;
  coils: Res4Coil[];
  headCoils: Res4Coil[];
}

export interface Res4Filter {
  freqHz: number;
  filterClass: number;
  /** 1 lowpass, 2 highpass (CTFV_FILTER_*); others are notch/band filters. */
  type: number;
  params: number[];
}

export interface Res4Comp {
  sensorName: string;
  /** ASCII packed in an int32: 'G1BR' = 0x47314252, … */
  coeffType: number;
  sensors: string[];
  coeffs: number[];
}

export interface Res4 {
  /** `MEG41RS` or `MEG42RS`. */
  head: string;
  appName: string;
  origin: string;
  description: string;
  nave: number;
  dataTime: string;
  dataDate: string;
  /** Samples per trial. */
  nSamplesPerTrial: number;
  nChannels: number;
  sfreqHz: number;
  epochTimeSec: number;
  nTrials: number;
  preTrigPts: number;
  nTrialsDone: number;
  nTrialsDisplay: number;
  saveTrials: number;
  primaryTrigger: number;
  secondaryTrigger: number[];
  triggerPolarityMask: number;
  triggerMode: number;
  acceptReject: number;
  runTimeDisplay: number;
  zeroHead: number;
  artifactMode: number;
  runName: string;
  runTitle: string;
  instruments: string;
  collectDescriptor: string;
  subjectId: string;
  operator: string;
  sensorFileName: string;
  runDescription: string;
  filters: Res4Filter[];
  channels: Res4Channel[];
  comps: Res4Comp[];
  /** Byte offsets of the variable sections (for error messages and info). */
  offsets: { filters: number; names: number; channels: number; comps: number; end: number };
}


// ---------------------------------------------------------------------------------------------
// The layout: one table per record. Offsets are from the start of the record.

/** Big-endian numbers as stored: int16, int32, uint8, float64. */
type Res4Number = 'i16' | 'i32' | 'u8' | 'f64';

/** One field of a record. */
export interface Res4Field {
  /** MNE-Python's name for it (`mne/io/ctf/res4.py`); names the field in error messages. */
  readonly mne: string;
  /** Byte offset from the start of the record. */
  readonly offset: number;
  /** A number, a NUL-terminated string of `length` bytes (decoded as UTF-8, as MNE does), or a nested record. */
  readonly type: Res4Number | 'str' | Res4Record;
  /** Bytes of a 'str' field (unused for the others). */
  readonly length?: number;
  /**
   * Values stored back to back (each `length` bytes for strings, the record's size for records);
   * absent: one value, read as a plain number or string. For the compensation sensors and
   * coefficients this is the number of slots; `ncoeff` says how many are used.
   */
  readonly count?: number;
}

/** A fixed-size record: its size in bytes and its fields by our property name. */
export interface Res4Record {
  readonly size: number;
  readonly fields: Readonly<Record<string, Res4Field>>;
}

/** A table for `T`'s properties (less those handled outside the table), plus count fields. */
type TableOf<T, Omitted extends keyof T, Counts extends string = never> = {
  readonly size: number;
  readonly fields: { readonly [K in Exclude<keyof T, Omitted> | Counts]: Res4Field };
};

const NUMBER_BYTES: Record<Res4Number, number> = { i16: 2, i32: 4, u8: 1, f64: 8 };

/** One sensor or head coil of a channel record. */
export const RES4_COIL = {
  size: 80,
  fields: {
    posCm: { mne: 'pos', offset: 0, type: 'f64', count: 3 },
    norm: { mne: 'norm', offset: 32, type: 'f64', count: 3 },
    turns: { mne: 'turns', offset: 64, type: 'i16' },
    areaCm2: { mne: 'area', offset: 72, type: 'f64' },
  },
} as const satisfies TableOf<Res4Coil, never>;

export const RES4_MAX_COILS = 8;

/** One channel record (its name is stored separately, in the names section). */
export const RES4_CHANNEL = {
  size: 1328,
  fields: {
    sensorTypeIndex: { mne: 'sensor_type_index', offset: 0, type: 'i16' },
    originalRunNo: { mne: 'original_run_no', offset: 2, type: 'i16' },
    coilType: { mne: 'coil_type', offset: 4, type: 'i32' },
    properGain: { mne: 'proper_gain', offset: 8, type: 'f64' },
    qgain: { mne: 'qgain', offset: 16, type: 'f64' },
    ioGain: { mne: 'io_gain', offset: 24, type: 'f64' },
    ioOffset: { mne: 'io_offset', offset: 32, type: 'f64' },
    numCoils: { mne: 'num_coils', offset: 40, type: 'i16' },
    gradOrderNo: { mne: 'grad_order_no', offset: 42, type: 'i16' },
    coils: { mne: 'coil', offset: 48, type: RES4_COIL, count: RES4_MAX_COILS },
    headCoils: { mne: 'head_coil', offset: 688, type: RES4_COIL, count: RES4_MAX_COILS },
  },
} as const satisfies TableOf<Res4Channel, 'name'>;

export const RES4_MAX_BALANCING = 50;
export const RES4_SENSOR_LABEL = 31;

/** One compensation record: `ncoeff` of the 50 sensor-name and coefficient slots are used. */
export const RES4_COMP = {
  size: 1992,
  fields: {
    sensorName: { mne: 'sensor_name', offset: 0, type: 'str', length: 32 },
    coeffType: { mne: 'coeff_type', offset: 32, type: 'i32' },
    ncoeff: { mne: 'ncoeff', offset: 40, type: 'i16' },
    sensors: { mne: 'sensors', offset: 42, type: 'str', length: RES4_SENSOR_LABEL, count: RES4_MAX_BALANCING },
    coeffs: { mne: 'coeffs', offset: 1592, type: 'f64', count: RES4_MAX_BALANCING },
  },
} as const satisfies TableOf<Res4Comp, never, 'ncoeff'>;

/** A filter's fixed part; its `npar` float64 parameters follow it directly (filters are packed). */
export const RES4_FILTER = {
  size: 18,
  fields: {
    freqHz: { mne: 'freq', offset: 0, type: 'f64' },
    filterClass: { mne: 'class', offset: 8, type: 'i32' },
    type: { mne: 'type', offset: 12, type: 'i32' },
    npar: { mne: 'npar', offset: 16, type: 'i16' },
  },
} as const satisfies TableOf<Res4Filter, 'params', 'npar'>;

/** The fixed general header; run_desc (`rdlen` bytes) follows it. */
export const RES4_GENERAL = {
  // MNE's CTF.FUNNY_POS: the offset of run_desc.
  size: 1844,
  fields: {
    // The magic, "MEG41RS" or "MEG42RS", in the first 7 of these 8 bytes.
    head: { mne: 'head', offset: 0, type: 'str', length: 8 },
    appName: { mne: 'appname', offset: 8, type: 'str', length: 256 },
    origin: { mne: 'origin', offset: 264, type: 'str', length: 256 },
    description: { mne: 'desc', offset: 520, type: 'str', length: 256 },
    nave: { mne: 'nave', offset: 776, type: 'i16' },
    dataTime: { mne: 'data_time', offset: 778, type: 'str', length: 255 },
    dataDate: { mne: 'data_date', offset: 1033, type: 'str', length: 255 },
    nSamplesPerTrial: { mne: 'nsamp', offset: 1288, type: 'i32' },
    nChannels: { mne: 'nchan', offset: 1292, type: 'i16' },
    sfreqHz: { mne: 'sfreq', offset: 1296, type: 'f64' },
    epochTimeSec: { mne: 'epoch_time', offset: 1304, type: 'f64' },
    nTrials: { mne: 'no_trials', offset: 1312, type: 'i16' },
    preTrigPts: { mne: 'pre_trig_pts', offset: 1316, type: 'i32' },
    nTrialsDone: { mne: 'no_trials_done', offset: 1320, type: 'i16' },
    nTrialsDisplay: { mne: 'no_trials_display', offset: 1322, type: 'i16' },
    saveTrials: { mne: 'save_trials', offset: 1324, type: 'i32' },
    primaryTrigger: { mne: 'primary_trigger', offset: 1328, type: 'u8' },
    secondaryTrigger: { mne: 'secondary_trigger', offset: 1329, type: 'u8', count: 8 },
    triggerPolarityMask: { mne: 'trigger_polarity_mask', offset: 1337, type: 'u8' },
    triggerMode: { mne: 'trigger_mode', offset: 1338, type: 'i16' },
    acceptReject: { mne: 'accept_reject', offset: 1340, type: 'i32' },
    runTimeDisplay: { mne: 'run_time_display', offset: 1344, type: 'i16' },
    zeroHead: { mne: 'zero_head', offset: 1348, type: 'i32' },
    artifactMode: { mne: 'artifact_mode', offset: 1352, type: 'i32' },
    runName: { mne: 'run_name', offset: 1360, type: 'str', length: 32 },
    runTitle: { mne: 'run_title', offset: 1392, type: 'str', length: 256 },
    instruments: { mne: 'instruments', offset: 1648, type: 'str', length: 32 },
    collectDescriptor: { mne: 'collect_descriptor', offset: 1680, type: 'str', length: 32 },
    subjectId: { mne: 'subject_id', offset: 1712, type: 'str', length: 32 },
    operator: { mne: 'operator', offset: 1744, type: 'str', length: 32 },
    sensorFileName: { mne: 'sensor_file_name', offset: 1776, type: 'str', length: 60 },
    rdlen: { mne: 'rdlen', offset: 1836, type: 'i32' },
  },
} as const satisfies TableOf<Res4, 'runDescription' | 'filters' | 'channels' | 'comps' | 'offsets', 'rdlen'>;

/** Offset of run_desc (MNE's CTF.FUNNY_POS): the general header's fixed part ends here. */
export const RES4_FIXED_SIZE = RES4_GENERAL.size;
/** Each channel name: char[32], NUL-terminated. */
export const RES4_NAME_SIZE = 32;
export const RES4_CHANNEL_SIZE = RES4_CHANNEL.size;
export const RES4_COIL_SIZE = RES4_COIL.size;
export const RES4_COMP_SIZE = RES4_COMP.size;

/** Bytes one value of a field takes. */
function valueBytes(f: Res4Field): number {
  return typeof f.type === 'object' ? f.type.size : f.type === 'str' ? f.length! : NUMBER_BYTES[f.type];
}

// ---------------------------------------------------------------------------------------------
// Reading

const latin1 = new TextDecoder('latin1');

/** A bounds-checked big-endian cursor over the file bytes; every read names its field on failure. */
class Res4Cursor {
  private readonly view: DataView;
  private readonly buf: Buffer;
  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(pos: number, n: number, what: string): void {
    if (pos < 0 || pos + n > this.bytes.byteLength) {
      throw new RecordingFormatError(this.file, `byte ${pos}`,
        `expected ${what} (${n} bytes) but the file ends at byte ${this.bytes.byteLength}`);
    }
  }
  number(type: Res4Number, pos: number, what: string): number {
    this.need(pos, NUMBER_BYTES[type], what);
    switch (type) {
      case 'i16': return this.view.getInt16(pos, false);
      case 'i32': return this.view.getInt32(pos, false);
      case 'u8': return this.view.getUint8(pos);
      case 'f64': return this.view.getFloat64(pos, false);
    }
  }
  /** NUL-terminated string in a fixed field, decoded as MNE does (UTF-8). */
  str(pos: number, n: number, what: string): string {
    this.need(pos, n, what);
    let end = pos;
    while (end < pos + n && this.bytes[end] !== 0) end++;
    return this.buf.toString('utf8', pos, end);
  }

  /** One value of field `f` at byte `pos`: a number, a string or a nested record. */
  private value(f: Res4Field, pos: number, what: string | undefined): unknown {
    const label = what ?? f.mne;
    if (typeof f.type === 'object') return this.record(f.type, pos, label);
    return f.type === 'str' ? this.str(pos, f.length!, label) : this.number(f.type, pos, label);
  }

  /** Field `f` of the record at `at`: one value, or `count` of them (fewer when `used` says so). */
  field(f: Res4Field, at: number, what?: string, used?: number): unknown {
    if (f.count === undefined) return this.value(f, at + f.offset, what);
    const step = valueBytes(f);
    const out: unknown[] = [];
    for (let i = 0; i < (used ?? f.count); i++) out.push(this.value(f, at + f.offset + i * step, what));
    return out;
  }

  /**
   * Every field of the record at `at`, in table order (ascending offsets: a truncated record
   * fails at its first missing field). `what` names the record in errors (default: each field's
   * MNE name); `used` gives the used length of variable fields.
   */
  record(rec: Res4Record, at: number, what?: string, used: Readonly<Record<string, number>> = {}): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, f] of Object.entries(rec.fields)) out[key] = this.field(f, at, what, used[key]);
    return out;
  }
}

/** Parses a whole `.res4` file. `file` names it in errors. */
export function parseRes4(bytes: Uint8Array, file: string): Res4 {
  const G = RES4_GENERAL.fields;
  const c = new Res4Cursor(bytes, file);
  c.need(0, RES4_FIXED_SIZE, 'the 1844-byte res4 general header');
  const head = latin1.decode(bytes.subarray(G.head.offset, G.head.offset + 7));
  if (!/^MEG4[12]RS$/.test(head)) {
    throw new RecordingFormatError(file, 'byte 0', `expected the res4 magic "MEG41RS" or "MEG42RS", found ${JSON.stringify(head)}`,
      'this is not a CTF .res4 header');
  }
  // The whole fixed header is there (checked above): read it, then check the counts it holds.
  const general = c.record(RES4_GENERAL, 0) as Omit<Res4, 'head' | 'runDescription' | 'filters' | 'channels' | 'comps' | 'offsets'> & { rdlen: number };
  const { rdlen, nSamplesPerTrial, nChannels, sfreqHz } = general;
  // As MNE: some writers swap date and time.
  if (general.dataTime.includes('/') && general.dataDate.includes(':')) [general.dataTime, general.dataDate] = [general.dataDate, general.dataTime];

  if (nSamplesPerTrial <= 0) {
    throw new RecordingFormatError(file, `byte ${G.nSamplesPerTrial.offset}`, `expected a positive number of samples per trial, found ${nSamplesPerTrial}`);
  }
  if (nChannels <= 0 || nChannels > MAX_CHANNELS) {
    throw new RecordingFormatError(file, `byte ${G.nChannels.offset}`, `expected a channel count in 1…${MAX_CHANNELS}, found ${nChannels}`);
  }
  if (!Number.isFinite(sfreqHz) || sfreqHz <= 0 || sfreqHz > 1e6) {
    throw new RecordingFormatError(file, `byte ${G.sfreqHz.offset}`, `expected a sampling rate in (0, 1e6] Hz, found ${sfreqHz}`);
  }
  if (rdlen < 0 || RES4_FIXED_SIZE + rdlen > bytes.byteLength) {
    throw new RecordingFormatError(file, `byte ${G.rdlen.offset}`,
      `expected a run description length in 0…${bytes.byteLength - RES4_FIXED_SIZE}, found ${rdlen}`);
  }
  const runDescription = rdlen > 0 ? c.str(RES4_FIXED_SIZE, rdlen, 'run_desc') : '';

  let pos = RES4_FIXED_SIZE + rdlen;
  const filtersAt = pos;
  const nFilters = c.number('i16', pos, 'nfilt');
  if (nFilters < 0) throw new RecordingFormatError(file, `byte ${pos}`, `expected a non-negative filter count, found ${nFilters}`);
  pos += 2;
  const filters: Res4Filter[] = [];
  for (let k = 0; k < nFilters; k++) {
    const what = `filter ${k}`;
    const { npar, ...fixed } = c.record(RES4_FILTER, pos, what) as Omit<Res4Filter, 'params'> & { npar: number };
    if (npar < 0) throw new RecordingFormatError(file, `byte ${pos + RES4_FILTER.fields.npar.offset}`, `expected a non-negative parameter count for ${what}, found ${npar}`);
    pos += RES4_FILTER.size;
    c.need(pos, npar * 8, `${npar} parameters of ${what}`);
    const params: number[] = [];
    for (let p = 0; p < npar; p++) params.push(c.number('f64', pos + 8 * p, what));
    pos += npar * 8;
    filters.push({ ...fixed, params });
  }

  const namesAt = pos;
  c.need(pos, nChannels * RES4_NAME_SIZE, `${nChannels} channel names`);
  const names: string[] = [];
  for (let k = 0; k < nChannels; k++) names.push(c.str(pos + k * RES4_NAME_SIZE, RES4_NAME_SIZE, `channel name ${k}`));
  pos += nChannels * RES4_NAME_SIZE;

  const channelsAt = pos;
  c.need(pos, nChannels * RES4_CHANNEL_SIZE, `${nChannels} channel records of ${RES4_CHANNEL_SIZE} bytes`);
  const channels: Res4Channel[] = [];
  for (let k = 0; k < nChannels; k++) {
    const record = c.record(RES4_CHANNEL, pos + k * RES4_CHANNEL_SIZE, `channel record ${k} (${names[k]})`) as Omit<Res4Channel, 'name'>;
    channels.push({ name: names[k]!, ...record });
  }
  pos += nChannels * RES4_CHANNEL_SIZE;

  const compsAt = pos;
  const nComps = c.number('i16', pos, 'ncomp');
  pos += 2;
  const compBytes = nComps * RES4_COMP_SIZE;
  if (nComps < 0 || pos + compBytes !== bytes.byteLength) {
    throw new RecordingFormatError(file, `byte ${compsAt}`,
      `expected the compensation count (${nComps} × ${RES4_COMP_SIZE} bytes) to end the file at byte ${bytes.byteLength}` +
      ` (${Math.floor((bytes.byteLength - pos) / RES4_COMP_SIZE)} records fit)`);
  }
  const comps: Res4Comp[] = [];
  for (let k = 0; k < nComps; k++) {
    const at = pos + k * RES4_COMP_SIZE;
    const what = `compensation record ${k}`;
    const ncoeff = c.field(RES4_COMP.fields.ncoeff, at, what) as number;
    if (ncoeff < 0 || ncoeff > RES4_MAX_BALANCING) {
      throw new RecordingFormatError(file, `byte ${at + RES4_COMP.fields.ncoeff.offset}`, `expected a coefficient count in 0…${RES4_MAX_BALANCING} in ${what}, found ${ncoeff}`);
    }
    const { ncoeff: _used, ...comp } = c.record(RES4_COMP, at, what, { sensors: ncoeff, coeffs: ncoeff }) as unknown as Res4Comp & { ncoeff: number };
    comps.push(comp);
  }
  pos += compBytes;

  // `head` as checked above (the table's 8-byte string may run past the 7-byte magic).
  const { rdlen: _rdlen, head: _head, ...fixed } = general as typeof general & { head: string };
  return {
    head,
    ...fixed,
    runDescription,
    filters,
    channels,
    comps,
    offsets: { filters: filtersAt, names: namesAt, channels: channelsAt, comps: compsAt, end: pos },
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

/** What encodeRes4 needs: a Res4 without the offsets it computes itself. */
export type Res4Fields = Omit<Res4, 'offsets'>;

/** A big-endian writer into a zeroed buffer, driven by the same tables. */
class Res4Writer {
  constructor(readonly b: Buffer) {}
  number(type: Res4Number, pos: number, v: number): void {
    switch (type) {
      case 'i16': this.b.writeInt16BE(v, pos); break;
      case 'i32': this.b.writeInt32BE(v, pos); break;
      case 'u8': this.b.writeUInt8(v, pos); break;
      case 'f64': this.b.writeDoubleBE(v, pos); break;
    }
  }
  str(pos: number, n: number, s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length >= n) throw new RangeError(`res4 string field of ${n} bytes cannot hold ${JSON.stringify(s)}`);
    bytes.copy(this.b, pos);
  }
  private value(f: Res4Field, pos: number, v: unknown): void {
    if (typeof f.type === 'object') this.record(f.type, pos, v as object);
    else if (f.type === 'str') this.str(pos, f.length!, v as string);
    else this.number(f.type, pos, v as number);
  }
  /** Field `f` of the record at `at`; an array field takes up to `count` values (unused slots stay zero). */
  field(f: Res4Field, at: number, key: string, v: unknown): void {
    if (f.count === undefined) {
      this.value(f, at + f.offset, v);
      return;
    }
    const values = v as readonly unknown[];
    if (values.length > f.count) throw new RangeError(`res4 field ${f.mne} holds at most ${f.count} values, got ${values.length} for ${key}`);
    const step = valueBytes(f);
    values.forEach((x, i) => this.value(f, at + f.offset + i * step, x));
  }
  /** Every field of `rec` at `at`, from the same-named properties of `values`. */
  record(rec: Res4Record, at: number, values: object): void {
    for (const [key, f] of Object.entries(rec.fields)) this.field(f, at, key, (values as Record<string, unknown>)[key]);
  }
}

/** Writes a Res4 in the layout parseRes4 reads (padding bytes zero). */
export function encodeRes4(r: Res4Fields): Buffer {
  const runDesc = Buffer.from(r.runDescription, 'utf8');
  let size = RES4_FIXED_SIZE + runDesc.length + 2;
  for (const f of r.filters) size += RES4_FILTER.size + 8 * f.params.length;
  size += r.channels.length * (RES4_NAME_SIZE + RES4_CHANNEL_SIZE) + 2 + r.comps.length * RES4_COMP_SIZE;
  const w = new Res4Writer(Buffer.alloc(size));
  // The counts come from the arrays they count, never from fields that could disagree with them.
  w.record(RES4_GENERAL, 0, { ...r, nChannels: r.channels.length, rdlen: runDesc.length });
  runDesc.copy(w.b, RES4_FIXED_SIZE);
  let pos = RES4_FIXED_SIZE + runDesc.length;
  w.number('i16', pos, r.filters.length);
  pos += 2;
  for (const f of r.filters) {
    w.record(RES4_FILTER, pos, { ...f, npar: f.params.length });
    pos += RES4_FILTER.size;
    for (const p of f.params) { w.number('f64', pos, p); pos += 8; }
  }
  for (const ch of r.channels) { w.str(pos, RES4_NAME_SIZE, ch.name); pos += RES4_NAME_SIZE; }
  for (const ch of r.channels) {
    w.record(RES4_CHANNEL, pos, ch);
    pos += RES4_CHANNEL_SIZE;
  }
  w.number('i16', pos, r.comps.length);
  pos += 2;
  for (const k of r.comps) {
    w.record(RES4_COMP, pos, { ...k, ncoeff: k.sensors.length });
    pos += RES4_COMP_SIZE;
  }
  return w.b;
}
