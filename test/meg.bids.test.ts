/**
 * BIDS sidecars, walker and word events. Oracles: the `*.bids.ref.json` files (every sidecar of
 * ds000246 (CTF) and ds000248 (FIF) parsed with Python's csv/json), and events files written here
 * in the Armeni (Sherlock Holmes) and MEG-MASC layouts with known contents.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseBidsName } from '../adapters/meg/bids/entities.js';
import { parseMarkerFile } from '../adapters/meg/ctf/markers.js';
import { eventRows, stripQuotes, wordEvents } from '../adapters/meg/bids/events.js';
import { parsePyLiteral } from '../adapters/meg/bids/pyLiteral.js';
import { channelsOf, parseJsonSidecar, participantsOf, readScansTsv, readTsv } from '../adapters/meg/bids/sidecars.js';
import { parseTsv } from '../adapters/meg/bids/tsv.js';
import { selectRecordings, walkBids } from '../adapters/meg/bids/walker.js';
import { REPO_ROOT, fixture, tempDir } from './helpers/paths.js';

const MEG = fixture('meg');

interface TsvRef {
  kind: 'tsv';
  utf8_bom: boolean;
  crlf: boolean;
  columns: string[];
  n_rows: number;
  ragged_rows: number;
  first_rows: string[][];
  last_row: string[];
  na_counts: Record<string, number>;
  type_counts?: Record<string, number>;
  status_counts?: Record<string, number>;
  names?: string[];
  onset_count?: number;
  onset_min?: number;
  onset_max?: number;
  onset_sum?: number;
  onsets_sorted?: boolean;
  trial_type_counts?: Record<string, number>;
  value_counts?: Record<string, number>;
}
type FileRef = TsvRef | { kind: 'json'; content: unknown } | { kind: 'ctf_markers'; markers: Record<string, { count: number; first5: [number, number][] }> };

const counts = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

for (const ds of ['ds000246', 'ds000248']) {
  describe(`BIDS sidecars of ${ds} match Python's parse`, () => {
    const ref = JSON.parse(fs.readFileSync(path.join(MEG, `bids/${ds}.bids.ref.json`), 'utf8')) as { files: Record<string, FileRef> };
    const entries = Object.entries(ref.files);
    it('covers every TSV, JSON and marker file the reference lists', () => {
      assert.ok(entries.filter(([, r]) => r.kind === 'tsv').length >= 5);
      assert.ok(entries.filter(([, r]) => r.kind === 'json').length >= 5);
      assert.equal(entries.filter(([, r]) => r.kind === 'ctf_markers').length, ds === 'ds000246' ? 2 : 0);
    });
    for (const [rel, r] of entries) {
      const file = path.join(MEG, rel);
      if (r.kind === 'json') {
        it(`${rel}: same JSON`, () => assert.deepEqual(parseJsonSidecar(fs.readFileSync(file, 'utf8'), file), r.content));
      } else if (r.kind === 'ctf_markers') {
        // The CTF side file inside a BIDS .ds folder: read by the CTF branch's parser, checked against the same ref.
        it(`${rel}: same markers`, () => {
          const ours = parseMarkerFile(fs.readFileSync(file, 'latin1'), file);
          assert.deepEqual(ours.map((m) => m.name), Object.keys(r.markers));
          for (const m of ours) {
            const want: { count: number; first5: [number, number][] } = r.markers[m.name];
            assert.equal(m.samples.length, want.count, m.name);
            m.samples.slice(0, 5).forEach(([trial, t], i) => {
              assert.equal(trial, want.first5[i][0]);
              assert.ok(Math.abs(t - want.first5[i][1]) < 1e-12, `${m.name} #${i}`);
            });
          }
        });
      } else if (r.kind === 'tsv') {
        it(`${rel}: same table (BOM ${r.utf8_bom}, CRLF ${r.crlf})`, () => {
          const t = readTsv(file);
          assert.equal(t.utf8Bom, r.utf8_bom);
          assert.equal(t.crlf, r.crlf);
          assert.deepEqual(t.columns, r.columns);
          assert.equal(t.rows.length, r.n_rows);
          assert.equal(r.ragged_rows, 0);
          assert.deepEqual(t.rows.slice(0, r.first_rows.length), r.first_rows);
          assert.deepEqual(t.rows[t.rows.length - 1], r.last_row);
          for (const [c, n] of Object.entries(r.na_counts)) {
            const j = t.columns.indexOf(c);
            assert.equal(t.rows.filter((row) => row[j] === 'n/a').length, n, `n/a count of ${c}`);
          }
          const base = path.basename(rel);
          if (base.endsWith('_channels.tsv')) {
            const ch = channelsOf(t);
            assert.deepEqual(ch.channels.map((c) => c.name), r.names);
            assert.deepEqual(counts(ch.channels.map((c) => c.type)), r.type_counts);
            assert.deepEqual(counts(ch.channels.map((c) => c.status ?? 'n/a')), r.status_counts);
            assert.equal(ch.bads.length, r.status_counts?.bad ?? 0);
            assert.ok(ch.channels.every((c) => c.mneType !== undefined));
          }
          if (base.endsWith('_events.tsv')) {
            const ev = eventRows(t);
            const onsets = ev.map((e) => e.onsetSec);
            assert.equal(onsets.length, r.onset_count);
            assert.equal(Math.min(...onsets), r.onset_min);
            assert.equal(Math.max(...onsets), r.onset_max);
            assert.ok(Math.abs(onsets.reduce((a, b) => a + b, 0) - r.onset_sum!) < 1e-9 * r.onset_sum!);
            assert.equal(onsets.every((v, i) => i === 0 || onsets[i - 1] <= v), r.onsets_sorted);
            assert.deepEqual(counts(ev.map((e) => e.type!)), r.trial_type_counts);
            assert.deepEqual(counts(ev.map((e) => e.value!)), r.value_counts);
            assert.deepEqual(wordEvents(t).words, [], 'an audiovisual task has no word events');
          }
          if (base === 'participants.tsv') assert.equal(participantsOf(t).length, r.n_rows);
          if (base.endsWith('_scans.tsv')) assert.equal(readScansTsv(file).rows.length, r.n_rows);
        });
      }
    }
  });
}

describe('BIDS dataset walker', () => {
  it('finds the CTF runs and the empty-room recording of ds000246', () => {
    const ds = walkBids(path.join(MEG, 'bids/ds000246'));
    assert.equal(ds.name, 'MEG-BIDS Brainstorm data sample');
    assert.deepEqual(ds.subjects, [{ id: '0001', sessions: [] }, { id: 'emptyroom', sessions: [] }]);
    assert.deepEqual(ds.tasks, ['AEF', 'noise']);
    assert.deepEqual(ds.recordings.map((r) => [r.subject, r.session, r.task, r.run, r.format, r.isEmptyRoom]), [
      ['0001', null, 'AEF', '01', 'ctf', false],
      ['0001', null, 'AEF', '02', 'ctf', false],
      ['emptyroom', null, 'noise', '01', 'ctf', true],
    ]);
    const r2 = ds.recordings[1];
    assert.equal(path.basename(r2.dataFiles[0]), 'sub-0001_task-AEF_run-02_meg.ds');
    assert.equal(path.basename(r2.megJson!), 'sub-0001_task-AEF_run-02_meg.json');
    assert.equal(path.basename(r2.channelsTsv!), 'sub-0001_task-AEF_run-02_channels.tsv');
    assert.equal(r2.acqTime, '1800-01-01T09:51:00');
    assert.equal(ds.participants?.length, 2);
    assert.deepEqual(selectRecordings(ds, { subject: 'sub-0001', run: '2' }).map((r) => r.key), ['sub-0001_task-AEF_run-02']);
  });

  it('finds the FIF recording, its events and the empty-room session of ds000248 (sidecars only)', () => {
    const ds = walkBids(path.join(MEG, 'bids/ds000248'));
    assert.deepEqual(ds.subjects, [{ id: '01', sessions: [] }, { id: 'emptyroom', sessions: ['19210819'] }]);
    assert.deepEqual(ds.recordings.map((r) => [r.key, r.format, r.dataFiles.length]), [
      ['sub-01_task-audiovisual_run-01', 'fif', 0],
      ['sub-emptyroom_ses-19210819_task-noise', 'fif', 0],
    ]);
    assert.equal(path.basename(ds.recordings[0].eventsTsv!), 'sub-01_task-audiovisual_run-01_events.tsv');
    assert.equal(ds.recordings[1].scansFilename, 'meg/sub-emptyroom_ses-19210819_task-noise_meg.fif');
    assert.equal(ds.recordings[1].acqTime, '1921-08-19T15:16:18.982786Z');
  });

  it('groups split FIF parts in order, inherits root sidecars, and reports malformed scans rows', () => {
    const root = tempDir('bids-split');
    const meg = path.join(root, 'sub-002/ses-003/meg');
    fs.mkdirSync(meg, { recursive: true });
    fs.writeFileSync(path.join(root, 'dataset_description.json'), '\ufeff{"Name": "split test", "BIDSVersion": "1.8.0"}');
    fs.writeFileSync(path.join(root, 'task-compr_meg.json'), '{"SamplingFrequency": 1200, "PowerLineFrequency": 50}');
    for (const p of ['02', '01', '10']) fs.writeFileSync(path.join(meg, `sub-002_ses-003_task-compr_run-1_split-${p}_meg.fif`), '');
    fs.writeFileSync(path.join(meg, 'sub-002_ses-003_task-compr_run-1_events.tsv'), 'onset\tduration\ttrial_type\n1\t0\tx\n');
    fs.writeFileSync(
      path.join(root, 'sub-002/ses-003/sub-002_ses-003_scans.tsv'),
      'filename\tacq_time\nmeg/sub-002_ses-003_task-compr_run-1_split-01_meg.fif\tn/a\nt\nmeg/x_meg.fif 2020-01-01\n',
    );
    const ds = walkBids(root);
    assert.equal(ds.recordings.length, 1);
    const r = ds.recordings[0];
    assert.deepEqual(r.dataFiles.map((f) => path.basename(f)), ['01', '02', '10'].map((p) => `sub-002_ses-003_task-compr_run-1_split-${p}_meg.fif`));
    assert.equal(r.megJson, path.join(root, 'task-compr_meg.json'));
    assert.equal(r.session, '003');
    assert.equal(r.acqTime, null);
    assert.equal(ds.warnings.length, 2);
    assert.match(ds.warnings[0], /_scans\.tsv:3: row has 1 field, the header has 2/);
    assert.deepEqual(selectRecordings(ds, { subject: '002', session: 'ses-003', task: 'compr', run: '01' }).length, 1);
  });

  it('parses file names into entities', () => {
    assert.deepEqual(parseBidsName('sub-01_ses-2_task-x_run-03_split-01_meg.fif.gz'), { entities: { sub: '01', ses: '2', task: 'x', run: '03', split: '01' }, suffix: 'meg', extension: '.fif.gz' });
    assert.equal(parseBidsName('README'), null);
    assert.equal(parseBidsName('sub-01_task_meg.fif'), null);
  });
});

/** An Armeni-style events.tsv: triggers at onset 0, wav onsets, phonemes, quoted words, silences, two story parts. */
function armeniEvents(): { text: string; words: { word: string; onset: number; run: number }[] } {
  const rows = ['onset\tduration\tsample\ttype\tvalue'];
  rows.push('0\t0\t0\twav_onset\t10', '0.0\tn/a\t0\tword_onset_01\tTRIGGER');
  const words: { word: string; onset: number; run: number }[] = [];
  const story = [
    ['01', ['TO', 'SHERLOCK', 'sp', '"HOLMES"', "SHE'S", 'sp', 'ALWAYS', '"""THE"""', 'WOMAN']],
    ['02', ['I', 'HAD', 'sp', "'SEEN'", 'LITTLE', 'OF', 'HOLMES']],
  ] as const;
  let t = 3.25;
  for (const [part, ws] of story) {
    rows.push(`${t.toFixed(3)}\t0\t${Math.round(t * 1200)}\twav_onset\t${Number(part) * 10}`);
    for (const w of ws) {
      const dur = 0.23;
      rows.push(`${t.toFixed(4)}\t${dur}\t${Math.round(t * 1200)}\tword_onset_${part}\t${w}`);
      rows.push(`${t.toFixed(4)}\t0.08\t${Math.round(t * 1200)}\tphoneme_onset_${part}\tT`, `${(t + 0.08).toFixed(4)}\t0.15\t${Math.round((t + 0.08) * 1200)}\tphoneme_onset_${part}\tUW1`);
      if (w !== 'sp') words.push({ word: w.replace(/^"(.*)"$/, '$1').replace(/""/g, '"').replace(/^'(.*)'$/, '$1'), onset: Number(t.toFixed(4)), run: Number(part) });
      t += 0.3125;
    }
    t += 10;
  }
  return { text: `${rows.join('\r\n')}\r\n`, words };
}

describe('word events', () => {
  it('reads the Armeni layout: drops triggers, silences and phonemes, strips quotes, keeps the story part', () => {
    const dir = tempDir('armeni');
    const file = path.join(dir, 'sub-001_ses-001_task-compr_events.tsv');
    const { text, words } = armeniEvents();
    fs.writeFileSync(file, `\ufeff${text}`);
    const res = wordEvents(readTsv(file));
    assert.equal(res.layout, 'armeni');
    assert.deepEqual(
      res.words.map((w) => [w.wordIndex, w.word, w.onsetSec, w.durationSec, w.run]),
      words.map((w, i) => [i, w.word, w.onset, 0.23, w.run]),
    );
    assert.deepEqual(res.words.slice(2, 4).map((w) => w.word), ['HOLMES', "SHE'S"]);
    assert.equal(res.words[5].word, '"THE"');
    assert.equal(res.words[9].word, 'SEEN');
    assert.equal(res.dropped['silence (sp)'], 3);
    assert.equal(res.dropped['trigger (onset ≤ 0)'], 1);
    assert.equal(res.dropped.phoneme, 2 * 16);
    assert.equal(res.dropped['other type'], 3);
  });

  it('reads MEG-MASC trial_type dicts', () => {
    const d = (kind: string, extra: string) => `{'story': 'lw1', 'story_uid': 0, 'sound_id': 0, 'kind': '${kind}', 'meta': '', ${extra}'start': nan, 'condition': 'sentence', 'speech_rate': 205.0, 'voice': 'Allison'}`;
    const text = [
      'onset\tduration\ttrial_type\tvalue\tsample',
      `10.0\t5.2\t${d('sound', "'sound': 'stimuli/audio/lw1_0.wav', ")}\t1\t10000`,
      `10.12\t0.30\t${d('word', "'word': 'Tara', 'word_index': 0, ")}\t1\t10120`,
      `10.12\t0.05\t${d('phoneme', "'phoneme': 't_B', ")}\t1\t10120`,
      `10.55\t0.21\t${d('word', `'word': "it's", 'word_index': 1, `)}\t1\t10550`,
    ].join('\n');
    const res = wordEvents(parseTsv(text, 'sub-01_ses-0_task-0_events.tsv'), { run: null });
    assert.equal(res.layout, 'masc');
    assert.deepEqual(res.words.map((w) => [w.word, w.onsetSec, w.durationSec]), [['Tara', 10.12, 0.3], ["it's", 10.55, 0.21]]);
    assert.deepEqual(res.dropped, { sound: 1, phoneme: 1 });
    assert.throws(() => wordEvents(parseTsv(`onset\tduration\ttrial_type\n1\t0\t{'kind': 'word', 'word': 'x'\n`, 'e.tsv')), /e\.tsv:2: trial_type is not a Python dict literal: expected "}", found the end/);
  });

  it('reads trial_type == word with a word or value column, sorted by onset, with the file run', () => {
    const text = 'onset\tduration\ttrial_type\tvalue\n2.5\t0.2\tword\tworld\n1.0\t0.2\tword\thello\n0.5\t0\tstim\t3\n';
    const res = wordEvents(parseTsv(text, 'e.tsv'), { run: 2 });
    assert.deepEqual(res.words.map((w) => [w.wordIndex, w.word, w.onsetSec, w.run, w.line]), [[0, 'hello', 1, 2, 3], [1, 'world', 2.5, 2, 2]]);
    const withWord = wordEvents(parseTsv('onset\ttrial_type\tvalue\tword\n1\tword\t7\tcat\n', 'e.tsv'));
    assert.deepEqual(withWord.words.map((w) => [w.word, w.durationSec]), [['cat', 0]]);
  });

  it('names the file and line of malformed rows', () => {
    assert.throws(() => parseTsv('onset\tduration\n1\t2\n3\n', 'x_events.tsv'), /x_events\.tsv:3: row has 1 field, the header has 2/);
    assert.throws(() => wordEvents(parseTsv('onset\ttype\tvalue\nabc\tword_onset_01\tX\n', 'y.tsv')), /y\.tsv:2: column "onset" holds "abc", not a number/);
    assert.throws(() => wordEvents(parseTsv('onset\ttrial_type\n1\tword\n', 'z.tsv')), /z\.tsv:1: word rows but no "word" or "value" column/);
    assert.throws(() => channelsOf(parseTsv('name\ttype\tstatus\nA\tEEG\tmaybe\n', 'c.tsv')), /c\.tsv:2: status "maybe"/);
    assert.throws(() => parseJsonSidecar('{\n "a": 1,\n}', 'm.json'), /m\.json:3: invalid JSON/);
    assert.throws(() => parseTsv('\n\n', 'empty.tsv'), /empty\.tsv: empty table/);
  });

  it('strips one pair of matching quotes and parses Python literals', () => {
    assert.equal(stripQuotes('"HOLMES"'), 'HOLMES');
    assert.equal(stripQuotes("HOLMES'"), "HOLMES'");
    assert.equal(stripQuotes("'TWAS"), "'TWAS");
    assert.deepEqual(parsePyLiteral("{'a': [1, 2.5e-3, -4], 'b': (True, None), 'c': 'x\\'y', 'd': {}, 1: 'one',}"), { a: [1, 0.0025, -4], b: [true, null], c: "x'y", d: {}, 1: 'one' });
    assert.ok(Number.isNaN(parsePyLiteral('nan')));
    assert.throws(() => parsePyLiteral("{'a': foo}"), /unexpected "f" at character 7/);
  });
});
