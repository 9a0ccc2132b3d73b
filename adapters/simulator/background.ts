/**
 * Spatially correlated 1/f background: the brain's ongoing activity, as backgroundSources latent
 * pink-noise sources (value-noise octaves with knots every 2 … 2048 low-rate samples: 1/f from
 * ≈ 0.03 Hz to ≈ 30 Hz at 120 Hz), each reaching the sensors through a broad random dipolar
 * pattern at backgroundT (unit-RMS pattern).
 *
 * Owns: the background's constants, patterns and random streams. Must not: keep state between
 * blocks.
 */
import { mulberry32 } from '../../src/scores/prng.js';
import type { SensorPosition } from '../meg/ctf/ctf275.js';
import type { LatentGenerator } from './blocks.js';
import { addPinkNoise, pinkOctaves, splineTable, subKey } from './hashedNoise.js';
import { randomDipolarPattern } from './patterns.js';
import { STREAM } from './randomStreams.js';

export const BACKGROUND_MODEL = {
  /** Latent 1/f background sources and the amplitude of each (unit-RMS pattern), tesla. */
  backgroundSources: 8,
  backgroundT: 110e-15,
} as const;

/** Background generators are broader than evoked ones: spatially correlated noise over large regions. */
const PATTERN_MAX_RADIUS = 0.8;
const PATTERN_WIDTH = 0.35;

export class Background implements LatentGenerator {
  readonly nLatent = BACKGROUND_MODEL.backgroundSources;
  readonly fieldPatterns: Float64Array;
  private readonly seed: number;
  private readonly octaves: number[];
  private readonly tables: Float64Array[];

  constructor(seed: number, positions: readonly SensorPosition[]) {
    this.seed = seed >>> 0;
    const C = positions.length;
    this.fieldPatterns = new Float64Array(this.nLatent * C);
    const rng = mulberry32(subKey(this.seed, STREAM.backgroundPattern));
    for (let k = 0; k < this.nLatent; k++) {
      const p = randomDipolarPattern(positions, rng, PATTERN_MAX_RADIUS, PATTERN_WIDTH);
      for (let c = 0; c < C; c++) this.fieldPatterns[k * C + c] = p[c] * BACKGROUND_MODEL.backgroundT;
    }
    this.octaves = pinkOctaves(2, 2048); // 1/f from ≈ 0.03 Hz to ≈ 30 Hz at 120 Hz
    this.tables = this.octaves.map((s) => splineTable(s));
  }

  addLatent(latent: Float64Array, column: number, stride: number, j0: number, n: number): void {
    for (let k = 0; k < this.nLatent; k++) {
      addPinkNoise(latent, column + k, stride, j0, n, this.octaves, this.tables, subKey(this.seed, STREAM.background, k), 1);
    }
  }
}
