/**
 * A passage bank as policies see it: passages in bank order, and every word with its index in the
 * bank (the index its word markers carry), its timing inside the passage's audio, its content tag
 * and its surprisal under the bank's language model. Plus the surprisal quartiles (edges over the
 * bank's content words) that `balance-surprisal` balances and the per-quartile decoders report.
 *
 * Owns: the bank's types and the pure summaries (quartiles, per-passage counts). Must not: read
 * files (adapters/bank does) or know about audio.
 */

export type Quartile = 1 | 2 | 3 | 4;

export interface BankWord {
  /** Index in the bank (word markers carry it); passages' words are consecutive. */
  index: number;
  word: string;
  /** Ordinal of its passage in the bank. */
  passage: number;
  /** Onset and offset in the passage's audio, seconds. */
  onsetSec: number;
  offsetSec: number;
  /** NOUN/VERB/ADJ/ADV per the tagger; undefined when not tagged. */
  isContent: boolean | undefined;
  /** −log p(word | context) under the bank's model, nats; null when the model gave none. */
  surprisalNats: number | null;
  /** Surprisal quartile among the bank's content words (1 = most predictable); null without surprisal. */
  quartile: Quartile | null;
}

export interface BankPassage {
  id: string;
  /** Position in the bank (0, 1, …); passage k+1 continues passage k's text. */
  ordinal: number;
  firstWord: number;
  nWords: number;
  /**
   * Content words (untagged words count, as the pipeline decodes them), and how many fall in each
   * surprisal quartile (index 0 = quartile 1).
   */
  nContent: number;
  quartileCounts: [number, number, number, number];
  /** Mean surprisal of its words that have one, nats (null when none has). */
  meanSurprisalNats: number | null;
  /** Length of its audio, seconds. */
  durationSec: number;
}

export interface BankSummary {
  passages: BankPassage[];
  words: BankWord[];
  /** The 25th, 50th and 75th percentiles of the content words' surprisal, nats. */
  quartileEdgesNats: [number, number, number];
}

/** Linear-interpolation percentile (NumPy's default) of sorted values; q in [0, 1]. */
function percentile(sorted: readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Quartile edges of the content words' surprisal (words without a content tag count as content:
 * untagged banks still get quartiles).
 * @throws RangeError when fewer than 4 content words have a surprisal
 */
export function surprisalQuartileEdges(words: ReadonlyArray<Pick<BankWord, 'isContent' | 'surprisalNats'>>): [number, number, number] {
  const values = words.filter((w) => w.isContent !== false && w.surprisalNats !== null && Number.isFinite(w.surprisalNats)).map((w) => w.surprisalNats!);
  if (values.length < 4) throw new RangeError(`surprisal quartiles need at least 4 content words with a surprisal, got ${values.length}`);
  values.sort((a, b) => a - b);
  return [percentile(values, 0.25), percentile(values, 0.5), percentile(values, 0.75)];
}

/** The quartile of a surprisal (values on an edge go to the lower quartile). */
export function quartileOf(surprisalNats: number | null, edges: readonly [number, number, number]): Quartile | null {
  if (surprisalNats === null || !Number.isFinite(surprisalNats)) return null;
  if (surprisalNats <= edges[0]) return 1;
  if (surprisalNats <= edges[1]) return 2;
  if (surprisalNats <= edges[2]) return 3;
  return 4;
}

/** A passage's counts and mean surprisal from its words. */
export function summarizePassage(id: string, ordinal: number, words: readonly BankWord[], durationSec: number): BankPassage {
  const counts: [number, number, number, number] = [0, 0, 0, 0];
  let nContent = 0;
  let sum = 0;
  let nSurprisal = 0;
  for (const w of words) {
    if (w.isContent !== false) {
      nContent++;
      if (w.quartile !== null) counts[w.quartile - 1]++;
    }
    if (w.surprisalNats !== null && Number.isFinite(w.surprisalNats)) {
      sum += w.surprisalNats;
      nSurprisal++;
    }
  }
  return {
    id,
    ordinal,
    firstWord: words[0]?.index ?? 0,
    nWords: words.length,
    nContent,
    quartileCounts: counts,
    meanSurprisalNats: nSurprisal > 0 ? sum / nSurprisal : null,
    durationSec,
  };
}
