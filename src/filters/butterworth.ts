/**
 * IIR filters in second-order sections: Butterworth design (low-, high-, band-pass), the notch of
 * scipy's `iirnotch`, causal filtering with state kept across chunks, and the frequency response /
 * group delay used to report how late a causal filter's output is.
 *
 * Owns: the design arithmetic (reproducing scipy.signal's `butter(..., output='sos')`, `iirnotch`,
 * `sosfilt`, `sosfilt_zi`, `sosfreqz` to rounding), and the per-channel filter state.
 * Must not: know about RxJS, chunks or time stamps (streams/sosFilter.ts wraps these functions;
 * the paper's designs and defaults are src/filters/preprocessPlan.ts), or do I/O.
 *
 * Layouts: an SOS array is a Float64Array `[section][b0 b1 b2 a0 a1 a2]`, row-major, a0 = 1 (scipy's
 * `sos` array flattened). Signals are interleaved `[sample][channel]`, as in SampleChunk.data.
 */

// ---------------------------------------------------------------------------------------------
// Complex arithmetic, just what the zpk design needs.

interface Complex {
  re: number;
  im: number;
}

const cx = (re: number, im = 0): Complex => ({ re, im });
const cadd = (a: Complex, b: Complex): Complex => cx(a.re + b.re, a.im + b.im);
const csub = (a: Complex, b: Complex): Complex => cx(a.re - b.re, a.im - b.im);
const cmul = (a: Complex, b: Complex): Complex => cx(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
const cscale = (a: Complex, s: number): Complex => cx(a.re * s, a.im * s);
const cconj = (a: Complex): Complex => cx(a.re, -a.im);
const cabs = (a: Complex): number => Math.hypot(a.re, a.im);
const isReal = (a: Complex): boolean => a.im === 0; // numpy.isreal: imaginary part exactly zero

function cdiv(a: Complex, b: Complex): Complex {
  // Smith's algorithm (no overflow for large |b|) in numpy's form, so rounding matches scipy's.
  if (Math.abs(b.re) >= Math.abs(b.im)) {
    if (b.re === 0 && b.im === 0) return cx(a.re / 0, a.im / 0);
    const r = b.im / b.re;
    const scl = 1.0 / (b.re + b.im * r);
    return cx((a.re + a.im * r) * scl, (a.im - a.re * r) * scl);
  }
  const r = b.re / b.im;
  const scl = 1.0 / (b.im + b.re * r);
  return cx((a.re * r + a.im) * scl, (a.im * r - a.re) * scl);
}

/** Principal square root (branch cut on the negative real axis, sign of the imaginary part kept). */
function csqrt(a: Complex): Complex {
  if (a.re === 0 && a.im === 0) return cx(0, a.im);
  const m = cabs(a);
  if (a.re >= 0) {
    const t = Math.sqrt((m + a.re) / 2);
    return cx(t, a.im / (2 * t));
  }
  const t = Math.sqrt((m - a.re) / 2);
  return cx(Math.abs(a.im) / (2 * t), Object.is(a.im, -0) || a.im < 0 ? -t : t);
}

// ---------------------------------------------------------------------------------------------
// Zeros, poles and gain: scipy's iirfilter pipeline (prototype → frequency transform → bilinear).

interface Zpk {
  z: Complex[];
  p: Complex[];
  k: number;
}

/** Analog Butterworth low-pass prototype (scipy `buttap`): N poles on the left unit half-circle. */
function butterPrototype(order: number): Zpk {
  const p: Complex[] = [];
  for (let m = -order + 1; m < order; m += 2) {
    const theta = (Math.PI * m) / (2 * order);
    // −exp(jθ); m = 0 gives the exactly real pole −1 of odd orders.
    p.push(cx(-Math.cos(theta), -Math.sin(theta)));
  }
  return { z: [], p, k: 1 };
}

function lowpassToLowpass({ z, p, k }: Zpk, wo: number): Zpk {
  const degree = p.length - z.length;
  return { z: z.map((v) => cscale(v, wo)), p: p.map((v) => cscale(v, wo)), k: k * wo ** degree };
}

function lowpassToHighpass({ z, p, k }: Zpk, wo: number): Zpk {
  const degree = p.length - z.length;
  const zh = z.map((v) => cdiv(cx(wo), v));
  const ph = p.map((v) => cdiv(cx(wo), v));
  for (let i = 0; i < degree; i++) zh.push(cx(0));
  const gain = cdiv(prod(z.map((v) => cscale(v, -1))), prod(p.map((v) => cscale(v, -1))));
  return { z: zh, p: ph, k: k * gain.re };
}

function lowpassToBandpass({ z, p, k }: Zpk, wo: number, bw: number): Zpk {
  const degree = p.length - z.length;
  const shift = (v: Complex): [Complex, Complex] => {
    const lp = cscale(v, bw / 2);
    const root = csqrt(csub(cmul(lp, lp), cx(wo * wo)));
    return [cadd(lp, root), csub(lp, root)];
  };
  const zs = z.map(shift);
  const ps = p.map(shift);
  const zb = [...zs.map((s) => s[0]), ...zs.map((s) => s[1])];
  const pb = [...ps.map((s) => s[0]), ...ps.map((s) => s[1])];
  for (let i = 0; i < degree; i++) zb.push(cx(0));
  return { z: zb, p: pb, k: k * bw ** degree };
}

function prod(values: Complex[]): Complex {
  let acc = cx(1);
  for (const v of values) acc = cmul(acc, v);
  return acc;
}

/** Bilinear transform of an analog zpk at (normalised) rate fs, zeros at infinity sent to Nyquist. */
function bilinearZpk({ z, p, k }: Zpk, fs: number): Zpk {
  const degree = p.length - z.length;
  const fs2 = cx(2 * fs);
  const zz = z.map((v) => cdiv(cadd(fs2, v), csub(fs2, v)));
  const pz = p.map((v) => cdiv(cadd(fs2, v), csub(fs2, v)));
  for (let i = 0; i < degree; i++) zz.push(cx(-1));
  const gain = cdiv(prod(z.map((v) => csub(fs2, v))), prod(p.map((v) => csub(fs2, v))));
  return { z: zz, p: pz, k: k * gain.re };
}

// ---------------------------------------------------------------------------------------------
// zpk → second-order sections, scipy's `zpk2sos(pairing='nearest')` step by step, so that the
// sections come out in the same order with the same pole/zero pairing (and thus the same
// coefficients to rounding, not merely the same transfer function).

/** One of each conjugate pair (positive imaginary part, sorted), then the real values (scipy `_cplxreal`). */
function splitConjugates(values: Complex[]): Complex[] {
  if (values.length === 0) return [];
  const tol = 100 * Number.EPSILON;
  // Sort by real part, then |imag|, stably (numpy's lexsort is stable).
  const sorted = values
    .map((v, i) => ({ v, i }))
    .sort((a, b) => a.v.re - b.v.re || Math.abs(a.v.im) - Math.abs(b.v.im) || a.i - b.i)
    .map((e) => e.v);
  const realMask = sorted.map((v) => Math.abs(v.im) <= tol * cabs(v));
  const reals = sorted.filter((_, i) => realMask[i]).map((v) => cx(v.re));
  const cplx = sorted.filter((_, i) => !realMask[i]);
  if (cplx.length === 0) return reals;
  const pos = cplx.filter((v) => v.im > 0);
  const neg = cplx.filter((v) => v.im < 0);
  if (pos.length !== neg.length) throw new Error('zpk2sos: a complex root has no matching conjugate');
  // Within runs of (nearly) equal real parts, order by |imag| so that conjugates line up.
  let start = 0;
  while (start < pos.length) {
    let stop = start;
    while (stop + 1 < pos.length && pos[stop + 1].re - pos[stop].re <= tol * cabs(pos[stop])) stop++;
    if (stop > start) {
      for (const run of [pos, neg]) {
        const part = run.slice(start, stop + 1).sort((a, b) => Math.abs(a.im) - Math.abs(b.im));
        run.splice(start, part.length, ...part);
      }
    }
    start = stop + 1;
  }
  const halves: Complex[] = [];
  for (let i = 0; i < pos.length; i++) {
    if (cabs(csub(pos[i], cconj(neg[i]))) > tol * cabs(neg[i])) {
      throw new Error('zpk2sos: a complex root has no matching conjugate');
    }
    // Average out rounding between the two halves of a pair.
    halves.push(cscale(cadd(pos[i], cconj(neg[i])), 0.5));
  }
  return [...halves, ...reals];
}

/** Index of the root closest to `to` among those of the requested kind (scipy `_nearest_real_complex_idx`). */
function nearestIndex(from: Complex[], to: Complex, which: 'real' | 'complex' | 'any'): number {
  const order = from
    .map((v, i) => ({ d: cabs(csub(v, to)), i }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((e) => e.i);
  if (which === 'any') return order[0];
  const found = order.find((i) => (which === 'real') === isReal(from[i]));
  if (found === undefined) throw new Error(`zpk2sos: no ${which} root left to pair`);
  return found;
}

/** The root closest to the unit circle (the "worst" one: sharpest resonance). */
function worstIndex(values: Complex[]): number {
  let best = 0;
  let bestD = Infinity;
  values.forEach((v, i) => {
    const d = Math.abs(1 - cabs(v));
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

/** Monic polynomial with the given roots (numpy `poly`), real part kept (roots come in conjugate pairs). */
function polyReal(roots: Complex[]): number[] {
  let c: Complex[] = [cx(1)];
  for (const r of roots) {
    const next: Complex[] = c.map((v) => v).concat([cx(0)]);
    for (let i = 0; i < c.length; i++) next[i + 1] = cadd(next[i + 1], cmul(c[i], cscale(r, -1)));
    c = next;
  }
  return c.map((v) => v.re);
}

function singleSection(zeros: Complex[], poles: Complex[]): number[] {
  const s = [0, 0, 0, 0, 0, 0];
  const b = polyReal(zeros);
  const a = polyReal(poles);
  b.forEach((v, i) => (s[3 - b.length + i] = v));
  a.forEach((v, i) => (s[6 - a.length + i] = v));
  return s;
}

function zpkToSos({ z: zIn, p: pIn, k }: Zpk): Float64Array {
  if (zIn.length === 0 && pIn.length === 0) return Float64Array.from([k, 0, 0, 1, 0, 0]);
  let p = [...pIn];
  let z = [...zIn];
  while (p.length < z.length) p.push(cx(0));
  while (z.length < p.length) z.push(cx(0));
  const nSections = (p.length + 1) >> 1;
  if (p.length % 2 === 1) {
    p.push(cx(0));
    z.push(cx(0));
  }
  z = splitConjugates(z);
  p = splitConjugates(p);
  const take = (arr: Complex[], i: number): Complex => arr.splice(i, 1)[0];

  const sections: number[][] = new Array(nSections);
  // Built from the last section backwards, so the poles nearest the unit circle end up last.
  for (let si = nSections - 1; si >= 0; si--) {
    const p1 = take(p, worstIndex(p));
    const realPolesLeft = p.filter(isReal).length;
    if (isReal(p1) && realPolesLeft === 0) {
      // Last remaining real pole: pair with the nearest real zero, padded with a pole/zero at 0.
      const z1 = take(z, nearestIndex(z, p1, 'real'));
      sections[si] = singleSection([z1, cx(0)], [p1, cx(0)]);
    } else if (p.length + 1 === z.length && !isReal(p1) && realPolesLeft === 1 && z.filter(isReal).length === 1) {
      // One real pole and one real zero left: this complex pole must take a complex zero.
      const z1 = take(z, nearestIndex(z, p1, 'complex'));
      sections[si] = singleSection([z1, cconj(z1)], [p1, cconj(p1)]);
    } else {
      let p2: Complex;
      if (isReal(p1)) {
        const realIdx = p.map((v, i) => (isReal(v) ? i : -1)).filter((i) => i >= 0);
        p2 = take(p, realIdx[worstIndex(realIdx.map((i) => p[i]))]);
      } else {
        p2 = cconj(p1);
      }
      if (z.length > 0) {
        const z1 = take(z, nearestIndex(z, p1, 'any'));
        if (!isReal(z1)) {
          sections[si] = singleSection([z1, cconj(z1)], [p1, p2]);
        } else if (z.length > 0) {
          const z2 = take(z, nearestIndex(z, p1, 'real'));
          sections[si] = singleSection([z1, z2], [p1, p2]);
        } else {
          sections[si] = singleSection([z1], [p1, p2]);
        }
      } else {
        sections[si] = singleSection([], [p1, p2]);
      }
    }
  }
  const sos = new Float64Array(nSections * 6);
  sections.forEach((s, i) => sos.set(s, i * 6));
  // The overall gain goes into the first section's numerator.
  for (let j = 0; j < 3; j++) sos[j] *= k;
  return sos;
}

// ---------------------------------------------------------------------------------------------
// Public design functions

export type ButterKind = 'lowpass' | 'highpass' | 'bandpass';

function checkEdge(name: string, hz: number, fs: number): void {
  if (!(hz > 0 && hz < fs / 2)) {
    throw new RangeError(`${name} must be between 0 and the Nyquist frequency ${fs / 2} Hz (exclusive), got ${hz} Hz`);
  }
}

/**
 * Digital Butterworth filter as second-order sections, equal to scipy
 * `butter(order, cutoffHz, kind, fs=fsHz, output='sos')` to rounding: analog prototype, band edges
 * pre-warped (2·fs·tan(π·f/fs)), low→{low,high,band}-pass transform, bilinear transform,
 * `zpk2sos` with nearest pairing. A band-pass of order N has 2N poles (N sections).
 *
 * @example
 *   const sos = butter(4, [0.1, 20], 'bandpass', 1200); // 4 sections, 0.1–20 Hz at 1200 Hz
 * @param order prototype order N ≥ 1
 * @param cutoffHz one edge (low/high-pass) or [low, high] (band-pass), Hz, inside (0, fs/2)
 * @param kind 'lowpass' | 'highpass' | 'bandpass'
 * @param fsHz sampling rate, Hz
 * @returns Float64Array `[section][b0 b1 b2 a0 a1 a2]`
 */
export function butter(order: number, cutoffHz: number | readonly [number, number], kind: ButterKind, fsHz: number): Float64Array {
  if (!Number.isInteger(order) || order < 1) throw new RangeError(`order must be an integer ≥ 1, got ${order}`);
  if (!(fsHz > 0)) throw new RangeError(`fsHz must be > 0, got ${fsHz}`);
  // scipy normalises to Nyquist = 1 and designs at fs = 2; the same arithmetic keeps the same rounding.
  const warp = (hz: number) => 2 * 2 * Math.tan((Math.PI * ((2 * hz) / fsHz)) / 2);
  let zpk = butterPrototype(order);
  if (kind === 'bandpass') {
    if (typeof cutoffHz === 'number') throw new RangeError('a band-pass needs [lowHz, highHz]');
    const [lo, hi] = cutoffHz;
    checkEdge('lowHz', lo, fsHz);
    checkEdge('highHz', hi, fsHz);
    if (!(lo < hi)) throw new RangeError(`lowHz must be below highHz, got ${lo} ≥ ${hi}`);
    const w1 = warp(lo);
    const w2 = warp(hi);
    zpk = lowpassToBandpass(zpk, Math.sqrt(w1 * w2), w2 - w1);
  } else {
    if (typeof cutoffHz !== 'number') throw new RangeError(`a ${kind} needs one cutoff, got [${cutoffHz.join(', ')}]`);
    checkEdge('cutoffHz', cutoffHz, fsHz);
    zpk = kind === 'lowpass' ? lowpassToLowpass(zpk, warp(cutoffHz)) : lowpassToHighpass(zpk, warp(cutoffHz));
  }
  return zpkToSos(bilinearZpk(zpk, 2));
}

/**
 * Second-order IIR notch (scipy `iirnotch(freqHz, q, fs)`): zeros on the unit circle at freqHz,
 * −3 dB bandwidth freqHz/q. For mains interference: 50 Hz (Europe; the paper's recordings) or 60 Hz.
 *
 * @example
 *   const sos = notchSos(50, 30, 1200); // one section, −3 dB band ≈ 49.2–50.8 Hz
 * @returns Float64Array `[b0 b1 b2 1 a1 a2]` (one section)
 */
export function notchSos(freqHz: number, q: number, fsHz: number): Float64Array {
  if (!(freqHz > 0 && freqHz < fsHz / 2)) throw new RangeError(`notch freqHz must be inside (0, ${fsHz / 2}) Hz, got ${freqHz}`);
  if (!(q > 0)) throw new RangeError(`notch q must be > 0, got ${q}`);
  const w0n = (2 * freqHz) / fsHz;
  const bw = (w0n / q) * Math.PI;
  const w0 = w0n * Math.PI;
  const gb = 1 / Math.sqrt(2);
  // Same expression as scipy (Orfanidis eq. 11.3.4), kept literal so rounding matches.
  const beta = (Math.sqrt(1.0 - gb ** 2.0) / gb) * Math.tan(bw / 2.0);
  const gain = 1.0 / (1.0 + beta);
  return Float64Array.from([gain, gain * (-2.0 * Math.cos(w0)), gain, 1, -2.0 * gain * Math.cos(w0), 2.0 * gain - 1.0]);
}

/** Concatenate SOS arrays into one cascade (applied in the order given). */
export function cascadeSos(...parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function checkSos(sos: Float64Array): number {
  if (sos.length === 0 || sos.length % 6 !== 0) throw new RangeError(`an SOS array has 6 coefficients per section, got length ${sos.length}`);
  const n = sos.length / 6;
  for (let s = 0; s < n; s++) {
    if (sos[s * 6 + 3] !== 1) throw new RangeError(`SOS section ${s} has a0 = ${sos[s * 6 + 3]}; sections must be normalised to a0 = 1`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Filtering with state kept across chunks

/** A causal SOS filter's memory for every channel: two float64 delays per section. */
export interface SosFilterState {
  readonly sos: Float64Array;
  readonly nSections: number;
  readonly nChannels: number;
  /** [channel][section][2], the Direct Form II transposed delays. */
  readonly z: Float64Array;
}

/**
 * A fresh filter state (all delays zero: the signal is taken to be 0 before the first sample, as
 * scipy `sosfilt` without `zi`).
 */
export function createSosFilterState(sos: Float64Array, nChannels: number): SosFilterState {
  const nSections = checkSos(sos);
  if (!Number.isInteger(nChannels) || nChannels < 1) throw new RangeError(`nChannels must be an integer ≥ 1, got ${nChannels}`);
  return { sos, nSections, nChannels, z: new Float64Array(nChannels * nSections * 2) };
}

/**
 * Step-response steady state per section for a unit input (scipy `sosfilt_zi`): [section][2].
 * Scaled by a channel's first value, it starts the filter as if that value had been there forever,
 * which removes the start-up transient of a DC offset (large in raw MEG).
 */
export function sosfiltZi(sos: Float64Array): Float64Array {
  const n = checkSos(sos);
  const zi = new Float64Array(n * 2);
  let scale = 1;
  for (let s = 0; s < n; s++) {
    const [b0, b1, b2, , a1, a2] = sos.subarray(s * 6, s * 6 + 6);
    // Solve (I − companion(a)ᵀ) zi = b[1:] − a[1:]·b0 for the 2×2 case (scipy lfilter_zi).
    const B0 = b1 - a1 * b0;
    const B1 = b2 - a2 * b0;
    const z0 = (B0 + B1) / (1 + a1 + a2);
    zi[s * 2] = scale * z0;
    zi[s * 2 + 1] = scale * (B1 - a2 * z0);
    scale *= (b0 + b1 + b2) / (1 + a1 + a2);
  }
  return zi;
}

/**
 * Set every channel's state to the steady state for a constant input equal to `firstFrame[c]`.
 * @param firstFrame one value per channel (the first sample of the stream)
 */
export function setSteadyState(state: SosFilterState, firstFrame: ArrayLike<number>): void {
  if (firstFrame.length !== state.nChannels) throw new RangeError(`firstFrame has ${firstFrame.length} values for ${state.nChannels} channels`);
  const zi = sosfiltZi(state.sos);
  const per = state.nSections * 2;
  for (let c = 0; c < state.nChannels; c++) {
    for (let j = 0; j < per; j++) state.z[c * per + j] = zi[j] * firstFrame[c];
  }
}

/**
 * Filter interleaved `[sample][channel]` data through the cascade, updating `state` so that the
 * next call continues where this one stopped: any split of a signal into chunks gives bit-identical
 * output. Direct Form II transposed with float64 arithmetic and state, operations in scipy
 * `sosfilt`'s order.
 *
 * @example
 *   const st = createSosFilterState(butter(4, [0.1, 20], 'bandpass', 1200), 270);
 *   const y = sosfiltState(st, chunk.data); // Float32Array, same layout
 * @param input `[sample][channel]`, length a multiple of nChannels
 * @param output where to write (may be `input` itself); defaults to a new array of input's type
 * @returns output
 */
export function sosfiltState<T extends Float32Array | Float64Array>(state: SosFilterState, input: T, output?: T): T {
  const { sos, nSections, nChannels, z } = state;
  if (input.length % nChannels !== 0) throw new RangeError(`input length ${input.length} is not a multiple of ${nChannels} channels`);
  const out = output ?? (new (input.constructor as { new (n: number): T })(input.length));
  if (out.length !== input.length) throw new RangeError(`output length ${out.length} differs from input length ${input.length}`);
  const nSamples = input.length / nChannels;
  const per = nSections * 2;
  // Sections outermost, on a float64 copy: each section's five coefficients stay in registers and
  // the inner loop touches only monomorphic Float64Arrays. Every element still goes through the
  // sections in order with the same operations, so the result is bit-identical to sample-outer
  // order (and chunk-invariant).
  const work = workBuffer(state, input.length);
  for (let i = 0; i < input.length; i++) work[i] = input[i];
  for (let s = 0, so = 0; s < nSections; s++, so += 6) {
    const b0 = sos[so];
    const b1 = sos[so + 1];
    const b2 = sos[so + 2];
    const a1 = sos[so + 4];
    const a2 = sos[so + 5];
    const zs = 2 * s;
    for (let c = 0; c < nChannels; c++) {
      const zi = c * per + zs;
      let z1 = z[zi];
      let z2 = z[zi + 1];
      for (let t = 0, i = c; t < nSamples; t++, i += nChannels) {
        const x = work[i];
        const y = b0 * x + z1;
        z1 = b1 * x - a1 * y + z2;
        z2 = b2 * x - a2 * y;
        work[i] = y;
      }
      z[zi] = z1;
      z[zi + 1] = z2;
    }
  }
  for (let i = 0; i < input.length; i++) out[i] = work[i];
  return out;
}

const workBuffers = new WeakMap<SosFilterState, Float64Array>();

/** A float64 scratch buffer per filter state, grown as needed (chunks are usually the same size). */
function workBuffer(state: SosFilterState, length: number): Float64Array {
  let buf = workBuffers.get(state);
  if (!buf || buf.length < length) {
    buf = new Float64Array(length);
    workBuffers.set(state, buf);
  }
  return buf.length === length ? buf : buf.subarray(0, length);
}

// ---------------------------------------------------------------------------------------------
// Responses

/** Complex response H(e^{jω}) at each frequency, as separate real and imaginary parts. */
export interface FrequencyResponse {
  freqsHz: Float64Array;
  re: Float64Array;
  im: Float64Array;
}

function polyAt(c0: number, c1: number, c2: number, cosw: number, sinw: number, cos2w: number, sin2w: number): Complex {
  // c0 + c1·e^{−jω} + c2·e^{−2jω}
  return cx(c0 + c1 * cosw + c2 * cos2w, -(c1 * sinw + c2 * sin2w));
}

/**
 * Frequency response of the cascade (scipy `sosfreqz(sos, worN=freqsHz, fs=fsHz)`).
 * @example
 *   const r = frequencyResponse(sos, 1200, [5]); Math.hypot(r.re[0], r.im[0]); // gain at 5 Hz
 */
export function frequencyResponse(sos: Float64Array, fsHz: number, freqsHz: ArrayLike<number>): FrequencyResponse {
  const n = checkSos(sos);
  const m = freqsHz.length;
  const out: FrequencyResponse = { freqsHz: Float64Array.from(freqsHz), re: new Float64Array(m), im: new Float64Array(m) };
  for (let i = 0; i < m; i++) {
    const w = (2 * Math.PI * freqsHz[i]) / fsHz;
    const cw = Math.cos(w), sw = Math.sin(w), c2 = Math.cos(2 * w), s2 = Math.sin(2 * w);
    let h = cx(1);
    for (let s = 0; s < n; s++) {
      const o = s * 6;
      h = cmul(h, cdiv(polyAt(sos[o], sos[o + 1], sos[o + 2], cw, sw, c2, s2), polyAt(sos[o + 3], sos[o + 4], sos[o + 5], cw, sw, c2, s2)));
    }
    out.re[i] = h.re;
    out.im[i] = h.im;
  }
  return out;
}

/**
 * Group delay of the cascade at one frequency, seconds: −dφ/dω, summed over sections
 * (each section: delay of its numerator minus that of its denominator, as scipy `group_delay`).
 * Undefined (NaN/±∞) exactly at a zero on the unit circle (0 Hz and Nyquist for a band-pass).
 *
 * @example
 *   groupDelaySec(butter(4, [0.1, 20], 'bandpass', 1200), 1200, 5); // ≈ 0.0231 s
 */
export function groupDelaySec(sos: Float64Array, fsHz: number, freqHz: number): number {
  const n = checkSos(sos);
  const w = (2 * Math.PI * freqHz) / fsHz;
  const cw = Math.cos(w), sw = Math.sin(w), c2 = Math.cos(2 * w), s2 = Math.sin(2 * w);
  // Delay of polynomial c(z⁻¹) in samples: Re(Σ k c_k e^{−jωk} / Σ c_k e^{−jωk}).
  const delay = (c0: number, c1: number, c2_: number): number => {
    const num = polyAt(0, c1, 2 * c2_, cw, sw, c2, s2);
    const den = polyAt(c0, c1, c2_, cw, sw, c2, s2);
    return cdiv(num, den).re;
  };
  let samples = 0;
  for (let s = 0; s < n; s++) {
    const o = s * 6;
    samples += delay(sos[o], sos[o + 1], sos[o + 2]) - delay(sos[o + 3], sos[o + 4], sos[o + 5]);
  }
  return samples / fsHz;
}
