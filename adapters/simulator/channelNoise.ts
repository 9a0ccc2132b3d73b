/**
 * Channel-specific 1/f noise: each sensor's own pink noise (uncorrelated across sensors), at
 * channelPinkT × the sensor's noise gain, from value-noise levels with knots every 4, 16, 64 and
 * 256 low-rate samples (≈ 0.25–15 Hz at 120 Hz).
 *
 * Owns: its constants, keys and knot buffer. Must not: keep state between blocks.
 */
import type { BlockGrid, ChannelGenerator } from './blocks.js';
import { addValueNoiseColumns, splineTable, subKey, valueNoiseKnots } from './hashedNoise.js';
import { STREAM } from './randomStreams.js';

export const CHANNEL_NOISE_MODEL = {
  /** Channel-specific 1/f noise, tesla RMS. */
  channelPinkT: 60e-15,
} as const;

/**
 * Knot spacings, low-rate samples: ≈ 0.25–15 Hz. Above that the white sensor noise dominates each
 * channel's own noise; the slow end is the drift's. Spacings grow ×4 (two octaves) per level,
 * each level carrying two octaves' variance: half the work of ×2, for a 1/f spectrum with some
 * ripple (this part is ~4 % of the background power; the correlated background uses every octave).
 */
const LEVEL_SPACINGS = [4, 16, 64, 256];

export class ChannelPinkNoise implements ChannelGenerator {
  private readonly nChannels: number;
  private readonly tables: Float64Array[];
  /** Value-noise keys, [level][channel]. */
  private readonly keys: Uint32Array;
  /** [channel], tesla. */
  private readonly amplitudeT: Float64Array;
  private readonly knots: Float64Array; // [knot][channel]

  /** noiseGain: [channel], the sensors' noise gains (sensorGains). */
  constructor(seed: number, noiseGain: Float64Array, grid: BlockGrid) {
    const C = (this.nChannels = noiseGain.length);
    this.amplitudeT = new Float64Array(C);
    for (let c = 0; c < C; c++) this.amplitudeT[c] = CHANNEL_NOISE_MODEL.channelPinkT * noiseGain[c];
    this.tables = LEVEL_SPACINGS.map((s) => splineTable(s));
    const key = subKey(seed >>> 0, STREAM.channelPink);
    this.keys = new Uint32Array(LEVEL_SPACINGS.length * C);
    for (let c = 0; c < C; c++) {
      for (let o = 0; o < LEVEL_SPACINGS.length; o++) this.keys[o * C + c] = subKey(key, c, o);
    }
    this.knots = new Float64Array(valueNoiseKnots(grid.lowPerBlock + 1, LEVEL_SPACINGS[0]) * C);
  }

  addLow(low: Float64Array, j0: number, n: number): void {
    const C = this.nChannels;
    const nLevels = LEVEL_SPACINGS.length;
    // Equal-variance levels.
    const levelAmp = 1 / Math.sqrt(nLevels);
    for (let o = 0; o < nLevels; o++) {
      const keys = this.keys.subarray(o * C, (o + 1) * C);
      addValueNoiseColumns(low, C, j0, n, LEVEL_SPACINGS[o], this.tables[o], keys, this.amplitudeT, levelAmp, this.knots);
    }
  }
}
