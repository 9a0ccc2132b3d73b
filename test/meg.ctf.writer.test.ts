/**
 * The CTF writer: a simulated Armeni-layout session (CTF-275 + refs + trigger + clock + audio
 * ADC, 1200 Hz) written with a small file-size limit, so that the data continue in `.1_meg4` and
 * `.2_meg4`, must read back through our reader with identical stored integers, and through
 * MNE-Python (python3-mne) with identical channels, calibrations, sample count (the zero-padded
 * last trial cut off by the system clock), markers and every sample value.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { armeniCtfChannels } from '../adapters/meg/ctf/armeniLayout.js';
import { openCtf } from '../adapters/meg/ctf/ctfReader.js';
import { CtfWriter, writeCtf } from '../adapters/meg/ctf/ctfWriter.js';
import { mulberry32 } from '../src/scores/prng.js';
import { runOracle, tempDir } from './helpers/paths.js';

const SFREQ = 1200;
const N = 3000; // 2.5 trials of 1 s
const channels = armeniCtfChannels();
const NC = channels.length;
const CLOCK = channels.findIndex((c) => c.name === 'SCLK01-177');
const TRIAL_BYTES = NC * SFREQ * 4;

/** Deterministic stored integers, [sample][channel]: |v| < 2^23 so that float32 SI round-trips. */
function storedData(seed: number): Int32Array {
  const rand = mulberry32(seed);
  const out = new Int32Array(N * NC);
  for (let s = 0; s < N; s++) {
    for (let c = 0; c < NC; c++) {
      const name = channels[c]!.name;
      out[s * NC + c] = name === 'UPPT001' ? (s >= 600 && s < 630 ? 10 : 0) : Math.round((rand() - 0.5) * 2 ** 23);
    }
  }
  return out;
}

const MARKERS = `PATH OF DATASET:
/tmp/x.ds


NUMBER OF MARKERS:
2


CLASSGROUPID:
3
NAME:
wav_onset
COMMENT:

COLOR:
red
EDITABLE:
No
CLASSID:
1
NUMBER OF SAMPLES:
2
LIST OF SAMPLES:
TRIAL NUMBER\t\tTIME FROM SYNC POINT (in seconds)
                  0\t\t\t\t              +0.5
                  1\t\t\t\t     +0.25


CLASSGROUPID:
3
NAME:
word
COMMENT:

COLOR:
blue
EDITABLE:
No
CLASSID:
2
NUMBER OF SAMPLES:
1
LIST OF SAMPLES:
TRIAL NUMBER\t\tTIME FROM SYNC POINT (in seconds)
                  2\t\t\t\t     +0.1


`;

describe('CTF writer: Armeni layout, split data files, read back by us and by MNE', () => {
  const dir = tempDir('ctf-writer');
  const ds = path.join(dir, 'sub-001_ses-001_task-compr_meg.ds');
  const data = storedData(7);
  before(async () => {
    const w = await CtfWriter.create(ds, {
      sfreqHz: SFREQ, channels, samplesPerTrial: SFREQ, maxFileBytes: 8 + TRIAL_BYTES,
      dataDate: '01-Jun-2018', dataTime: '10:20', runName: 'compr', filters: [{ freqHz: 300, filterClass: 0, type: 1, params: [] }],
    });
    // Uneven pieces, so that chunks straddle trial and file boundaries.
    for (let s = 0; s < N;) {
      const m = Math.min(N - s, 777);
      await w.writeStored(data.subarray(s * NC, (s + m) * NC), m);
      s += m;
    }
    const summary = await w.close();
    assert.equal(summary.nSamples, N);
    assert.equal(summary.nTrials, 3);
    fs.writeFileSync(path.join(ds, 'MarkerFile.mrk'), MARKERS);
    fs.writeFileSync(path.join(ds, 'BadChannels'), 'MLC11\nMRT57\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('splits the data into .meg4, .1_meg4, .2_meg4 of whole trials', () => {
    const base = path.basename(ds, '.ds');
    const sizes = ['meg4', '1_meg4', '2_meg4'].map((s) => fs.statSync(path.join(ds, `${base}.${s}`)).size);
    assert.deepEqual(sizes, [8 + TRIAL_BYTES, 8 + TRIAL_BYTES, 8 + TRIAL_BYTES]);
    assert.equal(fs.existsSync(path.join(ds, `${base}.3_meg4`)), false);
    assert.equal(fs.readFileSync(path.join(ds, `${base}.2_meg4`)).subarray(0, 8).toString('latin1'), 'MEG41CP\0');
  });

  it('reads back the stored integers exactly, with the clock the writer made', async () => {
    const rec = await openCtf(ds);
    try {
      const h = rec.header;
      assert.equal(h.sfreqHz, SFREQ);
      assert.equal(h.nSamples, N); // the zero-padded last trial is cut where the clock is 0
      assert.deepEqual(h.discontinuities, []);
      assert.equal(h.lowpassHz, 300);
      assert.equal(h.measDate, '2018-06-01T10:20:00.000Z');
      assert.deepEqual(h.bads, ['MLC11-4304', 'MRT57-4304']);
      const counts: Record<string, number> = {};
      for (const c of h.channels) counts[c.type] = (counts[c.type] ?? 0) + 1;
      assert.deepEqual(counts, { stim: 1, misc: 2, ref_meg: 28, mag: 273 });
      const stored = await rec.readStored(0, N, [...Array(NC).keys()]);
      for (let s = 0; s < N; s++) {
        for (let c = 0; c < NC; c++) {
          const want = c === CLOCK ? 1000 * 12000 + s * 10 : data[s * NC + c]!;
          if (stored[s * NC + c] !== want) assert.fail(`${channels[c]!.name} sample ${s}: ${stored[s * NC + c]} vs ${want}`);
        }
      }
      assert.deepEqual(h.events.map((e) => [e.value, e.sample]), [['wav_onset', 600], ['wav_onset', 1500], ['word', 2520]]);
    } finally {
      await rec.close();
    }
  });

  it('is read by MNE-Python with the same channels, cals, markers and every sample', async () => {
    const rec = await openCtf(ds);
    const work = tempDir('ctf-writer-mne');
    try {
      const bin = path.join(work, 'data.f64');
      const o = runOracle<{ n_times: number; n_files: number; ch_names: string[]; types: string[]; cal: number[]; coil_type: number[]; bads: string[]; lowpass: number;
        annotations: Array<{ onset: number; description: string }> }>('ctf_read.py', [ds, '--data', bin], path.join(work, 'out.json'));
      assert.equal(o.n_times, N);
      assert.equal(o.n_files, 3);
      assert.deepEqual(o.ch_names, rec.header.channels.map((c) => c.name));
      assert.deepEqual(o.types, rec.header.channels.map((c) => c.type));
      assert.deepEqual(o.cal, rec.header.channels.map((c) => c.cal));
      assert.deepEqual(o.coil_type, rec.header.channels.map((c) => c.extra?.coilType));
      assert.deepEqual(o.bads, rec.header.bads);
      assert.equal(o.lowpass, 300);
      assert.deepEqual(o.annotations.map((a) => [a.description, Math.round(a.onset * SFREQ)]), rec.header.events.map((e) => [e.value, e.sample]));
      const mne = new Float64Array(fs.readFileSync(bin).buffer.slice(0));
      const ours = await rec.readSI(0, N, [...Array(NC).keys()]);
      for (let c = 0; c < NC; c++) {
        for (let s = 0; s < N; s++) {
          if (ours[s * NC + c] !== mne[c * N + s]) assert.fail(`${o.ch_names[c]} sample ${s}: ${ours[s * NC + c]} vs MNE ${mne[c * N + s]}`);
        }
      }
    } finally {
      await rec.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('writes SI float32 chunks that read back to the same stored integers', async () => {
    const ds2 = path.join(dir, 'si.ds');
    const rec0 = await openCtf(ds);
    try {
      const chunks = [];
      for await (const c of rec0.chunks({ chunkSamples: 513 })) chunks.push(c);
      const summary = await writeCtf(ds2, { sfreqHz: SFREQ, channels, samplesPerTrial: 1000 }, chunks);
      assert.equal(summary.clippedValues, 0);
      assert.equal(summary.meg4Files.length, 1);
      const rec = await openCtf(ds2);
      try {
        assert.equal(rec.header.nSamples, N);
        const picks = [...Array(NC).keys()].filter((c) => c !== CLOCK);
        assert.deepEqual(await rec.readStored(0, N, picks), await rec0.readStored(0, N, picks));
      } finally {
        await rec.close();
      }
    } finally {
      await rec0.close();
    }
  });
});
