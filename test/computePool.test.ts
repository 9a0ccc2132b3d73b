/**
 * The compute pool: batches (scoring and accumulation) and refits split over 1, 2 or 3 workers on
 * shared statistics give the numbers of the in-thread engine bit for bit, for every backend that
 * loads here, in float64 and in mixed precision; arrays outside shared memory are refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Decoder, type DecoderOptions } from '../src/decoder.js';
import { decoderArrays } from '../src/decoderState.js';
import type { LinalgBackend } from '../src/linalg/backend.js';
import { createBackend } from '../src/linalg/select.js';
import type { KFoldResult } from '../src/ridge/kfoldRidge.js';
import type { AccumulationPrecision } from '../src/stats/statsAccumulator.js';
import { ComputePool } from '../streams/computePool.js';
import { smallPlanted, wordsOf } from './helpers/planted.js';

// Enough rows (37 channels × 23 times) for the Σxyᵀ product to be split mid-array.
const data = smallPlanted({ nChannels: 37, nTimes: 23, nLayers: 4, nDims: 3 });
const words = wordsOf(data, 180);

const options = (precision: AccumulationPrecision): DecoderOptions => ({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 20 }, batchWords: 32, precision, halfLifeWords: 100 });

interface Outcome {
  arrays: { name: string; array: ArrayLike<number> }[];
  result: KFoldResult;
  weights: Float64Array;
}

/** Adds every word, refits every 70 words (so later batches are scored), refits at the end. */
async function decode(d: Decoder, backend: LinalgBackend): Promise<Outcome> {
  for (let i = 0; i < words.length; i++) {
    await d.add(words[i], backend);
    if ((i + 1) % 70 === 0) await d.refit(backend);
  }
  const result = (await d.refit(backend))!;
  await d.drain();
  return { arrays: decoderArrays(d), result, weights: d.model!.weights };
}

function assertIdentical(got: Outcome, want: Outcome, label: string): void {
  want.arrays.forEach(({ name, array }, i) => {
    assert.equal(got.arrays[i].name, name);
    assert.deepEqual(Array.from(got.arrays[i].array), Array.from(array), `${label}: ${name} differs`);
  });
  assert.deepEqual(Array.from(got.result.targetR), Array.from(want.result.targetR), `${label}: targetR differs`);
  assert.deepEqual(Array.from(got.result.alphaIndex), Array.from(want.result.alphaIndex), `${label}: alphaIndex differs`);
  assert.deepEqual(Array.from(got.weights), Array.from(want.weights), `${label}: model differs`);
}

for (const name of ['reference', 'blas', 'ort'] as const) {
  describe(`compute pool, ${name} backend`, async () => {
    let backend: LinalgBackend | undefined;
    let why = '';
    try {
      // One thread per call, as in the pool's workers (OpenBLAS's setting is process-wide).
      backend = await createBackend(name, { threads: 1 });
    } catch (e) {
      why = (e as Error).message;
    }
    if (!backend) {
      it('is not available here', { skip: why }, () => {});
      return;
    }
    const pools: ComputePool[] = [];
    before(async () => {
      for (const workers of [1, 2, 3]) pools.push(await ComputePool.start({ workers, backend: name }));
    });
    after(async () => {
      for (const p of pools) await p.close();
      await backend.dispose();
    });

    for (const precision of ['float64', 'mixed'] as const) {
      it(`${precision}: 1, 2 and 3 workers give the in-thread numbers bit for bit`, async () => {
        const want = await decode(new Decoder(options(precision)), backend);
        for (const pool of pools) {
          const d = new Decoder(options(precision), 'shared');
          d.engine = pool.engine();
          assertIdentical(await decode(d, backend), want, `${pool.size} worker(s)`);
        }
      });
    }
  });
}

describe('compute pool', () => {
  it('refuses statistics outside shared memory, saying what to do', async () => {
    const pool = await ComputePool.start({ workers: 1, backend: 'reference' });
    try {
      const d = new Decoder(options('float64'));
      d.engine = pool.engine();
      const backend = await createBackend('reference');
      for (const w of words.slice(0, 32)) await d.add(w, backend).catch(() => undefined);
      await assert.rejects(d.drain(), /must be in shared memory \(create the decoder with memory 'shared'\)/);
    } finally {
      await pool.close();
    }
  });
});
