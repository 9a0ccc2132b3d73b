/**
 * Bad input for the CTF reader: 280 seeded corruptions (truncations and byte flips) of
 * copies of the shared `.res4` and `.meg4` (and of a MarkerFile.mrk), each opened and read in a
 * temp folder. Every case must end, within a time limit, either in a successful read or in a
 * RecordingFormatError that names a file of the folder and a byte offset (or line), never any
 * other exception. Byte flips in the data must change exactly the sample they land in; a
 * truncated `.meg4` must say which trial, channel and sample are missing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCtf } from '../adapters/meg/ctf/ctfReader.js';
import { RecordingFormatError } from '../adapters/meg/rawRecording.js';
import { mulberry32 } from '../src/scores/prng.js';
import { REPO_ROOT, fixture, tempDir } from './helpers/paths.js';

const SRC = fixture('meg/ctf/testdata_ctf_short_discontinuous.ds');
const BASE = 'testdata_ctf_short_discontinuous';
const MARKERS = fixture('meg/bids/ds000246/sub-0001/meg/sub-0001_task-AEF_run-01_meg.ds/MarkerFile.mrk');
const NCHAN = 356;
const NSAMP = 1201;
const TRIAL_BYTES = NCHAN * NSAMP * 4;
const CLOCK = 3;
const CASE_TIMEOUT_MS = 10_000;

type Outcome = { ok: true; nSamples: number; stored: Float64Array | null } | { ok: false; error: RecordingFormatError };

describe('CTF reader on corrupted copies of the shared .ds', () => {
  const dir = tempDir('ctf-corrupt');
  const ds = path.join(dir, `${BASE}.ds`);
  const res4Path = path.join(ds, `${BASE}.res4`);
  const meg4Path = path.join(ds, `${BASE}.meg4`);
  const markerPath = path.join(ds, 'MarkerFile.mrk');
  const res4 = fs.readFileSync(path.join(SRC, `${BASE}.res4`));
  const meg4 = fs.readFileSync(path.join(SRC, `${BASE}.meg4`));
  const markers = fs.readFileSync(MARKERS);
  let baseline: Float64Array;
  const allPicks = [...Array(NCHAN).keys()];
  const counts = { ok: 0, error: 0 };

  /** Puts the pristine files back (only those a case changed: each is 3 MB). */
  let dirty = new Set<string>([res4Path, meg4Path]);
  function restore(): void {
    if (dirty.has(res4Path)) fs.writeFileSync(res4Path, res4);
    if (dirty.has(meg4Path)) fs.writeFileSync(meg4Path, meg4);
    fs.rmSync(markerPath, { force: true });
    dirty = new Set();
  }
  function damage(file: string, bytes: Uint8Array): void {
    dirty.add(file);
    fs.writeFileSync(file, bytes);
  }

  /** Opens and reads everything (stored, and SI through chunks()); any throw other than RecordingFormatError fails the test. */
  async function attempt(label: string, readAll: boolean): Promise<Outcome> {
    const run = async (): Promise<Outcome> => {
      try {
        const rec = await openCtf(ds);
        try {
          let n = 0;
          for await (const c of rec.chunks()) {
            n += c.nSamples;
            assert.equal(c.data.length, c.nSamples * c.nChannels);
          }
          assert.equal(n, rec.header.nSamples, `${label}: chunks cover the recording`);
          const stored = readAll && rec.header.channels.length === NCHAN ? await rec.readStored(0, rec.header.nSamples, allPicks) : null;
          return { ok: true, nSamples: rec.header.nSamples, stored };
        } finally {
          await rec.close();
        }
      } catch (err) {
        if (err instanceof RecordingFormatError) return { ok: false, error: err };
        throw new Error(`${label}: unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${label}: no result after ${CASE_TIMEOUT_MS} ms (hang)`)), CASE_TIMEOUT_MS); });
    try {
      const out = await Promise.race([run(), timeout]);
      counts[out.ok ? 'ok' : 'error']++;
      if (!out.ok) {
        assert.ok([res4Path, meg4Path, markerPath, ds].includes(out.error.file), `${label}: error names ${out.error.file}`);
        assert.match(out.error.where, /^(byte \d+|line \d+|file|folder)/, `${label}: position in "${out.error.where}"`);
        assert.ok(out.error.expected.length > 10, `${label}: says what was expected`);
      }
      return out;
    } finally {
      clearTimeout(timer);
    }
  }

  before(async () => {
    fs.mkdirSync(ds);
    restore();
    const rec = await openCtf(ds);
    baseline = await rec.readStored(0, rec.header.nSamples, allPicks);
    await rec.close();
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`corrupt cases: ${JSON.stringify(counts)}\n`);
    // Both outcomes must occur, or the cases test nothing.
    assert.ok(counts.ok > 20 && counts.error > 100, JSON.stringify(counts));
  });

  it('truncated .res4: a RecordingFormatError at a byte offset, every time', async () => {
    const rand = mulberry32(1);
    const cuts = [0, 1, 7, 8, 1287, 1290, 1300, 1843, 1844, 1846, res4.length - 1, res4.length - 1992, res4.length - 2000];
    while (cuts.length < 50) cuts.push(Math.floor(rand() * res4.length));
    for (const cut of cuts) {
      restore();
      damage(res4Path, res4.subarray(0, cut));
      const out = await attempt(`res4 cut at ${cut}`, false);
      assert.equal(out.ok, false, `res4 cut at ${cut} must not read`);
      if (!out.ok) assert.equal(out.error.file, res4Path);
    }
  });

  it('byte flips in the .res4: a clean error or a successful read', async () => {
    const rand = mulberry32(2);
    // Half the flips go where the counts and gains are (general header, filters, names, first records).
    const hot = [1288, 1289, 1290, 1291, 1292, 1293, 1296, 1297, 1836, 1837, 1838, 1839, 1844, 1845, 0, 3, 5];
    const positions = [...hot];
    while (positions.length < 45) positions.push(Math.floor(rand() * 1844));
    // nfilt is at 1844 (rdlen 0), the names from 1846, the channel records after them.
    while (positions.length < 70) positions.push(1846 + Math.floor(rand() * (32 * NCHAN + 8 * 1328)));
    while (positions.length < 100) positions.push(Math.floor(rand() * res4.length));
    for (const pos of positions) {
      restore();
      const bad = Buffer.from(res4);
      bad[pos] = bad[pos]! ^ (1 << Math.floor(rand() * 8));
      damage(res4Path, bad);
      await attempt(`res4 flip at ${pos}`, false);
    }
  });

  it('truncated .meg4: names the trial, channel and sample where the data stop', async () => {
    const rand = mulberry32(3);
    const cuts = [0, 3, 7, 8, 9, 12, 8 + TRIAL_BYTES - 1, 8 + TRIAL_BYTES, 8 + TRIAL_BYTES + 4 * NSAMP * CLOCK + 40, meg4.length - 1];
    while (cuts.length < 50) cuts.push(Math.floor(rand() * meg4.length));
    for (const cut of cuts) {
      restore();
      damage(meg4Path, meg4.subarray(0, cut));
      const out = await attempt(`meg4 cut at ${cut}`, false);
      if (cut === 8 + TRIAL_BYTES) {
        assert.ok(out.ok && out.nSamples === NSAMP, 'a cut at a trial boundary leaves the complete trial');
        continue;
      }
      assert.equal(out.ok, false, `meg4 cut at ${cut} must not read`);
      if (out.ok) continue;
      assert.equal(out.error.file, meg4Path);
      if (cut > 8) {
        const dataBytes = cut - 8;
        const trial = Math.floor(dataBytes / TRIAL_BYTES);
        const rest = dataBytes % TRIAL_BYTES;
        assert.equal(out.error.where, `byte ${cut}`);
        assert.match(out.error.message, new RegExp(`trial ${trial} of this file .* stops at channel ${Math.floor(rest / 4 / NSAMP)} \\(.*\\) sample ${Math.floor(rest / 4) % NSAMP}`));
      }
    }
  });

  it('byte flips in the .meg4: header flips are errors, data flips change exactly that sample', async () => {
    const rand = mulberry32(4);
    const positions = [0, 1, 2, 3, 4, 5, 6];
    while (positions.length < 50) positions.push(8 + Math.floor(rand() * (meg4.length - 8)));
    for (const pos of positions) {
      restore();
      const bad = Buffer.from(meg4);
      bad[pos] = bad[pos]! ^ (1 << Math.floor(rand() * 8));
      damage(meg4Path, bad);
      const out = await attempt(`meg4 flip at ${pos}`, true);
      if (pos < 7) {
        assert.equal(out.ok, false, `header flip at ${pos}`);
        continue;
      }
      const word = Math.floor((pos - 8) / 4);
      const trial = Math.floor(word / (NCHAN * NSAMP));
      const channel = Math.floor(word / NSAMP) % NCHAN;
      const sample = trial * NSAMP + (word % NSAMP);
      if (channel === CLOCK) continue; // the clock decides the sample count; either outcome is legitimate
      assert.ok(out.ok && out.stored, `data flip at ${pos} reads`);
      assert.equal(out.nSamples, 2 * NSAMP);
      const changed: number[] = [];
      for (let k = 0; k < baseline.length; k++) if (out.stored[k] !== baseline[k]) changed.push(k);
      assert.deepEqual(changed, [sample * NCHAN + channel], `flip at byte ${pos}`);
    }
  });

  it('reads the complete trials of a truncated .meg4 with incompleteTrial: "drop", and honours systemClock', async () => {
    restore();
    damage(meg4Path, meg4.subarray(0, 8 + TRIAL_BYTES + 1000));
    const dropped = await openCtf(ds, { incompleteTrial: 'drop' });
    try {
      assert.equal(dropped.header.nSamples, NSAMP);
      assert.deepEqual(await dropped.readStored(0, NSAMP, allPicks), baseline.subarray(0, NSAMP * NCHAN));
    } finally {
      await dropped.close();
    }
    // A 0 in the system clock at sample 100 of trial 1: MNE's 'truncate' ends the data there, 'ignore' reads all.
    restore();
    const bad = Buffer.from(meg4);
    bad.writeInt32BE(0, 8 + TRIAL_BYTES + (CLOCK * NSAMP + 100) * 4);
    damage(meg4Path, bad);
    for (const [systemClock, n] of [['truncate', NSAMP + 100], ['ignore', 2 * NSAMP]] as const) {
      const rec = await openCtf(ds, { systemClock });
      try {
        assert.equal(rec.header.nSamples, n, systemClock);
      } finally {
        await rec.close();
      }
    }
  });

  it('truncated or damaged MarkerFile.mrk: a RecordingFormatError at a line, or the markers read', async () => {
    const rand = mulberry32(5);
    for (let k = 0; k < 30; k++) {
      restore();
      const bad = Buffer.from(markers.subarray(0, Math.floor(rand() * markers.length)));
      if (k % 2 === 1 && bad.length > 0) bad[Math.floor(rand() * bad.length)] = 0x41 + Math.floor(rand() * 20);
      fs.writeFileSync(markerPath, bad);
      await attempt(`MarkerFile case ${k}`, false);
    }
  });
});
