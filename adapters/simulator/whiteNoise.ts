/**
 * White sensor noise: whiteTPerRootHz (6 fT/√Hz) × the sensor's noise gain on every channel,
 * independent across samples and channels. Each sample's channel vector is a window, at an offset
 * hashed from (seed, block, sample), of a fixed table of 2²⁰ + nChannels normals: one hash per
 * sample rather than per value, which is what keeps the full rate fast.
 *
 * Owns: the white-noise table, its constants and random stream. Must not: keep state between
 * blocks beyond the block being rendered.
 */
import { mulberry32, randomNormal } from '../../src/scores/prng.js';
import type { ScaledFullRateRows } from './blocks.js';
import { hash32, subKey } from './hashedNoise.js';
import { STREAM } from './randomStreams.js';

export const WHITE_NOISE_MODEL = {
  /** White sensor noise, tesla/√Hz. */
  whiteTPerRootHz: 6e-15,
} as const;

/** log2 of the number of window offsets into the white-noise table. */
const WHITE_BITS = 20;
let whiteTable: Float32Array | undefined;

/**
 * 2²⁰ + nChannels standard normals (fixed seed, built on first use, 4 MB, shared by every
 * subject): every sample's white noise is a window of it at a hashed offset.
 */
function whiteNoiseBuffer(nChannels: number): Float32Array {
  const need = (1 << WHITE_BITS) + nChannels;
  if (whiteTable === undefined || whiteTable.length < need) {
    const rng = mulberry32(0x77686974); // "whit"
    const t = new Float32Array(need);
    for (let i = 0; i < need; i++) t[i] = randomNormal(rng);
    whiteTable = t;
  }
  return whiteTable;
}

export class WhiteNoise implements ScaledFullRateRows {
  /** [channel]: standard deviation per sample, tesla. */
  readonly gain: Float32Array;
  private readonly nChannels: number;
  private readonly key: number;
  /** Key of the block being rendered. */
  private blockKey = 0;

  /** noiseGain: [channel], the sensors' noise gains (sensorGains). */
  constructor(seed: number, noiseGain: Float64Array, sfreqHz: number) {
    const C = (this.nChannels = noiseGain.length);
    this.key = subKey(seed >>> 0, STREAM.white);
    this.gain = new Float32Array(C);
    // White noise of density D over a band of sfreq/2 has sd D·√(sfreq/2) per sample.
    for (let c = 0; c < C; c++) this.gain[c] = WHITE_NOISE_MODEL.whiteTPerRootHz * Math.sqrt(sfreqHz / 2) * noiseGain[c];
  }

  startBlock(b: number): Float32Array {
    this.blockKey = hash32(this.key, b);
    return whiteNoiseBuffer(this.nChannels);
  }

  rowOffset(s: number): number {
    return hash32(this.blockKey, s) >>> (32 - WHITE_BITS);
  }
}
