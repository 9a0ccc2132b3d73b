/**
 * A split FIF in a BIDS dataset, written by MNE-Python itself (`raw.save(split_naming='bids')`,
 * python3-mne): the walker lists the parts in split order, `openBidsRecording` opens the recording
 * from `_split-01` (the FIF reader follows FIFFB_REF into the other parts) and returns every sample
 * of the unsplit original, with the channels.tsv bad merged and the events.tsv words.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openBidsRecording, openRecording } from '../adapters/meg/openRecording.js';
import { walkBids } from '../adapters/meg/bids/walker.js';
import { DEBIAN_PYTHON, REPO_ROOT, fixture, tempDir } from './helpers/paths.js';

const SOURCE = fixture('meg/extra/test_elekta_3ch_raw.fif');

// Writes <root>/sub-01/meg/sub-01_task-listen_run-01_split-0K_meg.fif with MNE (4 parts of ≤ 1.4 MB).
const WRITE_SPLIT = `
import sys, mne
raw = mne.io.read_raw_fif(sys.argv[1], preload=True, verbose='error')
raw.save(sys.argv[2], split_naming='bids', split_size='1.4MB', buffer_size_sec=2.0, overwrite=True, verbose='error')
`;

describe('a split FIF recording in BIDS (written by MNE)', () => {
  let root: string;
  before(() => {
    root = tempDir('bids-split-fif');
    const meg = path.join(root, 'sub-01/meg');
    fs.mkdirSync(meg, { recursive: true });
    execFileSync(DEBIAN_PYTHON, ['-c', WRITE_SPLIT, SOURCE, path.join(meg, 'sub-01_task-listen_run-01_meg.fif')], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.writeFileSync(path.join(root, 'dataset_description.json'), '{"Name": "split", "BIDSVersion": "1.8.0"}');
    fs.writeFileSync(path.join(meg, 'sub-01_task-listen_run-01_channels.tsv'), '\ufeffname\ttype\tunits\tstatus\r\nMEG0111\tMEGMAG\tT\tgood\r\nMEG2643\tMEGGRADPLANAR\tT/m\tbad\r\nMEG2642\tMEGGRADPLANAR\tT/m\tgood\r\nSTI101\tTRIG\tn/a\tgood\r\n');
    fs.writeFileSync(path.join(meg, 'sub-01_task-listen_run-01_events.tsv'), 'onset\tduration\ttrial_type\tword\n1.5\t0.3\tword\tonce\n2.25\t0.2\tword\tupon\n3.0\t0\tbeep\tn/a\n');
    fs.writeFileSync(path.join(meg, 'sub-01_task-listen_run-01_meg.json'), '{"SamplingFrequency": 1000, "PowerLineFrequency": 50}');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('lists the four parts in split order', () => {
    const ds = walkBids(root);
    assert.equal(ds.recordings.length, 1);
    assert.deepEqual(ds.recordings[0].dataFiles.map((f) => path.basename(f)), [1, 2, 3, 4].map((k) => `sub-01_task-listen_run-01_split-0${k}_meg.fif`));
    assert.equal(ds.recordings[0].dataPresent, true);
    assert.equal(ds.recordings[0].format, 'fif');
  });

  it('reads every sample of the unsplit original, with the bad and the words', async () => {
    const b = await openBidsRecording({ root, subject: '01', run: '1' });
    const original = await openRecording(SOURCE);
    try {
      const rec = b.recording!;
      assert.deepEqual(b.warnings, []);
      assert.equal(rec.header.nSamples, 80000);
      assert.equal(rec.header.firstSample, 3000);
      assert.deepEqual((rec.header.extra?.parts as string[]).map((f) => path.basename(f)), [1, 2, 3, 4].map((k) => `sub-01_task-listen_run-01_split-0${k}_meg.fif`));
      assert.deepEqual(rec.header.bads, ['MEG2643']);
      assert.deepEqual(b.words.map((w) => [w.word, w.onsetSec, w.durationSec, w.run]), [['once', 1.5, 0.3, 1], ['upon', 2.25, 0.2, 1]]);
      const picks = [0, 1, 2, 3];
      assert.deepEqual(await rec.readStored(0, 80000, picks), await original.readStored(0, 80000, picks));
      assert.deepEqual(await rec.readSI(0, 80000, picks), await original.readSI(0, 80000, picks));
    } finally {
      await b.recording?.close();
      await original.close();
    }
  });
});
