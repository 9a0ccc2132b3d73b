/**
 * When each word of a text is heard, for the simulated audiobook: a seeded speech-rate model.
 * A word lasts longer the more syllables it has; pauses follow punctuation (short after , ; : and
 * dashes, longer after . ! ?, longest at paragraph ends); every duration and pause gets a small
 * random jitter. Calibrated on the built-in text to ≈ 3 words/s overall, the rate of the
 * audiobooks in the paper's data set.
 *
 * Owns: the timing model and its constants. Must not: read text files or know about MEG.
 */
import type { WordEvent } from '../../src/types.js';
import { hashedNormal, subKey } from './hashedNoise.js';

/** What the timing model needs of a word (TextWord from adapters/text/builtinText.ts fits). */
export interface SpokenWord {
  word: string;
  /** Punctuation after the word; "\n" in it marks a paragraph end. */
  trailingPunct: string;
}

export interface SpeechTimingOptions {
  /** Seeds the jitter; the same seed and words always give the same onsets. */
  seed: number;
  /** Onset of the first word, seconds (default 0). */
  startSec?: number;
}

/**
 * Model constants, in seconds. Chosen so that running English prose (Moby Dick, whose sentences
 * are long and comma-rich) comes out at ≈ 3.0 words/s: a 1-syllable word takes ~0.23 s, each
 * further syllable ~0.1 s.
 */
export const SPEECH_TIMING = {
  /** Duration of a word = wordBaseSec + syllableSec × syllables, before jitter. */
  wordBaseSec: 0.13,
  syllableSec: 0.10,
  /** Longest duration a single word may take (very long words are spoken faster). */
  maxWordSec: 0.9,
  /** Pause after , — ( ) and quotes that close a clause. */
  commaPauseSec: 0.17,
  /** Pause after ; and :. */
  semicolonPauseSec: 0.28,
  /** Pause after . ! ?. */
  sentencePauseSec: 0.5,
  /** Extra pause at a paragraph end (on top of the sentence pause). */
  paragraphPauseSec: 0.6,
  /** Log-normal jitter (sd of the log) on word durations. */
  durationJitter: 0.12,
  /** Log-normal jitter (sd of the log) on pauses. */
  pauseJitter: 0.3,
} as const;

/**
 * A rough syllable count: groups of vowels (y counts as a vowel), minus a silent final "e"
 * ("time", not "little"), at least 1. Digits count one syllable each ("1851" is read out long).
 */
export function syllableCount(word: string): number {
  const w = word.toLowerCase();
  const digits = w.replace(/[^0-9]/g, '').length;
  const letters = w.replace(/[^a-z]/g, '');
  let groups = (letters.match(/[aeiouy]+/g) ?? []).length;
  if (groups > 1 && /[^aeiouy]e$/.test(letters) && !/[^aeiouy]le$/.test(letters)) groups--;
  // Non-Latin letters (no a–z): about one syllable per two characters.
  if (letters.length === 0 && digits === 0) groups = Math.ceil(w.length / 2);
  return Math.max(1, groups + digits);
}

/** The pause, seconds before jitter, that the punctuation after a word calls for. */
export function pauseAfter(trailingPunct: string): number {
  const t = SPEECH_TIMING;
  let pause = 0;
  if (/[.!?]/.test(trailingPunct)) pause = t.sentencePauseSec;
  else if (/[;:]/.test(trailingPunct)) pause = t.semicolonPauseSec;
  else if (/[,—()\-"']/.test(trailingPunct)) pause = t.commaPauseSec;
  if (trailingPunct.includes('\n')) pause += t.paragraphPauseSec;
  return pause;
}

/**
 * Onsets and durations for a sequence of words as a narrator would read them.
 *
 * @example
 * speechTiming(builtinWords(1000), { seed: 1 }) // ≈ 330 s of speech
 * @param words the words in reading order; wordIndex of the result is the position in this array
 * @param opts seed and start time
 * @returns one WordEvent per word (isContent left undefined: no tagging here)
 */
export function speechTiming(words: readonly SpokenWord[], opts: SpeechTimingOptions): WordEvent[] {
  const t = SPEECH_TIMING;
  const start = opts.startSec ?? 0;
  if (!Number.isFinite(start)) throw new RangeError(`speechTiming: startSec must be finite, got ${start}`);
  const durKey = subKey(opts.seed, 0x5d1);
  const pauseKey = subKey(opts.seed, 0x9a5);
  const out: WordEvent[] = new Array(words.length);
  let onset = start;
  for (let i = 0; i < words.length; i++) {
    const { word, trailingPunct } = words[i];
    const nominal = Math.min(t.maxWordSec, t.wordBaseSec + t.syllableSec * syllableCount(word));
    // Jitter is keyed by position, so inserting words later in the text does not move earlier ones.
    const durationSec = nominal * Math.exp(t.durationJitter * hashedNormal(durKey, i) - 0.5 * t.durationJitter ** 2);
    const pause = pauseAfter(trailingPunct) * Math.exp(t.pauseJitter * hashedNormal(pauseKey, i) - 0.5 * t.pauseJitter ** 2);
    out[i] = { wordIndex: i, word, onsetSec: onset, durationSec };
    onset += durationSec + pause;
  }
  return out;
}
