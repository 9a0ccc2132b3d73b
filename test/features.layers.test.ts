/**
 * The demo reads the paper's nine depths out of the whole-model extraction the simulated brain
 * plants (adapters/llm/features.ts tableLayers) instead of extracting them a second time: those
 * rows must be the ones an extraction of the nine depths alone gives, bit for bit, with the same
 * label, depths and tags; a selection that is not consecutive is copied layer by layer.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { modelFeatures, tableLayers } from '../adapters/llm/features.js';
import { DEFAULT_DEPTHS, layersForDepths } from '../src/llm/depths.js';
import { tempDir } from './helpers/paths.js';

const WORDS = 400;

describe('tableLayers: some layers of a whole-model table', () => {
  const root = tempDir('features-layers');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('the nine depths of the whole stack equal an extraction of the nine depths, bit for bit', async () => {
    const o = { model: 'builtin', mode: 'chunked' as const, cacheRoot: path.join(root, 'cache') };
    const parts = [{ text: 'builtin', maxWords: WORDS }];
    const nine = await modelFeatures(parts, o);
    const whole = await modelFeatures(parts, { ...o, allLayers: true });
    assert.ok(whole.nLayers > nine.nLayers, 'the whole stack has more layers');
    const view = tableLayers(whole, layersForDepths(DEFAULT_DEPTHS, whole.nLayers - 1).layers);
    assert.equal(view.label, nine.label);
    assert.deepEqual(view.depths, nine.depths);
    assert.equal(view.nLayers, nine.nLayers);
    assert.equal(view.nDims, nine.nDims);
    let rows = 0;
    for (let i = 0; i < WORDS; i++) {
      const a = nine.of(i, '');
      const b = view.of(i, '');
      assert.equal(b === undefined, a === undefined, `word ${i}: has features in one table only`);
      if (!a || !b) continue;
      rows++;
      assert.deepEqual(Array.from(b), Array.from(a), `word ${i}`);
      assert.equal(view.isContent(i), nine.isContent(i));
    }
    assert.ok(rows > WORDS * 0.9, `${rows} rows compared`);

    // Layers 0, 2 and 5: copied, each from its own place in the row.
    const picked = tableLayers(whole, [0, 2, 5]);
    const D = whole.nDims;
    const row = whole.of(10, '')!;
    assert.deepEqual(Array.from(picked.of(10, '')!), [...row.subarray(0, D), ...row.subarray(2 * D, 3 * D), ...row.subarray(5 * D, 6 * D)]);
    assert.deepEqual(picked.depths, [whole.depths[0], whole.depths[2], whole.depths[5]]);
    assert.throws(() => tableLayers(whole, [0, whole.nLayers]), /layer 2 of 2 is \d+; the table has layers 0…\d+/);
  });
});
