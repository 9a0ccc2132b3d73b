/**
 * The comparison form of a word: what two spellings of the same spoken word have in common.
 * Events files write `DON'T`, `SHERLOCK`, `GOODBYE`; the text writes `don't`, `Sherlock`, `good-bye`,
 * `café`. The comparison form keeps only letters and digits, case-folded, with accents removed:
 * `dont`, `sherlock`, `goodbye`, `cafe`.
 *
 * Owns: the normalisation rule and the per-character mapping that lets a merged match be split back
 * into character spans. Must not: know about tokens or files.
 */

/** Case-folds, strips diacritics, and keeps only letters and digits. */
export function normalizeWord(word: string): string {
  let out = '';
  for (const ch of word) out += normalizeChar(ch);
  return out;
}

/**
 * The comparison form of one character (possibly empty: punctuation, apostrophes, hyphens,
 * combining marks; possibly several characters: `ß` → `ss`, `æ` stays `æ`).
 */
export function normalizeChar(ch: string): string {
  // NFKD splits "é" into "e" + U+0301 and ligatures like "ﬁ" into "fi"; combining marks are then dropped.
  const decomposed = ch.normalize('NFKD').replace(/\p{M}/gu, '');
  return decomposed.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

/** True when a word has at least one letter or digit, i.e. something to match. */
export function hasWordCharacters(word: string): boolean {
  return /[\p{L}\p{N}]/u.test(word);
}

/** Levenshtein distance (insert, delete, substitute all cost 1), for approximate matches. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = new Uint32Array(b.length + 1);
  const cur = new Uint32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    prev.set(cur);
  }
  return prev[b.length]!;
}
