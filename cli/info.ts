/**
 * `lockstep info <file|.ds|bids-root>`: what a recording holds (header, channels, events) and,
 * with `--samples`, some of its samples in SI units — the quickest check that lockstep reads a file
 * as MNE does. On a BIDS root without `--subject` it lists what the dataset walker found; with
 * `--subject` (and `--session/--task/--run` as needed) it opens that recording with its sidecars
 * and reports the words of events.tsv.
 *
 * Owns: the info subcommand's options and output. Must not: parse formats (adapters/meg does).
 */
import { Command, InvalidArgumentError } from 'commander';
import type { BidsEventRow, BidsWordEvent } from '../adapters/meg/bids/events.js';
import { BidsFormatError } from '../adapters/meg/bids/tsv.js';
import { walkBids, type BidsDataset } from '../adapters/meg/bids/walker.js';
import { isBidsRoot, openBidsRecording, openRecording, type BidsRecordingBundle } from '../adapters/meg/openRecording.js';
import { RecordingFormatError, type RawHeader, type RawRecording } from '../adapters/meg/rawRecording.js';
import { countOf } from './format.js';

export interface InfoArgs {
  path: string;
  json?: boolean;
  picks?: string[];
  samples?: [number, number];
  subject?: string;
  session?: string;
  task?: string;
  run?: string;
  /** List stim-channel events (FIF), a pass over the stim channels. */
  stimEvents?: boolean;
}

/** A user error: printed as one line, exit status 2. */
class InfoInputError extends Error {}

function parseSamples(value: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected start:stop sample indices (0-based, stop exclusive), got "${value}"`);
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (!(b > a)) throw new InvalidArgumentError(`stop must be greater than start, got "${value}"`);
  return [a, b];
}

function parsePicks(value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new InvalidArgumentError(`expected comma-separated channel names, got "${value}"`);
  return names;
}

function datasetListing(ds: BidsDataset) {
  return {
    kind: 'bids-dataset',
    root: ds.root,
    name: ds.name,
    bidsVersion: ds.bidsVersion,
    subjects: ds.subjects,
    tasks: ds.tasks,
    participants: ds.participants?.length ?? null,
    recordings: ds.recordings.map((r) => ({
      key: r.key,
      subject: r.subject,
      session: r.session,
      task: r.task,
      run: r.run,
      emptyRoom: r.isEmptyRoom,
      format: r.format,
      dataPresent: r.dataPresent,
      dataFiles: r.dataFiles,
      megJson: r.megJson,
      channelsTsv: r.channelsTsv,
      eventsTsv: r.eventsTsv,
      acqTime: r.acqTime,
    })),
    warnings: ds.warnings,
  };
}

function headerJson(h: RawHeader) {
  return {
    format: h.format,
    path: h.path,
    sfreq: h.sfreqHz,
    nSamples: h.nSamples,
    firstSample: h.firstSample,
    durationSec: h.nSamples / h.sfreqHz,
    measDate: h.measDate,
    lineFreq: h.lineFreqHz,
    highpass: h.highpassHz,
    lowpass: h.lowpassHz,
    bads: h.bads,
    channels: h.channels.map((c) => ({ name: c.name, type: c.type, unit: c.unit, cal: c.cal, ...(c.extra ? { extra: c.extra } : {}) })),
    discontinuities: h.discontinuities,
    extra: h.extra ?? null,
  };
}

function pickIndices(h: RawHeader, picks: string[] | undefined): number[] {
  if (!picks) return h.channels.map((_, i) => i);
  const byName = new Map(h.channels.map((c, i) => [c.name, i]));
  return picks.map((n) => {
    const i = byName.get(n);
    if (i === undefined) {
      const close = h.channels.filter((c) => c.name.toLowerCase().startsWith(n.toLowerCase().slice(0, 3))).slice(0, 5).map((c) => c.name);
      throw new InfoInputError(`--picks: no channel "${n}" in ${h.path} (${countOf(h.channels.length, 'channel')}${close.length ? `; similar: ${close.join(', ')}` : ''})`);
    }
    return i;
  });
}

async function samplesJson(rec: RawRecording, picks: number[], [a, b]: [number, number]) {
  const h = rec.header;
  if (b > h.nSamples) throw new InfoInputError(`--samples ${a}:${b}: the recording has ${countOf(h.nSamples, 'sample')} (0…${h.nSamples - 1})`);
  const si = await rec.readSI(a, b, picks);
  const stored = await rec.readStored(a, b, picks);
  const data: Record<string, number[]> = {};
  const storedOut: Record<string, number[]> = {};
  const n = b - a;
  picks.forEach((ch, j) => {
    const name = h.channels[ch].name;
    data[name] = Array.from({ length: n }, (_, s) => si[s * picks.length + j]);
    storedOut[name] = Array.from({ length: n }, (_, s) => stored[s * picks.length + j]);
  });
  return { samples: { start: a, stop: b }, data, stored: storedOut };
}

const wordJson = (w: BidsWordEvent) => ({ onsetSec: w.onsetSec, durationSec: w.durationSec, value: w.word, word: w.word, wordIndex: w.wordIndex, run: w.run, source: 'events.tsv' as const });
const rowJson = (e: BidsEventRow) => ({ onsetSec: e.onsetSec, durationSec: e.durationSec, value: e.value, type: e.type, sample: e.sample, source: 'events.tsv' as const });

/** Builds the JSON object `info --json` prints. */
export async function runInfo(a: InfoArgs): Promise<Record<string, unknown>> {
  const bidsQuery = a.subject !== undefined || a.session !== undefined || a.task !== undefined || a.run !== undefined;
  if (isBidsRoot(a.path)) {
    if (!bidsQuery) {
      if (a.samples || a.picks) throw new InfoInputError(`${a.path} is a BIDS dataset: pick a recording with --subject (and --session/--task/--run) before --samples/--picks`);
      return datasetListing(walkBids(a.path));
    }
    const bundle: BidsRecordingBundle = await openBidsRecording({ root: a.path, subject: a.subject, session: a.session, task: a.task, run: a.run, dataOptional: !a.samples, stimEvents: a.stimEvents });
    try {
      const bids = {
        key: bundle.entry.key,
        subject: bundle.entry.subject,
        session: bundle.entry.session,
        task: bundle.entry.task,
        run: bundle.entry.run,
        eventsTsv: bundle.entry.eventsTsv,
        channelsTsv: bundle.entry.channelsTsv,
        megJson: bundle.megJson?.raw ?? null,
        wordsLayout: bundle.wordsLayout,
        nWords: bundle.words.length,
        droppedEvents: bundle.droppedEvents,
        channelsTsvBads: bundle.channels?.bads ?? [],
      };
      // For BIDS, `events` are those of events.tsv: its words when it has any, else every row.
      const events = bundle.words.length ? bundle.words.map(wordJson) : bundle.events.map(rowJson);
      if (!bundle.recording) {
        const mj = bundle.megJson;
        return {
          kind: 'bids-recording',
          dataFiles: bundle.entry.dataFiles,
          dataPresent: false,
          sfreq: mj?.samplingFrequencyHz ?? null,
          nSamples: mj?.recordingDurationSec != null && mj.samplingFrequencyHz != null ? Math.round(mj.recordingDurationSec * mj.samplingFrequencyHz) : null,
          firstSample: null,
          lineFreq: mj?.powerLineFrequencyHz ?? null,
          bads: bundle.channels?.bads ?? [],
          channels: (bundle.channels?.channels ?? []).map((c) => ({ name: c.name, type: c.mneType, unit: c.units, cal: null, bidsType: c.type })),
          events,
          bids,
          warnings: bundle.warnings,
        };
      }
      const rec = bundle.recording;
      const out: Record<string, unknown> = { kind: 'bids-recording', ...headerJson(rec.header), events, recordingEvents: rec.header.events, bids, warnings: bundle.warnings };
      if (a.samples) Object.assign(out, await samplesJson(rec, pickIndices(rec.header, a.picks), a.samples));
      return out;
    } finally {
      await bundle.recording?.close();
    }
  }
  if (bidsQuery) throw new InfoInputError(`--subject/--session/--task/--run apply to a BIDS root; ${a.path} is not one`);
  const rec = await openRecording(a.path, { stimEvents: a.stimEvents });
  try {
    const out: Record<string, unknown> = { kind: 'recording', ...headerJson(rec.header), events: rec.header.events };
    const picks = pickIndices(rec.header, a.picks);
    if (a.samples) Object.assign(out, await samplesJson(rec, picks, a.samples));
    return out;
  } finally {
    await rec.close();
  }
}

const fmt = (v: number) => (v === 0 || (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6) ? String(Number(v.toPrecision(7))) : v.toExponential(6));

function printText(o: Record<string, unknown>): string {
  const lines: string[] = [];
  if (o.kind === 'bids-dataset') {
    const ds = o as ReturnType<typeof datasetListing>;
    lines.push(`BIDS dataset ${ds.name ?? '(no name)'} at ${ds.root} (BIDS ${ds.bidsVersion ?? '?'})`);
    lines.push(`subjects: ${ds.subjects.map((s) => (s.sessions.length ? `${s.id} [ses ${s.sessions.join(', ')}]` : s.id)).join(', ')}`);
    lines.push(`tasks: ${ds.tasks.join(', ')}`);
    lines.push(`${countOf(ds.recordings.length, 'MEG recording')}:`);
    for (const r of ds.recordings) lines.push(`  ${r.key}  ${r.format ?? '?'}${r.dataPresent ? `  ${r.dataFiles.length} file${r.dataFiles.length > 1 ? 's' : ''}` : '  (no data here)'}${r.eventsTsv ? '  events.tsv' : ''}${r.emptyRoom ? '  empty room' : ''}`);
    for (const w of ds.warnings) lines.push(`warning: ${w}`);
    return `${lines.join('\n')}\n`;
  }
  const channels = o.channels as { name: string; type: string; unit: string | null; cal: number | null }[];
  lines.push(`${o.kind === 'bids-recording' ? `BIDS ${(o.bids as { key: string }).key}: ` : ''}${o.format ?? 'sidecars only'} ${o.path ?? ''}`);
  lines.push(`sfreq ${o.sfreq} Hz, ${countOf(o.nSamples as number, 'sample')}${o.firstSample !== null ? ` (first sample ${o.firstSample})` : ''}${typeof o.durationSec === 'number' ? `, ${o.durationSec.toFixed(3)} s` : ''}${o.measDate ? `, measured ${o.measDate}` : ''}`);
  if (o.lineFreq != null || o.highpass != null) lines.push(`line ${o.lineFreq ?? '?'} Hz, acquisition band ${o.highpass ?? '?'}–${o.lowpass ?? '?'} Hz`);
  const counts = channels.reduce<Record<string, number>>((m, c) => ((m[c.type] = (m[c.type] ?? 0) + 1), m), {});
  lines.push(`${countOf(channels.length, 'channel')}: ${Object.entries(counts).map(([t, n]) => `${n} ${t}`).join(', ')}`);
  const bads = o.bads as string[];
  lines.push(`bads: ${bads.length ? bads.join(', ') : 'none'}`);
  const ev = o.events as { onsetSec: number; value: string | null }[];
  lines.push(`${countOf(ev.length, 'event')}${ev.length ? `: ${ev.slice(0, 5).map((e) => `${e.onsetSec.toFixed(3)} s ${e.value}`).join('; ')}${ev.length > 5 ? '; …' : ''}` : ''}`);
  for (const w of (o.warnings as string[] | undefined) ?? []) lines.push(`warning: ${w}`);
  if (o.data) {
    const data = o.data as Record<string, number[]>;
    const names = Object.keys(data);
    const { start } = o.samples as { start: number };
    lines.push(['sample', ...names.map((n) => `${n} (${channels.find((c) => c.name === n)?.unit ?? ''})`)].join('\t'));
    const n = data[names[0]].length;
    for (let s = 0; s < n; s++) lines.push([String(start + s), ...names.map((k) => fmt(data[k][s]))].join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('Show what a recording holds (CTF .ds folder, FIF file, or a BIDS dataset): header, channels, events, and with --samples some samples in SI units (T, T/m, V). On a BIDS root without --subject, list its recordings.')
    .argument('<path>', 'a CTF .ds folder, a .fif/.fif.gz file, or a BIDS root')
    .option('--json', 'print one JSON object on stdout')
    .option('--picks <names>', 'comma-separated channel names for --samples (default: all channels)', parsePicks)
    .option('--samples <start:stop>', 'print samples start … stop−1 (0 = the first sample of the data)', parseSamples)
    .option('--stim-events', 'also list trigger events found on the stim channels (FIF; reads those channels once)')
    .option('--subject <label>', 'BIDS subject (with or without "sub-")')
    .option('--session <label>', 'BIDS session')
    .option('--task <label>', 'BIDS task')
    .option('--run <label>', 'BIDS run')
    .action(async (p: string, o) => {
      const out = await runInfo({ path: p, json: o.json, picks: o.picks, samples: o.samples, subject: o.subject, session: o.session, task: o.task, run: o.run, stimEvents: o.stimEvents });
      process.stdout.write(o.json ? `${JSON.stringify(out)}\n` : printText(out));
    });
}
