/**
 * Eye blinks: at most one per blinkSlotSec slot (with blinkProbability), at a random time in the
 * slot, a cos² bump of blinkSec with amplitude blinkT ± 25 %, on one latent source whose field
 * falls off from the front sensors (the eyes sit in front of the array).
 *
 * Owns: the blinks' constants, pattern and random stream. Must not: keep state between blocks.
 */
import type { SensorPosition } from '../meg/ctf/ctf275.js';
import type { BlockGrid, LatentGenerator } from './blocks.js';
import { hashedUniform, subKey } from './hashedNoise.js';
import { STREAM } from './randomStreams.js';

export const BLINK_MODEL = {
  /** Blinks: one per slot with this probability; peak amplitude at the front sensors, tesla; duration. */
  blinkSlotSec: 6,
  blinkProbability: 0.7,
  blinkT: 2.5e-12,
  blinkSec: 0.4,
} as const;

/** Where the blink field peaks (layout y of the eyes) and how fast it falls off (Gaussian sd). */
const EYES_Y = 1.05;
const FALLOFF = 0.3;

export class Blinks implements LatentGenerator {
  readonly nLatent = 1;
  readonly fieldPatterns: Float64Array;
  private readonly key: number;
  private readonly lowRateHz: number;
  private readonly enabled: boolean;

  /**
   * With enabled false it adds nothing and its pattern is zero, but keeps its latent column: the
   * latent layout, and so the mixing's rounding of everything else, is the same with and without
   * artefacts.
   */
  constructor(seed: number, positions: readonly SensorPosition[], grid: BlockGrid, enabled: boolean) {
    this.key = subKey(seed >>> 0, STREAM.blink);
    this.lowRateHz = grid.lowRateHz;
    this.enabled = enabled;
    const C = positions.length;
    this.fieldPatterns = new Float64Array(C);
    if (enabled) {
      for (let c = 0; c < C; c++) {
        const { x, y } = positions[c];
        this.fieldPatterns[c] = BLINK_MODEL.blinkT * Math.exp(-(x * x + (y - EYES_Y) ** 2) / (2 * FALLOFF * FALLOFF));
      }
    }
  }

  /** Blinks reaching low-rate samples j0 … j0+n−1. */
  addLatent(latent: Float64Array, column: number, stride: number, j0: number, n: number): void {
    if (!this.enabled) return;
    const M = BLINK_MODEL;
    const rate = this.lowRateHz;
    const key = this.key;
    const tFirst = j0 / rate;
    const tLast = (j0 + n - 1) / rate;
    const slotA = Math.floor((tFirst - M.blinkSec) / M.blinkSlotSec);
    const slotB = Math.floor(tLast / M.blinkSlotSec);
    for (let slot = Math.max(0, slotA); slot <= slotB; slot++) {
      if (hashedUniform(key, 3 * slot) >= M.blinkProbability) continue;
      const start = slot * M.blinkSlotSec + (M.blinkSlotSec - M.blinkSec) * hashedUniform(key, 3 * slot + 1);
      const amp = 1 + 0.25 * (2 * hashedUniform(key, 3 * slot + 2) - 1);
      const ja = Math.max(j0, Math.ceil(start * rate));
      const jb = Math.min(j0 + n - 1, Math.floor((start + M.blinkSec) * rate));
      for (let j = ja; j <= jb; j++) {
        const s = Math.sin((Math.PI * (j / rate - start)) / M.blinkSec);
        latent[(j - j0) * stride + column] += amp * s * s;
      }
    }
  }
}
