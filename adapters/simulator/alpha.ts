/**
 * The alpha rhythm: alphaSources generators (left and right occipito-parietal, one per
 * hemisphere), each a carrier at its own frequency in alphaHz (9.5–10.5 Hz) with a slowly
 * wandering phase (value noise, knots every 0.4 s, ×1.2 rad) and a log-normal amplitude envelope
 * (value noise, knots every 0.6 s): bursts and lulls around alphaT.
 *
 * Owns: alpha's constants, patterns and random streams. Must not: keep state between blocks.
 */
import { mulberry32 } from '../../src/scores/prng.js';
import type { SensorPosition } from '../meg/ctf/ctf275.js';
import type { BlockGrid, LatentGenerator } from './blocks.js';
import { addValueNoise, hashedUniform, splineTable, subKey } from './hashedNoise.js';
import { dipolarPattern } from './patterns.js';
import { STREAM } from './randomStreams.js';

export const ALPHA_MODEL = {
  /** Alpha generators (left and right occipito-parietal), amplitude each, tesla; frequency range. */
  alphaSources: 2,
  alphaT: 120e-15,
  alphaHz: [9.5, 10.5] as const,
} as const;

/** Knot spacing of the envelope and of the phase wander, seconds. */
const ENVELOPE_KNOT_SEC = 0.6;
const PHASE_KNOT_SEC = 0.4;

export class Alpha implements LatentGenerator {
  readonly nLatent = ALPHA_MODEL.alphaSources;
  readonly fieldPatterns: Float64Array;
  private readonly seed: number;
  private readonly lowRateHz: number;
  /** Carrier frequency of each generator, Hz. */
  private readonly frequencyHz: Float64Array;
  private readonly envSpacing: number;
  private readonly envTable: Float64Array;
  private readonly phaseSpacing: number;
  private readonly phaseTable: Float64Array;
  /** Work buffers, one low-rate block: envelope and phase noise. */
  private readonly env: Float64Array;
  private readonly phase: Float64Array;

  constructor(seed: number, positions: readonly SensorPosition[], grid: BlockGrid) {
    const M = ALPHA_MODEL;
    this.seed = seed >>> 0;
    this.lowRateHz = grid.lowRateHz;
    const C = positions.length;
    this.fieldPatterns = new Float64Array(this.nLatent * C);
    this.frequencyHz = new Float64Array(this.nLatent);
    const rng = mulberry32(subKey(this.seed, STREAM.alphaPattern));
    for (let k = 0; k < this.nLatent; k++) {
      // Occipito-parietal generators, one per hemisphere, tangential-ish orientation.
      const side = k % 2 === 0 ? -1 : 1;
      const p = dipolarPattern(positions, side * (0.25 + 0.1 * rng()), -0.6 - 0.15 * rng(), Math.PI * rng(), 0.45, 0.3);
      for (let c = 0; c < C; c++) this.fieldPatterns[k * C + c] = p[c] * M.alphaT;
      this.frequencyHz[k] = M.alphaHz[0] + (M.alphaHz[1] - M.alphaHz[0]) * hashedUniform(subKey(this.seed, STREAM.alphaFrequency), k);
    }
    this.envSpacing = Math.max(1, Math.round(ENVELOPE_KNOT_SEC * this.lowRateHz));
    this.envTable = splineTable(this.envSpacing);
    this.phaseSpacing = Math.max(1, Math.round(PHASE_KNOT_SEC * this.lowRateHz));
    this.phaseTable = splineTable(this.phaseSpacing);
    this.env = new Float64Array(grid.lowPerBlock + 1);
    this.phase = new Float64Array(grid.lowPerBlock + 1);
  }

  addLatent(latent: Float64Array, column: number, stride: number, j0: number, n: number): void {
    const env = this.env;
    const phase = this.phase;
    if (n > env.length) throw new RangeError(`Alpha: ${n} low-rate samples asked, blocks hold ${env.length}`);
    for (let k = 0; k < this.nLatent; k++) {
      env.fill(0);
      phase.fill(0);
      addValueNoise(env, 0, 1, j0, n, this.envSpacing, this.envTable, subKey(this.seed, STREAM.alphaEnvelope, k), 1);
      addValueNoise(phase, 0, 1, j0, n, this.phaseSpacing, this.phaseTable, subKey(this.seed, STREAM.alphaPhase, k), 1);
      const w = 2 * Math.PI * this.frequencyHz[k];
      for (let j = 0; j < n; j++) {
        const t = (j0 + j) / this.lowRateHz;
        // exp(0.5·z − 0.125) has mean 1 for z ~ N(0, 1): bursts and lulls around a steady level.
        latent[j * stride + column + k] = Math.exp(0.5 * env[j] - 0.125) * Math.SQRT2 * Math.cos(w * t + 1.2 * phase[j]);
      }
    }
  }
}
