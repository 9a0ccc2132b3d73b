/**
 * Inlet timestamp post-processing (liblsl processing flags): the dejitter RLS equals the
 * exponentially weighted least-squares line (oracle: numpy.linalg.lstsq in Debian's python),
 * monotonize never goes back, clocksync adds the correction; and an inlet applies them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { StreamInlet } from '../adapters/lsl/inlet.js';
import { StreamOutlet } from '../adapters/lsl/outlet.js';
import { resolveByProp } from '../adapters/lsl/resolver.js';
import { StreamInfo } from '../adapters/lsl/streamInfo.js';
import { TimestampProcessor } from '../adapters/lsl/timestampProcessing.js';
import { closeTracked, loopbackOnly, newInlet, openOutlet } from './helpers/lslFixtures.js';
import { DEBIAN_PYTHON } from './helpers/paths.js';

loopbackOnly();
after(closeTracked);

/** Deterministic jitter in ±2 ms (a small LCG), on a clock running 20 ppm fast. */
function jittered(n: number, srate: number): Float64Array {
  let s = 12345;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = 5000 + (i / srate) * (1 + 2e-5) + ((s / 2147483648) * 2 - 1) * 0.002;
  }
  return out;
}

describe('timestamp post-processing', () => {
  it('dejitter = weighted least-squares line with half-life weights (numpy oracle)', () => {
    const srate = 500;
    const halftimeSec = 3;
    const raw = jittered(4000, srate);
    const p = new TimestampProcessor({ dejitter: true, halftimeSec }, srate);
    const out = Float64Array.from(raw);
    p.process(out, null);
    const at = [1, 10, 500, 1999, 3999];
    const script = `
import json, sys, numpy as np
d = json.load(sys.stdin)
y = np.array(d['raw']); lam = 2 ** (-1 / (d['srate'] * d['half']))
res = []
for k in d['at']:
    x = np.arange(k + 1, dtype=float); w = np.sqrt(lam ** (k - x))
    A = np.stack([np.ones_like(x), x], 1) * w[:, None]
    coef = np.linalg.lstsq(A, (y[:k + 1] - y[0]) * w, rcond=None)[0]
    res.append(float(coef[0] + coef[1] * k + y[0]))
print(json.dumps(res))`;
    const want = JSON.parse(execFileSync(DEBIAN_PYTHON, ['-c', script], { input: JSON.stringify({ raw: Array.from(raw), srate, half: halftimeSec, at }) }).toString()) as number[];
    at.forEach((k, j) => assert.ok(Math.abs(out[k]! - want[j]!) < 2e-7, `sample ${k}: ${out[k]} vs ${want[j]}`));
    // And it removes the jitter: residuals to the true line shrink from ±2 ms to well under 0.5 ms.
    const truth = (i: number) => 5000 + (i / srate) * (1 + 2e-5);
    const maxErr = Math.max(...Array.from({ length: 1000 }, (_, i) => Math.abs(out[3000 + i]! - truth(3000 + i))));
    assert.ok(maxErr < 0.0005, `max error ${maxErr}`);
  });

  it('monotonize clamps backward steps; clocksync adds the correction; reset restarts the fit', () => {
    const p = new TimestampProcessor({ clocksync: true, monotonize: true }, 0);
    const ts = Float64Array.of(10, 11, 10.5, 12);
    p.process(ts, -3);
    assert.deepEqual(Array.from(ts), [7, 8, 8, 9]);
    p.reset();
    const again = Float64Array.of(1);
    p.process(again, null);
    assert.deepEqual(Array.from(again), [1]);
  });

  it('an inlet with processing {clocksync, dejitter} delivers local, smoothed timestamps', async () => {
    const info = new StreamInfo({ name: `Proc-${process.pid}`, channelCount: 1, nominalSrate: 1000, sourceId: `proc-${process.pid}` });
    const outlet = await openOutlet(info);
    const [found] = await resolveByProp('name', info.name, { timeoutSec: 3 });
    let inlet: StreamInlet | null = null;
    try {
      inlet = newInlet(found!, { processing: { clocksync: true, dejitter: true, halftimeSec: 1 } });
      await inlet.open(3);
      await outlet.waitForConsumers(2);
      const tc = await inlet.timeCorrection(3);
      const raw = jittered(2000, 1000);
      outlet.pushChunk(Float32Array.from({ length: 2000 }, (_, i) => i), Array.from(raw));
      let got = 0;
      const ts: number[] = [];
      while (got < 2000) {
        const c = await inlet.pullChunk({ timeoutSec: 2 });
        if (c.nSamples === 0) break;
        ts.push(...c.timestamps);
        got += c.nSamples;
      }
      assert.equal(got, 2000);
      const ref = Float64Array.from(raw);
      new TimestampProcessor({ clocksync: true, dejitter: true, halftimeSec: 1 }, 1000).process(ref, tc);
      // The inlet may have refreshed its correction between chunks: compare within the clock-sync uncertainty.
      for (let i = 0; i < 2000; i += 97) assert.ok(Math.abs(ts[i]! - ref[i]!) < 0.002, `sample ${i}`);
    } finally {
      inlet?.close();
      await outlet.close();
    }
  });
});
