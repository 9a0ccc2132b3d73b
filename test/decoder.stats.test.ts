/**
 * Sufficient statistics: one word at a time, in batches, and in two halves merged give the same
 * sums (to rounding; Σxxᵀ on its lower triangle, the one accumulation maintains); a word with NaN/Inf is skipped and counted and changes nothing else; shape
 * mismatches are errors that name the shapes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decoder } from '../src/decoder.js';
import { ReferenceBackend } from '../src/linalg/reference.js';
import { createBackend } from '../src/linalg/select.js';
import { addStatsInto, addWordDirect, emptyStats, STATS_ARRAY_KEYS, type SufficientStats } from '../src/stats/sufficientStats.js';
import { foldOf, minWordsForExact, type FoldPlan } from '../src/stats/foldPlan.js';
import { smallPlanted, wordsOf } from './helpers/planted.js';

const data = smallPlanted({ nChannels: 7, nTimes: 9, nLayers: 3, nDims: 2 });
const words = wordsOf(data, 57);
const reference = new ReferenceBackend();

/** Σxxᵀ keeps its lower triangle (column ≤ row) only: the upper one is not maintained by batched accumulation. */
function inLowerTriangle(i: number, C: number): boolean {
  return i % C <= Math.floor(i / C) % C;
}

function assertStatsClose(a: SufficientStats, b: SufficientStats, rel: number, label: string): void {
  assert.equal(a.n, b.n, `${label}: n`);
  for (const key of STATS_ARRAY_KEYS) {
    const x = a[key];
    const y = b[key];
    let scale = 0;
    for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(x[i]));
    for (let i = 0; i < x.length; i++) {
      if (key === 'sxx' && !inLowerTriangle(i, a.dims.nChannels)) continue;
      assert.ok(Math.abs(x[i] - y[i]) <= rel * scale, `${label}: ${key}[${i}] ${x[i]} vs ${y[i]}`);
    }
  }
}

async function accumulate(batchWords: number, backendName: 'reference' | 'auto' = 'reference', list = words): Promise<Decoder> {
  const backend = backendName === 'reference' ? reference : await createBackend('auto');
  const d = new Decoder({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 4 }, batchWords });
  for (const w of list) await d.add(w, backend);
  await d.flush(backend);
  return d;
}

describe('sufficient statistics', () => {
  it('one word at a time equals the direct per-word sums, and batches of any size agree', async () => {
    const direct = Array.from({ length: 5 }, () => emptyStats(data.o));
    words.forEach((w, i) => addWordDirect(direct[foldOf({ kind: 'blocks', folds: 5, blockWords: 4 }, i)], w.epoch, w.activations));
    for (const batch of [1, 3, 16, 64]) {
      const d = await accumulate(batch);
      d.accumulator.folds.forEach((f, i) => assertStatsClose(f, direct[i], 1e-12, `batch ${batch}, fold ${i}`));
    }
    const auto = await accumulate(16, 'auto');
    auto.accumulator.folds.forEach((f, i) => assertStatsClose(f, direct[i], 1e-5, `auto backend, fold ${i}`));
  });

  it('a batch ends where a fold block ends, so each batch is one fold run', async () => {
    // Blocks of 4 words, batches of up to 16: every batch is cut at a block boundary.
    const d = new Decoder({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 4 }, batchWords: 16 });
    const pendingAfter: number[] = [];
    for (const w of words.slice(0, 10)) {
      await d.add(w, reference);
      pendingAfter.push(d.accumulator.pending.count);
    }
    assert.deepEqual(pendingAfter, [1, 2, 3, 0, 1, 2, 3, 0, 1, 2]);
    // A fixed total: the last word of each contiguous fold ends its batch too (57 words, folds of 12/12/11/11/11).
    const total = new Decoder({ dims: data.o, foldPlan: { kind: 'total', folds: 5, totalWords: 57 }, batchWords: 8 });
    const cut: number[] = [];
    for (let i = 0; i < words.length; i++) {
      await total.add(words[i], reference);
      if (total.accumulator.pending.count === 0) cut.push(i + 1);
    }
    assert.deepEqual(cut, [8, 12, 20, 24, 32, 35, 43, 46, 54, 57]);
  });

  it('two halves accumulated separately and merged equal one pass', async () => {
    const whole = await accumulate(8);
    // Same fold assignment: the second half continues the positions of the first.
    const first = await accumulate(8, 'reference', words.slice(0, 30));
    const second = new Decoder({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 4 }, batchWords: 8 });
    second.accepted = 30;
    for (const w of words.slice(30)) await second.add(w, reference);
    await second.flush(reference);
    first.accumulator.folds.forEach((f, i) => addStatsInto(f, second.accumulator.folds[i]));
    first.accumulator.folds.forEach((f, i) => assertStatsClose(f, whole.accumulator.folds[i], 1e-12, `merged fold ${i}`));
  });

  it('a word with NaN or Inf is skipped with its reason and changes nothing else', async () => {
    const clean = await accumulate(8);
    const dirty = new Decoder({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 4 }, batchWords: 8 });
    const badEpoch = { ...words[3], epoch: words[3].epoch.slice() };
    badEpoch.epoch[5] = NaN;
    const badAct = { ...words[4], activations: words[4].activations.slice() };
    badAct.activations[1] = Infinity;
    const list = [...words.slice(0, 10), badEpoch, badAct, ...words.slice(10)];
    const outcomes = [];
    for (const w of list) outcomes.push(await dirty.add(w, reference));
    await dirty.flush(reference);
    assert.deepEqual(outcomes[10], { accepted: false, reason: 'nonfinite-epoch' });
    assert.deepEqual(outcomes[11], { accepted: false, reason: 'nonfinite-activations' });
    assert.deepEqual(dirty.skipped, { 'nonfinite-epoch': 1, 'nonfinite-activations': 1 });
    assert.equal(dirty.accepted, words.length);
    dirty.accumulator.folds.forEach((f, i) => assertStatsClose(f, clean.accumulator.folds[i], 0, `fold ${i}`));
  });

  it('mismatched shapes are errors that name both shapes', async () => {
    const d = new Decoder({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 4 } });
    await assert.rejects(d.add({ ...words[0], epoch: new Float32Array(10) }, reference), /word 0: epoch has 10 values, expected 7 channels × 9 times = 63/);
    await assert.rejects(d.add({ ...words[0], activations: new Float32Array(5) }, reference), /activations have 5 values, expected 3 layers × 2 dims = 6/);
    assert.equal(d.accepted, 0);
  });

  it('contiguous folds over a known total follow KFold(5, shuffle=False) boundaries', () => {
    const plan = { kind: 'total' as const, folds: 5, totalWords: 23 };
    const sizes = [0, 0, 0, 0, 0];
    let last = 0;
    for (let i = 0; i < 23; i++) {
      const f = foldOf(plan, i);
      assert.ok(f >= last, 'folds are contiguous and ordered');
      last = f;
      sizes[f]++;
    }
    assert.deepEqual(sizes, [5, 5, 5, 4, 4]);
    assert.throws(() => foldOf(plan, 23), /beyond the declared total of 23/);
  });

  it('minWordsForExact is the word at which the decoder can first run the exact K-fold', async () => {
    const plans: FoldPlan[] = [
      { kind: 'blocks', folds: 5, blockWords: 4 },
      { kind: 'blocks', folds: 5, blockWords: 1 },
      { kind: 'blocks', folds: 3, blockWords: 2 },
      { kind: 'total', folds: 5, totalWords: 23 },
      { kind: 'total', folds: 5, totalWords: 57 },
    ];
    for (const plan of plans) {
      const d = new Decoder({ dims: data.o, foldPlan: plan, batchWords: 8 });
      let first: number | null = null;
      for (let i = 0; i < words.length && (plan.kind === 'blocks' || i < plan.totalWords); i++) {
        await d.add(words[i], reference);
        if (first === null && d.canRefit) first = i + 1;
      }
      assert.equal(minWordsForExact(plan), first, JSON.stringify(plan));
    }
    assert.equal(minWordsForExact({ kind: 'blocks', folds: 5, blockWords: 100 }), 402, 'the streaming default: 4 blocks of 100, then 2 words of the fifth fold');
    assert.equal(minWordsForExact({ kind: 'total', folds: 5, totalWords: 9 }), null, 'folds of one word never score');
  });
});
