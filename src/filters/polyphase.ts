/**
 * Anti-aliased rate reduction (1200 Hz → 30 Hz for the paper's epochs) as a causal, streaming
 * polyphase FIR: the Kaiser-window low-pass design of scipy `kaiserord` + `firwin`, and the
 * upsample–filter–downsample of scipy `upfirdn(h·up, x, up, down)` computed only at the output
 * samples, with per-channel history kept across chunks.
 *
 * Owns: the FIR design (and its documented band), rational rate ratios, the polyphase state.
 * Must not: know about RxJS, chunks or clocks (streams/resample.ts maps sample indices to time).
 *
 * The design, and why (defaults for 1200 → 30 Hz):
 * - The paper band-passes 0.1–20 Hz, but 20 Hz is above the 15 Hz Nyquist of the 30 Hz output, so
 *   the anti-alias low-pass decides the top of the band. We choose **no aliasing**: pass band to
 *   `passHz` = 0.8 × 15 = 12 Hz, stop band from `stopHz` = 15 Hz (the output Nyquist) with
 *   `attenuationDb` = 60 dB, cutoff (−6 dB) at 13.5 Hz. The effective band of the whole chain is then
 *   0.1–12 Hz flat, 13.5 Hz at −6 dB, nothing above 15 Hz folds back above −60 dB.
 *   MNE's `raw.resample(30)` (FFT) instead keeps everything up to 15 Hz with a brick wall, and its
 *   `method='polyphase'` (scipy `resample_poly`) puts the −6 dB point at 15 Hz, letting ~15–18 Hz
 *   alias partially; pass `passHz`/`stopHz` to move the edges (e.g. 13.5/16.5 Hz).
 * - Length: Kaiser's formula (scipy `kaiserord(60, 3/600)`) gives 1452 taps and β = 5.653; we round
 *   up to an odd length whose delay (numtaps − 1)/2 is a whole number of *output* samples:
 *   1521 taps, delay 760 input samples = 0.6333 s = exactly 19 output samples at 30 Hz.
 *   (Linear phase: the same delay at every frequency, so compensating it is exact.)
 * - Output sample k is computed at input sample k·down/up (absolute indices; for 1200 → 30 Hz, input
 *   sample 40k), from inputs at or before it (causal; the signal is taken as 0 before the first
 *   sample), and estimates the signal at input time k·40 − 760, i.e. 0.6333 s earlier.
 */
import type { FrequencyResponse } from './butterworth.js';

// ---------------------------------------------------------------------------------------------
// Kaiser window design (scipy.signal kaiser_beta, kaiserord, windows.kaiser, firwin)

/** Modified Bessel function of the first kind, order 0, by its power series (exact to rounding for |x| ≲ 30). */
export function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser's β for a stop-band attenuation in dB (scipy `kaiser_beta`). */
export function kaiserBeta(attenuationDb: number): number {
  const a = attenuationDb;
  if (a > 50) return 0.1102 * (a - 8.7);
  if (a > 21) return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21);
  return 0;
}

/**
 * Kaiser's estimate of the taps needed (scipy `kaiserord`).
 * @param rippleDb stop-band attenuation (and pass-band ripple) in dB, ≥ 8
 * @param widthNyq transition width as a fraction of the Nyquist frequency
 */
export function kaiserOrder(rippleDb: number, widthNyq: number): { numtaps: number; beta: number } {
  const a = Math.abs(rippleDb);
  if (a < 8) throw new RangeError(`attenuation ${a} dB is too small for Kaiser's formula (need ≥ 8 dB)`);
  if (!(widthNyq > 0)) throw new RangeError(`transition width must be > 0, got ${widthNyq}`);
  return { numtaps: Math.ceil((a - 7.95) / 2.285 / (Math.PI * widthNyq) + 1), beta: kaiserBeta(a) };
}

/** Symmetric Kaiser window of length m (scipy `windows.kaiser(m, beta, sym=True)`). */
export function kaiserWindow(m: number, beta: number): Float64Array {
  const w = new Float64Array(m);
  if (m === 1) {
    w[0] = 1;
    return w;
  }
  const alpha = (m - 1) / 2.0;
  const denom = besselI0(beta);
  for (let n = 0; n < m; n++) {
    const r = (n - alpha) / alpha;
    w[n] = besselI0(beta * Math.sqrt(1 - r ** 2.0)) / denom;
  }
  return w;
}

/** numpy `sinc`: sin(πx)/(πx), 1 at 0. */
function sinc(x: number): number {
  const y = Math.PI * (x === 0 ? 1.0e-20 : x);
  return Math.sin(y) / y;
}

/**
 * Windowed-sinc low-pass with unit gain at DC (scipy `firwin(numtaps, cutoffHz,
 * window=('kaiser', beta), fs=fsHz)`).
 */
export function firwinLowpass(numtaps: number, cutoffHz: number, fsHz: number, beta: number): Float64Array {
  if (!Number.isInteger(numtaps) || numtaps < 1) throw new RangeError(`numtaps must be an integer ≥ 1, got ${numtaps}`);
  const right = cutoffHz / (0.5 * fsHz);
  if (!(right > 0 && right < 1)) throw new RangeError(`cutoff ${cutoffHz} Hz must be inside (0, ${fsHz / 2}) Hz`);
  const alpha = 0.5 * (numtaps - 1);
  const win = kaiserWindow(numtaps, beta);
  const h = new Float64Array(numtaps);
  let s = 0;
  for (let i = 0; i < numtaps; i++) {
    const m = i - alpha;
    h[i] = right * sinc(right * m) * win[i];
    s += h[i]; // scaling at 0 Hz: cos(π·m·0) = 1
  }
  for (let i = 0; i < numtaps; i++) h[i] /= s;
  return h;
}

/** Frequency response of FIR taps at rate fsHz (scipy `freqz(taps, worN=freqsHz, fs=fsHz)`). */
export function firFrequencyResponse(taps: Float64Array, fsHz: number, freqsHz: ArrayLike<number>): FrequencyResponse {
  const m = freqsHz.length;
  const out: FrequencyResponse = { freqsHz: Float64Array.from(freqsHz), re: new Float64Array(m), im: new Float64Array(m) };
  for (let i = 0; i < m; i++) {
    const w = (2 * Math.PI * freqsHz[i]) / fsHz;
    let re = 0;
    let im = 0;
    for (let k = 0; k < taps.length; k++) {
      re += taps[k] * Math.cos(w * k);
      im -= taps[k] * Math.sin(w * k);
    }
    out.re[i] = re;
    out.im[i] = im;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rational ratio and the resampler's design

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The smallest up/down with toHz = fromHz·up/down (up ≤ 1000), e.g. 1200 → 30: 1/40; 1000 → 30: 3/100.
 * @throws RangeError when no such small ratio exists (e.g. 508.63 Hz; resample on a nominal rate)
 */
export function rationalRatio(fromHz: number, toHz: number): { up: number; down: number } {
  if (!(fromHz > 0 && toHz > 0)) throw new RangeError(`rates must be > 0, got ${fromHz} → ${toHz} Hz`);
  for (let up = 1; up <= 1000; up++) {
    const down = (fromHz * up) / toHz;
    const rounded = Math.round(down);
    if (rounded >= 1 && Math.abs(down - rounded) <= 1e-9 * down) {
      const g = gcd(up, rounded);
      return { up: up / g, down: rounded / g };
    }
  }
  throw new RangeError(`${fromHz} Hz → ${toHz} Hz is not a ratio up/down with up ≤ 1000; resample to a rate that divides the source rate`);
}

export interface ResamplerOptions {
  /** Input rate, Hz. */
  fromHz: number;
  /** Output rate, Hz (≤ fromHz). */
  toHz: number;
  /** End of the pass band, Hz (default 0.8 × toHz/2: 12 Hz at 30 Hz). */
  passHz?: number;
  /** Start of the stop band, Hz (default toHz/2, so nothing aliases above −attenuationDb). */
  stopHz?: number;
  /** Stop-band attenuation, dB (default 60). */
  attenuationDb?: number;
  /** Round the length up so the delay is a whole number of output samples (default true). */
  alignDelay?: boolean;
}

export interface ResamplerDesign {
  fromHz: number;
  toHz: number;
  up: number;
  down: number;
  /** Rate the FIR runs at: fromHz · up. */
  filterHz: number;
  passHz: number;
  stopHz: number;
  /** −6 dB point: (passHz + stopHz)/2. */
  cutoffHz: number;
  attenuationDb: number;
  beta: number;
  /** Kaiser's estimate before the rounding for an aligned delay. */
  kaiserNumtaps: number;
  numtaps: number;
  /** The firwin low-pass at filterHz, unit DC gain (the filter applies taps · up). */
  taps: Float64Array;
  /** (numtaps − 1)/2 samples at filterHz, in seconds: the same at every frequency (linear phase). */
  delaySec: number;
  /** delaySec in output samples (an integer when alignDelay). */
  delayOutputSamples: number;
}

/**
 * Design the anti-alias FIR for fromHz → toHz (see the file comment for the defaults and why).
 * @example
 *   const d = designResampler({ fromHz: 1200, toHz: 30 }); // 1521 taps, d.delaySec = 0.6333
 */
export function designResampler(opts: ResamplerOptions): ResamplerDesign {
  const { fromHz, toHz } = opts;
  if (!(toHz <= fromHz)) throw new RangeError(`resample only lowers the rate: toHz ${toHz} > fromHz ${fromHz}`);
  const { up, down } = rationalRatio(fromHz, toHz);
  const filterHz = fromHz * up;
  const stopHz = opts.stopHz ?? toHz / 2;
  const passHz = opts.passHz ?? 0.8 * (toHz / 2);
  const attenuationDb = opts.attenuationDb ?? 60;
  if (!(passHz > 0 && passHz < stopHz)) throw new RangeError(`need 0 < passHz < stopHz, got passHz ${passHz}, stopHz ${stopHz}`);
  if (!(stopHz <= fromHz / 2)) throw new RangeError(`stopHz ${stopHz} must not exceed the input Nyquist ${fromHz / 2} Hz`);
  const nyq = filterHz / 2;
  const { numtaps: kaiserNumtaps, beta } = kaiserOrder(attenuationDb, (stopHz - passHz) / nyq);
  // Odd length: a whole-sample delay. Aligned: the delay is also a whole number of output samples,
  // so compensated epochs and the output grid coincide.
  const numtaps =
    opts.alignDelay === false ? kaiserNumtaps | 1 : 2 * down * Math.ceil((kaiserNumtaps - 1) / (2 * down)) + 1;
  const cutoffHz = (passHz + stopHz) / 2;
  const taps = firwinLowpass(numtaps, cutoffHz, filterHz, beta);
  const delaySec = (numtaps - 1) / 2 / filterHz;
  return {
    fromHz, toHz, up, down, filterHz, passHz, stopHz, cutoffHz, attenuationDb, beta, kaiserNumtaps, numtaps, taps,
    delaySec,
    delayOutputSamples: delaySec * toHz,
  };
}

// ---------------------------------------------------------------------------------------------
// Streaming polyphase filter

/** A resampler's memory for every channel. */
export interface PolyphaseState {
  readonly design: ResamplerDesign;
  readonly nChannels: number;
  /** Input samples kept per channel: ceil(numtaps / up). */
  readonly historyLength: number;
  /** [channel][2·historyLength]: each sample written twice so any window is contiguous. */
  readonly history: Float64Array;
  /** Write position in [0, historyLength). */
  writePos: number;
  /** Absolute index of the next input sample expected. */
  nextInput: number;
  /** Absolute index k of the next output sample (computed at input position k·down/up). */
  nextOutput: number;
  /** Per phase p: the taps h[p + r·up]·up, r = 0…, reversed (oldest input first). */
  readonly phaseTaps: Float64Array[];
}

/**
 * A fresh resampler (history zero: the signal is 0 before `firstInputSample`, as in scipy upfirdn).
 * The first output is the first k with k·down/up ≥ firstInputSample.
 */
export function createPolyphaseState(design: ResamplerDesign, nChannels: number, firstInputSample = 0): PolyphaseState {
  if (!Number.isInteger(nChannels) || nChannels < 1) throw new RangeError(`nChannels must be an integer ≥ 1, got ${nChannels}`);
  if (!Number.isSafeInteger(firstInputSample) || firstInputSample < 0) throw new RangeError(`firstInputSample must be an integer ≥ 0, got ${firstInputSample}`);
  const { up, down, taps, numtaps } = design;
  const historyLength = Math.ceil(numtaps / up);
  const phaseTaps: Float64Array[] = [];
  for (let p = 0; p < up; p++) {
    const n = Math.ceil((numtaps - p) / up);
    const g = new Float64Array(n);
    for (let q = 0; q < n; q++) g[q] = taps[p + (n - 1 - q) * up] * up;
    phaseTaps.push(g);
  }
  return {
    design, nChannels, historyLength, phaseTaps,
    history: new Float64Array(nChannels * 2 * historyLength),
    writePos: 0,
    nextInput: firstInputSample,
    nextOutput: Math.ceil((firstInputSample * up) / down),
  };
}

/** Output samples of a polyphase step: `[sample][channel]`, the first with absolute index firstOutput. */
export interface PolyphaseOutput<T extends Float32Array | Float64Array> {
  data: T;
  firstOutput: number;
  nOutputs: number;
}

/**
 * Feed the next input samples (interleaved `[sample][channel]`, following on from the previous
 * call) and get the output samples that became computable. Any split of the input into calls
 * gives bit-identical outputs: each output is one fixed dot product over the same history.
 *
 * @example
 *   const st = createPolyphaseState(designResampler({ fromHz: 1200, toHz: 30 }), 270);
 *   const { data, firstOutput, nOutputs } = polyphaseProcess(st, chunk.data);
 */
export function polyphaseProcess<T extends Float32Array | Float64Array>(state: PolyphaseState, input: T): PolyphaseOutput<T> {
  const { nChannels, historyLength: R, history, phaseTaps } = state;
  const { up, down } = state.design;
  if (input.length % nChannels !== 0) throw new RangeError(`input length ${input.length} is not a multiple of ${nChannels} channels`);
  const nSamples = input.length / nChannels;
  const firstOutput = state.nextOutput;
  // Outputs k with floor(k·down/up) ≤ last input index.
  const lastInput = state.nextInput + nSamples - 1;
  const lastOutput = Math.floor(((lastInput + 1) * up - 1) / down);
  const nOutputs = Math.max(0, lastOutput - firstOutput + 1);
  const out = new (input.constructor as { new (n: number): T })(nOutputs * nChannels);
  let k = firstOutput;
  let o = 0;
  for (let t = 0; t < nSamples; t++) {
    const i = state.nextInput + t;
    const w = state.writePos;
    for (let c = 0, row = t * nChannels, base = 0; c < nChannels; c++, base += 2 * R) {
      const x = input[row + c];
      history[base + w] = x;
      history[base + w + R] = x;
    }
    state.writePos = w + 1 === R ? 0 : w + 1;
    // Every output whose input position floor(k·down/up) is this sample.
    while (o < nOutputs && Math.floor((k * down) / up) === i) {
      const g = phaseTaps[(k * down) % up];
      const n = g.length;
      const start = state.writePos + R - n; // the n newest samples, oldest first
      for (let c = 0, base = 0; c < nChannels; c++, base += 2 * R) {
        let acc = 0;
        const s = base + start;
        for (let q = 0; q < n; q++) acc += g[q] * history[s + q];
        out[o * nChannels + c] = acc;
      }
      k++;
      o++;
    }
  }
  state.nextInput += nSamples;
  state.nextOutput = k;
  return { data: out, firstOutput, nOutputs };
}
