/**
 * The activation cache and the extraction job: round trips (raw and PCA), key invalidation, resume
 * after a crash (byte-identical files), progress reports.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { cacheDirFor, cacheKeyHash, openActivationCache, readCompleteManifest, type CacheKey } from '../adapters/llm/activationCache.js';
import { extractWords, type RawWordFeatures, type StoryStimulus } from '../adapters/llm/extractor.js';
import { runExtraction, type ExtractionJob, type ExtractionProgress } from '../adapters/llm/extraction.js';
import type { ContextWindow } from '../src/types.js';
import { readNpyFile } from '../adapters/npyFile.js';
import { ReferenceBackend } from '../src/linalg/reference.js';
import { fitTransform } from '../src/llm/pca.js';
import { TOY, ToyCausalLm } from './helpers/toyCausalLm.js';
import { exactWindows, randomStory } from './helpers/toyStimulus.js';
import { tempDir } from './helpers/paths.js';

const stories: StoryStimulus[] = [randomStory(0, 0, 70, TOY.V, 3), randomStory(1, 70, 50, TOY.V, 4)];
const windows: ContextWindow[] = exactWindows(stories, 4);
const LAYERS = [1, 2, 3];
const baseKey = (pca: number | 'none'): Omit<CacheKey, 'modelHash'> => ({ textHash: 'text-1', context: 4, mode: 'exact', layers: LAYERS, depths: [0.3, 0.7, 1], aggregate: 'mean', pca });

function job(model: ToyCausalLm, root: string, pca: number | 'none', extra: Partial<ExtractionJob> = {}): ExtractionJob {
  return { model, stories, windows, key: baseKey(pca), cacheRoot: root, checkpointEvery: 10, backend: new ReferenceBackend(), ...extra };
}

async function direct(): Promise<RawWordFeatures[]> {
  const out: RawWordFeatures[] = [];
  for await (const w of extractWords(new ToyCausalLm(), stories, windows, { layers: LAYERS, aggregate: 'mean' })) out.push(...w.words);
  return out;
}

/** targets.npy must hold activations[w][l] at [l][w] (decode's [layers, words, dims] layout). */
function checkTargets(dir: string, perWord: Float32Array[], nL: number, D: number): void {
  const t = readNpyFile(path.join(dir, 'targets.npy'));
  assert.deepEqual(t.shape, [nL, perWord.length, D]);
  perWord.forEach((a, w) => {
    for (let l = 0; l < nL; l++) assert.deepEqual(t.data.subarray((l * perWord.length + w) * D, (l * perWord.length + w + 1) * D), a.subarray(l * D, (l + 1) * D));
  });
}

function filesOf(dir: string): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

describe('activation cache', () => {
  it('round-trips raw activations, surprisal and tokens per word, streaming word by word', async () => {
    const root = tempDir('cache-raw');
    const res = await runExtraction(job(new ToyCausalLm(), root, 'none'));
    assert.equal(res.fromCache, false);
    assert.equal(res.computedWords, 120);
    const expected = await direct();
    const reader = openActivationCache(res.dir);
    assert.equal(reader.manifest.nDims, TOY.H);
    assert.deepEqual(reader.manifest.layers, LAYERS);
    assert.equal(reader.manifest.files.pca, null);
    assert.equal(reader.manifest.wordsWithoutSurprisal, 2);
    const rows = [...reader.rows(7)];
    assert.equal(rows.length, 120);
    rows.forEach((r, i) => {
      assert.equal(r.wordIndex, expected[i].wordIndex);
      assert.deepEqual(r.activations, expected[i].activations);
      assert.equal(r.surprisalNats, expected[i].surprisalNats);
      assert.equal(r.tokensPerWord, expected[i].tokensPerWord);
      assert.equal(r.isContent, expected[i].isContent);
      assert.equal(reader.words[i].tokens, expected[i].wordTokenCount);
    });
    assert.equal(fs.existsSync(path.join(res.dir, 'progress.json')), false);
    assert.equal(fs.existsSync(path.join(res.dir, 'meta.partial')), false);
    checkTargets(res.dir, rows.map((r) => r.activations), LAYERS.length, TOY.H);
  });

  it('stores PCA scores equal to an in-memory fit of the raw activations, with mean and components', async () => {
    const root = tempDir('cache-pca');
    const res = await runExtraction(job(new ToyCausalLm(), root, 3, { keepRaw: true, blockRows: 9 }));
    const m = res.manifest;
    assert.equal(m.nDims, 3);
    assert.ok(m.files.raw && m.files.pca);
    const raw = readNpyFile(path.join(res.dir, m.files.raw)).data as Float32Array;
    const comps = readNpyFile(path.join(res.dir, m.files.pca.components));
    assert.deepEqual(comps.shape, [3, 3, TOY.H]);
    const rows = [...openActivationCache(res.dir).rows()];
    for (let l = 0; l < LAYERS.length; l++) {
      const x = new Float32Array(120 * TOY.H);
      for (let i = 0; i < 120; i++) x.set(raw.subarray((i * 3 + l) * TOY.H, (i * 3 + l + 1) * TOY.H), i * TOY.H);
      const { fit, scores } = await fitTransform(x, 120, TOY.H, 3, new ReferenceBackend());
      for (let i = 0; i < 120; i++) for (let c = 0; c < 3; c++) assert.ok(Math.abs(rows[i].activations[l * 3 + c] - scores[i * 3 + c]) < 1e-5);
      for (let j = 0; j < 3 * TOY.H; j++) assert.ok(Math.abs(comps.data[l * 3 * TOY.H + j] - fit.components[j]) < 1e-9);
    }
    assert.equal(m.explainedVarianceRatio!.length, 3);
    checkTargets(res.dir, rows.map((r) => r.activations), 3, 3);
    // Without keepRaw the raw file is removed after PCA.
    const res2 = await runExtraction(job(new ToyCausalLm(), tempDir('cache-pca2'), 3));
    assert.equal(res2.manifest.files.raw, null);
    assert.equal(fs.existsSync(path.join(res2.dir, 'raw.npy')), false);
    assert.deepEqual(readNpyFile(path.join(res2.dir, 'activations.npy')).data, readNpyFile(path.join(res.dir, 'activations.npy')).data);
  });

  it('reuses a complete cache for the same key and recomputes under any change of key', async () => {
    const root = tempDir('cache-key');
    const first = await runExtraction(job(new ToyCausalLm(), root, 'none'));
    const again = new ToyCausalLm();
    const second = await runExtraction(job(again, root, 'none'));
    assert.equal(second.fromCache, true);
    assert.equal(again.forwardCalls, 0);
    assert.equal(second.dir, first.dir);
    const variants: Array<Partial<CacheKey>> = [{ context: 5 }, { mode: 'chunked' }, { mode: 'chunked', chunkWords: 7 }, { layers: [1, 2, 2] }, { depths: [0.3, 0.6, 1] }, { aggregate: 'last' }, { pca: 2 }, { textHash: 'text-2' }];
    const hashes = new Set([first.dir]);
    for (const v of variants) {
      const model = new ToyCausalLm();
      const r = await runExtraction({ ...job(model, root, 'none'), key: { ...baseKey('none'), ...v } });
      assert.equal(r.fromCache, false, JSON.stringify(v));
      assert.ok(model.forwardCalls > 0);
      hashes.add(r.dir);
    }
    const otherModel = new ToyCausalLm({ hash: 'toy-causal-lm-v2' });
    const r = await runExtraction(job(otherModel, root, 'none'));
    assert.equal(r.fromCache, false);
    hashes.add(r.dir);
    assert.equal(hashes.size, variants.length + 2);
    const key: CacheKey = { modelHash: 'toy-causal-lm-v1', ...baseKey('none') };
    assert.equal(first.dir, cacheDirFor(root, key));
    assert.equal(readCompleteManifest(first.dir, { ...key, context: 9 }), null);
    assert.notEqual(cacheKeyHash(key), cacheKeyHash({ ...key, pca: 50 }));
    fs.writeFileSync(path.join(first.dir, 'manifest.json'), '{"format": broken');
    assert.throws(() => openActivationCache(first.dir), /manifest\.json: not a readable activation-cache manifest.*delete the folder/);
  });

  it('restarts instead of resuming when the checkpoint was made for other windows', async () => {
    const root = tempDir('cache-plan');
    await assert.rejects(runExtraction(job(new ToyCausalLm({ failAfter: 30 }), root, 'none')), /simulated crash/);
    const model = new ToyCausalLm();
    const res = await runExtraction({ ...job(model, root, 'none'), windows: exactWindows(stories, 3) });
    assert.equal(res.resumedWords, 0);
    assert.equal(model.forwardCalls, 120);
  });

  it('refuses a cache another live process is writing, and takes over the lock of a dead one', async () => {
    const root = tempDir('cache-lock');
    const dir = cacheDirFor(root, { modelHash: 'toy-causal-lm-v1', ...baseKey('none') });
    fs.mkdirSync(dir, { recursive: true });
    // The test runner's parent process is alive for the whole test.
    fs.writeFileSync(path.join(dir, 'writer.lock'), String(process.ppid));
    await assert.rejects(runExtraction(job(new ToyCausalLm(), root, 'none')), new RegExp(`another extraction \\(pid ${process.ppid}\\) is writing this cache`));
    // A pid above the kernel's pid_max (2^22) belongs to no process: a crashed writer's lock.
    fs.writeFileSync(path.join(dir, 'writer.lock'), String(2 ** 22 + 1));
    const res = await runExtraction(job(new ToyCausalLm(), root, 'none'));
    assert.equal(res.computedWords, 120);
    assert.equal(fs.existsSync(path.join(dir, 'writer.lock')), false);
  });

  for (const pca of ['none', 3] as const) {
    it(`resumes an interrupted extraction (pca ${pca}) and ends with byte-identical files`, async () => {
      const whole = await runExtraction(job(new ToyCausalLm(), tempDir('cache-whole'), pca));
      const root = tempDir('cache-resume');
      await assert.rejects(runExtraction(job(new ToyCausalLm({ failAfter: 37 }), root, pca)), /simulated crash/);
      const dir = cacheDirFor(root, { modelHash: 'toy-causal-lm-v1', ...baseKey(pca) });
      const progress = JSON.parse(fs.readFileSync(path.join(dir, 'progress.json'), 'utf8'));
      assert.equal(progress.rowsDone, 30, 'checkpoint every 10 words: 30 of the 37 computed words are safe');
      assert.throws(() => openActivationCache(dir), /interrupted; rerun the same `lockstep extract` to resume/);
      // A crash between a data write and the next checkpoint leaves extra bytes: they must be cut off.
      fs.appendFileSync(path.join(dir, 'raw.npy'), Buffer.alloc(100, 7));
      const model = new ToyCausalLm();
      const resumed = await runExtraction(job(model, root, pca));
      assert.equal(resumed.resumedWords, 30);
      assert.equal(resumed.computedWords, 90);
      assert.equal(model.forwardCalls, 90);
      const a = filesOf(whole.dir);
      const b = filesOf(resumed.dir);
      assert.deepEqual([...b.keys()], [...a.keys()]);
      for (const [f, bytes] of a) assert.ok(bytes.equals(b.get(f)!), `${f} differs after resume`);
    });
  }

  it('reports progress while it computes: from the resumed words to all of them, then done', async () => {
    const root = tempDir('cache-progress');
    await assert.rejects(runExtraction(job(new ToyCausalLm({ failAfter: 25 }), root, 'none')), /simulated crash/);
    const progress: ExtractionProgress[] = [];
    const model = new ToyCausalLm();
    await runExtraction(job(model, root, 'none', { onProgress: (p) => progress.push(p) }));
    assert.equal(model.forwardCalls, 100);
    const extract = progress.filter((p) => p.phase === 'extract');
    assert.equal(extract[0].wordsDone, 20);
    assert.equal(extract.at(-1)!.wordsDone, 120);
    assert.ok(extract.at(-1)!.wordsPerSec > 0 && extract.at(-1)!.etaSec === 0);
    assert.equal(progress.at(-1)!.phase, 'done');
  });
});
