/**
 * The measurement info of a FIF file (block FIFFB_MEAS_INFO) as MNE's `read_meas_info` reads the
 * parts a raw reader needs: nchan, sfreq, meas date, filters, line frequency, channel records
 * (FIFF_CH_INFO, 96 bytes each, plus the FIFFB_CH_INFO blocks that carry names longer than 15
 * characters) and bad channels; and the annotations block (FIFFB_MNE_ANNOTATIONS).
 *
 * Owns: decoding of those tags and MNE's channel-type rules. Must not: read data buffers.
 */
import type { RawChannel, RawChannelType } from '../rawRecording.js';
import { CHANNEL_KIND_TYPE, DATE_NONE, FIFF, FIFFB, FIFFT, UNIT_NAME } from './fifConstants.js';
import type { FifFile, TagEntry } from './fifFile.js';
import { findBlocks, findTag, type FifNode } from './fifTree.js';

/** One FIFF_CH_INFO record, as stored. */
export interface FifChannelRecord {
  scanno: number;
  logno: number;
  kind: number;
  range: number;
  cal: number;
  coilType: number;
  /** r0, ex, ey, ez (12 float32 values). */
  loc: number[];
  unit: number;
  unitMul: number;
  name: string;
}

export interface FifMeasInfo {
  nchan: number;
  sfreqHz: number;
  /** [secs, usecs] UTC, or null. */
  measDate: [number, number] | null;
  lowpassHz: number;
  highpassHz: number;
  lineFreqHz: number | null;
  dataPack: number | null;
  records: FifChannelRecord[];
  bads: string[];
}

export interface FifAnnotation {
  onsetSec: number;
  durationSec: number;
  description: string;
  chNames: string[];
}

export interface FifAnnotations {
  items: FifAnnotation[];
  /** [secs, usecs] the onsets count from, or null (then from absolute sample 0, like first_samp). */
  origTime: [number, number] | null;
}

const utf8 = new TextDecoder('utf-8');

export async function readChannelRecord(file: FifFile, e: TagEntry): Promise<FifChannelRecord> {
  const b = await file.payload(e, [FIFFT.CH_INFO_STRUCT], 96, 'channel record (FIFF_CH_INFO)');
  const loc: number[] = [];
  for (let i = 0; i < 12; i++) loc.push(b.readFloatBE(24 + 4 * i));
  const nameBytes = b.subarray(80, 96);
  const nul = nameBytes.indexOf(0);
  const name = utf8.decode(nul >= 0 ? nameBytes.subarray(0, nul) : nameBytes);
  return {
    scanno: b.readInt32BE(0),
    logno: b.readInt32BE(4),
    kind: b.readInt32BE(8),
    range: b.readFloatBE(12),
    cal: b.readFloatBE(16),
    coilType: b.readInt32BE(20),
    loc,
    unit: b.readInt32BE(72),
    unitMul: b.readInt32BE(76),
    name,
  };
}

async function readId(file: FifFile, e: TagEntry | undefined): Promise<[number, number] | null> {
  if (!e) return null;
  const b = await file.payload(e, [FIFFT.ID_STRUCT], 20, 'id struct');
  return [b.readInt32BE(12), b.readInt32BE(16)];
}

function dateOrNull(d: [number, number] | null): [number, number] | null {
  if (!d) return null;
  return d[0] === DATE_NONE[0] && d[1] === DATE_NONE[1] ? null : d;
}

export async function readMeasInfo(file: FifFile, tree: FifNode): Promise<{ info: FifMeasInfo; meas: FifNode }> {
  const meas = findBlocks(tree, FIFFB.MEAS)[0];
  if (!meas) throw file.error(0, null, 'a measurement block (FIFFB_MEAS 100)', 'this FIF holds no measurement (a forward solution, epochs…?)');
  const mi = findBlocks(meas, FIFFB.MEAS_INFO)[0];
  if (!mi) throw file.error(meas.pos, FIFF.BLOCK_START, 'a measurement-info block (FIFFB_MEAS_INFO 101) inside FIFFB_MEAS');
  let nchan: number | null = null;
  let sfreq: number | null = null;
  let measDate: [number, number] | null = null;
  let lowpass: number | null = null;
  let highpass: number | null = null;
  let lineFreq: number | null = null;
  let dataPack: number | null = null;
  const records: FifChannelRecord[] = [];
  for (const e of mi.entries) {
    switch (e.kind) {
      case FIFF.NCHAN: nchan = await file.readInt(e, 'number of channels'); break;
      case FIFF.SFREQ: sfreq = await file.readFloat(e, 'sampling frequency'); break;
      case FIFF.CH_INFO: records.push(await readChannelRecord(file, e)); break;
      case FIFF.LOWPASS: { const v = await file.readFloat(e, 'lowpass'); if (!Number.isNaN(v)) lowpass = v; break; }
      case FIFF.HIGHPASS: { const v = await file.readFloat(e, 'highpass'); if (!Number.isNaN(v)) highpass = v; break; }
      case FIFF.MEAS_DATE: {
        const v = await file.readInts(e, 'measurement date');
        measDate = [v[0], v.length > 1 ? v[1] : 0];
        break;
      }
      case FIFF.LINE_FREQ: lineFreq = await file.readFloat(e, 'line frequency'); break;
      case FIFF.DATA_PACK: dataPack = await file.readInt(e, 'data pack'); break;
      default: break;
    }
  }
  if (nchan === null) throw file.error(mi.pos, FIFF.BLOCK_START, 'FIFF_NCHAN (200) in the measurement info');
  if (sfreq === null) throw file.error(mi.pos, FIFF.BLOCK_START, 'FIFF_SFREQ (201) in the measurement info');
  if (!(nchan > 0) || nchan > 100000) throw file.error(mi.pos, FIFF.NCHAN, `a channel count between 1 and 100000, found ${nchan}`);
  if (!(sfreq > 0) || !Number.isFinite(sfreq)) throw file.error(mi.pos, FIFF.SFREQ, `a positive sampling frequency, found ${sfreq}`);
  if (records.length !== nchan) throw file.error(mi.pos, FIFF.CH_INFO, `${nchan} channel records (FIFF_NCHAN), found ${records.length}`);

  // Names longer than 15 characters live in FIFFB_CH_INFO blocks, one per channel in order (MNE >= 0.24).
  const rename = new Map<string, string>();
  const ext = findBlocks(mi, FIFFB.CH_INFO);
  if (ext.length > 0) {
    if (ext.length !== nchan) throw file.error(ext[0].pos, FIFF.BLOCK_START, `${nchan} extended channel-info blocks (113), found ${ext.length}`);
    for (let i = 0; i < nchan; i++) {
      const t = findTag(ext[i], FIFF.CH_DACQ_NAME);
      if (!t) continue;
      const long = await file.readString(t, 'channel name (FIFF_CH_DACQ_NAME)');
      rename.set(records[i].name, long);
      records[i].name = long;
    }
  }
  const names = new Set(records.map((r) => r.name));
  let bads: string[] = [];
  for (const node of findBlocks(mi, FIFFB.MNE_BAD_CHANNELS)) {
    const t = findTag(node, FIFF.MNE_CH_NAME_LIST);
    if (t) {
      const s = await file.readString(t, 'bad channel list');
      bads = s.length ? s.split(':') : [];
    }
  }
  // clean_bads=True as read_raw_fif: renamed, and only names that exist.
  bads = bads.map((b) => rename.get(b) ?? b).filter((b) => names.has(b));

  if (!measDate) {
    // MNE's fallback: the measurement id (meas-info parent/own id, then meas block ids, then file id).
    measDate = (await readId(file, findTag(mi, FIFF.PARENT_BLOCK_ID)))
      ?? (await readId(file, findTag(mi, FIFF.BLOCK_ID)))
      ?? (await readId(file, findTag(meas, FIFF.BLOCK_ID)))
      ?? (await readId(file, findTag(meas, FIFF.PARENT_BLOCK_ID)))
      ?? (await readId(file, findTag(tree, FIFF.FILE_ID)));
  }
  return {
    meas,
    info: {
      nchan,
      sfreqHz: sfreq,
      measDate: dateOrNull(measDate),
      lowpassHz: lowpass ?? sfreq / 2,
      highpassHz: highpass ?? 0,
      lineFreqHz: lineFreq,
      dataPack,
      records,
      bads,
    },
  };
}

/** MNE's channel type of a record (mne.io.pick.channel_type), mapped onto RawChannelType. */
export function mneChannelType(r: FifChannelRecord): { type: RawChannelType; mneType: string } {
  const first = CHANNEL_KIND_TYPE[r.kind];
  if (first === undefined) return { type: 'misc', mneType: `unknown kind ${r.kind}` };
  if (first === 'meg') {
    if (r.unit === 201) return { type: 'grad', mneType: 'grad' };
    if (r.unit === 112) return { type: 'mag', mneType: 'mag' };
    return { type: 'misc', mneType: `meg with unit ${r.unit}` };
  }
  if (first === 'eeg') {
    if (r.coilType === 6) return { type: 'misc', mneType: 'csd' };
    return { type: 'eeg', mneType: 'eeg' };
  }
  const known: readonly string[] = ['ref_meg', 'stim', 'eog', 'emg', 'ecg', 'resp', 'misc', 'exci', 'ias', 'syst', 'seeg', 'dbs', 'bio', 'chpi', 'dipole', 'gof', 'ecog'];
  return known.includes(first) ? { type: first as RawChannelType, mneType: first } : { type: 'misc', mneType: first };
}

/** The contract's channel: SI factor = range × cal in float64, as MNE's `raw._cals`. */
export function toRawChannel(r: FifChannelRecord): RawChannel {
  const { type, mneType } = mneChannelType(r);
  return {
    name: r.name,
    type,
    unit: UNIT_NAME[r.unit] ?? `FIFF unit ${r.unit}`,
    cal: r.range * r.cal,
    extra: {
      kind: r.kind,
      coilType: r.coilType,
      range: r.range,
      recordCal: r.cal,
      logno: r.logno,
      scanno: r.scanno,
      unitCode: r.unit,
      unitMul: r.unitMul,
      mneType,
      loc: r.loc,
    },
  };
}

/** MNE's isoformat of a (secs, usecs) stamp: 2015-04-20T22:28:56.872779+00:00. */
export function stampToIso(d: [number, number]): string {
  const ms = d[0] * 1000;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return `invalid date (${d[0]} s)`;
  const base = date.toISOString().slice(0, 19);
  const us = d[1] !== 0 ? '.' + String(d[1]).padStart(6, '0') : '';
  return `${base}${us}+00:00`;
}

export async function readAnnotations(file: FifFile, tree: FifNode): Promise<FifAnnotations | null> {
  const node = findBlocks(tree, FIFFB.MNE_ANNOTATIONS)[0];
  if (!node) return null;
  let onset: number[] = [];
  let ends: number[] = [];
  let desc: string[] = [];
  let origTime: [number, number] | null = null;
  let chNames: string[][] | null = null;
  for (const e of node.entries) {
    if (e.kind === FIFF.MNE_BASELINE_MIN) onset = await file.readFloats(e, 'annotation onsets', 0);
    else if (e.kind === FIFF.MNE_BASELINE_MAX) ends = await file.readFloats(e, 'annotation ends', 0);
    else if (e.kind === FIFF.COMMENT) {
      const s = await file.readString(e, 'annotation descriptions');
      desc = s.length ? s.split(':').map((v) => v.replaceAll('{COLON}', ':')) : [];
    } else if (e.kind === FIFF.MEAS_DATE) {
      const v = e.type === FIFFT.INT ? await file.readInts(e, 'annotation orig_time') : await file.readFloats(e, 'annotation orig_time');
      if (v.length >= 2) origTime = [v[0], v[1]];
      else {
        // old way: one float of seconds
        const s = Math.floor(v[0]);
        origTime = [s, Math.round((v[0] - s) * 1e6)];
      }
    } else if (e.kind === FIFF.MNE_EPOCHS_DROP_LOG) {
      const s = await file.readString(e, 'annotation channel names');
      try {
        const parsed = JSON.parse(s) as unknown;
        if (Array.isArray(parsed)) chNames = parsed.map((x) => (Array.isArray(x) ? x.map(String) : []));
      } catch {
        throw file.error(e.pos, e.kind, 'annotation channel names as JSON');
      }
    }
  }
  if (onset.length !== ends.length || onset.length !== desc.length) {
    throw file.error(node.pos, FIFF.BLOCK_START, `as many annotation onsets, ends and descriptions, found ${onset.length}, ${ends.length}, ${desc.length}`);
  }
  return {
    origTime: dateOrNull(origTime),
    items: onset.map((o, i) => ({ onsetSec: o, durationSec: ends[i] - o, description: desc[i], chNames: chNames?.[i] ?? [] })),
  };
}
