/**
 * The CTF `.res4` header, byte for byte, in both directions: `parseRes4` turns the file's bytes
 * into a `Res4` (every field MNE-Python's `_read_res4` reads, at the same offsets, with the same
 * alignment), and `encodeRes4` writes a `Res4` back in the same layout (for ctfWriter).
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

/** Offset of run_desc (MNE's CTF.FUNNY_POS): the general header's fixed part ends here. */
export const RES4_FIXED_SIZE = 1844;
export const RES4_NAME_SIZE = 32;
export const RES4_CHANNEL_SIZE = 1328;
export const RES4_COIL_SIZE = 80;
export const RES4_MAX_COILS = 8;
export const RES4_COMP_SIZE = 1992;
export const RES4_MAX_BALANCING = 50;
export const RES4_SENSOR_LABEL = 31;

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

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A bounds-checked big-endian cursor over the file bytes; every read names its field on failure. */
class Res4Cursor {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(pos: number, n: number, what: string): void {
    if (pos < 0 || pos + n > this.bytes.byteLength) {
      throw new RecordingFormatError(this.file, `byte ${pos}`,
        `expected ${what} (${n} bytes) but the file ends at byte ${this.bytes.byteLength}`);
    }
  }
  i16(pos: number, what: string): number { this.need(pos, 2, what); return this.view.getInt16(pos, false); }
  i32(pos: number, what: string): number { this.need(pos, 4, what); return this.view.getInt32(pos, false); }
  u8(pos: number, what: string): number { this.need(pos, 1, what); return this.view.getUint8(pos); }
  f64(pos: number, what: string): number { this.need(pos, 8, what); return this.view.getFloat64(pos, false); }
  /** NUL-terminated string in a fixed field, decoded as MNE does (UTF-8). */
  str(pos: number, n: number, what: string): string {
    this.need(pos, n, what);
    const field = this.bytes.subarray(pos, pos + n);
    const nul = field.indexOf(0);
    return utf8.decode(nul < 0 ? field : field.subarray(0, nul));
  }
}

function readCoil(c: Res4Cursor, pos: number, what: string): Res4Coil {
  return {
    posCm: [c.f64(pos, what), c.f64(pos + 8, what), c.f64(pos + 16, what)],
    norm: [c.f64(pos + 32, what), c.f64(pos + 40, what), c.f64(pos + 48, what)],
    turns: c.i16(pos + 64, what),
    areaCm2: c.f64(pos + 72, what),
  };
}

/** Parses a whole `.res4` file. `file` names it in errors. */
export function parseRes4(bytes: Uint8Array, file: string): Res4 {
  const c = new Res4Cursor(bytes, file);
  c.need(0, RES4_FIXED_SIZE, 'the 1844-byte res4 general header');
  const head = latin1.decode(bytes.subarray(0, 7));
  if (!/^MEG4[12]RS$/.test(head)) {
    throw new RecordingFormatError(file, 'byte 0', `expected the res4 magic "MEG41RS" or "MEG42RS", found ${JSON.stringify(head)}`,
      'this is not a CTF .res4 header');
  }
  let dataTime = c.str(778, 255, 'data_time');
  let dataDate = c.str(1033, 255, 'data_date');
  // As MNE: some writers swap date and time.
  if (dataTime.includes('/') && dataDate.includes(':')) [dataTime, dataDate] = [dataDate, dataTime];

  const nSamplesPerTrial = c.i32(1288, 'nsamp');
  if (nSamplesPerTrial <= 0) {
    throw new RecordingFormatError(file, 'byte 1288', `expected a positive number of samples per trial, found ${nSamplesPerTrial}`);
  }
  const nChannels = c.i16(1292, 'nchan');
  if (nChannels <= 0 || nChannels > MAX_CHANNELS) {
    throw new RecordingFormatError(file, 'byte 1292', `expected a channel count in 1…${MAX_CHANNELS}, found ${nChannels}`);
  }
  const sfreqHz = c.f64(1296, 'sfreq');
  if (!Number.isFinite(sfreqHz) || sfreqHz <= 0 || sfreqHz > 1e6) {
    throw new RecordingFormatError(file, 'byte 1296', `expected a sampling rate in (0, 1e6] Hz, found ${sfreqHz}`);
  }
  const rdlen = c.i32(1836, 'rdlen');
  if (rdlen < 0 || RES4_FIXED_SIZE + rdlen > bytes.byteLength) {
    throw new RecordingFormatError(file, 'byte 1836',
      `expected a run description length in 0…${bytes.byteLength - RES4_FIXED_SIZE}, found ${rdlen}`);
  }
  const runDescription = rdlen > 0 ? c.str(RES4_FIXED_SIZE, rdlen, 'run_desc') : '';

  let pos = RES4_FIXED_SIZE + rdlen;
  const filtersAt = pos;
  const nFilters = c.i16(pos, 'nfilt');
  if (nFilters < 0) throw new RecordingFormatError(file, `byte ${pos}`, `expected a non-negative filter count, found ${nFilters}`);
  pos += 2;
  const filters: Res4Filter[] = [];
  for (let k = 0; k < nFilters; k++) {
    const what = `filter ${k}`;
    const freqHz = c.f64(pos, what);
    const filterClass = c.i32(pos + 8, what);
    const type = c.i32(pos + 12, what);
    const npar = c.i16(pos + 16, what);
    if (npar < 0) throw new RecordingFormatError(file, `byte ${pos + 16}`, `expected a non-negative parameter count for ${what}, found ${npar}`);
    pos += 18;
    c.need(pos, npar * 8, `${npar} parameters of ${what}`);
    const params: number[] = [];
    for (let p = 0; p < npar; p++) params.push(c.f64(pos + 8 * p, what));
    pos += npar * 8;
    filters.push({ freqHz, filterClass, type, params });
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
    const at = pos + k * RES4_CHANNEL_SIZE;
    const what = `channel record ${k} (${names[k]})`;
    const coils: Res4Coil[] = [];
    const headCoils: Res4Coil[] = [];
    for (let j = 0; j < RES4_MAX_COILS; j++) {
      coils.push(readCoil(c, at + 48 + j * RES4_COIL_SIZE, what));
      headCoils.push(readCoil(c, at + 688 + j * RES4_COIL_SIZE, what));
    }
    channels.push({
      name: names[k]!,
      sensorTypeIndex: c.i16(at, what),
      originalRunNo: c.i16(at + 2, what),
      coilType: c.i32(at + 4, what),
      properGain: c.f64(at + 8, what),
      qgain: c.f64(at + 16, what),
      ioGain: c.f64(at + 24, what),
      ioOffset: c.f64(at + 32, what),
      numCoils: c.i16(at + 40, what),
      gradOrderNo: c.i16(at + 42, what),
      coils,
      headCoils,
    });
  }
  pos += nChannels * RES4_CHANNEL_SIZE;

  const compsAt = pos;
  const nComps = c.i16(pos, 'ncomp');
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
    const ncoeff = c.i16(at + 40, what);
    if (ncoeff < 0 || ncoeff > RES4_MAX_BALANCING) {
      throw new RecordingFormatError(file, `byte ${at + 40}`, `expected a coefficient count in 0…${RES4_MAX_BALANCING} in ${what}, found ${ncoeff}`);
    }
    const sensors: string[] = [];
    const coeffs: number[] = [];
    for (let j = 0; j < ncoeff; j++) {
      sensors.push(c.str(at + 42 + j * RES4_SENSOR_LABEL, RES4_SENSOR_LABEL, what));
      coeffs.push(c.f64(at + 1592 + j * 8, what));
    }
    comps.push({ sensorName: c.str(at, 32, what), coeffType: c.i32(at + 32, what), sensors, coeffs });
  }
  pos += compBytes;

  const secondaryTrigger: number[] = [];
  for (let k = 0; k < 8; k++) secondaryTrigger.push(c.u8(1329 + k, 'secondary_trigger'));
  return {
    head,
    appName: c.str(8, 256, 'appname'),
    origin: c.str(264, 256, 'origin'),
    description: c.str(520, 256, 'desc'),
    nave: c.i16(776, 'nave'),
    dataTime,
    dataDate,
    nSamplesPerTrial,
    nChannels,
    sfreqHz,
    epochTimeSec: c.f64(1304, 'epoch_time'),
    nTrials: c.i16(1312, 'no_trials'),
    preTrigPts: c.i32(1316, 'pre_trig_pts'),
    nTrialsDone: c.i16(1320, 'no_trials_done'),
    nTrialsDisplay: c.i16(1322, 'no_trials_display'),
    saveTrials: c.i32(1324, 'save_trials'),
    primaryTrigger: c.u8(1328, 'primary_trigger'),
    secondaryTrigger,
    triggerPolarityMask: c.u8(1337, 'trigger_polarity_mask'),
    triggerMode: c.i16(1338, 'trigger_mode'),
    acceptReject: c.i32(1340, 'accept_reject'),
    runTimeDisplay: c.i16(1344, 'run_time_display'),
    zeroHead: c.i32(1348, 'zero_head'),
    artifactMode: c.i32(1352, 'artifact_mode'),
    runName: c.str(1360, 32, 'run_name'),
    runTitle: c.str(1392, 256, 'run_title'),
    instruments: c.str(1648, 32, 'instruments'),
    collectDescriptor: c.str(1680, 32, 'collect_descriptor'),
    subjectId: c.str(1712, 32, 'subject_id'),
    operator: c.str(1744, 32, 'operator'),
    sensorFileName: c.str(1776, 60, 'sensor_file_name'),
    runDescription,
    filters,
    channels,
    comps,
    offsets: { filters: filtersAt, names: namesAt, channels: channelsAt, comps: compsAt, end: pos },
  };
}

/** What encodeRes4 needs: a Res4 without the offsets it computes itself. */
export type Res4Fields = Omit<Res4, 'offsets'>;

/** Writes a Res4 in the layout parseRes4 reads (padding bytes zero). */
export function encodeRes4(r: Res4Fields): Buffer {
  const runDesc = Buffer.from(r.runDescription, 'utf8');
  let size = RES4_FIXED_SIZE + runDesc.length + 2;
  for (const f of r.filters) size += 18 + 8 * f.params.length;
  size += r.channels.length * (RES4_NAME_SIZE + RES4_CHANNEL_SIZE) + 2 + r.comps.length * RES4_COMP_SIZE;
  const b = Buffer.alloc(size);
  const str = (pos: number, n: number, s: string): void => {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length >= n) throw new RangeError(`res4 string field of ${n} bytes cannot hold ${JSON.stringify(s)}`);
    bytes.copy(b, pos);
  };
  str(0, 8, r.head);
  str(8, 256, r.appName);
  str(264, 256, r.origin);
  str(520, 256, r.description);
  b.writeInt16BE(r.nave, 776);
  str(778, 255, r.dataTime);
  str(1033, 255, r.dataDate);
  b.writeInt32BE(r.nSamplesPerTrial, 1288);
  b.writeInt16BE(r.channels.length, 1292);
  b.writeDoubleBE(r.sfreqHz, 1296);
  b.writeDoubleBE(r.epochTimeSec, 1304);
  b.writeInt16BE(r.nTrials, 1312);
  b.writeInt32BE(r.preTrigPts, 1316);
  b.writeInt16BE(r.nTrialsDone, 1320);
  b.writeInt16BE(r.nTrialsDisplay, 1322);
  b.writeInt32BE(r.saveTrials, 1324);
  b.writeUInt8(r.primaryTrigger, 1328);
  r.secondaryTrigger.slice(0, 8).forEach((v, k) => b.writeUInt8(v, 1329 + k));
  b.writeUInt8(r.triggerPolarityMask, 1337);
  b.writeInt16BE(r.triggerMode, 1338);
  b.writeInt32BE(r.acceptReject, 1340);
  b.writeInt16BE(r.runTimeDisplay, 1344);
  b.writeInt32BE(r.zeroHead, 1348);
  b.writeInt32BE(r.artifactMode, 1352);
  str(1360, 32, r.runName);
  str(1392, 256, r.runTitle);
  str(1648, 32, r.instruments);
  str(1680, 32, r.collectDescriptor);
  str(1712, 32, r.subjectId);
  str(1744, 32, r.operator);
  str(1776, 60, r.sensorFileName);
  b.writeInt32BE(runDesc.length, 1836);
  runDesc.copy(b, RES4_FIXED_SIZE);
  let pos = RES4_FIXED_SIZE + runDesc.length;
  b.writeInt16BE(r.filters.length, pos);
  pos += 2;
  for (const f of r.filters) {
    b.writeDoubleBE(f.freqHz, pos);
    b.writeInt32BE(f.filterClass, pos + 8);
    b.writeInt32BE(f.type, pos + 12);
    b.writeInt16BE(f.params.length, pos + 16);
    pos += 18;
    for (const p of f.params) { b.writeDoubleBE(p, pos); pos += 8; }
  }
  for (const ch of r.channels) { str(pos, RES4_NAME_SIZE, ch.name); pos += RES4_NAME_SIZE; }
  const coil = (at: number, k: Res4Coil): void => {
    k.posCm.forEach((v, j) => b.writeDoubleBE(v, at + 8 * j));
    k.norm.forEach((v, j) => b.writeDoubleBE(v, at + 32 + 8 * j));
    b.writeInt16BE(k.turns, at + 64);
    b.writeDoubleBE(k.areaCm2, at + 72);
  };
  for (const ch of r.channels) {
    b.writeInt16BE(ch.sensorTypeIndex, pos);
    b.writeInt16BE(ch.originalRunNo, pos + 2);
    b.writeInt32BE(ch.coilType, pos + 4);
    b.writeDoubleBE(ch.properGain, pos + 8);
    b.writeDoubleBE(ch.qgain, pos + 16);
    b.writeDoubleBE(ch.ioGain, pos + 24);
    b.writeDoubleBE(ch.ioOffset, pos + 32);
    b.writeInt16BE(ch.numCoils, pos + 40);
    b.writeInt16BE(ch.gradOrderNo, pos + 42);
    ch.coils.slice(0, RES4_MAX_COILS).forEach((k, j) => coil(pos + 48 + j * RES4_COIL_SIZE, k));
    ch.headCoils.slice(0, RES4_MAX_COILS).forEach((k, j) => coil(pos + 688 + j * RES4_COIL_SIZE, k));
    pos += RES4_CHANNEL_SIZE;
  }
  b.writeInt16BE(r.comps.length, pos);
  pos += 2;
  for (const k of r.comps) {
    str(pos, 32, k.sensorName);
    b.writeInt32BE(k.coeffType, pos + 32);
    b.writeInt16BE(k.sensors.length, pos + 40);
    k.sensors.forEach((s, j) => str(pos + 42 + j * RES4_SENSOR_LABEL, RES4_SENSOR_LABEL, s));
    k.coeffs.forEach((v, j) => b.writeDoubleBE(v, pos + 1592 + j * 8));
    pos += RES4_COMP_SIZE;
  }
  return b;
}
