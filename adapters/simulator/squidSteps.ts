/**
 * SQUID jumps: at most one per stepSlotSec slot (with stepProbability), a constant offset of
 * stepT (1.5–6 pT, either sign) on one random channel for stepSec (2–25 s).
 *
 * Owns: the steps' constants and random stream. Must not: keep state between blocks.
 */
import type { FullRateEvents } from './blocks.js';
import { hash32, hashedUniform, subKey } from './hashedNoise.js';
import { STREAM } from './randomStreams.js';

export const STEP_MODEL = {
  /** SQUID jumps: one per slot with this probability; amplitude range, tesla; duration range, seconds. */
  stepSlotSec: 45,
  stepProbability: 0.35,
  stepT: [1.5e-12, 6e-12] as const,
  stepSec: [2, 25] as const,
} as const;

/** One step artefact: a constant offset on one channel from startSample (inclusive) to endSample. */
interface StepEvent {
  channel: number;
  startSample: number;
  endSample: number;
  amplitudeT: number;
}

export class SquidSteps implements FullRateEvents {
  private readonly seed: number;
  private readonly nChannels: number;
  private readonly sfreqHz: number;
  private readonly slotSamples: number;
  /** Longest step, samples: how far back a slot's step can reach. */
  private readonly maxLen: number;

  constructor(seed: number, nChannels: number, sfreqHz: number) {
    this.seed = seed >>> 0;
    this.nChannels = nChannels;
    this.sfreqHz = sfreqHz;
    this.slotSamples = Math.round(STEP_MODEL.stepSlotSec * sfreqHz);
    this.maxLen = Math.ceil(STEP_MODEL.stepSec[1] * sfreqHz);
  }

  /** Steps overlapping samples first … first+n−1. */
  addFullRate(out: Float32Array, first: number, n: number): void {
    const C = this.nChannels;
    const slotA = Math.max(0, Math.floor((first - this.maxLen) / this.slotSamples) - 1);
    const slotB = Math.floor((first + n - 1) / this.slotSamples);
    for (let slot = slotA; slot <= slotB; slot++) {
      const ev = this.stepEvent(slot);
      if (ev === undefined) continue;
      const sa = Math.max(first, ev.startSample);
      const sb = Math.min(first + n, ev.endSample);
      for (let s = sa; s < sb; s++) out[(s - first) * C + ev.channel] += ev.amplitudeT;
    }
  }

  private stepEvent(slot: number): StepEvent | undefined {
    const M = STEP_MODEL;
    const key = subKey(this.seed, STREAM.step, slot);
    if (hashedUniform(key, 0) >= M.stepProbability) return undefined;
    const channel = hash32(key, 1) % this.nChannels;
    const startSample = slot * this.slotSamples + Math.floor(hashedUniform(key, 2) * this.slotSamples);
    const len = Math.round((M.stepSec[0] + (M.stepSec[1] - M.stepSec[0]) * hashedUniform(key, 3)) * this.sfreqHz);
    const sign = hashedUniform(key, 4) < 0.5 ? -1 : 1;
    const amplitudeT = sign * (M.stepT[0] + (M.stepT[1] - M.stepT[0]) * hashedUniform(key, 5));
    return { channel, startSample, endSample: startSample + len, amplitudeT };
  }
}
