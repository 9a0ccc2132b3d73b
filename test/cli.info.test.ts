/**
 * `lockstep info` through the CLI on every recording in test/fixtures/meg against its MNE 1.3
 * reference (`*.ref.json`): header fields, every channel's type and calibration, chosen samples
 * (first, middle, last, across the CTF trial boundary) in SI within 1e-6 relative, stored numbers
 * identical, per-channel statistics over the whole recording, stim events; the BIDS listings of
 * ds000246/ds000248; and a written Armeni-style BIDS dataset (CTF data + events.tsv words).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, REPO_ROOT, fixture, tempDir } from './helpers/paths.js';
import { writeArmeniBids, type WrittenBids } from './helpers/armeniBids.js';
import { runInfo, type InfoArgs } from '../cli/info.js';

const MEG = fixture('meg');

function info(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'info', ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function infoJson(args: string[]): Record<string, any> {
  const r = info([...args, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function close(actual: number, expected: number, what: string, rel = 1e-6): void {
  const tol = rel * Math.max(Math.abs(expected), Number.MIN_VALUE);
  assert.ok(Math.abs(actual - expected) <= tol || (expected === 0 && actual === 0), `${what}: ${actual} vs ${expected}`);
}

interface ChosenRef {
  index: number;
  type: string;
  unit_si: string;
  first5: number[];
  last5: number[];
  mid_index: number;
  mid5: number[];
  stored_first5?: number[];
  around_trial_boundary?: { start_index: number; values: number[] };
}

const FIFF_UNIT: Record<number, string> = { 201: 'T/m', 112: 'T', 107: 'V' };
const REFS = ['fif/test_move_anon_erm_raw.fif', 'ctf/testdata_ctf_short_discontinuous.ds', 'extra/test_elekta_3ch_raw.fif', 'extra/testdata_ctf_short_discontinuous.ds_raw.fif'];

describe('lockstep info on every recording in test/fixtures/meg', () => {
  it('covers every reference file there', () => {
    const found = ['fif', 'ctf', 'extra'].flatMap((d) => fs.readdirSync(path.join(MEG, d)).filter((f) => f.endsWith('.ref.json')).map((f) => `${d}/${f.replace(/\.ref\.json$/, '')}`));
    assert.deepEqual(found.sort(), [...REFS].sort());
  });

  for (const rel of REFS) {
    it(`${rel}: header, channels, samples and stats as MNE reads them`, () => {
      const ref = JSON.parse(fs.readFileSync(path.join(MEG, `${rel}.ref.json`), 'utf8'));
      const file = path.join(MEG, rel);
      const chosen = ref.chosen_channels as Record<string, ChosenRef>;
      const picks = Object.keys(chosen);
      const out = infoJson([file, '--picks', picks.join(','), '--samples', `0:${ref.n_samples}`, '--stim-events']);
      assert.equal(out.format, ref.format);
      assert.equal(out.sfreq, ref.sfreq);
      assert.equal(out.nSamples, ref.n_samples);
      assert.equal(out.firstSample, ref.first_samp);
      assert.deepEqual(out.bads, ref.bads);
      assert.equal(out.lineFreq, ref.line_freq);
      close(out.lowpass, ref.lowpass, 'lowpass', 1e-12);
      close(out.highpass, ref.highpass, 'highpass', 1e-12);
      if (ref.format === 'fif') assert.equal(Date.parse(out.measDate), Date.parse(ref.meas_date));
      assert.equal(out.channels.length, ref.n_channels);
      ref.channels.forEach((c: { name: string; type: string; scale: number; unit: number }, i: number) => {
        const ours = out.channels[i];
        assert.equal(ours.name.slice(0, 15), c.name.slice(0, 15), `channel ${i}`);
        assert.equal(ours.type, c.type, `type of ${c.name}`);
        close(ours.cal, c.scale, `cal of ${c.name}`, 1e-12);
        if (['mag', 'grad', 'eeg', 'eog', 'ecg'].includes(c.type)) assert.equal(ours.unit, FIFF_UNIT[c.unit], `unit of ${c.name}`);
      });
      const n = ref.n_samples as number;
      for (const [name, c] of Object.entries(chosen)) {
        const d = out.data[name] as number[];
        assert.equal(d.length, n);
        assert.equal(out.channels[c.index].name, name);
        c.first5.forEach((v, i) => close(d[i], v, `${name}[${i}]`));
        c.last5.forEach((v, i) => close(d[n - 5 + i], v, `${name}[${n - 5 + i}]`));
        c.mid5.forEach((v, i) => close(d[c.mid_index + i], v, `${name}[${c.mid_index + i}]`));
        c.around_trial_boundary?.values.forEach((v, i) => close(d[c.around_trial_boundary!.start_index + i], v, `${name} at the trial boundary`));
        if (c.stored_first5) assert.deepEqual(out.stored[name].slice(0, 5), c.stored_first5, `stored numbers of ${name}`);
        const st = ref.channel_stats;
        const mean = d.reduce((a, b) => a + b, 0) / n;
        const rms = Math.sqrt(d.reduce((a, b) => a + b * b, 0) / n);
        close(mean, st.mean[c.index], `mean of ${name}`, 1e-6);
        close(rms, st.rms[c.index], `rms of ${name}`, 1e-6);
        close(Math.min(...d), st.min[c.index], `min of ${name}`);
        close(Math.max(...d), st.max[c.index], `max of ${name}`);
      }
      // Stim events (FIF: mne.find_events on each stim channel; rows [absolute sample, before, after]).
      if (ref.format === 'fif') {
        for (const [ch, e] of Object.entries(ref.stim_events as Record<string, { n_events: number; first_100: number[][] }>)) {
          const ours = (out.events as { channel?: string; sample: number; value: string; source: string }[]).filter((x) => x.source === 'stim' && x.channel === ch);
          assert.equal(ours.length, e.n_events, `stim events on ${ch}`);
          e.first_100.forEach(([s, , v], i) => assert.deepEqual([ours[i].sample + ref.first_samp, Number(ours[i].value)], [s, v]));
        }
      }
    });
  }

  it('prints a readable header and samples without --json', () => {
    const r = info([path.join(MEG, 'fif/test_move_anon_erm_raw.fif'), '--picks', 'MEG0113,EEG001', '--samples', '0:2']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^fif .*test_move_anon_erm_raw\.fif\nsfreq 1200 Hz, 1201 samples \(first sample 3600\)/);
    assert.match(r.stdout, /392 channels: 204 grad, 102 mag, 11 stim, 60 eeg, 2 eog, 1 ecg, 12 misc/);
    assert.match(r.stdout, /sample\tMEG0113 \(T\/m\)\tEEG001 \(V\)\n0\t7\.376671e-12\t5\.074027e-5\n1\t/);
  });

  it('exits 2 with one line on bad input', () => {
    const cases: [string[], RegExp][] = [
      [[path.join(MEG, 'fif/test_move_anon_erm_raw.fif'), '--picks', 'MEG9999', '--samples', '0:2'], /--picks: no channel "MEG9999"/],
      [[path.join(MEG, 'bids/ds000246'), '--subject', '0001'], /2 recordings match sub-0001: sub-0001_task-AEF_run-01, sub-0001_task-AEF_run-02 \(add --session\/--task\/--run/],
    ];
    for (const [args, re] of cases) {
      const r = info(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('names the problem for other bad input (in process: each CLI start costs seconds)', async () => {
    const cases: [InfoArgs, RegExp][] = [
      [{ path: path.join(MEG, 'nothing_raw.fif') }, /nothing_raw\.fif: path: no such file or folder/],
      [{ path: path.join(MEG, 'fif/test_move_anon_erm_raw.fif'), samples: [0, 5000] }, /--samples 0:5000: the recording has 1201 samples/],
      [{ path: path.join(MEG, 'fif/test_move_anon_erm_raw.fif.ref.json') }, /unknown recording format/],
      [{ path: path.join(MEG, 'bids/ds000246'), samples: [0, 2] }, /is a BIDS dataset: pick a recording with --subject/],
      [{ path: path.join(MEG, 'bids/ds000246'), subject: '0001', run: '1', samples: [0, 2] }, /lacks its \.res4\/\.meg4/],
      [{ path: path.join(MEG, 'bids/ds000246'), subject: '0002' }, /no recording matches sub-0002 \(recordings here: sub-0001_task-AEF_run-01/],
      [{ path: path.join(MEG, 'fif/test_move_anon_erm_raw.fif'), subject: '01' }, /apply to a BIDS root/],
    ];
    for (const [args, re] of cases) await assert.rejects(runInfo(args), re);
  });
});

describe('lockstep info on BIDS datasets', () => {
  it('lists what the walker found in ds000246 and ds000248', async () => {
    const a = (await runInfo({ path: path.join(MEG, 'bids/ds000246') })) as Record<string, any>;
    assert.equal(a.kind, 'bids-dataset');
    assert.deepEqual(a.subjects.map((s: { id: string }) => s.id), ['0001', 'emptyroom']);
    assert.deepEqual(a.tasks, ['AEF', 'noise']);
    assert.deepEqual(a.recordings.map((r: { key: string; format: string; dataPresent: boolean }) => [r.key, r.format, r.dataPresent]), [
      ['sub-0001_task-AEF_run-01', 'ctf', false],
      ['sub-0001_task-AEF_run-02', 'ctf', false],
      ['sub-emptyroom_task-noise_run-01', 'ctf', false],
    ]);
    const b = (await runInfo({ path: path.join(MEG, 'bids/ds000248') })) as Record<string, any>;
    assert.deepEqual(b.subjects, [{ id: '01', sessions: [] }, { id: 'emptyroom', sessions: ['19210819'] }]);
  });

  it('reports a sidecar-only recording from its sidecars (ds000248: events.tsv, channels.tsv bads, meg.json)', async () => {
    const o = (await runInfo({ path: path.join(MEG, 'bids/ds000248'), subject: 'sub-01', task: 'audiovisual' })) as Record<string, any>;
    assert.equal(o.sfreq, 600.614990234375);
    assert.equal(o.lineFreq, 60);
    assert.deepEqual(o.bads, ['MEG 2443', 'EEG 053']);
    assert.equal(o.channels.length, 376);
    assert.equal(o.events.length, 320);
    assert.deepEqual(o.events[0], { onsetSec: 3.6246181587150867, durationSec: 0, value: '2', type: 'Auditory/Right', sample: 2177, source: 'events.tsv' });
    assert.equal(o.bids.wordsLayout, 'none');
  });

  describe('a written Armeni-style dataset (CTF data, words in events.tsv)', () => {
    let ds: WrittenBids;
    let root: string;
    before(async () => {
      root = tempDir('info-armeni');
      ds = await writeArmeniBids(root, { sessions: 2, seconds: 3 });
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it('lists subject, sessions, task', async () => {
      const o = (await runInfo({ path: root })) as Record<string, any>;
      assert.deepEqual(o.subjects, [{ id: '001', sessions: ['001', '002'] }]);
      assert.deepEqual(o.recordings.map((r: { key: string; dataPresent: boolean }) => [r.key, r.dataPresent]), [
        ['sub-001_ses-001_task-compr', true],
        ['sub-001_ses-002_task-compr', true],
      ]);
    });

    it('opens one session with its words, the channels.tsv bad merged, and the samples written', () => {
      const s = ds.sessions[1];
      const picks = [ds.channels[4], ds.channels[0], ds.channels[1]];
      const o = infoJson([root, '--subject', '001', '--session', '002', '--picks', picks.join(','), '--samples', `0:${s.nSamples}`]);
      assert.equal(o.format, 'ctf');
      assert.equal(o.sfreq, 1200);
      assert.equal(o.nSamples, s.nSamples);
      assert.equal(o.lineFreq, 50, 'PowerLineFrequency from meg.json (the res4 has none)');
      assert.deepEqual(o.bads, [ds.bad]);
      assert.equal(o.bids.wordsLayout, 'armeni');
      assert.deepEqual(o.events.map((e: { value: string; onsetSec: number; durationSec: number; run: number }) => [e.value, e.onsetSec, e.durationSec, e.run]), s.words.map((w) => [w.word, w.onsetSec, w.durationSec, w.run]));
      assert.equal(o.events.length, 12);
      picks.forEach((name) => {
        const c = ds.channels.indexOf(name);
        const got = o.data[name] as number[];
        for (let i = 0; i < s.nSamples; i++) close(got[i], s.data[i * ds.channels.length + c], `${name}[${i}]`, 1e-12);
        // Stored numbers are the int32 counts the writer put there.
        for (let i = 0; i < 5; i++) assert.equal(o.stored[name][i], Math.round(s.data[i * ds.channels.length + c] * ds.scale[c]));
      });
      assert.deepEqual(o.warnings, []);
    });
  });
});
