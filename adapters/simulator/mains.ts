/**
 * Mains interference: mainsHz (50 Hz) and its 3rd harmonic on every sensor, each channel with its
 * own amplitudes (mainsT and mainsHarmonicT × 0.5–1.5) and phases. Its phase comes from the
 * absolute sample index, never accumulated, so blocks agree exactly.
 *
 * Owns: the mains constants, per-channel coefficients and their random stream. Must not: keep
 * state between blocks beyond the block being rendered.
 */
import type { FullRateRows } from './blocks.js';
import { hashedUniform, subKey } from './hashedNoise.js';
import { STREAM } from './randomStreams.js';

export const MAINS_MODEL = {
  /** Mains: frequency, amplitude of the fundamental and of the 3rd harmonic, tesla. */
  mainsHz: 50,
  mainsT: 60e-15,
  mainsHarmonicT: 20e-15,
} as const;

/** Longest period, in samples, kept as a table (4800 × 273 float32 values, 5 MB). */
const MAX_TABLE_PERIOD = 4800;

export class Mains implements FullRateRows {
  private readonly nChannels: number;
  private readonly sfreqHz: number;
  /** Per channel: sin/cos coefficients of the fundamental and of the harmonic, tesla. */
  private readonly fundSin: Float32Array;
  private readonly fundCos: Float32Array;
  private readonly harmSin: Float32Array;
  private readonly harmCos: Float32Array;
  /** Mains over one period, [phase][channel], when the period is a whole number of samples (else null). */
  private readonly table: Float32Array | null;
  private readonly period: number;
  /** [channel]: the current sample's field, when there is no table. */
  private readonly row: Float32Array;
  /** Absolute index of the block's first sample. */
  private first = 0;

  constructor(seed: number, nChannels: number, sfreqHz: number) {
    const M = MAINS_MODEL;
    const C = (this.nChannels = nChannels);
    this.sfreqHz = sfreqHz;
    const key = subKey(seed >>> 0, STREAM.mains);
    this.fundSin = new Float32Array(C);
    this.fundCos = new Float32Array(C);
    this.harmSin = new Float32Array(C);
    this.harmCos = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const a1 = M.mainsT * (0.5 + hashedUniform(key, 4 * c));
      const p1 = 2 * Math.PI * hashedUniform(key, 4 * c + 1);
      const a3 = M.mainsHarmonicT * (0.5 + hashedUniform(key, 4 * c + 2));
      const p3 = 2 * Math.PI * hashedUniform(key, 4 * c + 3);
      this.fundSin[c] = a1 * Math.cos(p1);
      this.fundCos[c] = a1 * Math.sin(p1);
      this.harmSin[c] = a3 * Math.cos(p3);
      this.harmCos[c] = a3 * Math.sin(p3);
    }
    // Mains and its 3rd harmonic repeat every sfreq / gcd(sfreq, 50) samples (24 at 1200 Hz):
    // one table lookup per value instead of four products.
    this.period = Number.isInteger(sfreqHz) && Number.isInteger(M.mainsHz) ? sfreqHz / gcd(sfreqHz, M.mainsHz) : 0;
    this.table = this.period > 0 && this.period <= MAX_TABLE_PERIOD ? new Float32Array(this.period * C) : null;
    if (this.table !== null) {
      for (let s = 0; s < this.period; s++) this.fieldAt(s, this.table.subarray(s * C, (s + 1) * C));
    }
    this.row = new Float32Array(C);
  }

  startBlock(_b: number, firstSample: number): Float32Array {
    this.first = firstSample;
    return this.table ?? this.row;
  }

  rowOffset(s: number): number {
    if (this.table !== null) return ((this.first + s) % this.period) * this.nChannels;
    this.fieldAt(this.first + s, this.row);
    return 0;
  }

  /** Mains field of every channel at absolute sample n, into row[channel]. */
  private fieldAt(n: number, row: Float32Array): void {
    const w = (2 * Math.PI * MAINS_MODEL.mainsHz * n) / this.sfreqHz;
    const s1 = Math.sin(w);
    const c1 = Math.cos(w);
    const s3 = Math.sin(3 * w);
    const c3 = Math.cos(3 * w);
    for (let c = 0; c < this.nChannels; c++) {
      row[c] = s1 * this.fundSin[c] + c1 * this.fundCos[c] + s3 * this.harmSin[c] + c3 * this.harmCos[c];
    }
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
