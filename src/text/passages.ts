/**
 * Cutting a story's words into passages for a closed-loop passage bank: contiguous runs of about
 * `targetWords` words that end where a listener would hear an end, preferably a paragraph end,
 * else a sentence end, else a clause end; only a run with no punctuation at all is cut mid-clause.
 *
 * Owns: where passages end. Must not: read text files or split words (adapters/text does).
 */

/** What the cutter needs of a word: the punctuation after it ("\n" in it marks a paragraph end). */
export interface PunctuatedWord {
  trailingPunct: string;
}

export interface PassageCutOptions {
  /** Words per passage aimed at. */
  targetWords: number;
  /** Shortest passage (default targetWords / 2) and longest (default 1.5 × targetWords). */
  minWords?: number;
  maxWords?: number;
}

/** How good an end the punctuation after a word makes: 3 paragraph, 2 sentence, 1 clause, 0 none. */
export function endStrength(trailingPunct: string): number {
  if (trailingPunct.includes('\n')) return 3;
  if (/[.!?]/.test(trailingPunct)) return 2;
  if (/[,;:—)]/.test(trailingPunct)) return 1;
  return 0;
}

/**
 * @example
 *   cutPassages(splitWords(text), { targetWords: 50 }) // [[0, 48], [48, 97], …]
 * @returns half-open word ranges [from, to) covering every word once, in order
 */
export function cutPassages(words: readonly PunctuatedWord[], o: PassageCutOptions): Array<[number, number]> {
  const target = o.targetWords;
  if (!(Number.isInteger(target) && target >= 1)) throw new RangeError(`targetWords must be a positive integer, got ${target}`);
  const minW = Math.max(1, o.minWords ?? Math.ceil(target / 2));
  const maxW = Math.max(minW, o.maxWords ?? Math.floor(target * 1.5));
  const out: Array<[number, number]> = [];
  let from = 0;
  while (from < words.length) {
    const left = words.length - from;
    // The rest fits in one passage (or would leave a stub): take it all.
    if (left <= maxW) {
      out.push([from, words.length]);
      break;
    }
    // Best end in [from + minW, from + maxW]: strongest punctuation, then closest to the target.
    let best = from + target;
    let bestKey = -Infinity;
    for (let n = minW; n <= maxW && from + n <= words.length; n++) {
      const key = endStrength(words[from + n - 1].trailingPunct) * 1000 - Math.abs(n - target);
      if (key > bestKey) {
        bestKey = key;
        best = from + n;
      }
    }
    // Never leave a last passage shorter than minW: the remainder then joins this one if it fits.
    if (words.length - best < minW && left <= maxW + minW) best = words.length;
    out.push([from, best]);
    from = best;
  }
  return out;
}
