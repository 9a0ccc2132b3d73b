/**
 * Tests of src/filters/: Butterworth SOS design, notch, causal filtering with state, responses and
 * group delay, Kaiser FIR design and the streaming polyphase resampler, each against scipy.signal
 * (Debian's /usr/bin/python3) on the same inputs. Arrays travel as .npy files (our writer, numpy's
 * reader, and back), so every bit arrives. The resampler is tested with each kernel available
 * (JavaScript always, OpenBLAS dgemm when it loads): each against scipy and the direct form, each
 * chunk-invariant bit for bit, and the two against each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { readNpyFile, writeNpyFile } from '../adapters/npyFile.js';
import {
  butter,
  createSosFilterState,
  frequencyResponse,
  groupDelaySec,
  notchSos,
  setSteadyState,
  sosfiltState,
  sosfiltZi,
  type ButterKind,
} from '../src/filters/butterworth.js';
import {
  besselI0,
  createPolyphaseState,
  designResampler,
  firFrequencyResponse,
  firwinLowpass,
  kaiserOrder,
  kaiserWindow,
  loadResampleGemm,
  polyphaseProcess,
  rationalRatio,
  type PolyphaseState,
} from '../src/filters/polyphase.js';
import { mulberry32, randomNormal, type Rng } from '../src/scores/prng.js';
import { DEBIAN_PYTHON, tempDir } from './helpers/paths.js';
import { randomSplits } from './helpers/chunking.js';

// ---------------------------------------------------------------------------------------------
// SciPy oracle

const havePython = spawnSync(DEBIAN_PYTHON, ['-c', 'import scipy.signal, numpy, mpmath'], { stdio: 'ignore' }).status === 0;
const skipNoScipy = havePython ? false : `${DEBIAN_PYTHON} with scipy, numpy and mpmath is not available`;

type Arrays = Record<string, { data: Float64Array; shape: number[] }>;

/**
 * Run `body` in Python with `inp[name]` (numpy arrays loaded from our .npy files) and `P` (JSON
 * parameters) in scope; the script fills the dict `out` with arrays, which come back as Float64Arrays.
 */
function scipy(body: string, inputs: Arrays, params: unknown = {}): Record<string, { data: Float64Array; shape: number[] }> {
  const dir = tempDir('filters');
  try {
    for (const [name, a] of Object.entries(inputs)) writeNpyFile(path.join(dir, `in_${name}.npy`), a.data, a.shape);
    const script = [
      'import json, sys, os',
      'import numpy as np',
      'from scipy import signal, special',
      '_dir = sys.argv[1]',
      'P = json.loads(sys.stdin.read())',
      'inp = {f[3:-4]: np.load(os.path.join(_dir, f)) for f in os.listdir(_dir) if f.startswith("in_")}',
      'out = {}',
      body,
      'for k, v in out.items(): np.save(os.path.join(_dir, "out_" + k + ".npy"), np.ascontiguousarray(np.asarray(v, dtype=np.float64)))',
    ].join('\n');
    execFileSync(DEBIAN_PYTHON, ['-c', script, dir], { input: JSON.stringify(params), stdio: ['pipe', 'inherit', 'inherit'] });
    const result: Record<string, { data: Float64Array; shape: number[] }> = {};
    for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('out_'))) {
      const a = readNpyFile(path.join(dir, f));
      result[f.slice(4, -4)] = { data: Float64Array.from(a.data), shape: a.shape };
    }
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A multichannel test signal `[sample][channel]`: noise, a few sines and a large DC offset per channel. */
function testSignal(rng: Rng, nSamples: number, nChannels: number, fsHz: number): Float64Array {
  const x = new Float64Array(nSamples * nChannels);
  for (let c = 0; c < nChannels; c++) {
    const dc = 50 * randomNormal(rng);
    const freqs = [0.3, 4, 11, 17, 45, 50].map((f) => f * (1 + 0.01 * c));
    for (let t = 0; t < nSamples; t++) {
      let v = dc + randomNormal(rng);
      for (const f of freqs) v += Math.sin((2 * Math.PI * f * t) / fsHz + c);
      x[t * nChannels + c] = v;
    }
  }
  return x;
}


// ---------------------------------------------------------------------------------------------
// Butterworth design

const DESIGNS: { order: number; cutoff: number | [number, number]; kind: ButterKind; fs: number }[] = [
  { order: 4, cutoff: [0.1, 20], kind: 'bandpass', fs: 1200 }, // the paper's band
  { order: 2, cutoff: [1, 40], kind: 'bandpass', fs: 1000 },
  { order: 3, cutoff: [0.5, 30], kind: 'bandpass', fs: 600 }, // odd order
  { order: 5, cutoff: 40, kind: 'lowpass', fs: 1200 }, // odd: a lone real pole
  { order: 4, cutoff: 20, kind: 'lowpass', fs: 1200 },
  { order: 4, cutoff: 0.1, kind: 'highpass', fs: 1200 },
  { order: 3, cutoff: 1, kind: 'highpass', fs: 250 },
  { order: 1, cutoff: 10, kind: 'lowpass', fs: 100 },
  { order: 8, cutoff: [8, 12], kind: 'bandpass', fs: 200 },
];

test('butter: SOS coefficients equal scipy butter(..., output="sos") to 1e-10 relative', { skip: skipNoScipy }, () => {
  const ref = scipy(
    'for i, d in enumerate(P): out[str(i)] = signal.butter(d["order"], d["cutoff"], d["kind"], fs=d["fs"], output="sos")',
    {},
    DESIGNS,
  );
  DESIGNS.forEach((d, i) => {
    const ours = butter(d.order, d.cutoff, d.kind, d.fs);
    const theirs = ref[String(i)];
    assert.deepEqual([ours.length / 6, 6], theirs.shape, `design ${i}: section count`);
    for (let j = 0; j < ours.length; j++) {
      const tol = 1e-10 * Math.abs(theirs.data[j]) + 1e-15;
      assert.ok(Math.abs(ours[j] - theirs.data[j]) <= tol, `design ${i} (${JSON.stringify(d)}) coefficient ${j}: ${ours[j]} vs ${theirs.data[j]}`);
    }
  });
});

test('butter: the paper band-pass passes 5 Hz, is −3 dB at both edges and 4 sections long', () => {
  const sos = butter(4, [0.1, 20], 'bandpass', 1200);
  assert.equal(sos.length, 4 * 6);
  const r = frequencyResponse(sos, 1200, [0.1, 5, 20]);
  const mag = Array.from(r.re, (re, i) => Math.hypot(re, r.im[i]));
  assert.ok(Math.abs(mag[0] - Math.SQRT1_2) < 1e-9, `|H(0.1 Hz)| = ${mag[0]}`);
  assert.ok(Math.abs(mag[1] - 1) < 1e-3, `|H(5 Hz)| = ${mag[1]}`);
  assert.ok(Math.abs(mag[2] - Math.SQRT1_2) < 1e-9, `|H(20 Hz)| = ${mag[2]}`);
});

test('butter: bad arguments are refused with the argument named', () => {
  assert.throws(() => butter(4, [20, 0.1], 'bandpass', 1200), /lowHz must be below highHz/);
  assert.throws(() => butter(4, [0.1, 700], 'bandpass', 1200), /highHz.*Nyquist/);
  assert.throws(() => butter(0, 10, 'lowpass', 1200), /order/);
  assert.throws(() => butter(4, 10, 'bandpass', 1200), /band-pass needs/);
});

test('notchSos: equals scipy iirnotch for 50 and 60 Hz', { skip: skipNoScipy }, () => {
  const cases = [
    [50, 30, 1200],
    [60, 30, 1200],
    [50, 10, 1000],
    [60, 35, 600],
  ];
  const ref = scipy('for i, (f, q, fs) in enumerate(P): b, a = signal.iirnotch(f, q, fs=fs); out[str(i)] = np.concatenate([b, a])', {}, cases);
  cases.forEach(([f, q, fsHz], i) => {
    const ours = notchSos(f, q, fsHz);
    const theirs = ref[String(i)].data;
    for (let j = 0; j < 6; j++) assert.ok(Math.abs(ours[j] - theirs[j]) <= 1e-14 * Math.abs(theirs[j]) + 1e-16, `case ${i} coefficient ${j}: ${ours[j]} vs ${theirs[j]}`);
    const r = frequencyResponse(ours, fsHz, [f]);
    assert.ok(Math.hypot(r.re[0], r.im[0]) < 1e-12, 'zero gain at the notch');
  });
});

// ---------------------------------------------------------------------------------------------
// Filtering with state

test('sosfiltState: chunked multichannel filtering equals scipy sosfilt (zero and steady start)', { skip: skipNoScipy }, () => {
  const rng = mulberry32(7);
  const nSamples = 6000;
  const nChannels = 5;
  const x = testSignal(rng, nSamples, nChannels, 1200);
  const sos = butter(4, [0.1, 20], 'bandpass', 1200);
  const ref = scipy(
    [
      'x = inp["x"]; sos = inp["sos"]',
      'out["zero"] = signal.sosfilt(sos, x, axis=0)',
      // Steady start from our zi (checked below): scipy's own sosfilt_zi loses ~1e-10 in the
      // ill-conditioned 2×2 solve of the sections next to the 0.1 Hz poles.
      'zi = inp["zi"][:, :, None] * x[0][None, None, :]',
      'out["steady"] = signal.sosfilt(sos, x, axis=0, zi=zi)[0]',
      'out["ziScipy"] = signal.sosfilt_zi(sos)',
      'import mpmath as mp',
      'mp.mp.dps = 60',
      'exact, scale = [], mp.mpf(1)',
      'for s in sos:',
      '    b0, b1, b2, a0, a1, a2 = [mp.mpf(float(v)) for v in s]',
      '    B0 = b1 - a1 * b0; B1 = b2 - a2 * b0; z0 = (B0 + B1) / (1 + a1 + a2)',
      '    exact += [float(scale * z0), float(scale * (B1 - a2 * z0))]',
      '    scale *= (b0 + b1 + b2) / (1 + a1 + a2)',
      'out["ziExact"] = exact',
    ].join('\n'),
    {
      x: { data: x, shape: [nSamples, nChannels] },
      sos: { data: sos, shape: [sos.length / 6, 6] },
      zi: { data: sosfiltZi(sos), shape: [sos.length / 6, 2] },
    },
  );
  for (const start of ['zero', 'steady'] as const) {
    const st = createSosFilterState(sos, nChannels);
    if (start === 'steady') setSteadyState(st, x.subarray(0, nChannels));
    const y = new Float64Array(x.length);
    let t = 0;
    for (const n of randomSplits(rng, nSamples, 700)) {
      sosfiltState(st, x.subarray(t * nChannels, (t + n) * nChannels), y.subarray(t * nChannels, (t + n) * nChannels));
      t += n;
    }
    const expected = ref[start].data;
    const err = maxAbsDiff(y, expected) / maxAbs(expected);
    assert.ok(err <= 1e-9, `${start} start: max relative error ${err}`);
  }
  const zi = sosfiltZi(sos);
  assert.ok(maxAbsDiff(zi, ref.ziExact.data) <= 1e-15, `sosfiltZi vs 60-digit solve: ${maxAbsDiff(zi, ref.ziExact.data)}`);
  assert.ok(maxAbsDiff(zi, ref.ziScipy.data) <= 1e-9, `sosfiltZi vs scipy sosfilt_zi: ${maxAbsDiff(zi, ref.ziScipy.data)}`);
});

test('sosfiltState: in-place on Float32 chunks equals one call on the whole signal, bit for bit', () => {
  const rng = mulberry32(11);
  const nChannels = 3;
  const x32 = Float32Array.from(testSignal(rng, 5000, nChannels, 1200));
  const sos = butter(4, [0.1, 20], 'bandpass', 1200);
  const whole = sosfiltState(createSosFilterState(sos, nChannels), x32);
  const st = createSosFilterState(sos, nChannels);
  const chunked = Float32Array.from(x32);
  let t = 0;
  for (const n of randomSplits(rng, 5000, 300)) {
    const part = chunked.subarray(t * nChannels, (t + n) * nChannels);
    sosfiltState(st, part, part);
    t += n;
  }
  assert.deepEqual(chunked, whole);
});

// ---------------------------------------------------------------------------------------------
// Responses

test('frequencyResponse equals scipy sosfreqz; groupDelaySec equals a 50-digit phase derivative', { skip: skipNoScipy }, () => {
  const sos = butter(4, [0.1, 20], 'bandpass', 1200);
  const freqs = [0.05, 0.1, 0.2, 1, 2, 5, 10, 13.5, 20, 30, 50, 100, 599];
  const ref = scipy(
    [
      'sos = inp["sos"]; f = np.array(P["f"])',
      'w, h = signal.sosfreqz(sos, worN=f, fs=1200)',
      'out["re"] = h.real; out["im"] = h.imag',
      // scipy.signal.group_delay per section, summed (it loses ~1e-7 near the 0.1 Hz poles)
      'out["gd"] = sum(signal.group_delay((s[:3], s[3:]), w=f, fs=1200)[1] for s in sos) / 1200',
      'import mpmath as mp',
      'mp.mp.dps = 50',
      'def H(w):',
      '    z = mp.exp(-1j * w); h = mp.mpc(1)',
      '    for s in sos: h *= (mp.mpf(s[0]) + mp.mpf(s[1]) * z + mp.mpf(s[2]) * z**2) / (mp.mpf(s[3]) + mp.mpf(s[4]) * z + mp.mpf(s[5]) * z**2)',
      '    return h',
      'out["gdExact"] = [float(-mp.diff(lambda w: mp.arg(H(w)), 2 * mp.pi * fr / 1200) / 1200) for fr in P["f"]]',
    ].join('\n'),
    { sos: { data: sos, shape: [4, 6] } },
    { f: freqs },
  );
  const r = frequencyResponse(sos, 1200, freqs);
  freqs.forEach((f, i) => {
    const d = Math.hypot(r.re[i] - ref.re.data[i], r.im[i] - ref.im.data[i]);
    const mag = Math.hypot(ref.re.data[i], ref.im.data[i]);
    assert.ok(d <= 1e-9 * mag + 1e-13, `H(${f} Hz): off by ${d} (|H| = ${mag})`);
    const gd = groupDelaySec(sos, 1200, f);
    assert.ok(Math.abs(gd - ref.gdExact.data[i]) <= 1e-9 * Math.abs(ref.gdExact.data[i]), `group delay at ${f} Hz: ${gd} vs exact ${ref.gdExact.data[i]}`);
    // scipy's polynomial form cancels badly next to the 0.1 Hz poles (0.8 % off at 0.05 Hz): compare from 1 Hz.
    if (f >= 1) assert.ok(Math.abs(gd - ref.gd.data[i]) <= 1e-5 * Math.abs(ref.gd.data[i]), `group delay at ${f} Hz: ${gd} vs scipy ${ref.gd.data[i]}`);
  });
  // The documented numbers: 23.1 ms at 5 Hz for the paper's band-pass at 1200 Hz.
  assert.ok(Math.abs(groupDelaySec(sos, 1200, 5) - 0.0230836) < 1e-6);
});

// ---------------------------------------------------------------------------------------------
// Kaiser FIR design and the polyphase resampler

test('Kaiser design: I0, kaiserord, window and firwin taps equal scipy', { skip: skipNoScipy }, () => {
  const d = designResampler({ fromHz: 1200, toHz: 30 });
  const xs = [0, 0.5, 1, 3.2, 5.65326, 8.6, 14, 25];
  const ref = scipy(
    [
      'out["i0"] = special.i0(P["xs"])',
      'n, beta = signal.kaiserord(60, 3 / 600); out["ord"] = [n, beta]',
      'out["win"] = signal.windows.kaiser(P["numtaps"], P["beta"])',
      'out["taps"] = signal.firwin(P["numtaps"], P["cutoff"], window=("kaiser", P["beta"]), fs=1200)',
      'out["resp"] = np.abs(signal.freqz(out["taps"], worN=np.array(P["f"]), fs=1200)[1])',
    ].join('\n'),
    {},
    { xs, numtaps: d.numtaps, beta: d.beta, cutoff: d.cutoffHz, f: [5, 12, 13.5, 15, 100] },
  );
  xs.forEach((x, i) => assert.ok(Math.abs(besselI0(x) - ref.i0.data[i]) <= 1e-14 * ref.i0.data[i], `I0(${x}) = ${besselI0(x)} vs ${ref.i0.data[i]}`));
  const ord = kaiserOrder(60, 3 / 600);
  assert.deepEqual([ord.numtaps, ord.beta], Array.from(ref.ord.data));
  assert.ok(maxAbsDiff(kaiserWindow(d.numtaps, d.beta), ref.win.data) <= 1e-14, 'Kaiser window');
  assert.ok(maxAbsDiff(d.taps, ref.taps.data) <= 1e-14 * maxAbs(ref.taps.data), `firwin taps, max diff ${maxAbsDiff(d.taps, ref.taps.data)}`);
  const r = firFrequencyResponse(d.taps, 1200, [5, 12, 13.5, 15, 100]);
  Array.from(ref.resp.data).forEach((m, i) => assert.ok(Math.abs(Math.hypot(r.re[i], r.im[i]) - m) <= 1e-12, `FIR response ${i}`));
});

test('designResampler: the documented 1200 → 30 Hz design (band, length, delay) holds', () => {
  const d = designResampler({ fromHz: 1200, toHz: 30 });
  assert.deepEqual([d.up, d.down, d.passHz, d.stopHz, d.cutoffHz, d.attenuationDb], [1, 40, 12, 15, 13.5, 60]);
  assert.equal(d.kaiserNumtaps, 1452);
  assert.equal(d.numtaps, 1521, 'rounded up so the delay is whole output samples');
  assert.equal(d.delaySec, 760 / 1200);
  assert.equal(d.delayOutputSamples, 19);
  // Pass band flat to 12 Hz, ≥ 60 dB down from 15 Hz to Nyquist: nothing aliases into 0–15 Hz.
  const grid = (lo: number, hi: number, n: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  const pass = firFrequencyResponse(d.taps, 1200, grid(0, 12, 121));
  const passDev = Math.max(...Array.from(pass.re, (re, i) => Math.abs(Math.hypot(re, pass.im[i]) - 1)));
  assert.ok(passDev < 2e-3, `pass-band deviation ${passDev}`);
  const stop = firFrequencyResponse(d.taps, 1200, grid(15, 600, 2341));
  const stopMax = Math.max(...Array.from(stop.re, (re, i) => Math.hypot(re, stop.im[i])));
  assert.ok(20 * Math.log10(stopMax) <= -60, `stop band peak ${20 * Math.log10(stopMax)} dB`);
  // 1000 Hz → 30 Hz needs up 3, down 100.
  assert.deepEqual(rationalRatio(1000, 30), { up: 3, down: 100 });
  assert.deepEqual(rationalRatio(600, 30), { up: 1, down: 20 });
  assert.throws(() => rationalRatio(508.63, 30), /not a ratio/);
  assert.throws(() => designResampler({ fromHz: 30, toHz: 1200 }), /only lowers/);
  assert.throws(() => designResampler({ fromHz: 1200, toHz: 30, passHz: 16 }), /passHz < stopHz/);
});

/** The kernels this machine can run: js always, blas when a BLAS library loads. */
const BLAS_LOAD = loadResampleGemm();
const KERNELS: ('js' | 'blas')[] = 'error' in BLAS_LOAD ? ['js'] : ['js', 'blas'];

/** Feed x (`[sample][channel]`) in pieces of the given lengths; the outputs joined, checking that they tile. */
function runPolyphase<T extends Float32Array | Float64Array>(st: PolyphaseState, x: T, lengths: number[]): T {
  const C = st.nChannels;
  const parts: T[] = [];
  let t = 0;
  let expectedFirst = st.nextOutput;
  for (const n of lengths) {
    const o = polyphaseProcess(st, x.subarray(t * C, (t + n) * C) as T);
    assert.equal(o.firstOutput, expectedFirst);
    assert.equal(o.data.length, o.nOutputs * C);
    expectedFirst += o.nOutputs;
    parts.push(o.data);
    t += n;
  }
  assert.equal(t * C, x.length, 'lengths cover the input');
  const out = new (x.constructor as { new (n: number): T })(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The definition, term by term: output k = Σ_j g[j]·x[⌊k·down/up⌋ − j] over inputs ≥ first, with
 * g the phase taps h[p + j·up]·up of p = k·down mod up (x[0] is input sample `first`).
 */
function directResample(d: ReturnType<typeof designResampler>, x: Float64Array, nChannels: number, first: number): Float64Array {
  const nSamples = x.length / nChannels;
  const k0 = Math.ceil((first * d.up) / d.down);
  const k1 = Math.floor(((first + nSamples) * d.up - 1) / d.down);
  const y = new Float64Array(Math.max(0, k1 - k0 + 1) * nChannels);
  for (let k = k0; k <= k1; k++) {
    const e = Math.floor((k * d.down) / d.up);
    const p = (k * d.down) % d.up;
    for (let c = 0; c < nChannels; c++) {
      let acc = 0;
      for (let j = 0; p + j * d.up < d.numtaps && e - j >= first; j++) acc += d.taps[p + j * d.up] * d.up * x[(e - j - first) * nChannels + c];
      y[(k - k0) * nChannels + c] = acc;
    }
  }
  return y;
}

test('polyphaseProcess: chunked decimation equals scipy upfirdn and lfilter+slice (js and blas kernels)', { skip: skipNoScipy }, () => {
  const rng = mulberry32(3);
  for (const [fromHz, nSamples] of [
    [1200, 24000],
    [1000, 20000],
  ] as const) {
    const nChannels = 3;
    const d = designResampler({ fromHz, toHz: 30 });
    const x = testSignal(rng, nSamples, nChannels, fromHz);
    const ref = scipy(
      [
        'x = inp["x"]; h = inp["h"]; up, down = P["up"], P["down"]',
        'out["upfirdn"] = signal.upfirdn(h * up, x, up, down, axis=0)',
        'if up == 1: out["lfilter"] = signal.lfilter(h, [1.0], x, axis=0)[::down]',
      ].join('\n'),
      { x: { data: x, shape: [nSamples, nChannels] }, h: { data: d.taps, shape: [d.numtaps] } },
      { up: d.up, down: d.down },
    );
    for (const kernel of KERNELS) {
      const st = createPolyphaseState(d, nChannels, 0, { kernel });
      assert.equal(st.kernel, kernel);
      const y = runPolyphase(st, x, randomSplits(rng, nSamples, 500));
      // Outputs up to the last input sample: k·down/up ≤ nSamples − 1.
      assert.equal(y.length / nChannels, Math.floor(((nSamples - 1) * d.up) / d.down) + 1);
      const refs = [ref.upfirdn, ...(ref.lfilter ? [ref.lfilter] : [])];
      for (const r of refs) {
        const expected = r.data.subarray(0, y.length);
        const err = maxAbsDiff(y, expected) / maxAbs(expected);
        // The block products sum in another order than scipy's direct form: float64 rounding only.
        assert.ok(err <= 1e-12, `${fromHz} Hz, ${kernel}: max relative error ${err}`);
      }
    }
  }
});

test('polyphaseProcess: any chunking gives bit-identical output; history starts at firstInputSample', () => {
  const rng = mulberry32(5);
  const nChannels = 2;
  const d = designResampler({ fromHz: 1200, toHz: 30 });
  const x = Float32Array.from(testSignal(rng, 9000, nChannels, 1200));
  for (const kernel of KERNELS) {
    const whole = polyphaseProcess(createPolyphaseState(d, nChannels, 0, { kernel }), x);
    for (let trial = 0; trial < 3; trial++) {
      const y = runPolyphase(createPolyphaseState(d, nChannels, 0, { kernel }), x, randomSplits(rng, 9000, 2000));
      assert.deepEqual(y, whole.data, kernel);
    }
    // A stream that starts at sample 50: the first output is k = 2 (input 80).
    const st = createPolyphaseState(d, 1, 50, { kernel });
    const o = polyphaseProcess(st, new Float32Array(100));
    assert.deepEqual([o.firstOutput, o.nOutputs], [2, 2]);
    // A single unit impulse comes out as the taps themselves, at every 40th lag.
    const imp = new Float64Array(1521);
    imp[0] = 1;
    const y = polyphaseProcess(createPolyphaseState(d, 1, 0, { kernel }), imp).data;
    y.forEach((v, k) => assert.equal(v, d.taps[40 * k], `${kernel}: impulse response at output ${k}`));
  }
});

test('polyphaseProcess: each kernel equals the direct form and is chunk-invariant; js and blas agree to rounding (273 channels, 1200 and 1000 Hz, late starts)', () => {
  const rng = mulberry32(11);
  const nChannels = 273; // > 168: the blas kernel splits the channels into two GEMMs
  for (const [fromHz, first] of [
    [1200, 0],
    [1200, 57],
    [1000, 17],
  ] as const) {
    const d = designResampler({ fromHz, toHz: 30 });
    const nSamples = 3 * fromHz + 11;
    const x64 = testSignal(rng, nSamples, nChannels, fromHz);
    const x32 = Float32Array.from(x64);
    const direct = directResample(d, x64, nChannels, first);
    const out: Record<string, { y64: Float64Array; y32: Float32Array }> = {};
    for (const kernel of KERNELS) {
      const y64 = runPolyphase(createPolyphaseState(d, nChannels, first, { kernel }), x64, [nSamples]);
      const y32 = runPolyphase(createPolyphaseState(d, nChannels, first, { kernel }), x32, [nSamples]);
      assert.equal(y64.length, direct.length, `${kernel}: output count`);
      const err = maxAbsDiff(y64, direct) / maxAbs(direct);
      assert.ok(err <= 1e-13, `${fromHz} Hz from ${first}, ${kernel} vs the direct form: ${err}`);
      for (const maxLen of [1, 37, 1300]) {
        assert.deepEqual(runPolyphase(createPolyphaseState(d, nChannels, first, { kernel }), x64, randomSplits(rng, nSamples, maxLen)), y64, `${fromHz} Hz, ${kernel}, float64, chunks ≤ ${maxLen}`);
        assert.deepEqual(runPolyphase(createPolyphaseState(d, nChannels, first, { kernel }), x32, randomSplits(rng, nSamples, maxLen)), y32, `${fromHz} Hz, ${kernel}, float32, chunks ≤ ${maxLen}`);
      }
      out[kernel] = { y64, y32 };
    }
    // Same block products, different summation inside each (FMA and order): float64 rounding apart,
    // hence float32 outputs at most one rounding apart.
    if (!out.blas) continue; // no BLAS library here: js alone was checked
    const scale = maxAbs(out.js.y64);
    const e64 = maxAbsDiff(out.js.y64, out.blas.y64) / scale;
    const e32 = maxAbsDiff(out.js.y32, out.blas.y32) / scale;
    assert.ok(e64 <= 1e-13, `${fromHz} Hz: js vs blas (float64) ${e64}`);
    assert.ok(e32 <= 1e-7, `${fromHz} Hz: js vs blas (float32) ${e32}`);
  }
});

test('createPolyphaseState: kernel option', () => {
  const d = designResampler({ fromHz: 1200, toHz: 30 });
  assert.equal(createPolyphaseState(d, 1, 0, { kernel: 'js' }).kernel, 'js');
  assert.equal(createPolyphaseState(d, 1).kernel, 'error' in BLAS_LOAD ? 'js' : 'blas', 'auto prefers blas when it loads');
  if ('error' in BLAS_LOAD) assert.throws(() => createPolyphaseState(d, 1, 0, { kernel: 'blas' }), /resample kernel 'blas'/);
  assert.throws(() => createPolyphaseState(d, 1, 0, { kernel: 'gpu' as 'js' }), /kernel must be/);
});

test('firwinLowpass: unit DC gain and symmetric (linear phase)', () => {
  const h = firwinLowpass(101, 10, 200, 5);
  assert.ok(Math.abs(h.reduce((a, b) => a + b, 0) - 1) < 1e-14);
  for (let i = 0; i < 101; i++) assert.equal(h[i], h[100 - i]);
});
