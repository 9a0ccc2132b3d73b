/**
 * The demo's promise, as a test: with default settings, within 20 simulated minutes the exact
 * K-fold temporal score exceeds 0.9 and every layer's Tmax is within one sample (33 ms) of its
 * planted latency; with --null the temporal score is not significant. The whole pipeline runs:
 * simulated 1200 Hz MEG → band-pass → resampling → epochs → decoder worker.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runDemo, type DemoArgs } from '../cli/demo.js';

const base: DemoArgs = {
  port: 0,
  host: '127.0.0.1',
  dashboard: false,
  speed: 'max',
  seed: 1,
  control: 'planted',
  json: false,
  backend: 'auto',
  nDims: 50,
  // Only the final refit matters here; intermediate refits would only cost time.
  refitEveryWords: 1_000_000,
  snapshotEveryWords: 1000,
  halfLifeWords: null,
  quiet: true,
};

describe('lockstep demo (simulated subject, whole pipeline)', () => {
  it('recovers the planted latencies within 20 simulated minutes', async () => {
    const r = await runDemo({ ...base, minutes: 20 });
    const exact = r.last?.exact;
    assert.ok(exact, 'a final exact K-fold result');
    assert.ok(exact.temporalScore > 0.9, `temporal score ${exact.temporalScore}`);
    assert.ok(exact.p < 0.01, `p = ${exact.p}`);
    exact.tmax.forEach((t, l) => {
      assert.ok(Math.abs(t - r.plantedLatenciesSec[l]) <= 1 / 30 + 1e-9, `layer ${l}: Tmax ${t.toFixed(3)} s vs planted ${r.plantedLatenciesSec[l].toFixed(3)} s`);
    });
  });

  it('shows no significant temporal score without coupling (--null)', async () => {
    const r = await runDemo({ ...base, minutes: 10, control: 'null' });
    const exact = r.last?.exact;
    assert.ok(exact);
    assert.ok(!(exact.p < 0.05), `null control gave r = ${exact.temporalScore}, p = ${exact.p}`);
  });
});
