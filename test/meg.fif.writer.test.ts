/**
 * The FIF writer: files it writes are read back by MNE-Python 1.3 (test/oracle/fif_oracle.py)
 * with the same values, and by lockstep's reader identically; float32/float64/int16/int32
 * buffers, split files, long channel names, annotations, and a NaN run that scanNonFinite finds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openFif, type FifRecording } from '../adapters/meg/fif/fifRaw.js';
import { writeFif, type FifWriteOptions } from '../adapters/meg/fif/fifWriter.js';
import { writeSimulatedSubjectFif } from '../adapters/simulator/simulatedFif.js';
import { scanNonFinite } from '../adapters/meg/fif/nonFinite.js';
import { SimulatedSubject } from '../adapters/simulator/simulatedSubject.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { syntheticActivations } from '../adapters/simulator/syntheticActivations.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { mulberry32 } from '../src/scores/prng.js';
import type { SampleChunk } from '../src/types.js';
import { runOracle, tempDir } from './helpers/paths.js';

interface Summary {
  files: string[]; sfreq: number; n_times: number; first_samp: number; orig_format: string; meas_date: string | null;
  lowpass: number; highpass: number; line_freq: number | null; bads: string[]; ch_names: string[]; types: string[]; cals: number[]; coil_types: number[];
  annotations: { onset: number; duration: number; description: string }[]; annotation_samples: number[];
  sample_index: number[]; samples: number[][]; mean: number[]; rms: number[]; min: number[]; max: number[]; nonfinite: number;
}

const DEPTHS = [0.1, 0.5, 0.9];
const dir = tempDir('fif-writer');
const SF = 1200;

function subject(): SimulatedSubject {
  return new SimulatedSubject({
    seed: 11,
    words: speechTiming(builtinWords(40), { seed: 3, startSec: 0.5 }),
    activation: syntheticActivations({ seed: 11, nLayers: DEPTHS.length, nDims: 8 }),
    nLayers: DEPTHS.length,
    nDims: 8,
    depths: DEPTHS,
    sfreqHz: SF,
  });
}

/** A small mixed recording: MEG, EEG, a stim channel with steps, a long-named misc channel, and a NaN run. */
function mixedChunks(n: number, withNaN: boolean): SampleChunk[] {
  const rand = mulberry32(7);
  const C = 5;
  const out: SampleChunk[] = [];
  for (let s = 0; s < n; s += 700) {
    const m = Math.min(700, n - s);
    const data = new Float32Array(m * C);
    for (let r = 0; r < m; r++) {
      const t = s + r;
      data[r * C] = (rand() - 0.5) * 4e-12;
      data[r * C + 1] = (rand() - 0.5) * 2e-10;
      data[r * C + 2] = (rand() - 0.5) * 1e-4;
      data[r * C + 3] = t >= 500 && t < 530 ? 5 : t >= 1500 && t < 1600 ? 3 : 0;
      data[r * C + 4] = withNaN && t >= 1000 && t < 1012 ? NaN : Math.sin(t / 50);
    }
    out.push({ sfreqHz: 1000, firstSample: s, tStartSec: s / 1000, nChannels: C, nSamples: m, data });
  }
  return out;
}

const MIXED: FifWriteOptions = {
  sfreqHz: 1000,
  channels: [
    { name: 'MEG0111', type: 'mag', cal: 1e-15 },
    { name: 'MEG0112', type: 'grad', cal: 1e-13 },
    { name: 'EEG001', type: 'eeg', cal: 1e-8 },
    { name: 'STI101', type: 'stim', cal: 1 },
    { name: 'a-channel-name-longer-than-15', type: 'misc', cal: 1e-4 },
  ],
  firstSample: 250,
  measDate: new Date('2024-03-01T10:20:30.123456Z'),
  lineFreqHz: 50,
  highpassHz: 0.1,
  lowpassHz: 330,
  bads: ['EEG001'],
  bufferSamples: 400,
};

describe('FIF writer, read back by MNE-Python and by lockstep', () => {
  const written: Record<string, string> = {};
  let mne: Record<string, Summary>;
  let sim: SimulatedSubject;
  const N_SIM = SF * 4;
  before(async () => {
    sim = subject();
    written.sim = path.join(dir, 'sim_raw.fif');
    await writeSimulatedSubjectFif(written.sim, sim, { durationSec: 4, measDate: new Date('2025-01-02T03:04:05Z'), lineFreqHz: 50 });
    written.sim_short = path.join(dir, 'simshort_raw.fif');
    await writeSimulatedSubjectFif(written.sim_short, sim, { durationSec: 4, format: 'short', wordAnnotations: false });
    for (const fmt of ['single', 'double', 'short', 'int'] as const) {
      written[`mixed_${fmt}`] = path.join(dir, `mixed_${fmt}_raw.fif`);
      await writeFif(written[`mixed_${fmt}`], mixedChunks(3000, false), {
        ...MIXED,
        format: fmt,
        annotations: [{ onsetSec: 0.5, durationSec: 0.03, description: 'word:one' }, { onsetSec: 2.0, durationSec: 0, description: 'BAD_x' }],
      });
    }
    written.split = path.join(dir, 'split_raw.fif');
    // 5 channels × 400 samples × 4 bytes = 8 kB buffers; 30 kB files with a 4 kB margin → several parts.
    await writeFif(written.split, mixedChunks(3000, false), { ...MIXED, splitSizeBytes: 30000, splitMarginBytes: 4000 });
    written.nan = path.join(dir, 'nan_raw.fif');
    await writeFif(written.nan, mixedChunks(3000, true), MIXED);
    mne = runOracle<Record<string, Summary>>('fif_oracle.py', ['read', ...Object.values(written)], path.join(dir, 'oracle.json'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function compare(key: string): Promise<{ rec: FifRecording; m: Summary }> {
    const m = mne[written[key]];
    const rec = await openFif(written[key]);
    const h = rec.header;
    assert.equal(h.sfreqHz, m.sfreq);
    assert.equal(h.nSamples, m.n_times);
    assert.equal(h.firstSample, m.first_samp);
    assert.equal(h.measDate, m.meas_date);
    assert.equal(h.lineFreqHz, m.line_freq);
    assert.equal(h.highpassHz, m.highpass);
    assert.equal(h.lowpassHz, m.lowpass);
    assert.deepEqual(h.bads, m.bads);
    assert.equal(h.extra?.origFormat, m.orig_format);
    assert.deepEqual(h.channels.map((c) => c.name), m.ch_names);
    assert.deepEqual(h.channels.map((c) => c.type), m.types);
    assert.deepEqual(h.channels.map((c) => c.cal), m.cals);
    assert.deepEqual(h.channels.map((c) => c.extra?.coilType), m.coil_types);
    assert.deepEqual((h.extra?.parts as string[]).map((p) => path.basename(p)), m.files);
    const ann = h.events.filter((e) => e.source === 'annotation');
    assert.deepEqual(ann.map((e) => e.value), m.annotations.map((a) => a.description));
    assert.deepEqual(ann.map((e) => e.sample), m.annotation_samples);
    const all = h.channels.map((_, i) => i);
    for (let k = 0; k < m.sample_index.length; k++) {
      const s = m.sample_index[k];
      const got = Array.from(await rec.readSI(s, s + 1, all));
      got.forEach((v, c) => {
        const w = m.samples[k][c];
        assert.ok(Object.is(v, w) || (Number.isNaN(v) && w === null), `${key} sample ${s} ch ${c}: ${v} vs MNE ${w}`);
      });
    }
    return { rec, m };
  }

  it('the simulated subject (273 CTF channels, float32, words as annotations): MNE sees the simulator values exactly', async () => {
    const { rec, m } = await compare('sim');
    assert.equal(m.n_times, N_SIM);
    assert.ok(m.types.every((t) => t === 'mag') && m.ch_names.length === 273);
    assert.ok(m.coil_types.every((c) => c === 5001));
    const expected = sim.chunk(0, N_SIM);
    for (let k = 0; k < m.sample_index.length; k++) {
      const s = m.sample_index[k];
      for (let c = 0; c < 273; c += 17) assert.equal(m.samples[k][c], expected.data[s * 273 + c], `sample ${s} ch ${c}`);
    }
    const words = sim.words.filter((w) => w.onsetSec < 4);
    assert.ok(words.length > 3);
    assert.deepEqual(m.annotations.map((a) => a.description), words.map((w) => w.word));
    m.annotations.forEach((a, i) => assert.ok(Math.abs(a.onset - words[i].onsetSec) < 1e-5));
    // lockstep's reader: chunks() gives back the simulator's float32 values bit for bit.
    let pos = 0;
    for await (const ch of rec.chunks()) {
      for (let i = 0; i < ch.data.length; i++) if (ch.data[i] !== expected.data[pos * 273 + i]) assert.fail(`chunk value ${pos} ${i}`);
      pos += ch.nSamples;
    }
    assert.equal(pos, N_SIM);
    await rec.close();
  });

  it('the simulated subject as int16 with a 1 fT step: within half a step of the simulator', async () => {
    const { rec } = await compare('sim_short');
    const expected = sim.chunk(0, N_SIM);
    const si = await rec.readSI(0, N_SIM, Array.from({ length: 273 }, (_, i) => i));
    const step = Math.fround(1e-15);
    for (let i = 0; i < si.length; i += 13) assert.ok(Math.abs(si[i] - expected.data[i]) <= step / 2 + 1e-30, `value ${i}`);
    await rec.close();
  });

  for (const fmt of ['single', 'double', 'short', 'int'] as const) {
    it(`mixed channels as ${fmt}: same values in MNE and lockstep, long names, bads, annotations, first sample`, async () => {
      const { rec } = await compare(`mixed_${fmt}`);
      const src = mixedChunks(3000, false);
      const C = 5;
      const si = await rec.readSI(0, 3000, [0, 1, 2, 3, 4]);
      const cals = MIXED.channels.map((c) => Math.fround(c.cal!));
      for (const ch of src) {
        for (let i = 0; i < ch.data.length; i++) {
          const c = i % C;
          const want = ch.data[i];
          const got = si[ch.firstSample * C + i];
          const tol = fmt === 'short' || fmt === 'int' ? cals[c] / 2 * (1 + 1e-9) : Math.abs(want) * 1e-6;
          assert.ok(Math.abs(got - want) <= tol, `${fmt} sample ${ch.firstSample + Math.floor(i / C)} ch ${c}: ${got} vs ${want}`);
        }
      }
      const ev = await rec.stimEvents();
      assert.deepEqual(ev.get('STI101')!.map((e) => [e.sample, e.previous, e.value]), [[750, 0, 5], [1750, 0, 3]]);
      await rec.close();
    });
  }

  it('split files: MNE follows the parts; lockstep reads the same samples', async () => {
    const { rec, m } = await compare('split');
    // 8 buffers of 8016 bytes; MNE's rule splits once a file reaches 30000 − 8016 − 4000 bytes: 3 buffers a file.
    assert.deepEqual(m.files, ['split_raw.fif', 'split_raw-1.fif', 'split_raw-2.fif']);
    assert.equal(m.files[1], 'split_raw-1.fif');
    for (const f of m.files) assert.ok(fs.statSync(path.join(dir, f)).size <= 30000);
    const one = await openFif(written.mixed_single);
    assert.deepEqual(await rec.readStored(0, 3000, [0, 1, 2, 3, 4]), await one.readStored(0, 3000, [0, 1, 2, 3, 4]));
    await one.close();
    await rec.close();
  });

  it('a NaN run in float data: MNE sees it, scanNonFinite reports its span and channel', async () => {
    const { rec, m } = await compare('nan');
    assert.equal(m.nonfinite, 12);
    const spans = await scanNonFinite(rec);
    assert.deepEqual(spans, [{ startSample: 1000, stopSample: 1012, startSec: 1, stopSec: 1.012, channels: ['a-channel-name-longer-than-15'] }]);
    assert.deepEqual(await scanNonFinite(rec, { picks: [0, 1] }), []);
    await rec.close();
  });

  it('refuses values an integer format cannot hold, naming sample and channel', async () => {
    await assert.rejects(
      writeFif(path.join(dir, 'overflow_raw.fif'), mixedChunks(800, false), { ...MIXED, format: 'short', channels: MIXED.channels.map((c) => ({ ...c, cal: 1e-20 })) }),
      /sample 0 of channel MEG0111 .* outside the short range/,
    );
    assert.equal(fs.existsSync(path.join(dir, 'overflow_raw.fif')), false);
  });
});
