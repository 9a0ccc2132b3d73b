/**
 * Features that stream while the extraction runs (a PCA basis fixed before extraction,
 * adapters/llm/pcaBasis.ts): on a tiny generated model folder, the rows a streaming table hands out
 * are the rows of the finished cache, bit for bit; a sample basis covering every word is the
 * all-words fit; a stopped and resumed sample-fit extraction ends byte-identical and streams every
 * word again; and the join that makes the pipeline wait for words not yet extracted keeps the order
 * and the flow count (streams/joinActivations.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Subject } from 'rxjs';
import { readNpyFile } from '../adapters/npyFile.js';
import { executeExtract, openExtractionSession, prepareStimulus, runExtract } from '../adapters/llm/extract.js';
import { modelFeatures } from '../adapters/llm/features.js';
import { parsePcaFit, sampleWindows } from '../adapters/llm/pcaBasis.js';
import { FlowControl } from '../streams/flowControl.js';
import { joinActivations } from '../streams/joinActivations.js';
import type { WordEpoch, WordPair } from '../src/types.js';
import { tempDir } from './helpers/paths.js';
import { writeTinyModelFolder, type TinyModelFolder } from './helpers/tinyModelFolder.js';

const WORDS = 120;
const common = { text: 'builtin', maxWords: WORDS, context: 6, mode: 'exact' as const };

describe('streamed features = the finished cache', () => {
  let root: string;
  let tiny: TinyModelFolder;
  before(() => {
    root = tempDir('streaming');
    tiny = writeTinyModelFolder(root, { layers: 4, hidden: 32 });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a streaming table answers before its rows exist, and its rows are the cache\'s, bit for bit', async () => {
    const cacheRoot = path.join(root, 'cache-stream');
    const o = { model: tiny.dir, context: common.context, mode: common.mode, cacheRoot, pcaFit: parsePcaFit('sample:40'), workers: 2 };
    const table = await modelFeatures([{ text: 'builtin', maxWords: WORDS }], { ...o, stream: true });
    assert.equal(table.parts[0].words, WORDS);
    assert.ok(table.isContent(3) !== undefined, 'tags are known before any row');
    const last = table.when!(WORDS - 1, '');
    assert.ok(last instanceof Promise, 'the last word is not extracted yet when the table is returned');
    const rows = await Promise.all(Array.from({ length: WORDS }, (_, i) => table.when!(i, '')));
    const [summary] = await table.done;
    assert.equal(summary.pcaFit, 'sample:40');
    assert.equal(summary.fromCache, false);
    const cached = readNpyFile(path.join(summary.cacheDir, 'activations.npy'));
    assert.deepEqual(cached.shape, [WORDS, 9, table.nDims]);
    const per = 9 * table.nDims;
    rows.forEach((r, i) => assert.deepEqual(r, (cached.data as Float32Array).subarray(i * per, (i + 1) * per), `word ${i}`));
    // Read back from the cache (no extraction): the same rows.
    const again = await modelFeatures([{ text: 'builtin', maxWords: WORDS }], o);
    assert.equal(again.summaries[0].fromCache, true);
    for (let i = 0; i < WORDS; i++) assert.deepEqual(again.of(i, ''), rows[i]);
    assert.match(again.label, /PCA \d+ \(basis: sample:40\)/);
  });

  it('rows stream in stimulus order, in several pieces', async () => {
    const session = await openExtractionSession({ model: tiny.dir, workers: 1, batchTokens: 64 });
    try {
      const o = { ...common, aggregate: 'mean' as const, pca: 8, pcaFit: parsePcaFit('sample:30'), out: path.join(root, 'cache-order') };
      const prepared = await prepareStimulus(session, o);
      const pieces: number[][] = [];
      const s = await executeExtract(session, prepared, o, {}, (r) => pieces.push(r.words));
      assert.ok(pieces.length > 5, `${pieces.length} pieces`);
      assert.deepEqual(pieces.flat(), prepared.rowWords);
      assert.equal(s.dims, 8);
      assert.ok(s.batches < s.windows, `${s.batches} passes for ${s.windows} windows`);
    } finally {
      await session.close();
    }
  });

  it('a sample covering every word gives the all-words fit (float rounding)', async () => {
    const base = { model: tiny.dir, ...common, aggregate: 'mean' as const, pca: 10, out: path.join(root, 'cache-fits') };
    const all = await runExtract({ ...base, pcaFit: parsePcaFit('all') });
    const sample = await runExtract({ ...base, pcaFit: parsePcaFit(`sample:${WORDS}`) });
    assert.notEqual(sample.cacheDir, all.cacheDir, 'the fit is part of the cache key');
    const a = readNpyFile(path.join(all.cacheDir, 'activations.npy')).data;
    const b = readNpyFile(path.join(sample.cacheDir, 'activations.npy')).data;
    let d = 0;
    let m = 0;
    for (let i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
      m = Math.max(m, Math.abs(a[i]));
    }
    assert.ok(d < 1e-4 * m, `all vs sample:${WORDS}: ${d} (scale ${m})`);
    // A smaller sample is spread over the stimulus, not its beginning.
    const windows = Array.from({ length: 100 }, (_, i) => ({ story: 0, tokenStart: i, tokenStop: i + 1, targetWords: [i] }));
    assert.deepEqual(sampleWindows(windows, 4), [12, 37, 62, 87]);
    assert.equal(sampleWindows(windows, 500).length, 100);
  });

  it('a sample-fit extraction stopped midway resumes byte-identical, streaming the resumed rows first', async () => {
    const o = { model: tiny.dir, ...common, aggregate: 'mean' as const, pca: 10, pcaFit: parsePcaFit('sample:50'), out: path.join(root, 'cache-resume'), checkpointEvery: 8, batchTokens: 96 };
    const whole = await runExtract({ ...o, out: path.join(root, 'cache-whole') });
    const stop = new AbortController();
    await assert.rejects(runExtract({ ...o, signal: stop.signal }, { progress: (p) => p.phase === 'extract' && p.wordsDone >= 40 && stop.abort() }), /extraction stopped after \d+ of 120 words; rerun to resume/);
    const session = await openExtractionSession(o);
    try {
      const prepared = await prepareStimulus(session, o);
      const streamed: number[] = [];
      const s = await executeExtract(session, prepared, o, {}, (r) => streamed.push(...r.words));
      assert.ok(s.resumedWords >= 40 && s.resumedWords < WORDS, `resumed ${s.resumedWords}`);
      assert.deepEqual(streamed, prepared.rowWords, 'every word streamed once, in order');
      for (const f of fs.readdirSync(whole.cacheDir)) {
        assert.ok(fs.readFileSync(path.join(whole.cacheDir, f)).equals(fs.readFileSync(path.join(s.cacheDir, f))), `${f} differs`);
      }
    } finally {
      await session.close();
    }
  });
});

describe('joinActivations', () => {
  const epoch = (i: number): WordEpoch => ({ word: { wordIndex: i, word: `w${i}`, onsetSec: i }, epoch: new Float32Array([i]) });
  const row = (i: number) => new Float32Array([i, -i]);

  it('keeps epoch order when activations arrive out of order, counts waiting epochs in flow, completes after the last', async () => {
    const flow = new FlowControl();
    const resolvers = new Map<number, (v: Float32Array | undefined) => void>();
    const lookup = (w: { wordIndex: number }) => {
      // Words 1, 2 and 4 are "not extracted yet"; 0 and 3 are; 5 has no activations.
      if (w.wordIndex === 5) return undefined;
      if ([1, 2, 4].includes(w.wordIndex)) return new Promise<Float32Array | undefined>((res) => resolvers.set(w.wordIndex, res));
      return row(w.wordIndex);
    };
    const src = new Subject<WordEpoch>();
    const out: WordPair[] = [];
    const missing: number[] = [];
    let completed = false;
    src.pipe(joinActivations(lookup, { flow, onMissing: (w) => missing.push(w.wordIndex) })).subscribe({ next: (p) => out.push(p), complete: () => (completed = true) });
    src.next(epoch(0));
    assert.deepEqual(out.map((p) => p.wordIndex), [0], 'ready activations pass at once');
    assert.equal(flow.pending, 0);
    for (const i of [1, 2, 3, 4, 5]) src.next(epoch(i));
    assert.equal(flow.pending, 5, 'waiting epochs count as in flight');
    src.complete();
    resolvers.get(2)!(row(2));
    resolvers.get(4)!(row(4));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out.map((p) => p.wordIndex), [0], 'word 2 is ready but waits behind word 1');
    resolvers.get(1)!(row(1));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out.map((p) => p.wordIndex), [0, 1, 2, 3, 4]);
    assert.deepEqual(out[3].activations, row(3));
    assert.deepEqual(missing, [5]);
    assert.equal(flow.pending, 0);
    assert.ok(completed, 'completes once the last waiting epoch left');
  });

  it('an extraction failure errors the stream; unsubscribing releases the flow count', async () => {
    const flow = new FlowControl();
    const src = new Subject<WordEpoch>();
    let error: unknown = null;
    src.pipe(joinActivations(() => Promise.reject(new Error('model gone')), { flow })).subscribe({ error: (e) => (error = e) });
    src.next(epoch(0));
    await new Promise((r) => setImmediate(r));
    assert.match(String(error), /model gone/);
    assert.equal(flow.pending, 0);
    const src2 = new Subject<WordEpoch>();
    const sub = src2.pipe(joinActivations(() => new Promise<undefined>(() => undefined), { flow })).subscribe();
    src2.next(epoch(1));
    src2.next(epoch(2));
    assert.equal(flow.pending, 2);
    sub.unsubscribe();
    assert.equal(flow.pending, 0);
  });
});
