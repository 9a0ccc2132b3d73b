/**
 * Condition effects of the simulated subject: what the closed-loop policies have to find. Each
 * heard word's evoked response is scaled by a gain (the signal model's `gainOf` hook,
 * evokedResponses.ts), the product of:
 *
 *   - surprisal: a gain per surprisal quartile of the word (q1 most predictable … q4 most
 *     surprising): surprising words align more weakly, as in the paper (temporal score 0.92 for
 *     predictable vs 0.83 for surprising words);
 *   - context: alignment grows with the story heard so far, linearly from `floorGain` with no
 *     context to 1 at `saturationWords` words of uninterrupted context, and stays at 1 beyond:
 *     the planted saturation point. Context = words heard in bank order without a jump (the
 *     previous word heard was the previous word of the bank), across the pause between passages.
 *
 * A gain multiplies the evoked amplitude only: latencies (and so the temporal structure) stay
 * planted; weaker words are decoded less reliably, which lowers R and makes Tmax noisier.
 *
 * Owns: the effect model and its defaults. Must not: hold the coupling (evokedResponses.ts does).
 */

export interface ConditionEffects {
  /** Gain per surprisal quartile, q1 … q4 (words without a quartile get 1). */
  surprisalGain: [number, number, number, number];
  /** Alignment growing with context up to a saturation point. */
  context: { floorGain: number; saturationWords: number };
}

/** What `lockstep closed-loop --simulate` plants unless told otherwise (README "Closed-loop experiments"). */
export const SIMULATED_EFFECTS: ConditionEffects = {
  surprisalGain: [1.0, 0.85, 0.7, 0.55],
  context: { floorGain: 0.25, saturationWords: 100 },
};

/** No effect: every word at gain 1. */
export const NO_EFFECTS: ConditionEffects = { surprisalGain: [1, 1, 1, 1], context: { floorGain: 1, saturationWords: 1 } };

/** The context gain after `contextWords` words of uninterrupted story. */
export function contextGain(e: ConditionEffects, contextWords: number): number {
  const { floorGain, saturationWords } = e.context;
  return floorGain + (1 - floorGain) * Math.min(1, Math.max(0, contextWords) / saturationWords);
}

/** A word's gain: its quartile's gain × its context gain. */
export function effectGain(e: ConditionEffects, word: { quartile: 1 | 2 | 3 | 4 | null; contextWords: number }): number {
  const q = word.quartile === null ? 1 : e.surprisalGain[word.quartile - 1];
  return q * contextGain(e, word.contextWords);
}

/** Counts context as a listener hears it: words in bank order since the last jump. */
export class ContextCounter {
  private lastIndex: number | null = null;
  private run = 0;
  /** The context (words) the word `index` is heard with, then counts it. */
  hear(index: number): number {
    this.run = this.lastIndex !== null && index === this.lastIndex + 1 ? this.run + 1 : 0;
    this.lastIndex = index;
    return this.run;
  }
}
