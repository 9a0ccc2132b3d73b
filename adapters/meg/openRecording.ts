/**
 * One entry point to any recording lockstep reads: `openRecording(path)` picks the reader from the
 * path (a `.ds` folder → CTF, `.fif`/`.fif.gz` → FIF), and `openBidsRecording` finds a recording
 * in a BIDS dataset with its sidecars: the words of `events.tsv`, `channels.tsv` (status=bad
 * merged into the header's bads, as mne-bids does), and `meg.json` (line frequency when the
 * recording has none). A split FIF (`_split-01`, `_split-02`, …) opens from its first part, whose
 * FIFFB_REF links the reader follows, as MNE's read_raw_fif does.
 *
 * Owns: dispatch by path, and joining a recording with its BIDS sidecars. Must not: parse any
 * binary format itself (the readers in ctf/ and fif/ do), or change sample values.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bareLabel } from './bids/entities.js';
import { eventRows, wordEvents, type BidsEventRow, type BidsWordEvent, type EventsLayout } from './bids/events.js';
import { readChannelsTsv, readMegJson, readTsv, type ChannelsTsv, type MegJson } from './bids/sidecars.js';
import { BidsFormatError } from './bids/tsv.js';
import { selectRecordings, walkBids, type BidsDataset, type BidsRecordingEntry, type RecordingQuery } from './bids/walker.js';
import { openCtf } from './ctf/ctfReader.js';
import { openFif } from './fif/fifRaw.js';
import { RecordingFormatError, type ChunkOptions, type RawHeader, type RawRecording } from './rawRecording.js';

/** Which reader a path needs, or null. */
export function formatOfPath(p: string): 'ctf' | 'fif' | null {
  const lower = p.replace(/[\\/]+$/, '').toLowerCase();
  if (lower.endsWith('.ds')) return 'ctf';
  if (lower.endsWith('.fif') || lower.endsWith('.fif.gz')) return 'fif';
  return null;
}

/** True when a folder looks like a BIDS root (dataset_description.json or sub-* folders). */
export function isBidsRoot(p: string): boolean {
  try {
    if (!fs.statSync(p).isDirectory() || formatOfPath(p) === 'ctf') return false;
    if (fs.existsSync(path.join(p, 'dataset_description.json'))) return true;
    return fs.readdirSync(p).some((n) => n.startsWith('sub-'));
  } catch {
    return false;
  }
}

export interface OpenRecordingOptions {
  /** Also list stim-channel events (FIF; a pass over the stim channels). Default false. */
  stimEvents?: boolean;
}

/**
 * Opens a CTF `.ds` folder or a FIF file (a split FIF from its first part: the reader follows the parts).
 * @example const rec = await openRecording('sub-001_ses-001_task-compr_meg.ds'); rec.header.sfreqHz // 1200
 */
export async function openRecording(p: string, o: OpenRecordingOptions = {}): Promise<RawRecording> {
  const abs = path.resolve(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new RecordingFormatError(abs, 'path', 'no such file or folder', 'check the path');
  }
  const format = formatOfPath(abs);
  if (format === 'ctf' && !st.isDirectory()) throw new RecordingFormatError(abs, 'path', 'a CTF data set is a folder (NAME.ds/ with NAME.res4 and NAME.meg4), this is a file', 'give the .ds folder');
  if (format === null) {
    if (st.isDirectory() && isBidsRoot(abs)) throw new RecordingFormatError(abs, 'path', 'this is a BIDS dataset, not one recording', 'name the recording with --subject/--session/--task/--run, or give its .ds/.fif path');
    throw new RecordingFormatError(abs, 'path', `unknown recording format (expected a CTF .ds folder or a .fif / .fif.gz file)`, 'lockstep reads CTF and FIF (Elekta/MEGIN, MNE) recordings');
  }
  return format === 'ctf' ? openCtf(abs) : openFif(abs, { stimEvents: o.stimEvents ?? false });
}

/** Copy of a recording whose header has other bads (or other fields); data pass through. */
export function withHeader(rec: RawRecording, header: RawHeader): RawRecording {
  return {
    header,
    readStored: (a, b, picks) => rec.readStored(a, b, picks),
    readSI: (a, b, picks) => rec.readSI(a, b, picks),
    chunks: (o?: ChunkOptions) => rec.chunks(o),
    close: () => rec.close(),
  };
}

/** A BIDS recording opened with its sidecars. */
export interface BidsRecordingBundle {
  dataset: BidsDataset;
  entry: BidsRecordingEntry;
  /** The recording, bads from channels.tsv merged into its header (null with `dataOptional` when the data file is absent). */
  recording: RawRecording | null;
  words: BidsWordEvent[];
  wordsLayout: EventsLayout;
  /** Every events.tsv row. */
  events: BidsEventRow[];
  /** Rows that were not words, by reason. */
  droppedEvents: Record<string, number>;
  channels: ChannelsTsv | null;
  megJson: MegJson | null;
  /** Mismatches between sidecars and the recording, and non-fatal dataset problems. */
  warnings: string[];
}

function describeChoices(entries: BidsRecordingEntry[]): string {
  return entries.map((e) => e.key).join(', ');
}

/** One recording's sidecars parsed and (unless `dataOptional` and absent) the recording opened. */
export async function openBidsEntry(dataset: BidsDataset, entry: BidsRecordingEntry, o: { dataOptional?: boolean; stimEvents?: boolean } = {}): Promise<BidsRecordingBundle> {
  const warnings = [...dataset.warnings];
  const megJson = entry.megJson ? readMegJson(entry.megJson) : null;
  const channels = entry.channelsTsv ? readChannelsTsv(entry.channelsTsv) : null;
  let words: BidsWordEvent[] = [];
  let events: BidsEventRow[] = [];
  let wordsLayout: EventsLayout = 'none';
  let droppedEvents: Record<string, number> = {};
  if (entry.eventsTsv) {
    const t = readTsv(entry.eventsTsv);
    events = eventRows(t);
    const run = entry.run !== null && /^\d+$/.test(entry.run) ? Number(entry.run) : null;
    const w = wordEvents(t, { run });
    words = w.words;
    wordsLayout = w.layout;
    droppedEvents = w.dropped;
  }
  let recording: RawRecording | null = null;
  if (!entry.dataPresent) {
    const what = entry.dataFiles.length ? `its data file ${path.basename(entry.dataFiles[0])} is empty or lacks its .res4/.meg4` : `no data file${entry.scansFilename ? ` (scans.tsv names ${entry.scansFilename})` : ''}`;
    if (!o.dataOptional) throw new BidsFormatError(dataset.root, null, `recording ${entry.key} has sidecars but ${what}`, 'download the data (datalad get / git annex get) into the meg/ folder');
    warnings.push(`${entry.key}: ${what}; header fields come from the sidecars`);
  } else {
    // A split FIF opens from its first part; the reader follows FIFFB_REF to the others (as MNE does).
    const rec = await openRecording(entry.dataFiles[0], { stimEvents: o.stimEvents });
    const h = rec.header;
    const parts = (h.extra?.parts as string[] | undefined)?.map((f) => path.resolve(f));
    if (entry.dataFiles.length > 1 && parts && entry.dataFiles.some((f) => !parts.includes(path.resolve(f))))
      warnings.push(`${entry.key}: split files ${entry.dataFiles.filter((f) => !parts.includes(path.resolve(f))).map((f) => path.basename(f)).join(', ')} are not linked from ${path.basename(entry.dataFiles[0])} (FIFFB_REF); they were not read`);
    const names = new Set(h.channels.map((c) => c.name));
    const extraBads = (channels?.bads ?? []).filter((b) => !h.bads.includes(b));
    const unknown = extraBads.filter((b) => !names.has(b));
    if (unknown.length) warnings.push(`${entry.channelsTsv}: bad channels not in the recording: ${unknown.join(', ')}`);
    if (megJson?.samplingFrequencyHz != null && Math.abs(megJson.samplingFrequencyHz - h.sfreqHz) > 1e-6 * h.sfreqHz)
      warnings.push(`${entry.megJson}: SamplingFrequency ${megJson.samplingFrequencyHz} Hz, the recording says ${h.sfreqHz} Hz (the recording wins)`);
    if (channels && channels.channels.length !== h.channels.length)
      warnings.push(`${entry.channelsTsv}: ${channels.channels.length} channels, the recording has ${h.channels.length}`);
    recording = withHeader(rec, {
      ...h,
      bads: [...h.bads, ...extraBads.filter((b) => names.has(b))],
      lineFreqHz: h.lineFreqHz ?? megJson?.powerLineFrequencyHz ?? null,
    });
    const last = words[words.length - 1];
    if (last && last.onsetSec > h.nSamples / h.sfreqHz) warnings.push(`${entry.eventsTsv}: the last word (line ${last.line}) starts at ${last.onsetSec} s, after the recording ends (${(h.nSamples / h.sfreqHz).toFixed(3)} s)`);
  }
  return { dataset, entry, recording, words, wordsLayout, events, droppedEvents, channels, megJson, warnings };
}

export interface BidsQuery extends RecordingQuery {
  root: string;
  /** List sidecars even when the data file is absent (sidecar-only example datasets). */
  dataOptional?: boolean;
  stimEvents?: boolean;
}

/**
 * Finds exactly one recording in a BIDS dataset and opens it with its sidecars; an ambiguous or
 * empty query is an error that lists what exists.
 * @example await openBidsRecording({ root: '/data/armeni', subject: '001', session: '001' })
 */
export async function openBidsRecording(q: BidsQuery): Promise<BidsRecordingBundle> {
  const ds = walkBids(q.root);
  const hits = selectRecordings(ds, q);
  const what = [q.subject && `sub-${bareLabel('sub', q.subject)}`, q.session && `ses-${bareLabel('ses', q.session)}`, q.task && `task-${bareLabel('task', q.task)}`, q.run && `run-${bareLabel('run', q.run)}`].filter(Boolean).join(' ');
  if (hits.length === 0) throw new BidsFormatError(ds.root, null, `no recording matches ${what || 'the query'}`, `recordings here: ${describeChoices(ds.recordings)}`);
  if (hits.length > 1) throw new BidsFormatError(ds.root, null, `${hits.length} recordings match ${what || 'the query'}: ${describeChoices(hits)}`, 'add --session/--task/--run to pick one');
  return openBidsEntry(ds, hits[0], { dataOptional: q.dataOptional, stimEvents: q.stimEvents });
}

/**
 * Every matching recording of one subject (all sessions and runs unless narrowed), in
 * session/task/run order, for replaying them back to back. Empty-room recordings are left out.
 */
export async function openBidsRuns(q: BidsQuery): Promise<BidsRecordingBundle[]> {
  if (q.subject === undefined) throw new BidsFormatError(path.resolve(q.root), null, 'no subject given', 'analyses are per subject: pass --subject');
  const ds = walkBids(q.root);
  const hits = selectRecordings(ds, q).filter((e) => !e.isEmptyRoom);
  if (hits.length === 0) throw new BidsFormatError(ds.root, null, `no recording of sub-${bareLabel('sub', q.subject)} matches`, `recordings here: ${describeChoices(ds.recordings)}`);
  const out: BidsRecordingBundle[] = [];
  for (const e of hits) out.push(await openBidsEntry(ds, e));
  return out;
}
