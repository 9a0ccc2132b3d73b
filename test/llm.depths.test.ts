/** Relative depths → hidden-state indices (method §3: round(depth × L), index 0 = embedding output). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allLayers, DEFAULT_DEPTHS, describeDuplicates, layerIndexForDepth, layersForDepths } from '../src/llm/depths.js';

describe('layersForDepths', () => {
  it('maps the paper depths for GPT-2 small (12 blocks) as round(d × 12)', () => {
    // 1.2, 2.4, 3.6, 4.8, 6, 7.2, 8.4, 9.6, 10.8 rounded
    const sel = layersForDepths(DEFAULT_DEPTHS, 12);
    assert.deepEqual(sel.layers, [1, 2, 4, 5, 6, 7, 8, 10, 11]);
    assert.deepEqual(sel.depths, [...DEFAULT_DEPTHS]);
    assert.deepEqual(sel.duplicates, []);
  });

  it('maps for a 48-block model and keeps 0 and 1 as embedding and last block', () => {
    assert.deepEqual(layersForDepths(DEFAULT_DEPTHS, 48).layers, [5, 10, 14, 19, 24, 29, 34, 38, 43]);
    assert.deepEqual(layersForDepths([0, 1], 7).layers, [0, 7]);
  });

  it('rounds halves up even when the binary product falls just below the half', () => {
    assert.equal(0.7 * 45, 31.499999999999996);
    assert.equal(layerIndexForDepth(0.7, 45), 32);
    assert.equal(layerIndexForDepth(0.7, 5), 4);
    assert.equal(layerIndexForDepth(0.5, 3), 2);
    assert.equal(layerIndexForDepth(0.1, 5), 1);
    assert.equal(layerIndexForDepth(0.3, 5), 2);
  });

  it('reports depths that collapse onto one hidden state when L is small', () => {
    const sel = layersForDepths(DEFAULT_DEPTHS, 2);
    assert.deepEqual(sel.layers, [0, 0, 1, 1, 1, 1, 1, 2, 2]);
    assert.deepEqual(sel.duplicates, [
      { layer: 0, depths: [0.1, 0.2] },
      { layer: 1, depths: [0.3, 0.4, 0.5, 0.6, 0.7] },
      { layer: 2, depths: [0.8, 0.9] },
    ]);
    assert.match(describeDuplicates(sel, 2)!, /only 2 blocks.*depths 0\.1, 0\.2 → hidden state 0/);
    assert.equal(describeDuplicates(layersForDepths(DEFAULT_DEPTHS, 12), 12), null);
  });

  it('rejects depths outside [0, 1], non-numbers, empty lists and bad block counts with the position', () => {
    assert.throws(() => layersForDepths([0.1, 1.2], 12), /depth 2 of 2 is 1\.2; relative depths must lie in \[0, 1\]/);
    assert.throws(() => layersForDepths([NaN], 12), /depth 1 of 1 is NaN/);
    assert.throws(() => layersForDepths([-0.1], 12), /depth 1 of 1 is -0\.1/);
    assert.throws(() => layersForDepths([], 12), /no depths given/);
    assert.throws(() => layersForDepths([0.5], 0), /at least one block/);
    assert.throws(() => layersForDepths([0.5], 2.5), /at least one block/);
  });
});

describe('allLayers', () => {
  it('selects every hidden state 0…L with depth i / L', () => {
    const sel = allLayers(3);
    assert.deepEqual(sel.layers, [0, 1, 2, 3]);
    assert.deepEqual(sel.depths, [0, 1 / 3, 2 / 3, 1]);
  });
});
