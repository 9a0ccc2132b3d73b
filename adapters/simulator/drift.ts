/**
 * Slow drift: each sensor's own smooth wander (value noise with knots every driftSpacingSec), at
 * driftT × the sensor's drift gain (0.5–1.5).
 *
 * Owns: the drift's constants, keys and knot buffer. Must not: keep state between blocks.
 */
import type { BlockGrid, ChannelGenerator } from './blocks.js';
import { addValueNoiseColumns, hash32, splineTable, subKey, valueNoiseKnots } from './hashedNoise.js';
import { STREAM } from './randomStreams.js';

export const DRIFT_MODEL = {
  /** Slow drift per channel, tesla RMS, with knots every driftSpacingSec. */
  driftT: 400e-15,
  driftSpacingSec: 20,
} as const;

export class Drift implements ChannelGenerator {
  private readonly nChannels: number;
  private readonly spacing: number;
  private readonly table: Float64Array;
  /** Value-noise key of each channel. */
  private readonly keys: Uint32Array;
  /** [channel], tesla. */
  private readonly amplitudeT: Float64Array;
  private readonly knots: Float64Array; // [knot][channel]

  /** driftGain: [channel], the sensors' drift gains (sensorGains). */
  constructor(seed: number, driftGain: Float64Array, grid: BlockGrid) {
    const C = (this.nChannels = driftGain.length);
    this.amplitudeT = new Float64Array(C);
    for (let c = 0; c < C; c++) this.amplitudeT[c] = DRIFT_MODEL.driftT * driftGain[c];
    const key = subKey(seed >>> 0, STREAM.drift);
    this.keys = new Uint32Array(C);
    for (let c = 0; c < C; c++) this.keys[c] = hash32(key, c);
    this.spacing = Math.max(1, Math.round(DRIFT_MODEL.driftSpacingSec * grid.lowRateHz));
    this.table = splineTable(this.spacing);
    this.knots = new Float64Array(valueNoiseKnots(grid.lowPerBlock + 1, this.spacing) * C);
  }

  addLow(low: Float64Array, j0: number, n: number): void {
    addValueNoiseColumns(low, this.nChannels, j0, n, this.spacing, this.table, this.keys, this.amplitudeT, 1, this.knots);
  }
}
