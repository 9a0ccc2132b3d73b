/**
 * Replay of real files: two sessions of a written Armeni-style BIDS dataset (CTF .ds data through
 * the CTF reader, words from events.tsv) replayed back to back on one clock. The output must be
 * identical at speed 'max' and ×50, carry the recordings' samples, and put every word after the
 * chunk that holds its onset, with session 2 offset by the length of session 1.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { lastValueFrom, map, toArray } from 'rxjs';
import { openBidsRuns, type BidsRecordingBundle } from '../adapters/meg/openRecording.js';
import { recordingReplay, segmentsFromBids, type ReplayItem } from '../replay/recordingReplay.js';
import { writeArmeniBids, type WrittenBids } from './helpers/armeniBids.js';
import { tempDir } from './helpers/paths.js';

describe('replaying written CTF sessions through BIDS', () => {
  let root: string;
  let ds: WrittenBids;
  let bundles: BidsRecordingBundle[];
  before(async () => {
    root = tempDir('replay-ctf');
    ds = await writeArmeniBids(root, { sessions: 2, seconds: 3 });
    bundles = await openBidsRuns({ root, subject: 'sub-001', task: 'compr' });
  });
  after(async () => {
    for (const b of bundles ?? []) await b.recording?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const run = (speed: number | 'max') => lastValueFrom(recordingReplay(segmentsFromBids(bundles), { speed, chunkSamples: 120 }).source.pipe(toArray()));
  const flat = (items: ReplayItem[]) => items.map((it) => (it.kind === 'chunk' ? [it.segment, it.chunk.firstSample, it.chunk.nSamples, Buffer.from(it.chunk.data.buffer).toString('base64')] : it.word));

  it('finds both sessions with their words', () => {
    assert.deepEqual(bundles.map((b) => [b.entry.key, b.words.length, b.recording?.header.nSamples, b.recording?.header.bads]), [
      ['sub-001_ses-001_task-compr', 12, 3600, [ds.bad]],
      ['sub-001_ses-002_task-compr', 12, 3600, [ds.bad]],
    ]);
  });

  it('emits the same chunks and words at speed max and ×50', async () => {
    const max = await run('max');
    const x50 = await run(50);
    assert.equal(max.filter((x) => x.kind === 'chunk').length, 60);
    assert.equal(max.filter((x) => x.kind === 'word').length, 24);
    assert.deepEqual(flat(x50), flat(max));
  });

  it('emits the same chunks from a reader thread (threaded)', async () => {
    const copied = (items$: ReturnType<typeof recordingReplay>['source']) =>
      lastValueFrom(items$.pipe(map((it) => (it.kind === 'chunk' ? { ...it, chunk: { ...it.chunk, allFinite: undefined, data: it.chunk.data.slice() } } : it)), toArray()));
    const unthreaded = await copied(recordingReplay(segmentsFromBids(bundles), { speed: 'max', chunkSamples: 120 }).source);
    // Two at once: each replay has its own reader thread.
    const [threaded, again] = await Promise.all([1, 2].map(() => copied(recordingReplay(segmentsFromBids(bundles), { speed: 'max', chunkSamples: 120, threaded: true }).source)));
    assert.equal(threaded.filter((x) => x.kind === 'chunk').length, 60);
    assert.deepEqual(flat(threaded), flat(unthreaded));
    assert.deepEqual(flat(again), flat(unthreaded));
  });

  it('carries the samples written, on one clock, words after their chunk', async () => {
    const { plan, source } = recordingReplay(segmentsFromBids(bundles), { speed: 'max', chunkSamples: 120 });
    assert.deepEqual(plan.segments.map((s) => [s.label, s.offsetSamples, s.offsetSec, s.nWords]), [
      ['sub-001_ses-001_task-compr', 0, 0, 12],
      ['sub-001_ses-002_task-compr', 3600, 3, 12],
    ]);
    const items = await lastValueFrom(source.pipe(toArray()));
    const nc = ds.channels.length;
    let lastChunk: ReplayItem | null = null;
    for (const it of items) {
      if (it.kind === 'chunk') {
        const c = it.chunk;
        const s = ds.sessions[it.segment];
        const local = c.firstSample - it.segment * 3600;
        for (let i = 0; i < c.nSamples; i += 37) for (let ch = 0; ch < nc; ch++) assert.equal(c.data[i * nc + ch], Math.fround(s.data[(local + i) * nc + ch]));
        lastChunk = it;
      } else {
        const w = it.word;
        const expected = ds.sessions[w.segment].words[w.wordIndex - 12 * w.segment];
        assert.equal(w.word, expected.word);
        assert.equal(w.localOnsetSec, expected.onsetSec);
        assert.equal(w.onsetSec, w.segment * 3 + expected.onsetSec);
        assert.equal(w.run, expected.run);
        assert.ok(lastChunk?.kind === 'chunk');
        const c = lastChunk.chunk;
        assert.ok(c.firstSample <= w.sample && w.sample < c.firstSample + c.nSamples, `${w.word} after the chunk holding sample ${w.sample}`);
      }
    }
  });
});
