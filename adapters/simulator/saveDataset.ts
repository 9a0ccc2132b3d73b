/**
 * Saves the simulated subject as a BIDS dataset laid out like the Armeni et al. (2022) Sherlock
 * Holmes dataset, so that `lockstep replay` (and MNE-Python) read it through exactly the same
 * reader path as the real recordings:
 *
 *   <root>/dataset_description.json, participants.tsv, README
 *   <root>/stimuli/task-<task>.txt                      the text the subject heard (model input)
 *   <root>/sub-<s>/ses-<e>/meg/sub-<s>_ses-<e>_task-<task>_meg.ds   CTF-275 (res4 + meg4), or
 *                                                   …_meg.fif             FIF raw (float32)
 *   …_events.tsv   onset duration sample type value   (type word_onset_01, value = the word in upper
 *                  case; `sp` rows for pauses; one trigger at onset 0, as the Armeni files have)
 *   …_channels.tsv   every channel of the recording, in file order, with its BIDS type, units and
 *                    status (for CTF also the references, trigger, clock and ADC: 304 rows), …_meg.json
 *
 * Owns: the layout and the sidecars' content for simulated data. Must not: simulate (the subject
 * does) or encode CTF/FIF (the writers do).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SimulatedSubject } from './simulatedSubject.js';
import type { WordEvent } from '../../src/types.js';
import { armeniCtfChannels } from '../meg/ctf/armeniLayout.js';
import { CTF_MEG, CTF_REF_GRAD, CTF_REF_MAG, CTF_STIM, CTF_SYSTEM_CLOCK } from '../meg/ctf/ctfChannels.js';
import { CtfWriter } from '../meg/ctf/ctfWriter.js';
import { FifWriter } from '../meg/fif/fifWriter.js';

export type SavedFormat = 'ctf' | 'fif';

export interface SaveDatasetOptions {
  root: string;
  subject: string;
  session: string;
  task: string;
  format: SavedFormat;
  subjectSim: SimulatedSubject;
  /** The words as the subject heard them (onsets in the simulator's clock = file seconds). */
  words: WordEvent[];
  /** The stimulus text (written to stimuli/), e.g. the part of the book the words cover. */
  text: string;
  durationSec: number;
  /** Free text for dataset_description / README (seed, control, activations). */
  description: string;
  onProgress?: (doneSec: number, totalSec: number) => void;
  /** Force CTF .meg4 splits (tests). */
  maxFileBytes?: number;
}

export interface SavedDataset {
  root: string;
  recording: string;
  events: string;
  stimulus: string;
  nSamples: number;
  nWords: number;
}

const BLOCK_SEC = 10;

/** Upper case, punctuation removed except inner apostrophes (as the Armeni events spell words). */
export function armeniWordForm(word: string): string {
  return word.toUpperCase().replace(/[’]/g, "'").replace(/[^\p{L}\p{N}']/gu, '');
}

/**
 * Writes the dataset; returns the paths. The recording holds the subject's 273 MEG channels (and,
 * for CTF, the Armeni layout's references, trigger, clock and ADC channels, zero-valued).
 */
export async function saveSimulatedDataset(o: SaveDatasetOptions): Promise<SavedDataset> {
  const sub = `sub-${o.subject}`;
  const ses = `ses-${o.session}`;
  const megDir = path.join(o.root, sub, ses, 'meg');
  fs.mkdirSync(megDir, { recursive: true });
  fs.mkdirSync(path.join(o.root, 'stimuli'), { recursive: true });
  const base = `${sub}_${ses}_task-${o.task}`;
  const sim = o.subjectSim;
  const sfreqHz = sim.sfreqHz;
  const nSamples = Math.floor(o.durationSec * sfreqHz);

  writeIfAbsent(path.join(o.root, 'dataset_description.json'), `${JSON.stringify({ Name: 'lockstep simulated subject', BIDSVersion: '1.8.0', DatasetType: 'raw', GeneratedBy: [{ Name: 'lockstep simulate', Description: o.description }] }, null, 2)}\n`);
  writeIfAbsent(path.join(o.root, 'README'), `Simulated MEG written by lockstep (not a recording of a person).\n${o.description}\n`);
  appendParticipant(path.join(o.root, 'participants.tsv'), sub);
  const stimulus = path.join(o.root, 'stimuli', `task-${o.task}.txt`);
  writeIfAbsent(stimulus, o.text);

  let recording: string;
  const megNames = sim.channels.map((c) => c.name);
  // The rows of channels.tsv: exactly the channels the recording holds, in its order.
  let channelRows: ChannelRow[];
  if (o.format === 'ctf') {
    recording = path.join(megDir, `${base}_meg.ds`);
    const channels = armeniCtfChannels();
    channelRows = channels.map((c) => ctfChannelRow(c.name, c.sensorTypeIndex, megNames.includes(c.name.split('-')[0]!)));
    // Where each written channel takes its values from (−1: zeros).
    const source = channels.map((c) => megNames.indexOf(c.name.split('-')[0]!));
    const writer = await CtfWriter.create(recording, { sfreqHz, channels, runName: base, maxFileBytes: o.maxFileBytes });
    await writeBlocks(o, nSamples, async (chunk, n) => {
      const out = new Float32Array(n * channels.length);
      for (let t = 0; t < n; t++) {
        for (let c = 0; c < channels.length; c++) if (source[c] >= 0) out[t * channels.length + c] = chunk[t * megNames.length + source[c]];
      }
      await writer.write({ data: out, nSamples: n, nChannels: channels.length });
    });
    await writer.close();
  } else {
    recording = path.join(megDir, `${base}_meg.fif`);
    channelRows = megNames.map((name) => ({ name, type: 'MEGMAG', units: 'T', description: 'magnetometer (simulated)' }));
    const writer = await FifWriter.create(recording, {
      sfreqHz,
      channels: sim.channels.map((c) => ({ name: c.name, type: 'mag' as const })),
      format: 'single',
      measDate: new Date(Date.UTC(2026, 0, 1)),
    });
    await writeBlocks(o, nSamples, (chunk, n, first) => writer.write({ sfreqHz, firstSample: first, tStartSec: first / sfreqHz, data: chunk, nSamples: n, nChannels: megNames.length }));
    await writer.close();
  }

  const events = path.join(megDir, `${base}_events.tsv`);
  const rows = ['onset\tduration\tsample\ttype\tvalue', `0\t0\t0\tUPPT001\t1`];
  let nWords = 0;
  let prevEnd = 0;
  for (const w of o.words) {
    if (w.onsetSec + 3.0 > o.durationSec) break;
    if (w.onsetSec - prevEnd > 0.15 && prevEnd > 0) rows.push(`${fmt(prevEnd)}\t${fmt(w.onsetSec - prevEnd)}\t${Math.round(prevEnd * sfreqHz)}\tword_onset_01\tsp`);
    const dur = w.durationSec ?? 0.3;
    rows.push(`${fmt(w.onsetSec)}\t${fmt(dur)}\t${Math.round(w.onsetSec * sfreqHz)}\tword_onset_01\t${armeniWordForm(w.word)}`);
    prevEnd = w.onsetSec + dur;
    nWords++;
  }
  fs.writeFileSync(events, `${rows.join('\n')}\n`);
  fs.writeFileSync(
    path.join(megDir, `${base}_channels.tsv`),
    `name\ttype\tunits\tdescription\tsampling_frequency\tstatus\n${channelRows.map((c) => `${c.name}\t${c.type}\t${c.units}\t${c.description}\t${sfreqHz}\tgood`).join('\n')}\n`,
  );
  const countOf = (...types: string[]) => channelRows.filter((c) => types.includes(c.type)).length;
  fs.writeFileSync(
    path.join(megDir, `${base}_meg.json`),
    `${JSON.stringify(
      {
        TaskName: o.task,
        SamplingFrequency: sfreqHz,
        PowerLineFrequency: 50,
        DewarPosition: 'upright',
        SoftwareFilters: 'n/a',
        DigitizedLandmarks: false,
        DigitizedHeadPoints: false,
        MEGChannelCount: megNames.length,
        MEGREFChannelCount: countOf('MEGREFMAG', 'MEGREFGRADAXIAL'),
        TriggerChannelCount: countOf('TRIG'),
        MiscChannelCount: countOf('SYSCLOCK', 'ADC'),
        RecordingDuration: nSamples / sfreqHz,
        Manufacturer: o.format === 'ctf' ? 'CTF' : 'Elekta',
        Description: o.description,
      },
      null,
      2,
    )}\n`,
  );
  return { root: o.root, recording, events, stimulus, nSamples, nWords };
}

interface ChannelRow {
  name: string;
  /** BIDS channel type (MEGGRADAXIAL, MEGREFMAG, TRIG, …), as `adapters/meg/bids/sidecars.ts` reads it. */
  type: string;
  units: string;
  description: string;
}

/**
 * One CTF channel of the Armeni layout as a channels.tsv row (types as mne-bids writes them for CTF:
 * axial gradiometers MEGGRADAXIAL, references MEGREFMAG/MEGREFGRADAXIAL, UPPT trigger TRIG, the system
 * clock SYSCLOCK, the audio ADC ADC). `simulated`: the channel carries the subject's signal (else zeros).
 */
function ctfChannelRow(name: string, sensorTypeIndex: number, simulated: boolean): ChannelRow {
  const zeros = simulated ? 'simulated' : 'simulated: zeros';
  if (name === CTF_SYSTEM_CLOCK) return { name, type: 'SYSCLOCK', units: 's', description: `system clock (${zeros})` };
  if (sensorTypeIndex === CTF_MEG) return { name, type: 'MEGGRADAXIAL', units: 'T', description: `axial gradiometer (${zeros})` };
  if (sensorTypeIndex === CTF_REF_MAG) return { name, type: 'MEGREFMAG', units: 'T', description: `reference magnetometer (${zeros})` };
  if (sensorTypeIndex === CTF_REF_GRAD) return { name, type: 'MEGREFGRADAXIAL', units: 'T', description: `reference gradiometer (${zeros})` };
  if (sensorTypeIndex === CTF_STIM) return { name, type: 'TRIG', units: 'V', description: `stimulus trigger (${zeros})` };
  if (/^UADC/.test(name)) return { name, type: 'ADC', units: 'V', description: `audio ADC (${zeros})` };
  return { name, type: 'MISC', units: 'n/a', description: `other (${zeros})` };
}

async function writeBlocks(o: SaveDatasetOptions, nSamples: number, write: (data: Float32Array, n: number, first: number) => Promise<void>): Promise<void> {
  const block = Math.round(BLOCK_SEC * o.subjectSim.sfreqHz);
  for (let s = 0; s < nSamples; s += block) {
    const n = Math.min(block, nSamples - s);
    await write(o.subjectSim.chunk(s, n).data, n, s);
    o.onProgress?.((s + n) / o.subjectSim.sfreqHz, nSamples / o.subjectSim.sfreqHz);
  }
}

const fmt = (sec: number) => sec.toFixed(4);

function writeIfAbsent(file: string, content: string): void {
  if (!fs.existsSync(file)) fs.writeFileSync(file, content);
}

function appendParticipant(file: string, sub: string): void {
  if (!fs.existsSync(file)) fs.writeFileSync(file, 'participant_id\n');
  const have = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  if (!have.includes(sub)) fs.appendFileSync(file, `${sub}\n`);
}
