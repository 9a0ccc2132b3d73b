/**
 * Aligns two word sequences that spell the same speech differently: the words of an events file
 * (what was spoken, as the annotators wrote it) and the words of the original text (what the model
 * reads). Dynamic-programming alignment on comparison forms (see normalizeWord.ts) with these moves:
 *
 * | move                    | condition                                   | cost              |
 * |-------------------------|---------------------------------------------|-------------------|
 * | 1 event ↔ 1 text word   | equal comparison forms                      | 0                 |
 * | a events ↔ 1 text word  | concatenations equal, a ≤ 4 (GOOD BYE ↔ good-bye) | 0.1·(a−1)   |
 * | 1 event ↔ b text words  | concatenations equal, b ≤ 4 (GOODBYE ↔ good bye)  | 0.1·(b−1)   |
 * | event word skipped      | (spoken but not in the text)                | 1                 |
 * | text word skipped       | (in the text but not in the events)         | 1                 |
 *
 * Merges cost a little so a plain 1 ↔ 1 match wins when both explain the data. After the DP, a gap
 * holding exactly k skipped event words and k skipped text words is paired up one to one when every
 * pair is similar (edit distance ≤ 25 % of the longer form, forms ≥ 3 characters): an `approximate`
 * match (GREY ↔ gray), reported as such. Everything else stays unmatched, with the text words found
 * in its place, so a caller can report it; nothing is force-matched.
 *
 * Long sequences (a one-hour story is ~9 000 words on each side) are cut first at anchors (words whose
 * comparison form occurs exactly once on each side, kept when they form an increasing sequence on
 * both sides, as in patience diff), recursively, until every gap fits a DP of at most `maxCells`.
 *
 * Owns: the alignment of two sequences of comparison forms. Must not: read files, know about tokens.
 */
import { editDistance } from './normalizeWord.js';

export type MatchKind = 'exact' | 'merged' | 'approximate' | 'eventOnly' | 'textOnly';

/** A run of event words [eventStart, eventStop) aligned to text words [textStart, textStop). */
export interface AlignedGroup {
  kind: MatchKind;
  eventStart: number;
  eventStop: number;
  textStart: number;
  textStop: number;
}

export interface SequenceAlignmentOptions {
  /** Largest DP table (cells) computed in one piece before cutting at anchors. */
  maxCells?: number;
  /** Most words one side of a merge may have. */
  maxMerge?: number;
}

const SKIP_COST = 1;
const MERGE_COST = 0.1;

/**
 * Aligns event comparison forms with text comparison forms.
 *
 * @param events comparison forms of the event words (empty string: nothing to match)
 * @param text comparison forms of the text words
 * @returns groups in order, covering every event and every text word exactly once
 */
export function alignSequences(events: string[], text: string[], options: SequenceAlignmentOptions = {}): AlignedGroup[] {
  const maxCells = options.maxCells ?? 4_000_000;
  const maxMerge = options.maxMerge ?? 4;
  const groups: AlignedGroup[] = [];
  alignRange(events, text, 0, events.length, 0, text.length, maxCells, maxMerge, groups);
  return pairApproximate(events, text, groups);
}

function alignRange(e: string[], t: string[], i0: number, i1: number, j0: number, j1: number, maxCells: number, maxMerge: number, out: AlignedGroup[]): void {
  if ((i1 - i0 + 1) * (j1 - j0 + 1) <= maxCells) {
    alignDP(e, t, i0, i1, j0, j1, maxMerge, out);
    return;
  }
  const anchors = uniqueAnchors(e, t, i0, i1, j0, j1);
  if (anchors.length === 0) {
    throw new Error(
      `word alignment: events ${i0}…${i1 - 1} and text words ${j0}…${j1 - 1} share no word that occurs once on each side, ` +
        `and a direct alignment would need ${(i1 - i0 + 1) * (j1 - j0 + 1)} cells (limit ${maxCells}); check that the text belongs to these events`,
    );
  }
  let pi = i0;
  let pj = j0;
  for (const [ai, aj] of anchors) {
    alignRange(e, t, pi, ai, pj, aj, maxCells, maxMerge, out);
    out.push({ kind: 'exact', eventStart: ai, eventStop: ai + 1, textStart: aj, textStop: aj + 1 });
    pi = ai + 1;
    pj = aj + 1;
  }
  alignRange(e, t, pi, i1, pj, j1, maxCells, maxMerge, out);
}

/** Pairs (i, j) of forms unique on both sides within the ranges, longest increasing in both. */
function uniqueAnchors(e: string[], t: string[], i0: number, i1: number, j0: number, j1: number): Array<[number, number]> {
  const countE = new Map<string, number>();
  for (let i = i0; i < i1; i++) if (e[i] !== '') countE.set(e[i]!, (countE.get(e[i]!) ?? 0) + 1);
  const posT = new Map<string, number>();
  const countT = new Map<string, number>();
  for (let j = j0; j < j1; j++) {
    countT.set(t[j]!, (countT.get(t[j]!) ?? 0) + 1);
    posT.set(t[j]!, j);
  }
  const pairs: Array<[number, number]> = [];
  for (let i = i0; i < i1; i++) {
    const w = e[i]!;
    if (w !== '' && countE.get(w) === 1 && countT.get(w) === 1) pairs.push([i, posT.get(w)!]);
  }
  // Longest increasing subsequence of text positions (patience sorting, O(p log p)).
  const tails: number[] = [];
  const prev = new Int32Array(pairs.length).fill(-1);
  for (let k = 0; k < pairs.length; k++) {
    const j = pairs[k]![1];
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[tails[mid]!]![1] < j) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tails[lo - 1]!;
    tails[lo] = k;
  }
  const lis: Array<[number, number]> = [];
  for (let k = tails.length > 0 ? tails[tails.length - 1]! : -1; k >= 0; k = prev[k]!) lis.push(pairs[k]!);
  return lis.reverse();
}

// Move codes stored in the back-pointer table: how the cell was reached.
const FROM_EXACT = 1;
const FROM_SKIP_EVENT = 2;
const FROM_SKIP_TEXT = 3;
// Merges: 16 + 4·(a−1) + (b−1), with one of a, b equal to 1.
const FROM_MERGE = 16;

function alignDP(e: string[], t: string[], i0: number, i1: number, j0: number, j1: number, maxMerge: number, out: AlignedGroup[]): void {
  const m = i1 - i0;
  const n = j1 - j0;
  const w = n + 1;
  const cost = new Float64Array((m + 1) * w).fill(Infinity);
  const back = new Uint8Array((m + 1) * w);
  cost[0] = 0;
  for (let i = 0; i <= m; i++) {
    for (let j = 0; j <= n; j++) {
      if (i === 0 && j === 0) continue;
      let best = Infinity;
      let move = 0;
      if (i > 0) {
        const c = cost[(i - 1) * w + j]! + SKIP_COST;
        if (c < best) {
          best = c;
          move = FROM_SKIP_EVENT;
        }
      }
      if (j > 0) {
        const c = cost[i * w + j - 1]! + SKIP_COST;
        if (c < best) {
          best = c;
          move = FROM_SKIP_TEXT;
        }
      }
      if (i > 0 && j > 0) {
        const ev = e[i0 + i - 1]!;
        const tx = t[j0 + j - 1]!;
        if (ev !== '' && ev === tx) {
          const c = cost[(i - 1) * w + j - 1]!;
          if (c < best) {
            best = c;
            move = FROM_EXACT;
          }
        } else if (ev !== '' && ev !== tx) {
          // a events ↔ 1 text word: the text word ends with the last event word.
          if (tx.endsWith(ev)) {
            let cat = ev;
            for (let a = 2; a <= maxMerge && a <= i; a++) {
              const prevEv = e[i0 + i - a]!;
              if (prevEv === '') break;
              cat = prevEv + cat;
              if (cat.length > tx.length) break;
              if (cat === tx) {
                const c = cost[(i - a) * w + j - 1]! + MERGE_COST * (a - 1);
                if (c < best) {
                  best = c;
                  move = FROM_MERGE + 4 * (a - 1);
                }
                break;
              }
            }
          }
          // 1 event ↔ b text words: the event word ends with the last text word.
          if (ev.endsWith(tx)) {
            let cat = tx;
            for (let b = 2; b <= maxMerge && b <= j; b++) {
              cat = t[j0 + j - b]! + cat;
              if (cat.length > ev.length) break;
              if (cat === ev) {
                const c = cost[i * w - w + j - b]! + MERGE_COST * (b - 1);
                if (c < best) {
                  best = c;
                  move = FROM_MERGE + (b - 1);
                }
                break;
              }
            }
          }
        }
      }
      cost[i * w + j] = best;
      back[i * w + j] = move;
    }
  }
  const rev: AlignedGroup[] = [];
  let i = m;
  let j = n;
  while (i > 0 || j > 0) {
    const move = back[i * w + j]!;
    let a = 0;
    let b = 0;
    let kind: MatchKind;
    if (move === FROM_EXACT) {
      a = 1;
      b = 1;
      kind = 'exact';
    } else if (move === FROM_SKIP_EVENT) {
      a = 1;
      kind = 'eventOnly';
    } else if (move === FROM_SKIP_TEXT) {
      b = 1;
      kind = 'textOnly';
    } else if (move >= FROM_MERGE) {
      a = ((move - FROM_MERGE) >> 2) + 1;
      b = ((move - FROM_MERGE) & 3) + 1;
      kind = 'merged';
    } else {
      throw new Error(`word alignment: internal error, no move recorded at (${i0 + i}, ${j0 + j})`);
    }
    rev.push({ kind, eventStart: i0 + i - a, eventStop: i0 + i, textStart: j0 + j - b, textStop: j0 + j });
    i -= a;
    j -= b;
  }
  for (let k = rev.length - 1; k >= 0; k--) out.push(rev[k]!);
}

/** Similar enough to be the same word spelled differently. */
function similar(a: string, b: string): boolean {
  if (a.length < 3 || b.length < 3) return false;
  const longer = Math.max(a.length, b.length);
  return editDistance(a, b) <= Math.floor(0.25 * longer);
}

/**
 * Merges consecutive single skips into gaps; a gap with k event and k text words whose pairs are all
 * similar becomes k approximate matches, otherwise its skips stay as they are (events first).
 */
function pairApproximate(e: string[], t: string[], groups: AlignedGroup[]): AlignedGroup[] {
  const out: AlignedGroup[] = [];
  let k = 0;
  while (k < groups.length) {
    const g = groups[k]!;
    if (g.kind !== 'eventOnly' && g.kind !== 'textOnly') {
      out.push(g);
      k++;
      continue;
    }
    const skipped: AlignedGroup[] = [];
    while (k < groups.length && (groups[k]!.kind === 'eventOnly' || groups[k]!.kind === 'textOnly')) skipped.push(groups[k++]!);
    const evs = skipped.filter((s) => s.kind === 'eventOnly').map((s) => s.eventStart);
    const txs = skipped.filter((s) => s.kind === 'textOnly').map((s) => s.textStart);
    if (evs.length > 0 && evs.length === txs.length && evs.every((i, p) => similar(e[i]!, t[txs[p]!]!))) {
      evs.forEach((i, p) => out.push({ kind: 'approximate', eventStart: i, eventStop: i + 1, textStart: txs[p]!, textStop: txs[p]! + 1 }));
    } else {
      // Keep text order for text-only words and event order for event-only words; put event-only
      // first so a report lists "spoken X where the text has Y".
      const textPos = skipped[0]!.textStart;
      for (const i of evs) out.push({ kind: 'eventOnly', eventStart: i, eventStop: i + 1, textStart: textPos, textStop: textPos });
      for (const j of txs) out.push({ kind: 'textOnly', eventStart: evs.length > 0 ? evs[evs.length - 1]! + 1 : skipped[0]!.eventStart, eventStop: evs.length > 0 ? evs[evs.length - 1]! + 1 : skipped[0]!.eventStart, textStart: j, textStop: j + 1 });
    }
  }
  return out;
}
