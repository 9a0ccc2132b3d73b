/**
 * Writes a small BIDS dataset in the layout of Armeni et al. 2022 (Sherlock Holmes) with real CTF
 * data (adapters/meg/ctf/ctfWriter): `sub-001/ses-00K/meg/sub-001_ses-00K_task-compr_meg.ds`, an
 * events.tsv with triggers at onset 0, wav onsets, quoted words, `sp` silences and phonemes, a
 * channels.tsv with one bad channel, meg.json and scans.tsv. Returns what was written so tests can
 * compare.
 */
import fs from 'node:fs';
import path from 'node:path';
import { armeniCtfChannels } from '../../adapters/meg/ctf/armeniLayout.js';
import { writeCtf } from '../../adapters/meg/ctf/ctfWriter.js';

export interface WrittenSession {
  session: string;
  dsPath: string;
  nSamples: number;
  /** SI values written, [sample][channel]. */
  data: Float64Array;
  /** Words as a loader must return them (silences and triggers dropped, quotes stripped). */
  words: { word: string; onsetSec: number; durationSec: number; run: number }[];
}

export interface WrittenBids {
  root: string;
  sfreqHz: number;
  channels: string[];
  /** Per channel: proper_gain × qgain (SI = stored / scale). */
  scale: number[];
  bad: string;
  sessions: WrittenSession[];
}

const WORDS = ['TO', 'SHERLOCK', 'sp', '"HOLMES"', 'SHE', 'IS', 'sp', 'ALWAYS', '"THE"', 'WOMAN', 'I', 'HAVE', 'SELDOM', 'sp', 'HEARD'];

export async function writeArmeniBids(root: string, o: { sessions: number; seconds: number; sfreqHz?: number }): Promise<WrittenBids> {
  const sfreqHz = o.sfreqHz ?? 1200;
  const all = armeniCtfChannels();
  const chans = [all.find((c) => c.name === 'UPPT001')!, all.find((c) => c.name.startsWith('BG1'))!, ...all.filter((c) => c.sensorTypeIndex === 5).slice(0, 4)];
  const names = chans.map((c) => c.name);
  const bad = names[3];
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'dataset_description.json'), JSON.stringify({ Name: 'Armeni-style test', BIDSVersion: '1.8.0' }));
  fs.writeFileSync(path.join(root, 'participants.tsv'), 'participant_id\tage\nsub-001\tn/a\n');
  const sessions: WrittenSession[] = [];
  for (let k = 1; k <= o.sessions; k++) {
    const ses = String(k).padStart(3, '0');
    const megDir = path.join(root, `sub-001/ses-${ses}/meg`);
    fs.mkdirSync(megDir, { recursive: true });
    const base = `sub-001_ses-${ses}_task-compr`;
    const nSamples = Math.round(o.seconds * sfreqHz);
    const nc = names.length;
    const data = new Float64Array(nSamples * nc);
    for (let s = 0; s < nSamples; s++) {
      const t = s / sfreqHz;
      data[s * nc] = s >= sfreqHz / 2 && s < sfreqHz / 2 + 12 ? 10 * k : 0; // UPPT001 part-start code
      data[s * nc + 1] = 1e-9 * (1 + 0.1 * Math.sin(2 * Math.PI * 0.7 * t + k));
      for (let c = 2; c < nc; c++) data[s * nc + c] = 2e-12 * Math.sin(2 * Math.PI * (3 + c) * t + k) + 1e-13 * Math.cos(2 * Math.PI * 50 * t);
    }
    const dsPath = path.join(megDir, `${base}_meg.ds`);
    await writeCtf(dsPath, { sfreqHz, channels: chans, dataDate: '29-Apr-2013', dataTime: '09:36' }, [{ data: Float32Array.from(data), nSamples, nChannels: nc, sfreqHz, firstSample: 0, tStartSec: 0 }]);
    // The data file holds float32-rounded SI values quantised by the gains; what a reader returns:
    const written = Float64Array.from(data, (v, i) => Math.round(Math.fround(v) * chans[i % nc].properGain * chans[i % nc].qgain) / (chans[i % nc].properGain * chans[i % nc].qgain));
    const rows = ['onset\tduration\tsample\ttype\tvalue', '0\t0\t0\twav_onset\t10', '0.0\tn/a\t0\tword_onset_01\tTRIGGER'];
    const words: WrittenSession['words'] = [];
    let t = 0.5 + 0.01 * k;
    WORDS.forEach((w, i) => {
      const run = i < 8 ? 1 : 2;
      const on = Number(t.toFixed(4));
      rows.push(`${on}\t0.21\t${Math.round(on * sfreqHz)}\tword_onset_0${run}\t${w}`);
      rows.push(`${on}\t0.07\t${Math.round(on * sfreqHz)}\tphoneme_onset_0${run}\tAH0`);
      if (w !== 'sp') words.push({ word: w.replace(/^"(.*)"$/, '$1'), onsetSec: on, durationSec: 0.21, run });
      t += (o.seconds - 1) / WORDS.length;
    });
    fs.writeFileSync(path.join(megDir, `${base}_events.tsv`), `${rows.join('\n')}\n`);
    const typeOf = (i: number) => (chans[i].sensorTypeIndex === 11 ? 'TRIG' : chans[i].sensorTypeIndex === 5 ? 'MEGGRADAXIAL' : 'MEGREFMAG');
    fs.writeFileSync(path.join(megDir, `${base}_channels.tsv`), `name\ttype\tunits\tstatus\n${names.map((n, i) => `${n}\t${typeOf(i)}\t${i === 0 ? 'V' : 'T'}\t${n === bad ? 'bad' : 'good'}`).join('\n')}\n`);
    fs.writeFileSync(path.join(megDir, `${base}_meg.json`), JSON.stringify({ TaskName: 'compr', SamplingFrequency: sfreqHz, PowerLineFrequency: 50, Manufacturer: 'CTF' }));
    fs.writeFileSync(path.join(root, `sub-001/ses-${ses}/sub-001_ses-${ses}_scans.tsv`), `filename\tacq_time\nmeg/${base}_meg.ds\t2018-01-0${k}T10:00:00\n`);
    sessions.push({ session: ses, dsPath, nSamples, data: written, words });
  }
  return { root, sfreqHz, channels: names, scale: chans.map((c) => c.properGain * c.qgain), bad, sessions };
}
