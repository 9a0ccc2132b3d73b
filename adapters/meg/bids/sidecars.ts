/**
 * The BIDS sidecars next to a MEG recording: `*_channels.tsv` (types, bads), `*_meg.json`
 * (sampling rate, line frequency, …), `*_scans.tsv` (acquisition times), `participants.tsv`.
 * JSON and TSV are read with UTF-8 byte-order-mark and CRLF tolerance.
 *
 * Owns: turning sidecar text into typed values. Must not: open recordings.
 */
import fs from 'node:fs';
import type { RawChannelType } from '../rawRecording.js';
import { BidsFormatError, columnIndex, NA, parseTsv, requireColumn, stripBom, type TsvOptions, type TsvTable } from './tsv.js';

/** Reads and parses a TSV file. */
export function readTsv(file: string, o: TsvOptions = {}): TsvTable {
  return parseTsv(readText(file), file, o);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new BidsFormatError(file, null, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the path and permissions');
  }
}

/** Parses a JSON sidecar (BOM tolerated); a syntax error names the file, line and column. */
export function parseJsonSidecar(raw: string, file: string): Record<string, unknown> {
  const { text } = stripBom(raw);
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BidsFormatError(file, null, 'top level is not a JSON object', 'a BIDS sidecar is one JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    if (e instanceof BidsFormatError) throw e;
    const m = /position (\d+)/.exec((e as Error).message);
    let line: number | null = null;
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      line = before.split('\n').length;
      where = ` (column ${pos - before.lastIndexOf('\n')})`;
    }
    throw new BidsFormatError(file, line, `invalid JSON${where}: ${(e as Error).message}`, 'fix the JSON syntax');
  }
}

export function readJsonSidecar(file: string): Record<string, unknown> {
  return parseJsonSidecar(readText(file), file);
}

/** The fields of `*_meg.json` lockstep uses (all others are kept in `raw`). */
export interface MegJson {
  samplingFrequencyHz: number | null;
  powerLineFrequencyHz: number | null;
  manufacturer: string | null;
  taskName: string | null;
  recordingDurationSec: number | null;
  megChannelCount: number | null;
  dewarPosition: string | null;
  raw: Record<string, unknown>;
}

export function megJsonOf(raw: Record<string, unknown>, file: string): MegJson {
  const num = (k: string): number | null => {
    const v = raw[k];
    if (v === undefined || v === null || v === NA) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new BidsFormatError(file, null, `"${k}" is ${JSON.stringify(v)}, not a number`, 'BIDS requires a number here');
    return v;
  };
  const str = (k: string): string | null => (typeof raw[k] === 'string' && raw[k] !== NA ? (raw[k] as string) : null);
  const pl = raw.PowerLineFrequency;
  return {
    samplingFrequencyHz: num('SamplingFrequency'),
    // BIDS allows "n/a" for PowerLineFrequency.
    powerLineFrequencyHz: typeof pl === 'number' ? pl : null,
    manufacturer: str('Manufacturer'),
    taskName: str('TaskName'),
    recordingDurationSec: num('RecordingDuration'),
    megChannelCount: num('MEGChannelCount'),
    dewarPosition: str('DewarPosition'),
    raw,
  };
}

export function readMegJson(file: string): MegJson {
  return megJsonOf(readJsonSidecar(file), file);
}

/** BIDS `channels.tsv` types → MNE channel types (as mne-bids maps them). */
export const BIDS_TO_MNE_TYPE: Record<string, RawChannelType> = {
  MEGMAG: 'mag',
  MEGGRADAXIAL: 'mag', // CTF axial gradiometers: MNE types them mag (unit T)
  MEGGRADPLANAR: 'grad',
  MEGREFMAG: 'ref_meg',
  MEGREFGRADAXIAL: 'ref_meg',
  MEGREFGRADPLANAR: 'ref_meg',
  MEGOTHER: 'misc',
  EEG: 'eeg',
  EOG: 'eog',
  VEOG: 'eog',
  HEOG: 'eog',
  ECG: 'ecg',
  EMG: 'emg',
  TRIG: 'stim',
  RESP: 'resp',
  MISC: 'misc',
  OTHER: 'misc',
  SYSCLOCK: 'misc',
  ADC: 'misc',
  DAC: 'misc',
  HLU: 'misc',
  FITERR: 'misc',
  SEEG: 'seeg',
  ECOG: 'ecog',
  DBS: 'dbs',
  GSR: 'bio',
  TEMP: 'bio',
  PPG: 'bio',
};

export interface BidsChannel {
  name: string;
  /** As written (`MEGGRADAXIAL`, …). */
  type: string;
  /** MNE's name for it; `misc` for types BIDS does not define. */
  mneType: RawChannelType;
  units: string | null;
  status: 'good' | 'bad' | null;
  statusDescription: string | null;
  samplingFrequencyHz: number | null;
  line: number;
}

export interface ChannelsTsv {
  file: string;
  channels: BidsChannel[];
  /** Names with `status == bad`, in file order. */
  bads: string[];
}

/** Parses `*_channels.tsv` (columns name, type, units required; status optional). */
export function channelsOf(t: TsvTable): ChannelsTsv {
  const name = requireColumn(t, 'name');
  const type = requireColumn(t, 'type');
  const units = columnIndex(t, 'units');
  const status = columnIndex(t, 'status');
  const statusDesc = columnIndex(t, 'status_description');
  const sf = columnIndex(t, 'sampling_frequency');
  const seen = new Set<string>();
  const channels = t.rows.map((r, i): BidsChannel => {
    const n = r[name];
    if (n === '' || n === NA) throw new BidsFormatError(t.file, t.lines[i], 'channel without a name');
    if (seen.has(n)) throw new BidsFormatError(t.file, t.lines[i], `channel "${n}" listed twice`, 'channel names must be unique');
    seen.add(n);
    const st = status >= 0 ? r[status].trim().toLowerCase() : NA;
    if (st !== 'good' && st !== 'bad' && st !== NA && st !== '') throw new BidsFormatError(t.file, t.lines[i], `status "${r[status]}" for channel "${n}"`, 'status must be good, bad or n/a');
    const tp = r[type].trim().toUpperCase();
    const sfreq = sf >= 0 ? Number(r[sf]) : NaN;
    return {
      name: n,
      type: r[type].trim(),
      mneType: BIDS_TO_MNE_TYPE[tp] ?? 'misc',
      units: units >= 0 && r[units] !== NA ? r[units] : null,
      status: st === 'good' || st === 'bad' ? st : null,
      statusDescription: statusDesc >= 0 && r[statusDesc] !== NA ? r[statusDesc] : null,
      samplingFrequencyHz: Number.isFinite(sfreq) ? sfreq : null,
      line: t.lines[i],
    };
  });
  return { file: t.file, channels, bads: channels.filter((c) => c.status === 'bad').map((c) => c.name) };
}

export function readChannelsTsv(file: string): ChannelsTsv {
  return channelsOf(readTsv(file));
}

export interface ScanRow {
  /** Relative to the subject (or session) folder, as written: `meg/sub-01_task-x_meg.fif`. */
  filename: string;
  acqTime: string | null;
  line: number;
}

/**
 * Parses `*_scans.tsv`. Lenient: the Armeni scans files have known malformed rows (a stray
 * `n/a\nt`, a space instead of a tab); those are skipped and reported in `warnings`.
 */
export function scansOf(t: TsvTable): { rows: ScanRow[]; warnings: string[] } {
  const filename = requireColumn(t, 'filename');
  const acq = columnIndex(t, 'acq_time');
  return {
    rows: t.rows.map((r, i) => ({ filename: r[filename].trim(), acqTime: acq >= 0 && r[acq] !== NA ? r[acq] : null, line: t.lines[i] })),
    warnings: t.warnings,
  };
}

export function readScansTsv(file: string): { rows: ScanRow[]; warnings: string[] } {
  return scansOf(readTsv(file, { lenient: true }));
}

/** `participants.tsv` as records keyed by column; `participant_id` required. */
export function participantsOf(t: TsvTable): Record<string, string>[] {
  const id = requireColumn(t, 'participant_id');
  return t.rows.map((r, i) => {
    if (!r[id].startsWith('sub-')) throw new BidsFormatError(t.file, t.lines[i], `participant_id "${r[id]}" does not start with "sub-"`);
    return Object.fromEntries(t.columns.map((c, j) => [c, r[j]]));
  });
}
