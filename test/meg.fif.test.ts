/**
 * The FIF reader against MNE-Python 1.3: the shared files' `*.ref.json` (written by MNE) and
 * variants that MNE writes on the fly (int16/int32/float64 buffers, acquisition skips, split
 * files, annotations) through test/oracle/fif_oracle.py.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openFif, fifStructure, type FifRecording } from '../adapters/meg/fif/fifRaw.js';
import { FIFFT } from '../adapters/meg/fif/fifConstants.js';
import { RecordingFormatError } from '../adapters/meg/rawRecording.js';
import { REPO_ROOT, fixture, runOracle, tempDir } from './helpers/paths.js';

const MEG = fixture('meg');

function close(actual: number, expected: number, rel: number, floor: number, what: string): void {
  const tol = rel * Math.max(Math.abs(expected), floor);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

interface RefChannel { index: number; name: string; type: string; kind: number; coil_type: number; unit: number; unit_mul: number; cal: number; range: number; scale: number; logno: number; scanno: number; loc: number[] }
interface Ref {
  sfreq: number; n_channels: number; n_samples: number; first_samp: number; meas_date: string | null; lowpass: number; highpass: number; line_freq: number | null; bads: string[];
  channel_type_counts: Record<string, number>;
  channels: RefChannel[];
  annotations: unknown[];
  projs: { desc: string; active: boolean; kind: number; nvec: number }[];
  stim_events: Record<string, { n_events: number; first_100: number[][] }>;
  chosen_channels: Record<string, { index: number; first5: number[]; last5: number[]; mid_index: number; mid5: number[]; stored_first5: number[] }>;
  channel_stats: { first: number[]; mean: number[]; min: number[]; max: number[]; rms: number[] };
  orig_format: string;
  buffers_mne: { bounds_abs_samples: number[]; samples_per_buffer: number[]; gaps: boolean[] };
  file_structure: { dir_pointer: number; has_directory: boolean; n_data_buffers: number; data_buffer_types: number[]; data_buffer_sizes_bytes: number[]; n_data_skips: number; block_kinds: Record<string, number> };
}

const SHARED = ['fif/test_move_anon_erm_raw.fif', 'extra/test_elekta_3ch_raw.fif', 'extra/testdata_ctf_short_discontinuous.ds_raw.fif'];

for (const rel of SHARED) {
  describe(`FIF ${rel} against its MNE reference`, () => {
    const file = path.join(MEG, rel);
    const ref = JSON.parse(fs.readFileSync(`${file}.ref.json`, 'utf8')) as Ref;
    let rec: FifRecording;
    before(async () => { rec = await openFif(file); });
    after(async () => { await rec.close(); });

    it('header: sfreq, samples, first sample, date, filters, line frequency, bads, SSP projector list', () => {
      const h = rec.header;
      assert.equal(h.format, 'fif');
      assert.equal(h.sfreqHz, ref.sfreq);
      assert.equal(h.nSamples, ref.n_samples);
      assert.equal(h.firstSample, ref.first_samp);
      assert.equal(h.measDate, ref.meas_date);
      assert.equal(h.lowpassHz, ref.lowpass);
      assert.equal(h.highpassHz, ref.highpass);
      assert.equal(h.lineFreqHz, ref.line_freq);
      assert.deepEqual(h.bads, ref.bads);
      assert.equal(h.extra?.origFormat, ref.orig_format);
      assert.deepEqual(h.events.filter((e) => e.source === 'annotation'), ref.annotations);
      assert.deepEqual(h.extra?.projs, ref.projs.map((p) => ({ desc: p.desc, kind: p.kind, nvec: p.nvec, active: p.active })));
    });

    it('channels: names, MNE types, units, cal = range × cal, kind, coil, loc', () => {
      const chs = rec.header.channels;
      assert.equal(chs.length, ref.n_channels);
      const counts: Record<string, number> = {};
      for (const c of chs) counts[c.type] = (counts[c.type] ?? 0) + 1;
      assert.deepEqual(counts, ref.channel_type_counts);
      ref.channels.forEach((r, i) => {
        const c = chs[i];
        assert.equal(c.name, r.name);
        assert.equal(c.type, r.type, r.name);
        assert.equal(c.cal, r.scale, `${r.name} cal`);
        assert.equal(c.extra?.recordCal, r.cal);
        assert.equal(c.extra?.range, r.range);
        assert.equal(c.extra?.kind, r.kind);
        assert.equal(c.extra?.coilType, r.coil_type);
        assert.equal(c.extra?.unitCode, r.unit);
        assert.equal(c.extra?.unitMul, r.unit_mul);
        assert.equal(c.extra?.logno, r.logno);
        assert.equal(c.extra?.scanno, r.scanno);
        assert.deepEqual(c.extra?.loc, r.loc);
        assert.equal(c.unit, { 201: 'T/m', 112: 'T', 107: 'V' }[r.unit] ?? c.unit);
      });
    });

    it('stored numbers are identical and SI values match for the chosen channels', async () => {
      const n = ref.n_samples;
      for (const [name, c] of Object.entries(ref.chosen_channels)) {
        assert.deepEqual(Array.from(await rec.readStored(0, 5, [c.index])), c.stored_first5, `${name} stored`);
        const check = async (start: number, want: number[], label: string): Promise<void> => {
          const got = await rec.readSI(start, start + 5, [c.index]);
          want.forEach((w, k) => close(got[k], w, 1e-12, 1e-300, `${name} ${label}[${k}]`));
        };
        await check(0, c.first5, 'first5');
        await check(n - 5, c.last5, 'last5');
        await check(c.mid_index, c.mid5, 'mid5');
      }
    });

    it('channel_stats over all samples (first, mean, min, max, rms) within 1e-6 relative', async () => {
      const C = rec.header.channels.length;
      const n = rec.header.nSamples;
      const sum = new Float64Array(C);
      const ss = new Float64Array(C);
      const mn = new Float64Array(C).fill(Infinity);
      const mx = new Float64Array(C).fill(-Infinity);
      const all = Array.from({ length: C }, (_, i) => i);
      const first = await rec.readSI(0, 1, all);
      for (let s = 0; s < n; s += 4096) {
        const e = Math.min(n, s + 4096);
        const d = await rec.readSI(s, e, all);
        for (let r = 0; r < e - s; r++) {
          for (let c = 0; c < C; c++) {
            const v = d[r * C + c];
            sum[c] += v; ss[c] += v * v;
            if (v < mn[c]) mn[c] = v;
            if (v > mx[c]) mx[c] = v;
          }
        }
      }
      const st = ref.channel_stats;
      for (let c = 0; c < C; c++) {
        const rms = st.rms[c];
        const name = rec.header.channels[c].name;
        assert.equal(first[c], st.first[c], `${name} first`);
        close(sum[c] / n, st.mean[c], 1e-6, rms, `${name} mean`);
        close(mn[c], st.min[c], 1e-6, 0, `${name} min`);
        close(mx[c], st.max[c], 1e-6, 0, `${name} max`);
        close(Math.sqrt(ss[c] / n), rms, 1e-6, 0, `${name} rms`);
      }
    });

    it('buffers and file structure as MNE sees them', async () => {
      const fsx = ref.file_structure;
      const segs = rec.segments;
      const bounds = [...segs.map((g) => g.start + rec.header.firstSample), rec.header.firstSample + rec.header.nSamples];
      assert.deepEqual(bounds, ref.buffers_mne.bounds_abs_samples);
      assert.deepEqual(segs.map((g) => g.nSamples), ref.buffers_mne.samples_per_buffer);
      assert.deepEqual(segs.map((g) => g.payloadPos < 0), ref.buffers_mne.gaps);
      assert.deepEqual([...new Set(segs.map((g) => g.type))], fsx.data_buffer_types);
      assert.deepEqual(segs.map((g) => g.nSamples * rec.header.channels.length * (g.type === FIFFT.DOUBLE ? 8 : g.type === FIFFT.SHORT || g.type === FIFFT.DAU_PACK16 ? 2 : 4)), fsx.data_buffer_sizes_bytes);
      assert.equal(rec.header.discontinuities.length, fsx.n_data_skips);
      assert.equal(rec.header.extra?.dirPointer, fsx.dir_pointer);
      assert.equal(rec.header.extra?.usedDirectory, fsx.has_directory);
      assert.equal(rec.header.extra?.nDataBuffers, fsx.n_data_buffers);
      const st = await fifStructure(file);
      assert.deepEqual(Object.fromEntries(Object.entries(st.blockKinds).map(([k, v]) => [k, v])), fsx.block_kinds);
    });

    it('stim events equal mne.find_events(consecutive=True, initial_event=True)', async () => {
      const ev = await rec.stimEvents();
      assert.deepEqual([...ev.keys()].sort(), Object.keys(ref.stim_events).sort());
      for (const [name, r] of Object.entries(ref.stim_events)) {
        const got = ev.get(name)!;
        assert.equal(got.length, r.n_events, name);
        assert.deepEqual(got.slice(0, 100).map((e) => [e.sample, e.previous, e.value]), r.first_100, name);
      }
      const withEvents = await openFif(file, { stimEvents: true });
      const n = Object.values(ref.stim_events).reduce((s, r) => s + r.n_events, 0);
      assert.equal(withEvents.header.events.filter((e) => e.source === 'stim').length, n);
      await withEvents.close();
    });

    it('chunks(): file buffers by default, any chunk size, picks and ranges give the same float32 SI', async () => {
      const h = rec.header;
      const C = h.channels.length;
      const si = await rec.readSI(0, h.nSamples, Array.from({ length: C }, (_, i) => i));
      const natural: number[] = [];
      let pos = 0;
      for await (const ch of rec.chunks()) {
        assert.equal(ch.firstSample, pos);
        assert.equal(ch.tStartSec, pos / h.sfreqHz);
        assert.equal(ch.nChannels, C);
        for (let i = 0; i < ch.data.length; i += 97) assert.equal(ch.data[i], Math.fround(si[pos * C + i]));
        natural.push(ch.nSamples);
        pos += ch.nSamples;
      }
      assert.equal(pos, h.nSamples);
      assert.deepEqual(natural, rec.segments.map((g) => g.nSamples));
      const picks = [C - 1, 0, Math.floor(C / 2)];
      const start = Math.floor(h.nSamples / 7);
      const stop = h.nSamples - 3;
      pos = start;
      for await (const ch of rec.chunks({ picks, start, stop, chunkSamples: 333 })) {
        assert.ok(ch.nSamples <= 333);
        for (let r = 0; r < ch.nSamples; r++) {
          for (let p = 0; p < 3; p++) assert.equal(ch.data[r * 3 + p], Math.fround(si[(pos + r) * C + picks[p]]));
        }
        pos += ch.nSamples;
      }
      assert.equal(pos, stop);
    });
  });
}

describe('FIF tag directory versus the chain of next pointers', () => {
  const file = path.join(MEG, 'extra/testdata_ctf_short_discontinuous.ds_raw.fif');
  it('the MNE-C file (tags out of file order) gives the same tag list both ways', async () => {
    const viaDir = await fifStructure(file);
    const viaWalk = await fifStructure(file, { useDirectory: false });
    assert.equal(viaDir.usedDirectory, true);
    assert.equal(viaWalk.usedDirectory, false);
    assert.deepEqual(viaWalk.entries, viaDir.entries);
    // Logical order is not file order: some tag comes after a tag with a larger offset.
    assert.ok(viaDir.entries.some((e, i) => i > 0 && e.pos < viaDir.entries[i - 1].pos));
    const a = await openFif(file);
    const b = await openFif(file, { useDirectory: false });
    assert.deepEqual(b.header, { ...a.header, extra: { ...a.header.extra, usedDirectory: false } });
    assert.deepEqual(await b.readStored(1190, 1210, [0, 32, 305]), await a.readStored(1190, 1210, [0, 32, 305]));
    await a.close();
    await b.close();
  });
});

interface Summary {
  files: string[]; sfreq: number; n_times: number; first_samp: number; orig_format: string; meas_date: string | null;
  lowpass: number; highpass: number; line_freq: number | null; bads: string[]; ch_names: string[]; types: string[]; cals: number[];
  annotations: { onset: number; duration: number; description: string }[]; annotation_samples: number[];
  sample_index: number[]; samples: number[][]; mean: number[]; rms: number[]; min: number[]; max: number[]; zeros: number[];
  stim_events: Record<string, number[][] | string>;
}

/** Checks a recording against fif_oracle.py's summary of MNE's reading of the same file. */
export async function assertMatchesMne(rec: FifRecording, m: Summary, label: string): Promise<void> {
  const h = rec.header;
  assert.equal(h.sfreqHz, m.sfreq, label);
  assert.equal(h.nSamples, m.n_times, label);
  assert.equal(h.firstSample, m.first_samp, label);
  assert.equal(h.measDate, m.meas_date, label);
  assert.equal(h.lowpassHz, m.lowpass, label);
  assert.equal(h.highpassHz, m.highpass, label);
  assert.equal(h.lineFreqHz, m.line_freq, label);
  assert.deepEqual(h.bads, m.bads, label);
  assert.equal(h.extra?.origFormat, m.orig_format, label);
  assert.deepEqual(h.channels.map((c) => c.name), m.ch_names, label);
  assert.deepEqual(h.channels.map((c) => c.type), m.types, label);
  assert.deepEqual(h.channels.map((c) => c.cal), m.cals, label);
  assert.deepEqual((h.extra?.parts as string[]).map((p) => path.basename(p)), m.files, label);
  const ann = h.events.filter((e) => e.source === 'annotation');
  assert.deepEqual(ann.map((e) => e.value), m.annotations.map((a) => a.description), label);
  assert.deepEqual(ann.map((e) => e.sample), m.annotation_samples, label);
  ann.forEach((e, i) => close(e.durationSec, m.annotations[i].duration, 1e-6, 1e-6, `${label} annotation ${i} duration`));
  ann.forEach((e, i) => close(e.onsetSec + h.firstSample / h.sfreqHz, m.annotations[i].onset, 1e-6, 1, `${label} annotation ${i} onset`));
  const C = h.channels.length;
  const all = Array.from({ length: C }, (_, i) => i);
  for (let k = 0; k < m.sample_index.length; k++) {
    const s = m.sample_index[k];
    assert.deepEqual(Array.from(await rec.readSI(s, s + 1, all)), m.samples[k], `${label} sample ${s}`);
  }
  const si = await rec.readSI(0, h.nSamples, all);
  for (let c = 0; c < C; c++) {
    let sum = 0; let ss = 0; let mn = Infinity; let mx = -Infinity; let z = 0;
    for (let s = 0; s < h.nSamples; s++) {
      const v = si[s * C + c];
      sum += v; ss += v * v; mn = Math.min(mn, v); mx = Math.max(mx, v); if (v === 0) z++;
    }
    close(sum / h.nSamples, m.mean[c], 1e-6, m.rms[c], `${label} ch ${c} mean`);
    close(Math.sqrt(ss / h.nSamples), m.rms[c], 1e-6, 0, `${label} ch ${c} rms`);
    assert.equal(mn, m.min[c], `${label} ch ${c} min`);
    assert.equal(mx, m.max[c], `${label} ch ${c} max`);
    assert.equal(z, m.zeros[c], `${label} ch ${c} zeros`);
  }
  const ev = await rec.stimEvents();
  for (const [name, want] of Object.entries(m.stim_events)) {
    if (typeof want === 'string') continue;
    assert.deepEqual(ev.get(name)!.map((e) => [e.sample, e.previous, e.value]), want, `${label} ${name} events`);
  }
}

describe('FIF variants written by MNE (int16, int32, float64, skips, split files, annotations)', () => {
  const dir = tempDir('fif-variants');
  let mne: Record<string, Summary>;
  before(() => {
    mne = runOracle<Record<string, Summary>>('fif_oracle.py', ['variants', path.join(MEG, 'extra/test_elekta_3ch_raw.fif'), dir], path.join(dir, 'oracle.json'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, string, (rec: FifRecording) => void][] = [
    ['fmt_short', 'fmt_short_raw.fif', (r) => assert.deepEqual([...new Set(r.segments.map((g) => g.type))], [FIFFT.DAU_PACK16])],
    ['fmt_int', 'fmt_int_raw.fif', (r) => assert.deepEqual([...new Set(r.segments.map((g) => g.type))], [FIFFT.INT])],
    ['fmt_double', 'fmt_double_raw.fif', (r) => assert.deepEqual([...new Set(r.segments.map((g) => g.type))], [FIFFT.DOUBLE])],
    ['skips', 'skips_raw.fif', (r) => {
      // An initial skip (moves first_samp by 2 buffers) and one gap of 2 buffers in the middle.
      assert.deepEqual(r.header.discontinuities, [{ sample: 2000, kind: 'skip', missingSamples: 4000 }]);
    }],
    ['split', 'split_raw.fif', (r) => assert.equal((r.header.extra?.parts as string[]).length, 5)],
    ['annot', 'annot_raw.fif', (r) => assert.equal(r.header.events.length, 3)],
  ];
  it('FIFFT_SHORT (2) buffers read like DAU_PACK16 (16): the same int16 numbers', async () => {
    const src = path.join(dir, 'fmt_short_raw.fif');
    const buf = fs.readFileSync(src);
    const st = await fifStructure(src);
    const buffers = st.entries.filter((e) => e.kind === 300);
    assert.ok(buffers.length > 10 && buffers.every((e) => e.type === FIFFT.DAU_PACK16));
    for (const e of buffers) buf.writeUInt32BE(FIFFT.SHORT, e.pos + 4);
    const dst = path.join(dir, 'fmt_shorttype_raw.fif');
    fs.writeFileSync(dst, buf);
    const a = await openFif(src);
    const b = await openFif(dst);
    assert.deepEqual([...new Set(b.segments.map((g) => g.type))], [FIFFT.SHORT]);
    assert.equal(b.header.extra?.origFormat, 'short');
    const all = [0, 1, 2, 3];
    const sa = await a.readStored(0, a.header.nSamples, all);
    assert.deepEqual(await b.readStored(0, b.header.nSamples, all), sa);
    assert.ok(sa.some((v) => v !== 0 && Number.isInteger(v) && Math.abs(v) > 1000));
    await a.close();
    await b.close();
  });

  it('split files found by FIFF_REF_FILE_NUM alone (MNE\'s name-N.fif rule) read the same', async () => {
    const sub = path.join(dir, 'bynum');
    fs.mkdirSync(sub);
    const names = mne.split.files;
    for (const n of names) {
      const buf = fs.readFileSync(path.join(dir, n));
      const st = await fifStructure(path.join(dir, n));
      // Hide the file-name tags (kind 118 → an unknown kind, which readers skip).
      for (const e of st.entries.filter((x) => x.kind === 118)) buf.writeInt32BE(3999, e.pos);
      fs.writeFileSync(path.join(sub, n), buf);
    }
    const a = await openFif(path.join(dir, 'split_raw.fif'));
    const b = await openFif(path.join(sub, 'split_raw.fif'));
    assert.deepEqual((b.header.extra?.parts as string[]).map((p) => path.basename(p)), names);
    assert.deepEqual(await b.readStored(0, b.header.nSamples, [0, 3]), await a.readStored(0, a.header.nSamples, [0, 3]));
    await a.close();
    await b.close();
    fs.rmSync(path.join(sub, names[2]));
    await assert.rejects(openFif(path.join(sub, 'split_raw.fif')), (e: Error) => e instanceof RecordingFormatError && e.file === path.join(sub, names[1]) && /^byte \d+, tag kind 117 FIFF_REF_FILE_NUM$/.test(e.where) && e.message.includes(`the next split file ${path.join(sub, names[2])} to exist`));
  });

  for (const [key, name, extra] of cases) {
    it(`${key}: reads as MNE reads it`, async () => {
      const rec = await openFif(path.join(dir, name));
      try {
        await assertMatchesMne(rec, mne[key], key);
        extra(rec);
      } finally {
        await rec.close();
      }
    });
  }
});
