/**
 * Tests of the preprocessing operators in streams/: chunk boundaries never change the output (bit
 * for bit) for bandpass, notch, resample (each kernel) and preprocess; the operators equal scipy
 * on Float32 chunks; resample's sample/time bookkeeping and its js and blas kernels agreeing;
 * pickChannels; chunk-continuity errors; and epochs: sample alignment (impulses at word onsets land on τ = 0 after delay compensation), words before
 * or after their data (marble tests on a virtual clock), words outside the recording reported with
 * a reason, and the ring buffer's bound.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { from, lastValueFrom, map, toArray, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';

import type { SampleChunk, WordEpoch, WordEvent } from '../src/types.js';
import { mulberry32, randomNormal, type Rng } from '../src/scores/prng.js';
import { bandpass, epochs, notch, pickChannels, preprocess, preprocessDelays, preprocessDelaySec, preprocessPlan, resample, type EpochOutsideReason } from '../streams/operators.js';
import { designResampler, firFrequencyResponse, loadResampleGemm } from '../src/filters/polyphase.js';
import { butter, frequencyResponse } from '../src/filters/butterworth.js';
import { DEBIAN_PYTHON } from './helpers/paths.js';
import { randomSplits as randomLengths } from './helpers/chunking.js';

const havePython = spawnSync(DEBIAN_PYTHON, ['-c', 'import scipy.signal, numpy'], { stdio: 'ignore' }).status === 0;
const skipNoScipy = havePython ? false : `${DEBIAN_PYTHON} with scipy and numpy is not available`;
const blasLoad = loadResampleGemm();
const haveBlas = !('error' in blasLoad);
const skipNoBlas = 'error' in blasLoad ? `no BLAS library: ${blasLoad.error}` : false;

// ---------------------------------------------------------------------------------------------
// Helpers

/** Cut `[sample][channel]` data into chunks of the given lengths, with file-like clocks (t = sample/fs). */
function toChunks(data: Float32Array, nChannels: number, sfreqHz: number, lengths: number[], firstSample = 0): SampleChunk[] {
  const chunks: SampleChunk[] = [];
  let s = 0;
  for (const n of lengths) {
    chunks.push({
      sfreqHz,
      firstSample: firstSample + s,
      tStartSec: (firstSample + s) / sfreqHz,
      nChannels,
      nSamples: n,
      data: data.slice(s * nChannels, (s + n) * nChannels),
    });
    s += n;
  }
  assert.equal(s * nChannels, data.length, 'lengths cover the data');
  return chunks;
}


function run<T>(chunks: SampleChunk[], op: OperatorFunction<SampleChunk, T>): Promise<T[]> {
  return lastValueFrom(from(chunks).pipe(op, toArray()));
}

function joined(chunks: SampleChunk[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.data.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c.data, o);
    o += c.data.length;
  }
  return out;
}

/** Noise, sines (incl. 50 Hz mains) and a DC offset in tesla-like units, `[sample][channel]`. */
function megLike(rng: Rng, nSamples: number, nChannels: number, fsHz: number): Float32Array {
  const x = new Float32Array(nSamples * nChannels);
  for (let c = 0; c < nChannels; c++) {
    const dc = 1e-10 * randomNormal(rng);
    for (let t = 0; t < nSamples; t++) {
      const s = t / fsHz;
      x[t * nChannels + c] = dc + 1e-12 * (randomNormal(rng) + Math.sin(2 * Math.PI * 3 * s + c) + 0.5 * Math.sin(2 * Math.PI * 11 * s) + 2 * Math.sin(2 * Math.PI * 50 * s));
    }
  }
  return x;
}

/** scipy on JSON input (floats as repr strings both ways, so every bit survives). */
function scipyJson(body: string, input: unknown): unknown {
  const script = ['import json, sys', 'import numpy as np', 'from scipy import signal', 'data = json.loads(sys.stdin.read())', body, 'print(json.dumps(out))'].join('\n');
  return JSON.parse(execFileSync(DEBIAN_PYTHON, ['-c', script], { input: JSON.stringify(input), stdio: ['pipe', 'pipe', 'inherit'] }).toString());
}

const word = (wordIndex: number, onsetSec: number): WordEvent => ({ wordIndex, word: `w${wordIndex}`, onsetSec });

// ---------------------------------------------------------------------------------------------

describe('chunk boundaries never change the output', () => {
  const rng = mulberry32(2024);
  const fs = 1200;
  const nChannels = 4;
  const nSamples = 30 * fs;
  const x = megLike(rng, nSamples, nChannels, fs);
  const cases: [string, () => OperatorFunction<SampleChunk, SampleChunk>][] = [
    ['bandpass (steady start)', () => bandpass()],
    ['bandpass (zero start)', () => bandpass({ start: 'zero' })],
    ['notch 50 + 100 Hz', () => notch({ freqHz: [50, 100] })],
    ['resample 1200 → 30 Hz', () => resample({ toHz: 30 })],
    ['resample 1200 → 30 Hz (js kernel)', () => resample({ toHz: 30, kernel: 'js' })],
    ['preprocess (notch, band-pass, resample)', () => preprocess({ notch: { freqHz: 50 }, bandpass: {}, toHz: 30 })],
    ['preprocess, single stage (notch, band-pass at 1200 Hz, resample)', () => preprocess({ notch: { freqHz: 50 }, bandpass: {}, toHz: 30, stages: 'single' })],
    ['preprocess (js resample kernel)', () => preprocess({ notch: { freqHz: 50 }, bandpass: {}, toHz: 30, resample: { kernel: 'js' } })],
    ...(haveBlas
      ? ([
          ['resample 1200 → 30 Hz (blas kernel)', () => resample({ toHz: 30, kernel: 'blas' })],
          ['preprocess (blas resample kernel)', () => preprocess({ notch: { freqHz: 50 }, bandpass: {}, toHz: 30, resample: { kernel: 'blas' } })],
        ] as [string, () => OperatorFunction<SampleChunk, SampleChunk>][])
      : []),
  ];
  for (const [name, make] of cases) {
    it(`${name}: one chunk and random chunk sizes give identical bits`, async () => {
      const whole = await run(toChunks(x, nChannels, fs, [nSamples]), make());
      const reference = joined(whole);
      for (const maxLen of [1, 37, 1500, 9000]) {
        const parts = await run(toChunks(x, nChannels, fs, randomLengths(rng, nSamples, maxLen)), make());
        assert.deepEqual(joined(parts), reference, `max chunk ${maxLen}`);
        // Output chunks tile the output samples without gaps, at one rate.
        let next = whole[0].firstSample;
        for (const c of parts) {
          assert.equal(c.firstSample, next);
          assert.equal(c.sfreqHz, whole[0].sfreqHz);
          assert.ok(Math.abs(c.tStartSec - c.firstSample / c.sfreqHz) < 1e-9, 'file-like clock kept');
          next += c.nSamples;
        }
      }
    });
  }
});

describe('operators against scipy on Float32 chunks', () => {
  it('bandpass and notch equal scipy sosfilt (zero and steady starts), resample equals upfirdn', { skip: skipNoScipy }, async () => {
    const rng = mulberry32(99);
    const fs = 1200;
    const nChannels = 2;
    const nSamples = 6000;
    const x = megLike(rng, nSamples, nChannels, fs);
    const chunks = toChunks(x, nChannels, fs, randomLengths(rng, nSamples, 800));
    const ref = scipyJson(
      [
        'x = np.array([float(v) for v in data["x"]]).reshape(-1, 2)',
        'sos = signal.butter(4, [0.1, 20], "bandpass", fs=1200, output="sos")',
        'b, a = signal.iirnotch(50, 30, fs=1200)',
        'nsos = np.concatenate([b, a])[None, :]',
        'def zi(s): return signal.sosfilt_zi(s)[:, :, None] * x[0][None, None, :]',
        'h = signal.firwin(1521, 13.5, window=("kaiser", signal.kaiser_beta(60)), fs=1200)',
        'out = {k: [repr(float(v)) for v in np.asarray(y, dtype=np.float32).ravel()] for k, y in {',
        '  "bpZero": signal.sosfilt(sos, x, axis=0),',
        '  "bpSteady": signal.sosfilt(sos, x, axis=0, zi=zi(sos))[0],',
        '  "notch": signal.sosfilt(nsos, x, axis=0, zi=zi(nsos))[0],',
        '  "resample": signal.upfirdn(h, x, 1, 40, axis=0)[:150],',
        '}.items()}',
      ].join('\n'),
      { x: Array.from(x, (v) => String(v)) },
    ) as Record<string, string[]>;
    const outputs: Record<string, Float32Array> = {
      bpZero: joined(await run(chunks, bandpass({ start: 'zero' }))),
      bpSteady: joined(await run(chunks, bandpass())),
      notch: joined(await run(chunks, notch())),
      resample: joined(await run(chunks, resample())),
      resampleJs: joined(await run(chunks, resample({ kernel: 'js' }))),
    };
    ref.resampleJs = ref.resample;
    for (const [k, y] of Object.entries(outputs)) {
      const expected = Float32Array.from(ref[k], Number);
      assert.equal(y.length, expected.length, k);
      const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const err = y.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0) / scale;
      // float32 output: one rounding of values up to `scale`, plus the near-unit-circle steady state's
      // sensitivity (scipy computes its zi less accurately, see filters.test.ts).
      assert.ok(err <= 1e-6, `${k}: max relative error ${err}`);
    }
  });
});

describe('resample', () => {
  it('emits at the chunks that reach input samples 40k (marble, virtual clock)', () => {
    const x = new Float32Array(100).map((_, i) => i);
    const [a, b, c, d] = toChunks(x, 1, 1200, [25, 25, 25, 25]);
    new TestScheduler((actual, expected) => assert.deepEqual(actual, expected)).run(({ cold, expectObservable }) => {
      const out$ = cold('a-b-c-d|', { a, b, c, d }).pipe(
        resample({ toHz: 30 }),
        map((ch) => `${ch.firstSample}:${ch.nSamples}@${ch.tStartSec.toFixed(4)}`),
      );
      // Chunk a holds input 0 (output 0), b input 40, c none, d input 80.
      expectObservable(out$).toBe('a-b---d|', { a: '0:1@0.0000', b: '1:1@0.0333', d: '2:1@0.0667' });
    });
  });

  it('labels output k with the time of input sample k·down/up, also for 1000 → 30 Hz and a late start', async () => {
    const x = new Float32Array(3000);
    const out = await run(toChunks(x, 1, 1000, [700, 1300, 1000], 17), resample({ toHz: 30 }));
    // First output k with k·100/3 ≥ 17: k = 1 (input position 33.33).
    assert.equal(out[0].firstSample, 1);
    for (const ch of out) {
      assert.equal(ch.sfreqHz, 30);
      assert.ok(Math.abs(ch.tStartSec - ch.firstSample / 30) < 1e-12, `output ${ch.firstSample} at ${ch.tStartSec}`);
    }
  });

  it('passes chunks through when the rate already matches', async () => {
    const chunks = toChunks(new Float32Array(60).fill(1), 2, 30, [10, 20]);
    const out = await run(chunks, resample({ toHz: 30 }));
    assert.deepEqual(out, chunks);
  });

  it('js and blas kernels give the same chunks to float32 rounding, alone and inside preprocess', { skip: skipNoBlas }, async () => {
    const rng = mulberry32(31);
    const nChannels = 273;
    const x = megLike(rng, 4 * 1200, nChannels, 1200);
    const chunks = toChunks(x, nChannels, 1200, randomLengths(rng, 4 * 1200, 700));
    for (const [name, make] of [
      ['resample', (kernel: 'js' | 'blas') => resample({ kernel })],
      ['preprocess', (kernel: 'js' | 'blas') => preprocess({ resample: { kernel } })],
    ] as const) {
      const [js, blas] = [await run(chunks, make('js')), await run(chunks, make('blas'))];
      assert.deepEqual(
        js.map((c) => [c.firstSample, c.nSamples, c.tStartSec]),
        blas.map((c) => [c.firstSample, c.nSamples, c.tStartSec]),
        `${name}: same chunks`,
      );
      const [a, b] = [joined(js), joined(blas)];
      const scale = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const err = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
      assert.ok(err <= 1e-7, `${name}: js vs blas max relative difference ${err}`);
    }
  });

  it('errors on a rate it cannot reach with a small ratio, naming the rates', async () => {
    await assert.rejects(run(toChunks(new Float32Array(10), 1, 508.63, [10]), resample({ toHz: 30 })), /508\.63 Hz → 30 Hz/);
  });
});

describe('pickChannels and chunk checks', () => {
  it('keeps the picked channels in the given order', async () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => i); // 3 samples × 4 channels
    const [out] = await run(toChunks(x, 4, 1200, [3]), pickChannels([3, 0, 3]));
    assert.equal(out.nChannels, 3);
    assert.deepEqual(Array.from(out.data), [3, 0, 3, 7, 4, 7, 11, 8, 11]);
  });

  it('refuses bad indices up front or at the first chunk that lacks them', async () => {
    assert.throws(() => pickChannels([0, -1]), /index -1/);
    assert.throws(() => pickChannels([]), /no channel/);
    await assert.rejects(run(toChunks(new Float32Array(4), 2, 1200, [2]), pickChannels([2])), /index 2 is out of range for a chunk of 2 channels/);
  });

  it('a gap, an overlap or a rate change is an error that says what happened', async () => {
    const chunks = toChunks(new Float32Array(40), 2, 1200, [10, 10]);
    await assert.rejects(run([chunks[0], { ...chunks[1], firstSample: 12 }], bandpass()), /expected sample 10: samples were lost/);
    await assert.rejects(run([chunks[0], { ...chunks[1], firstSample: 5 }], resample()), /samples repeat/);
    await assert.rejects(run([chunks[0], { ...chunks[1], sfreqHz: 1000 }], notch()), /changes the rate from 1200 to 1000 Hz/);
  });
});

describe('preprocess delays', () => {
  it('single stage at 5 Hz: band-pass ≈ 23.1 ms at 1200 Hz, FIR 633.3 ms', () => {
    const d = preprocessDelays({ stages: 'single' }, 1200);
    assert.equal(d.atHz, 5);
    assert.equal(d.notchSec, 0);
    assert.equal(d.decimateSec, 0);
    assert.ok(Math.abs(d.bandpassSec - 0.0230836) < 1e-6);
    assert.equal(d.resampleSec, 760 / 1200);
    assert.equal(preprocessDelaySec({ stages: 'single' }, 1200), d.totalSec);
    const withNotch = preprocessDelays({ notch: {}, stages: 'single' }, 1200);
    assert.ok(withNotch.notchSec > 0 && withNotch.notchSec < 2e-4, `notch delay ${withNotch.notchSec}`);
  });
  it('two stages (default) at 5 Hz: 61-tap decimation 25 ms, band-pass at 120 Hz ≈ 21.4 ms, FIR 633.3 ms', () => {
    const plan = preprocessPlan({}, 1200);
    assert.equal(plan.stages, 'two');
    assert.equal(plan.bandpassHz, 120);
    assert.deepEqual([plan.decimate?.toHz, plan.decimate?.passHz, plan.decimate?.stopHz], [120, 15, 105]);
    const d = preprocessDelays({}, 1200);
    assert.equal(d.decimateSec, 30 / 1200);
    assert.ok(Math.abs(d.bandpassSec - 0.0213513) < 1e-6, `band-pass delay ${d.bandpassSec}`);
    assert.equal(d.resampleSec, 76 / 120);
    assert.equal(preprocessDelaySec({}, 1200), d.totalSec);
    // Rates the two-stage chain cannot use fall back to a single stage.
    assert.equal(preprocessPlan({}, 100).stages, 'single');
    assert.equal(preprocessPlan({ bandpass: { highHz: 70 } }, 1200).stages, 'single');
  });
  it('the two-stage chain has the single-stage response within 0.1 dB over 0.1–12 Hz and the same delay within 1 ms over 2–12 Hz', () => {
    const freqs = Array.from({ length: 120 }, (_, i) => 0.1 + (i * 11.9) / 119);
    const sizes = (r: { re: Float64Array; im: Float64Array }) => Array.from(r.re, (re, i) => Math.hypot(re, r.im[i]));
    const phases = (r: { re: Float64Array; im: Float64Array }) => Array.from(r.re, (re, i) => Math.atan2(r.im[i], re));
    const bp = (fs: number) => frequencyResponse(butter(4, [0.1, 20], 'bandpass', fs), fs, freqs);
    const fir = (o: { fromHz: number; toHz: number; passHz?: number; stopHz?: number }) => firFrequencyResponse(designResampler(o).taps, designResampler(o).filterHz, freqs);
    const mul = (...rs: { re: Float64Array; im: Float64Array }[]) => {
      const re = new Float64Array(freqs.length).fill(1);
      const im = new Float64Array(freqs.length);
      for (const r of rs) for (let i = 0; i < freqs.length; i++) [re[i], im[i]] = [re[i] * r.re[i] - im[i] * r.im[i], re[i] * r.im[i] + im[i] * r.re[i]];
      return { re, im };
    };
    const single = mul(bp(1200), fir({ fromHz: 1200, toHz: 30 }));
    const two = mul(fir({ fromHz: 1200, toHz: 120, passHz: 15, stopHz: 105 }), bp(120), fir({ fromHz: 120, toHz: 30 }));
    const [ms, mt] = [sizes(single), sizes(two)];
    for (let i = 0; i < freqs.length; i++) {
      const db = 20 * Math.log10(mt[i] / ms[i]);
      assert.ok(Math.abs(db) < 0.1, `${freqs[i].toFixed(2)} Hz: ${db.toFixed(3)} dB`);
    }
    // Phase difference → delay difference at 2–12 Hz (after removing the constant FIR delay difference).
    const [ps, pt] = [phases(single), phases(two)];
    const dDelay = preprocessDelaySec({}, 1200) - preprocessDelaySec({ stages: 'single' }, 1200);
    for (let i = 0; i < freqs.length; i++) {
      if (freqs[i] < 2) continue;
      const w = 2 * Math.PI * freqs[i];
      let dphi = pt[i] - ps[i] + w * dDelay; // residual phase once the reported delays are removed
      dphi = Math.atan2(Math.sin(dphi), Math.cos(dphi));
      assert.ok(Math.abs(dphi / w) < 1e-3, `${freqs[i].toFixed(2)} Hz: ${(1000 * dphi / w).toFixed(2)} ms`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// epochs

/** 10 Hz chunks of 10 samples (1 s), channel 0 = sample index, channel 1 = −index. */
function indexChunks(nChunks: number, perChunk = 10, fs = 10): SampleChunk[] {
  const n = nChunks * perChunk;
  const x = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = -i;
  }
  return toChunks(x, 2, fs, Array(nChunks).fill(perChunk));
}

const small = { tminSec: -0.1, tmaxSec: 0.2 }; // 4 samples at 10 Hz

describe('epochs: timing on a virtual clock', () => {
  it('words that arrive before their data are cut as soon as the data cover onset + tmax', () => {
    const [a, b, c] = indexChunks(3);
    new TestScheduler((x, y) => assert.deepEqual(x, y)).run(({ cold, expectObservable }) => {
      // Windows: x samples 4–7 (chunk a), y 15–18 (chunk b), z 26–29 (chunk c).
      const words$ = cold('(xyz|)', { x: word(0, 0.5), y: word(1, 1.62), z: word(2, 2.71) });
      const out$ = cold('-a-b-c|', { a, b, c }).pipe(epochs(words$, small), map((e) => e.word.wordIndex));
      expectObservable(out$).toBe('-x-y-z|', { x: 0, y: 1, z: 2 });
    });
  });

  it('words that arrive after their data are cut on arrival; completion waits for both inputs', () => {
    const [a, b, c] = indexChunks(3);
    new TestScheduler((x, y) => assert.deepEqual(x, y)).run(({ cold, expectObservable }) => {
      const words$ = cold('---x--y---z|', { x: word(0, 0.5), y: word(1, 1.62), z: word(2, 2.71) });
      const out$ = cold('a-b-c|', { a, b, c }).pipe(epochs(words$, small), map((e) => e.word.wordIndex));
      // x and y: data already there; z arrives after the chunks completed but its data are buffered.
      expectObservable(out$).toBe('---x--y---z|', { x: 0, y: 1, z: 2 });
    });
  });

  it('a word waiting for data is cut by the chunk that covers it; one never covered is reported at completion', () => {
    const [a, b] = indexChunks(2);
    const reported: [number, EpochOutsideReason, number][] = [];
    const scheduler = new TestScheduler((x, y) => assert.deepEqual(x, y));
    scheduler.run(({ cold, expectObservable }) => {
      const words$ = cold('--xy|', { x: word(0, 1.5), y: word(1, 1.96) }); // y needs samples 19–22
      const onOutside = (w: WordEvent, reason: EpochOutsideReason) => reported.push([w.wordIndex, reason, scheduler.now()]);
      const out$ = cold('-a---b--|', { a, b }).pipe(epochs(words$, { ...small, onOutside }), map((e) => e.word.wordIndex));
      expectObservable(out$).toBe('-----x--|', { x: 0 });
    });
    assert.deepEqual(reported, [[1, 'ends-after-recording', 8]]);
  });
});

describe('epochs: content and alignment', () => {
  it('cuts [channel][time] epochs of round((tmax − tmin)·fs) + 1 samples from the right place', async () => {
    const out = await lastValueFrom(from(indexChunks(3)).pipe(epochs(from([word(7, 1.0), word(8, 1.04)]), small), toArray()));
    assert.equal(out.length, 2);
    // onset 1.0: window 0.9…1.2 s = samples 9–12; channel-major.
    assert.deepEqual(Array.from(out[0].epoch), [9, 10, 11, 12, -9, -10, -11, -12]);
    assert.equal(out[0].word.wordIndex, 7);
    // onset 1.04: nearest samples to 0.94…1.24 s are 9–12 (0.4 of a sample rounds down).
    assert.deepEqual(Array.from(out[1].epoch.subarray(0, 4)), [9, 10, 11, 12]);
    // Paper default: 166 samples at 30 Hz.
    const x = new Float32Array(30 * 10);
    const [e] = await lastValueFrom(from(toChunks(x, 1, 30, [300])).pipe(epochs(from([word(0, 4)])), toArray()));
    assert.equal(e.epoch.length, 166);
  });

  it('an impulse at each onset lands on τ = 0 (the nearest sample), with and without a delay to compensate', async () => {
    const rng = mulberry32(17);
    const fs = 30;
    const nSamples = 60 * fs;
    for (const delaySec of [0, 0.31]) {
      const words: WordEvent[] = [];
      const x = new Float32Array(nSamples * 2);
      for (let onset = 3 + rng(); onset < 55; onset += 1 + 2 * rng()) {
        words.push(word(words.length, onset));
        // The filter chain's output at t shows the signal of t − delay.
        const s = Math.round((onset + delaySec) * fs);
        x[2 * s] = 1;
        x[2 * s + 1] = -2;
      }
      const out = await lastValueFrom(from(toChunks(x, 2, fs, randomLengths(rng, nSamples, 50))).pipe(epochs(from(words), { delaySec }), toArray()));
      assert.equal(out.length, words.length);
      for (const { word: w, epoch } of out) {
        assert.equal(epoch[75], 1, `word ${w.wordIndex} at ${w.onsetSec} s, delay ${delaySec}: τ = 0 is sample 75`);
        assert.equal(epoch[166 + 75], -2);
        // The sample used for τ = 0 is within half a sample of onset + delay.
        const t = Math.round((w.onsetSec - 2.5 + delaySec) * fs) / fs + 75 / fs;
        assert.ok(Math.abs(t - (w.onsetSec + delaySec)) <= 0.5 / fs + 1e-12);
      }
    }
  });

  it('through the whole causal chain at 1200 Hz, impulses at onsets peak at τ = 0 within half a sample once preprocessDelaySec is compensated', async () => {
    const rng = mulberry32(23);
    const fs = 1200;
    const nSamples = 80 * fs;
    const x = new Float32Array(nSamples * 3).fill(2e-10); // a DC offset, as raw MEG has
    const words: WordEvent[] = [];
    for (let onset = 1 + rng(); onset < 79; onset += 2.2 + rng()) {
      const s = Math.round(onset * fs);
      words.push(word(words.length, s / fs));
      for (let c = 0; c < 3; c++) x[s * 3 + c] += 1e-9 * (c + 1);
    }
    const opts = {};
    const delaySec = preprocessDelaySec(opts, fs);
    const reasons: EpochOutsideReason[] = [];
    const out: WordEpoch[] = await lastValueFrom(
      from(toChunks(x, 3, fs, randomLengths(rng, nSamples, 3000))).pipe(
        preprocess(opts),
        epochs(from(words), { delaySec, onOutside: (_w, r) => reasons.push(r) }),
        toArray(),
      ),
    );
    assert.equal(out.length + reasons.length, words.length, 'every word accounted for');
    assert.ok(out.length >= words.length - 3 && reasons.every((r) => r === 'starts-before-recording' || r === 'ends-after-recording'));
    let worst = 0;
    for (const { word: w, epoch } of out) {
      // Peak within ±0.2 s of τ = 0 (neighbouring impulses are ≥ 2.2 s away), refined by a parabola.
      let best = 69;
      for (let i = 69; i <= 81; i++) if (epoch[i] > epoch[best]) best = i;
      assert.ok(best > 69 && best < 81, 'a clear peak near τ = 0');
      const [ym, y0, yp] = [epoch[best - 1], epoch[best], epoch[best + 1]];
      const tauPeak = (best - 75 + (0.5 * (ym - yp)) / (ym - 2 * y0 + yp)) / 30;
      // Where the epoch grid sits relative to onset + delay (the nearest-sample rounding).
      const offset = Math.round((w.onsetSec - 2.5 + delaySec) * 30) / 30 - (w.onsetSec - 2.5 + delaySec);
      const residual = tauPeak + offset; // peak time − (onset + delay), independent of rounding
      worst = Math.max(worst, Math.abs(residual));
      assert.ok(Math.abs(residual) < 0.5 / 30, `word ${w.wordIndex}: peak ${residual * 1000} ms from onset + delay`);
      assert.ok(Math.abs(tauPeak) <= 1 / 30, `word ${w.wordIndex}: peak at τ = ${tauPeak * 1000} ms`);
    }
    assert.ok(worst < 0.5 / 30, `worst residual ${worst * 1000} ms`);
  });
});

describe('epochs: words outside the data, and the ring buffer', () => {
  it('reports words before the first sample, after the last, with a bad onset, or already evicted', async () => {
    const reported: [number, EpochOutsideReason, string][] = [];
    const onOutside = (w: WordEvent, reason: EpochOutsideReason, detail: string) => reported.push([w.wordIndex, reason, detail]);
    // 10 s of data at 10 Hz (samples 0–99). from(words) is synchronous and subscribed first, so
    // every word is waiting before the first chunk arrives.
    const words = [word(0, 0.0), word(1, 9.9), word(2, NaN), word(3, 5.0), word(4, 9.5)];
    const out = await lastValueFrom(from(indexChunks(10)).pipe(epochs(from(words), { ...small, onOutside }), toArray()));
    assert.deepEqual(out.map((e) => e.word.wordIndex), [3, 4]);
    // Word 0 starts at sample −1; word 1 ends at sample 101; both reported, never dropped.
    assert.deepEqual(reported.map(([i, r]) => [i, r]), [
      [0, 'starts-before-recording'],
      [2, 'invalid-onset'],
      [1, 'ends-after-recording'],
    ]);
    assert.match(reported[0][2], /before the first sample 0/);
  });

  it('keeps at most bufferSec of data: late words inside it are cut, older ones reported as left-ring-buffer', () => {
    const chunks = indexChunks(10); // samples 0–99
    const reported: [number, EpochOutsideReason][] = [];
    const onOutside = (w: WordEvent, reason: EpochOutsideReason) => reported.push([w.wordIndex, reason]);
    new TestScheduler((x, y) => assert.deepEqual(x, y)).run(({ cold, expectObservable }) => {
      const c = Object.fromEntries(chunks.map((ch, i) => [String(i), ch]));
      // All data at frame 0; words at frame 2: buffer 1 s = samples 90–99.
      const words$ = cold('--(ab)|', { a: word(0, 9.2), b: word(1, 8.5) });
      const out$ = cold('(0123456789|)', c).pipe(epochs(words$, { ...small, bufferSec: 1, onOutside }), map((e) => Array.from(e.epoch.subarray(0, 4))));
      // Word a: samples 91–94, still buffered. Word b: samples 84–87, gone.
      expectObservable(out$).toBe('--a---|', { a: [91, 92, 93, 94] });
    });
    assert.deepEqual(reported, [[1, 'left-ring-buffer']]);
  });

  it('a chunk longer than the buffer still yields every pending word intact', async () => {
    // 100 words waiting, then one 100-sample chunk through a 10-sample ring (4-sample windows).
    const words = Array.from({ length: 100 }, (_, i) => word(i, 0.1 + i * 0.1));
    const [one] = toChunks(joined(indexChunks(10)), 2, 10, [100]);
    const reported: EpochOutsideReason[] = [];
    const out = await lastValueFrom(from([one]).pipe(epochs(from(words), { ...small, bufferSec: 1, onOutside: (_w, r) => reported.push(r) }), toArray()));
    assert.equal(out.length + reported.length, words.length);
    for (const { word: w, epoch } of out) {
      const start = Math.round((w.onsetSec - 0.1) * 10);
      assert.deepEqual(Array.from(epoch.subarray(0, 4)), [start, start + 1, start + 2, start + 3], `word ${w.wordIndex}`);
    }
    assert.ok(reported.every((r) => r === 'ends-after-recording'));
    assert.equal(out.length, 97, 'all but the three whose windows pass sample 99');
  });
});
