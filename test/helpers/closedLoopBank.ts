/**
 * A synthetic bank summary for the policy tests: passages of seeded lengths whose content words
 * fall in the surprisal quartiles with seeded, uneven proportions (as real passages do).
 */
import { summarizePassage, type BankSummary, type BankWord, type Quartile } from '../../src/closedLoop/bank.js';
import { mulberry32 } from '../../src/scores/prng.js';

export function syntheticBankSummary(nPassages: number, seed = 1): BankSummary {
  const rng = mulberry32(seed);
  const words: BankWord[] = [];
  const passages = Array.from({ length: nPassages }, (_, ordinal) => {
    const n = 30 + Math.floor(rng() * 30);
    // Each passage leans towards one quartile.
    const lean = Math.floor(rng() * 4);
    const pw: BankWord[] = [];
    for (let k = 0; k < n; k++) {
      const content = rng() < 0.5;
      const q = (rng() < 0.4 ? lean : Math.floor(rng() * 4)) + 1;
      pw.push({ index: words.length + k, word: `w${words.length + k}`, passage: ordinal, onsetSec: 0.1 + k * 0.33, offsetSec: 0.3 + k * 0.33, isContent: content, surprisalNats: q * 2, quartile: q as Quartile });
    }
    words.push(...pw);
    return summarizePassage(`p${String(ordinal + 1).padStart(4, '0')}`, ordinal, pw, n * 0.33 + 0.5);
  });
  return { passages, words, quartileEdgesNats: [3, 5, 7] };
}
