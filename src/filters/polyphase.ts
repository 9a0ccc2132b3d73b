/**
 * Anti-aliased rate reduction (1200 Hz → 30 Hz for the paper's epochs) as a causal, streaming
 * polyphase FIR: the Kaiser-window low-pass design of scipy `kaiserord` + `firwin`, and the
 * upsample–filter–downsample of scipy `upfirdn(h·up, x, up, down)` computed only at the output
 * samples, as one small matrix product per output sample (see "Streaming polyphase filter" below),
 * in OpenBLAS through koffi when it loads, else in JavaScript; state kept across chunks.
 * Measured (bench/preprocess.ts: 273 channels, 60 s at 1200 Hz in 100 ms chunks, 2-core EPYC,
 * OpenBLAS 0.3.21, other core busy): ≈ 650–800× real time with OpenBLAS, ≈ 90–115× in
 * JavaScript; the former per-channel dot products ran at ≈ 25–30× in the same conditions.
 *
 * Owns: the FIR design (and its documented band), rational rate ratios, the polyphase state and
 * its block products (on the shared OpenBLAS binding's dgemm, src/linalg/openblas.ts, or in
 * JavaScript). Must not: know about RxJS, chunks or clocks (streams/resample.ts maps sample indices
 * to time), or bind a native library itself.
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
import { GEMM_SERIAL_MNK, openBlasGemm } from '../linalg/openblas.js';
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
//
// How it is computed (chunk-invariant, no added latency). Output k is the dot product of the
// phase taps g = h[p + q·up]·up (p = k·down mod up) with the inputs ending at e(k) = ⌊k·down/up⌋.
// The outputs with one phase, k = up·K + s, form a plain decimation by `down` of the input; cut its
// input into blocks of `down` samples, block K ending at e(k) (for 1200 → 30 Hz: up 1, one stream,
// block K = inputs 40K − 39 … 40K). Output K then needs blocks K, K − 1, …, K − R + 1 only, so the
// moment block K is complete its contribution to the R outputs K … K + R − 1 is known:
//
//   acc[K + r][c] += Σ_q G[r][q] · block_K[q][c],  G[r][q] = g[r·down + down − 1 − q]  (0 past the end)
//
// one product (R × down)·(down × channels) per output sample (39 × 40 · 40 × 273 at 1200 → 30 Hz),
// after which acc[K] is complete and is output K. It is emitted at the same input sample as before
// (no latency added), and each output always receives the same R block products, in the same order
// (r = R − 1 first), computed by the same fixed-shape call on the same numbers: any split of the
// input into chunks gives identical bits. The product runs either in OpenBLAS (cblas_dgemm, or the
// Fortran dgemm_, called synchronously through koffi) or in JavaScript (taps outer, channels inner
// and contiguous, 3 rows × 8 taps per pass); both compute every entry of G, including the zeros
// that pad the last row, and differ only in rounding (float64; well below float32 output). A
// non-finite input therefore also reaches the output that the padding zeros of that row touch
// (0·NaN = NaN): at most one output (per phase) more than the taps alone would reach.
// Flops are those of the direct form (R·down ≈ numtaps per output); tap symmetry cannot save
// multiplies here, as the two samples of a symmetric pair are in different blocks.

/**
 * Which arithmetic does the block products: `blas` (OpenBLAS/BLAS dgemm through koffi; throws when
 * no library loads), `js` (pure JavaScript, always available), `auto` (blas when a library loads,
 * else js; the default).
 */
export type PolyphaseKernel = 'auto' | 'blas' | 'js';

export interface PolyphaseStateOptions {
  /** Default 'auto'. */
  kernel?: PolyphaseKernel;
}

/** The outputs of one phase (k ≡ s mod up): a decimation by `down` with its own taps and blocks. */
interface PhaseStream {
  /** [R][down] row-major: row r multiplies block K into output K + r; column q = sample q of the block, oldest first. */
  readonly blockTaps: Float64Array;
  /** R = ceil(phase taps / down). */
  readonly nRows: number;
  /** The block being filled, [down][channel] float64 (zeros before the first input). */
  readonly block: Float64Array;
  /** Absolute input index of the block's last sample: where this stream's next output sits. */
  blockEnd: number;
  /** Inputs [blockEnd − down + 1, filled) are in `block`. */
  filled: number;
  /** This stream's index K of its next output (output k = up·K + s). */
  nextK: number;
  /** Partial sums, [row][channel], row = K − accBase; rows past K + R − 1 are zero. */
  readonly acc: Float64Array;
  accBase: number;
}

/** A resampler's memory for every channel. */
export interface PolyphaseState {
  readonly design: ResamplerDesign;
  readonly nChannels: number;
  /** The kernel in use ('auto' resolved). */
  readonly kernel: 'blas' | 'js';
  /** The library the blas kernel calls, or why 'auto' fell back to js. */
  readonly kernelDetail: string;
  /** Absolute index of the next input sample expected. */
  nextInput: number;
  /** Absolute index k of the next output sample (computed at input position k·down/up). */
  nextOutput: number;
  /** Per phase p: the taps h[p + q·up]·up, q = 0… (q = samples back from the output's position). */
  readonly phaseTaps: Float64Array[];
  /** One per s = k mod up (internal). */
  readonly streams: readonly PhaseStream[];
}

/** Extra accumulator rows beyond R: the rows are compacted once every this many outputs. */
const ACC_SLACK_ROWS = 64;

/**
 * A fresh resampler (history zero: the signal is 0 before `firstInputSample`, as in scipy upfirdn).
 * The first output is the first k with k·down/up ≥ firstInputSample.
 * @throws Error when `kernel: 'blas'` is asked for and no BLAS library loads (the message says why)
 */
export function createPolyphaseState(design: ResamplerDesign, nChannels: number, firstInputSample = 0, opts: PolyphaseStateOptions = {}): PolyphaseState {
  if (!Number.isInteger(nChannels) || nChannels < 1) throw new RangeError(`nChannels must be an integer ≥ 1, got ${nChannels}`);
  if (!Number.isSafeInteger(firstInputSample) || firstInputSample < 0) throw new RangeError(`firstInputSample must be an integer ≥ 0, got ${firstInputSample}`);
  const want = opts.kernel ?? 'auto';
  if (want !== 'auto' && want !== 'blas' && want !== 'js') throw new RangeError(`kernel must be 'auto', 'blas' or 'js', got ${String(want)}`);
  let kernel: 'blas' | 'js' = 'js';
  let kernelDetail = 'js';
  if (want !== 'js') {
    const gemm = loadResampleGemm();
    if ('error' in gemm) {
      if (want === 'blas') throw new Error(`resample kernel 'blas': ${gemm.error}`);
      kernelDetail = `js (no BLAS: ${gemm.error})`;
    } else {
      kernel = 'blas';
      kernelDetail = `blas (${gemm.describe})`;
    }
  }
  const { up, down, taps, numtaps } = design;
  const phaseTaps: Float64Array[] = [];
  for (let p = 0; p < up; p++) {
    const n = Math.ceil((numtaps - p) / up);
    const g = new Float64Array(n);
    for (let q = 0; q < n; q++) g[q] = taps[p + q * up] * up;
    phaseTaps.push(g);
  }
  const firstOutput = Math.ceil((firstInputSample * up) / down);
  const streams: PhaseStream[] = [];
  for (let s = 0; s < up; s++) {
    const g = phaseTaps[(s * down) % up];
    const nRows = Math.ceil(g.length / down);
    const blockTaps = new Float64Array(nRows * down);
    for (let r = 0; r < nRows; r++) {
      for (let q = 0; q < down; q++) {
        const j = r * down + down - 1 - q;
        if (j < g.length) blockTaps[r * down + q] = g[j];
      }
    }
    // This stream's first output; every earlier block of it lies before firstInputSample (all zero).
    const nextK = Math.max(0, Math.ceil((firstOutput - s) / up));
    const blockEnd = nextK * down + Math.floor((s * down) / up);
    streams.push({
      blockTaps, nRows,
      block: new Float64Array(down * nChannels),
      blockEnd,
      filled: firstInputSample,
      nextK,
      acc: new Float64Array((nRows + ACC_SLACK_ROWS) * nChannels),
      accBase: nextK,
    });
  }
  return { design, nChannels, kernel, kernelDetail, nextInput: firstInputSample, nextOutput: firstOutput, phaseTaps, streams };
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
 * gives bit-identical outputs: each output is the same fixed sequence of block products (see above).
 *
 * @example
 *   const st = createPolyphaseState(designResampler({ fromHz: 1200, toHz: 30 }), 270);
 *   const { data, firstOutput, nOutputs } = polyphaseProcess(st, chunk.data);
 */
export function polyphaseProcess<T extends Float32Array | Float64Array>(state: PolyphaseState, input: T): PolyphaseOutput<T> {
  const { nChannels, streams } = state;
  const { up, down } = state.design;
  if (input.length % nChannels !== 0) throw new RangeError(`input length ${input.length} is not a multiple of ${nChannels} channels`);
  const nSamples = input.length / nChannels;
  const i0 = state.nextInput;
  const firstOutput = state.nextOutput;
  // Outputs k with floor(k·down/up) ≤ last input index.
  const lastInput = i0 + nSamples - 1;
  const lastOutput = Math.floor(((lastInput + 1) * up - 1) / down);
  const nOutputs = Math.max(0, lastOutput - firstOutput + 1);
  const out = new (input.constructor as { new (n: number): T })(nOutputs * nChannels);
  const gemm = state.kernel === 'blas' ? blasGemm() : undefined;
  for (let o = 0; o < nOutputs; o++) {
    const st = streams[(firstOutput + o) % up];
    const e = st.blockEnd; // = floor(k·down/up) ≤ lastInput
    fillBlock(st, input, i0, e + 1, nChannels, down);
    let row = st.nextK - st.accBase;
    if (row + st.nRows > st.acc.length / nChannels) {
      // Compact: move the pending rows to the front (where they start depends on K alone).
      st.acc.copyWithin(0, row * nChannels);
      st.acc.fill(0, st.acc.length - row * nChannels);
      st.accBase = st.nextK;
      row = 0;
    }
    const off = row * nChannels;
    if (gemm) gemm(nChannels, st.nRows, down, st.block, st.blockTaps, st.acc, off);
    else jsBlockProduct(st.blockTaps, st.nRows, down, nChannels, st.block, st.acc, off);
    out.set(st.acc.subarray(off, off + nChannels), o * nChannels);
    st.nextK++;
    st.blockEnd = e + down;
  }
  // The rest of the chunk starts each stream's next block.
  for (const st of streams) fillBlock(st, input, i0, i0 + nSamples, nChannels, down);
  state.nextInput += nSamples;
  state.nextOutput += nOutputs;
  return { data: out, firstOutput, nOutputs };
}

/** Copy inputs [st.filled, to) (absolute indices; `input` starts at i0) into st.block, as float64. */
function fillBlock(st: PhaseStream, input: Float32Array | Float64Array, i0: number, to: number, nChannels: number, down: number): void {
  if (to <= st.filled) return;
  const start = st.blockEnd - down + 1;
  st.block.set(input.subarray((st.filled - i0) * nChannels, (to - i0) * nChannels), (st.filled - start) * nChannels);
  st.filled = to;
}

/**
 * acc[off + r·C + c] += Σ_q g[r·D + q] · x[q·C + c] for r < R, c < C (g: R×D, x: D×C, acc rows C
 * apart): the block product in JavaScript. Taps outer, channels inner and contiguous; three rows
 * of g share each load of eight input rows (measured fastest in V8 among 1–3 rows × 4–10 taps).
 * Each group of eight taps is summed left to right, then added to acc.
 */
function jsBlockProduct(g: Float64Array, R: number, D: number, C: number, x: Float64Array, acc: Float64Array, off: number): void {
  let r = 0;
  for (; r + 3 <= R; r += 3) {
    const a0 = off + r * C;
    const a1 = a0 + C;
    const a2 = a1 + C;
    const g0 = r * D;
    const g1 = g0 + D;
    const g2 = g1 + D;
    let q = 0;
    for (; q + 8 <= D; q += 8) {
      const h0 = g[g0 + q], h1 = g[g0 + q + 1], h2 = g[g0 + q + 2], h3 = g[g0 + q + 3];
      const h4 = g[g0 + q + 4], h5 = g[g0 + q + 5], h6 = g[g0 + q + 6], h7 = g[g0 + q + 7];
      const k0 = g[g1 + q], k1 = g[g1 + q + 1], k2 = g[g1 + q + 2], k3 = g[g1 + q + 3];
      const k4 = g[g1 + q + 4], k5 = g[g1 + q + 5], k6 = g[g1 + q + 6], k7 = g[g1 + q + 7];
      const l0 = g[g2 + q], l1 = g[g2 + q + 1], l2 = g[g2 + q + 2], l3 = g[g2 + q + 3];
      const l4 = g[g2 + q + 4], l5 = g[g2 + q + 5], l6 = g[g2 + q + 6], l7 = g[g2 + q + 7];
      const b0 = q * C;
      for (let c = 0; c < C; c++) {
        const b = b0 + c;
        const x0 = x[b], x1 = x[b + C], x2 = x[b + 2 * C], x3 = x[b + 3 * C];
        const x4 = x[b + 4 * C], x5 = x[b + 5 * C], x6 = x[b + 6 * C], x7 = x[b + 7 * C];
        acc[a0 + c] += h0 * x0 + h1 * x1 + h2 * x2 + h3 * x3 + h4 * x4 + h5 * x5 + h6 * x6 + h7 * x7;
        acc[a1 + c] += k0 * x0 + k1 * x1 + k2 * x2 + k3 * x3 + k4 * x4 + k5 * x5 + k6 * x6 + k7 * x7;
        acc[a2 + c] += l0 * x0 + l1 * x1 + l2 * x2 + l3 * x3 + l4 * x4 + l5 * x5 + l6 * x6 + l7 * x7;
      }
    }
    for (; q < D; q++) {
      const h0 = g[g0 + q], k0 = g[g1 + q], l0 = g[g2 + q];
      const b = q * C;
      for (let c = 0; c < C; c++) {
        const x0 = x[b + c];
        acc[a0 + c] += h0 * x0;
        acc[a1 + c] += k0 * x0;
        acc[a2 + c] += l0 * x0;
      }
    }
  }
  for (; r < R; r++) {
    const a0 = off + r * C;
    const g0 = r * D;
    let q = 0;
    for (; q + 8 <= D; q += 8) {
      const h0 = g[g0 + q], h1 = g[g0 + q + 1], h2 = g[g0 + q + 2], h3 = g[g0 + q + 3];
      const h4 = g[g0 + q + 4], h5 = g[g0 + q + 5], h6 = g[g0 + q + 6], h7 = g[g0 + q + 7];
      const b0 = q * C;
      for (let c = 0; c < C; c++) {
        const b = b0 + c;
        acc[a0 + c] += h0 * x[b] + h1 * x[b + C] + h2 * x[b + 2 * C] + h3 * x[b + 3 * C] + h4 * x[b + 4 * C] + h5 * x[b + 5 * C] + h6 * x[b + 6 * C] + h7 * x[b + 7 * C];
      }
    }
    for (; q < D; q++) {
      const h0 = g[g0 + q];
      const b = q * C;
      for (let c = 0; c < C; c++) acc[a0 + c] += h0 * x[b + c];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The BLAS kernel: dgemm from the shared OpenBLAS binding, called synchronously (the operator is synchronous)

/** acc[off…] += the block product, as jsBlockProduct computes it (C channels, R rows, D taps). */
type BlockGemm = (C: number, R: number, D: number, x: Float64Array, g: Float64Array, acc: Float64Array, off: number) => void;

let blockGemm: { gemm: BlockGemm; describe: string } | { error: string } | undefined;

/**
 * The block product on dgemm from the OpenBLAS binding (src/linalg/openblas.ts: the linalg `blas`
 * backend's search order, $LOCKSTEP_BLAS_LIB, OpenBLAS, reference BLAS), once per thread; the
 * error says why no library did. The product is issued column-major, so that the channel axis
 * (contiguous in our layout) is the GEMM's long M dimension: acc (C × R, ld C) += x (C × D, ld C) · g (D × R, ld D).
 */
export function loadResampleGemm(): { gemm: BlockGemm; describe: string } | { error: string } {
  if (blockGemm) return blockGemm;
  const lib = openBlasGemm();
  if ('error' in lib) return (blockGemm = lib);
  const { dgemm } = lib;
  // Channel groups of ≤ GEMM_SERIAL_MNK / (R·D) channels: OpenBLAS runs a GEMM on the calling thread
  // when M·N·K ≤ 4·65536, and waking its pool for these ~0.4 Mflop products cost more than it
  // saved (1800 products of 273 × 39 × 40: ~90–200 ms whole vs ~65–125 ms as 137 + 136 channels,
  // 2-core EPYC, OpenBLAS 0.3.21). The split depends on the shapes only, never on the chunking.
  // Each group is a sub-matrix of the same leading dimension, passed as offset pointers.
  const gemm: BlockGemm = (C, R, D, x, g, acc, off) => {
    const groups = Math.ceil(C / Math.max(1, Math.floor(GEMM_SERIAL_MNK / (R * D))));
    for (let i = 0, c0 = 0; i < groups; i++) {
      const c1 = Math.round((C * (i + 1)) / groups);
      dgemm('col', false, false, c1 - c0, R, D, 1, c0 ? x.subarray(c0) : x, C, g, D, 1, off + c0 ? acc.subarray(off + c0) : acc, C);
      c0 = c1;
    }
  };
  return (blockGemm = { gemm, describe: lib.describe });
}

/** The bound kernel of a state whose kernel is 'blas' (bound when the state was created). */
function blasGemm(): BlockGemm {
  const b = loadResampleGemm();
  if ('error' in b) throw new Error(`resample: BLAS kernel lost: ${b.error}`);
  return b.gemm;
}

