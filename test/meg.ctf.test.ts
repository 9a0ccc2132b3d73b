/**
 * The CTF reader against its oracles: the shared Donders CTF-275 set
 * (testdata_ctf_short_discontinuous.ds) against its MNE 1.3 reference file, and against MNE-Python
 * itself (Debian python3-mne, every sample); MarkerFile parsing against MNE's parser on the BIDS
 * ds000246 marker files; the BIDS folders without data must fail with a clear error.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCtf, type CtfRecording } from '../adapters/meg/ctf/ctfReader.js';
import { parseMarkerFile } from '../adapters/meg/ctf/markers.js';
import { RecordingFormatError } from '../adapters/meg/rawRecording.js';
import { REPO_ROOT, fixture, runOracle, tempDir } from './helpers/paths.js';

const SHARED = fixture('meg');
const DS = path.join(SHARED, 'ctf/testdata_ctf_short_discontinuous.ds');
const BIDS = path.join(SHARED, 'bids/ds000246');

interface RefChannel { index: number; name: string; type: string; kind: number; coil_type: number; unit: number; cal: number }
interface RefChosen { index: number; first5: number[]; last5: number[]; mid_index: number; mid5: number[]; stored_first5: number[]; around_trial_boundary: { start_index: number; values: number[] } }
interface Res4Ref {
  header: string; nsamp_per_trial: number; nchan: number; sfreq: number; epoch_time: number; no_trials: number; pre_trig_pts: number;
  data_date: string; data_time: string; run_name: string; nfilt: number; ncomp_records: number;
  channels: Array<{ name: string; sensor_type_index: number; proper_gain: number; qgain: number; io_gain: number; io_offset: number; grad_order_no: number; num_coils: number; gain_used_by_mne: number }>;
}
interface Ref {
  sfreq: number; n_channels: number; n_samples: number; first_samp: number; lowpass: number; highpass: number; bads: string[];
  channel_type_counts: Record<string, number>; channels: RefChannel[]; chosen_channels: Record<string, RefChosen>;
  channel_stats: { first: number[]; mean: number[]; min: number[]; max: number[]; rms: number[] };
  res4: Res4Ref; meg4: Array<{ name: string; size: number; header: string }>;
  compensation: { current_grade: number; comps_ctfkinds: number[] }; trials: { n_trials_used: number; samples_per_trial: number };
}

/** |a − b| ≤ 1e-6·|b| (or ≤ 1e-6·scale when b is ~0). */
function close(a: number, b: number, what: string, scale = Math.abs(b)): void {
  assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(b), scale) || a === b, `${what}: ${a} vs ${b}`);
}

describe('CTF reader: testdata_ctf_short_discontinuous.ds against the MNE 1.3 reference', () => {
  const ref = JSON.parse(fs.readFileSync(`${DS}.ref.json`, 'utf8')) as Ref;
  let rec: CtfRecording;
  before(async () => { rec = await openCtf(DS); });
  after(async () => { await rec.close(); });

  it('has the reference sampling rate, sample count, filters and bads', () => {
    const h = rec.header;
    assert.equal(h.format, 'ctf');
    assert.equal(h.sfreqHz, ref.sfreq);
    assert.equal(h.nSamples, ref.n_samples);
    assert.equal(h.firstSample, ref.first_samp);
    assert.equal(h.channels.length, ref.n_channels);
    assert.equal(h.lowpassHz, ref.lowpass);
    assert.equal(h.highpassHz, ref.highpass);
    assert.deepEqual(h.bads, ref.bads);
    // meas_date: MNE reads the res4 date/time as UTC; only the date is checked strictly (see meg-formats.md).
    assert.match(h.measDate ?? '', /^2013-04-29T/);
  });

  it('has every channel with the reference name, type, FIFF kind, unit, coil type and cal', () => {
    const counts: Record<string, number> = {};
    ref.channels.forEach((rc, k) => {
      const c = rec.header.channels[k]!;
      assert.equal(c.name, rc.name, `channel ${k}`);
      assert.equal(c.type, rc.type, rc.name);
      assert.equal(c.extra?.fiffKind, rc.kind, rc.name);
      assert.equal(c.extra?.fiffUnit, rc.unit, rc.name);
      assert.equal(c.unit, rc.unit === 112 ? 'T' : 'V', rc.name);
      assert.equal(c.extra?.coilType, rc.coil_type, rc.name);
      assert.equal(c.cal, rc.cal, `${rc.name} cal`); // float64, bit-identical to MNE
      counts[c.type] = (counts[c.type] ?? 0) + 1;
    });
    assert.deepEqual(counts, ref.channel_type_counts);
  });

  it('parses the res4 fields as MNE does', () => {
    const r = rec.res4;
    const x = ref.res4;
    assert.equal(r.head, x.header);
    assert.equal(r.nSamplesPerTrial, x.nsamp_per_trial);
    assert.equal(r.nChannels, x.nchan);
    assert.equal(r.sfreqHz, x.sfreq);
    assert.equal(r.epochTimeSec, x.epoch_time);
    assert.equal(r.nTrials, x.no_trials);
    assert.equal(r.preTrigPts, x.pre_trig_pts);
    assert.equal(r.dataDate, x.data_date);
    assert.equal(r.dataTime, x.data_time);
    assert.equal(r.runName, x.run_name);
    assert.equal(r.filters.length, x.nfilt);
    assert.equal(r.comps.length, x.ncomp_records);
    assert.equal(r.offsets.end, fs.statSync(path.join(DS, 'testdata_ctf_short_discontinuous.res4')).size);
    x.channels.forEach((xc, k) => {
      const c = r.channels[k]!;
      assert.equal(c.name, xc.name);
      assert.equal(c.sensorTypeIndex, xc.sensor_type_index, xc.name);
      assert.equal(c.properGain, xc.proper_gain, xc.name);
      assert.equal(c.qgain, xc.qgain, xc.name);
      assert.equal(c.ioGain, xc.io_gain, xc.name);
      assert.equal(c.ioOffset, xc.io_offset, xc.name);
      assert.equal(c.gradOrderNo, xc.grad_order_no, xc.name);
      assert.equal(c.numCoils, xc.num_coils, xc.name);
      assert.equal(rec.header.channels[k]!.cal, xc.gain_used_by_mne, xc.name);
    });
    assert.equal(rec.header.extra?.compensationGrade, ref.compensation.current_grade);
    const kinds = [...new Set(r.comps.map((c) => c.coeffType))].sort((a, b) => a - b);
    assert.deepEqual(kinds, [...ref.compensation.comps_ctfkinds].sort((a, b) => a - b));
    assert.deepEqual(rec.layout.files.map((f) => ({ name: path.basename(f.path), size: f.sizeBytes, header: f.header })), ref.meg4);
  });

  it('reads the stored integers and SI values of the chosen channels', async () => {
    const n = ref.n_samples;
    for (const [name, c] of Object.entries(ref.chosen_channels)) {
      assert.deepEqual([...await rec.readStored(0, 5, [c.index])], c.stored_first5, name);
      const check = async (start: number, want: number[], what: string): Promise<void> => {
        const got = await rec.readSI(start, start + want.length, [c.index]);
        want.forEach((v, k) => close(got[k]!, v, `${name} ${what}[${k}]`));
      };
      await check(0, c.first5, 'first5');
      await check(c.mid_index, c.mid5, 'mid5');
      await check(n - 5, c.last5, 'last5');
      await check(c.around_trial_boundary.start_index, c.around_trial_boundary.values, 'around the trial boundary');
    }
  });

  it('matches the per-channel statistics over all samples', async () => {
    const n = ref.n_samples;
    const nc = ref.n_channels;
    const all = await rec.readSI(0, n, [...Array(nc).keys()]);
    for (let c = 0; c < nc; c++) {
      let sum = 0, sq = 0, min = Infinity, max = -Infinity;
      for (let s = 0; s < n; s++) {
        const v = all[s * nc + c]!;
        sum += v; sq += v * v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const rms = Math.sqrt(sq / n);
      const name = ref.channels[c]!.name;
      close(all[c]!, ref.channel_stats.first[c]!, `${name} first`);
      close(sum / n, ref.channel_stats.mean[c]!, `${name} mean`, rms);
      close(min, ref.channel_stats.min[c]!, `${name} min`, rms);
      close(max, ref.channel_stats.max[c]!, `${name} max`, rms);
      close(rms, ref.channel_stats.rms[c]!, `${name} rms`);
    }
  });

  it('reports the two trials and the clock gap between them', () => {
    assert.equal(rec.layout.segments.length, ref.trials.n_trials_used);
    assert.equal(rec.res4.nSamplesPerTrial, ref.trials.samples_per_trial);
    // SCLK01-177 runs 10 counts per sample and jumps from 198523060 to 199711060 between the trials.
    assert.deepEqual(rec.header.discontinuities, [{ sample: 1201, kind: 'trial-boundary', missingSamples: (199711060 - 198523060) / 10 - 1 }]);
    assert.equal(rec.header.extra?.systemClockStep, 10);
    assert.deepEqual(rec.header.events, []);
  });

  it('streams chunks equal to readSI (float32), in natural blocks and in any chunk size, with picks and a window', async () => {
    const n = rec.header.nSamples;
    const nc = rec.header.channels.length;
    const si = await rec.readSI(0, n, [...Array(nc).keys()]);
    const natural = [];
    for await (const c of rec.chunks()) natural.push(c);
    // Natural chunks end at the trial boundary and hold at most 2^18 values (736 samples × 356 channels).
    assert.deepEqual(natural.map((c) => [c.firstSample, c.nSamples]), [[0, 736], [736, 465], [1201, 736], [1937, 465]]);
    for (const c of natural) {
      assert.equal(c.tStartSec, c.firstSample / 1200);
      for (let k = 0; k < c.data.length; k++) {
        if (c.data[k] !== Math.fround(si[c.firstSample * nc + k]!)) assert.fail(`chunk value ${k} of sample ${c.firstSample}`);
      }
    }
    const picks = [32, 4, 0, 3, 100, 355, 7]; // 7: the 4-channel loop and its remainder
    const parts = [];
    for await (const c of rec.chunks({ picks, start: 1000, stop: 1500, chunkSamples: 97 })) parts.push(c);
    assert.equal(parts.reduce((s, c) => s + c.nSamples, 0), 500);
    assert.ok(parts.slice(0, -1).every((c) => c.nSamples === 97));
    const want = await rec.readSI(1000, 1500, picks);
    const got = new Float32Array(500 * picks.length);
    let o = 0;
    for (const c of parts) { got.set(c.data, o); o += c.data.length; }
    assert.deepEqual(got, Float32Array.from(want, Math.fround));
  });

  it('reads the same numbers through the windowed path (trials larger than the block budget)', async () => {
    const small = await openCtf(DS, { blockBudgetBytes: 356 * 4 * 100 });
    try {
      const picks = [...Array(356).keys()];
      assert.deepEqual(await small.readStored(0, 2402, picks), await rec.readStored(0, 2402, picks));
      const want = Float32Array.from(await rec.readSI(0, 2402, picks), Math.fround);
      let total = 0;
      for await (const c of small.chunks()) {
        assert.ok(c.nSamples <= 100);
        assert.deepEqual(c.data, want.subarray(c.firstSample * 356, (c.firstSample + c.nSamples) * 356), `chunk at ${c.firstSample}`);
        total += c.nSamples;
      }
      assert.equal(total, 2402);
      // Fixed-size chunks that straddle windows and the trial boundary.
      let o = 0;
      for await (const c of small.chunks({ chunkSamples: 333 })) {
        assert.deepEqual(c.data, want.subarray(o * 356, (o + c.nSamples) * 356), `chunk at ${c.firstSample}`);
        o += c.nSamples;
      }
      assert.equal(o, 2402);
    } finally {
      await small.close();
    }
  });

  it('agrees with MNE-Python on every sample (python3-mne)', async () => {
    const dir = tempDir('ctf-oracle');
    try {
      const bin = path.join(dir, 'data.f64');
      const o = runOracle<{ sfreq: number; n_times: number; ch_names: string[]; types: string[]; cal: number[] }>(
        'ctf_read.py', [DS, '--data', bin], path.join(dir, 'out.json'));
      assert.equal(o.n_times, rec.header.nSamples);
      assert.deepEqual(o.ch_names, rec.header.channels.map((c) => c.name));
      assert.deepEqual(o.types, rec.header.channels.map((c) => c.type));
      assert.deepEqual(o.cal, rec.header.channels.map((c) => c.cal));
      const mne = new Float64Array(fs.readFileSync(bin).buffer.slice(0));
      const nc = o.ch_names.length;
      const ours = await rec.readSI(0, o.n_times, [...Array(nc).keys()]);
      for (let c = 0; c < nc; c++) {
        for (let s = 0; s < o.n_times; s++) {
          if (ours[s * nc + c] !== mne[c * o.n_times + s]) assert.fail(`${o.ch_names[c]} sample ${s}: ${ours[s * nc + c]} vs MNE ${mne[c * o.n_times + s]}`);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CTF side files and folders without data (BIDS ds000246)', () => {
  const folders = [
    'sub-0001/meg/sub-0001_task-AEF_run-01_meg.ds',
    'sub-0001/meg/sub-0001_task-AEF_run-02_meg.ds',
    'sub-emptyroom/meg/sub-emptyroom_task-noise_run-01_meg.ds',
  ].map((p) => path.join(BIDS, p));

  it('fails with a RecordingFormatError naming the missing res4', async () => {
    for (const ds of folders) {
      await assert.rejects(openCtf(ds), (err: unknown) => {
        assert.ok(err instanceof RecordingFormatError);
        assert.equal(err.file, path.join(ds, `${path.basename(ds, '.ds')}.res4`));
        assert.match(err.message, /does not exist/);
        return true;
      });
    }
  });

  it('fails clearly on a path that is not a .ds folder', async () => {
    await assert.rejects(openCtf(`${DS}.ref.json`), RecordingFormatError);
  });

  it('parses MarkerFile.mrk as MNE does', () => {
    const files = folders.slice(0, 2).map((ds) => path.join(ds, 'MarkerFile.mrk'));
    const dir = tempDir('ctf-markers');
    try {
      const o = runOracle<{ files: Array<Array<{ name: string; samples: Array<[number, number]> }>> }>('ctf_read.py', ['--markers', ...files], path.join(dir, 'm.json'));
      files.forEach((file, k) => {
        const ours = parseMarkerFile(fs.readFileSync(file, 'latin1'), file);
        assert.deepEqual(ours, o.files[k]);
        assert.ok(ours.reduce((s, m) => s + m.samples.length, 0) > 100);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
