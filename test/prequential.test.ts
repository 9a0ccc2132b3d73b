/**
 * The rolling (prequential) score: without forgetting it is the plain Pearson r of predictions and
 * truth over all scored words; with a half-life, a word h words old weighs one half.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrequentialScorer } from '../src/stats/prequential.js';
import { pearson } from '../src/scores/pearson.js';
import { Decoder } from '../src/decoder.js';
import { ReferenceBackend } from '../src/linalg/reference.js';
import { mulberry32, randomNormal } from '../src/scores/prng.js';
import { smallPlanted, wordsOf } from './helpers/planted.js';

const dims = { nChannels: 1, nTimes: 2, nLayers: 1, nDims: 2 };

function series(n: number, seed: number): { yhat: number[][]; y: number[][] } {
  const rng = mulberry32(seed);
  const yhat: number[][] = [];
  const y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const truth = [randomNormal(rng), randomNormal(rng)];
    y.push(truth);
    yhat.push([truth[0] + randomNormal(rng), 0.3 * truth[1] + randomNormal(rng), truth[0] * 2, -truth[1]]); // [t][target]
  }
  return { yhat, y };
}

function feed(s: PrequentialScorer, yhat: number[][], y: number[][], batch: number): void {
  for (let i0 = 0; i0 < y.length; i0 += batch) {
    const W = Math.min(batch, y.length - i0);
    const h = new Float64Array(2 * W * 2);
    const v = new Float64Array(W * 2);
    for (let i = 0; i < W; i++) {
      for (let t = 0; t < 2; t++) for (let p = 0; p < 2; p++) h[(t * W + i) * 2 + p] = yhat[i0 + i][t * 2 + p];
      v.set(y[i0 + i], i * 2);
    }
    s.update(h, v, W);
  }
}

describe('prequential score', () => {
  it('without forgetting equals the Pearson r over all scored words, whatever the batching', () => {
    const { yhat, y } = series(200, 3);
    for (const batch of [1, 7, 200]) {
      const s = new PrequentialScorer(dims, null);
      feed(s, yhat, y, batch);
      const r = s.targetR();
      for (let t = 0; t < 2; t++) {
        for (let p = 0; p < 2; p++) {
          const expected = pearson(yhat.map((row) => row[t * 2 + p]), y.map((row) => row[p]));
          assert.ok(Math.abs(r[t * 2 + p] - expected) < 1e-12, `batch ${batch} t ${t} p ${p}: ${r[t * 2 + p]} vs ${expected}`);
        }
      }
    }
  });

  it('with a half-life h, the weights are 0.5^(age/h) regardless of batching', () => {
    const { yhat, y } = series(120, 5);
    const h = 30;
    const a = new PrequentialScorer(dims, h);
    const b = new PrequentialScorer(dims, h);
    feed(a, yhat, y, 1);
    feed(b, yhat, y, 13);
    const n = y.length;
    let w = 0;
    for (let i = 0; i < n; i++) w += 0.5 ** ((n - 1 - i) / h);
    assert.ok(Math.abs(a.sums.w[0] - w) < 1e-9);
    const ra = a.targetR();
    const rb = b.targetR();
    ra.forEach((v, i) => assert.ok(Math.abs(v - rb[i]) < 1e-10));
    // A recent change of regime dominates the windowed score but not the cumulative one.
    const flipped = yhat.map((row, i) => (i >= 90 ? row.map((v) => -v) : row));
    const windowed = new PrequentialScorer(dims, 10);
    const cumulative = new PrequentialScorer(dims, null);
    feed(windowed, flipped, y, 5);
    feed(cumulative, flipped, y, 5);
    assert.ok(windowed.targetR()[0] < 0 && cumulative.targetR()[0] > 0);
  });

  it('words are predicted by the model of the previous refit before they are added', async () => {
    const data = smallPlanted();
    const words = wordsOf(data, 260);
    const backend = new ReferenceBackend();
    const d = new Decoder({ dims: data.o, foldPlan: { kind: 'blocks', folds: 5, blockWords: 20 }, batchWords: 16 });
    for (const w of words.slice(0, 200)) await d.add(w, backend);
    assert.equal(d.prequential.scored, 0, 'no model yet, nothing scored');
    await d.refit(backend);
    for (const w of words.slice(200)) await d.add(w, backend);
    await d.flush(backend);
    assert.equal(d.prequential.scored, 60);
    const curves = d.prequential.curves();
    const T = data.o.nTimes;
    // The planted signal is decodable: each layer's rolling curve peaks well above zero.
    for (let l = 0; l < data.o.nLayers; l++) assert.ok(Math.max(...curves.subarray(l * T, (l + 1) * T)) > 0.3);
  });
});
