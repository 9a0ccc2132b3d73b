/**
 * Content words: tags the stimulus with wink-nlp (`wink-eng-lite-web-model`, Universal POS tags) and
 * marks each stimulus word `pos` / `isContent` (method §3: the main analyses use content words only).
 *
 * Tagging runs on the story's original text (punctuation and case help the tagger), or on the joined
 * words when there is none (see wordAlignment.textFromWords). wink splits text differently from the
 * stimulus: `don't` → do/AUX + n't/PART, `I'll` → I/PRON + 'll/AUX, `Ahab's` → Ahab/PROPN + 's/PART,
 * `good-bye` → good/ADJ + -/PUNCT + bye/NOUN, `221B` → 221/NUM + B/PROPN. The tag of a stimulus word
 * is that of its head token among the wink tokens overlapping its characters:
 * - a hyphenated word takes its last part (English compounds are head-final: sea-captain → captain);
 * - otherwise the first token that is neither punctuation nor a clitic particle (PART `'s`, `n't`):
 *   the host of a contraction (don't → do/AUX, Ahab's → Ahab/PROPN).
 *
 * A word is a content word when its tag is NOUN, VERB, ADJ or ADV: the paper's set (spaCy's
 * NOUN, VERB, ADJ, ADV). Proper nouns (PROPN) are not content words by default, as in the paper,
 * where spaCy tags them PROPN; `includeProperNouns` adds them. AUX (is, have, will, don't) is function.
 * Accuracy against a hand-tagged sample of the built-in text is in docs/notes/llm-text.md and
 * test/text.partOfSpeech.test.ts.
 *
 * Owns: running the tagger and the word-level tag rule. Must not: choose which words enter the
 * decoder (the pipeline filters on isContent).
 */
import winkNLP from 'wink-nlp';
import model from 'wink-eng-lite-web-model';
import type { StimulusWord } from '../../src/types.js';
import { alignWordsToText, textFromWords } from './wordAlignment.js';

/** Tags the paper counts as content words. */
export const CONTENT_TAGS: ReadonlySet<string> = new Set(['NOUN', 'VERB', 'ADJ', 'ADV']);

export interface PartOfSpeechOptions {
  /** Count PROPN as content. Default false (paper). */
  includeProperNouns?: boolean;
}

/** A token as the tagger returns it, with its character span in the tagged text. */
export interface TaggedToken {
  value: string;
  pos: string;
  start: number;
  end: number;
}

type WinkNlp = ReturnType<typeof winkNLP>;
let nlp: WinkNlp | undefined;

/** The tagger, built once (the model takes ~0.3 s to load). */
function tagger(): WinkNlp {
  nlp ??= winkNLP(model);
  return nlp;
}

/**
 * Tags a text; returns tokens with character offsets (wink gives each token's preceding spaces, and
 * these plus the token values spell the text back exactly, which is checked).
 */
export function tagText(text: string): TaggedToken[] {
  const n = tagger();
  const doc = n.readDoc(text);
  const values = doc.tokens().out(n.its.value) as string[];
  const pos = doc.tokens().out(n.its.pos) as string[];
  const spaces = doc.tokens().out(n.its.precedingSpaces) as string[];
  const out: TaggedToken[] = [];
  let at = 0;
  for (let k = 0; k < values.length; k++) {
    at += spaces[k]!.length;
    const v = values[k]!;
    if (text.slice(at, at + v.length) !== v) {
      throw new Error(`part-of-speech tagger: token ${k} ${JSON.stringify(v)} does not match the text at character ${at} (${JSON.stringify(text.slice(at, at + 20))}); cannot map tags to words`);
    }
    out.push({ value: v, pos: pos[k]!, start: at, end: at + v.length });
    at += v.length;
  }
  return out;
}

const CLITIC = /^['’](?:s|d|ll|m|re|ve)$|^n['’]t$/i;

/**
 * The tag of a word spanning text[start, end), from the tagged tokens overlapping it.
 *
 * @param tokens all tagged tokens of the text (sorted by start)
 * @param from index in `tokens` to start searching at (a cursor, for a linear pass)
 * @returns the tag and the index of the first token at or after `start`
 */
export function headTag(tokens: readonly TaggedToken[], start: number, end: number, from = 0): { pos: string | undefined; next: number } {
  let k = from;
  while (k < tokens.length && tokens[k]!.end <= start) k++;
  const inside: TaggedToken[] = [];
  for (let q = k; q < tokens.length && tokens[q]!.start < end; q++) inside.push(tokens[q]!);
  const parts = inside.filter((t) => t.pos !== 'PUNCT' && t.pos !== 'SPACE' && t.pos !== 'SYM');
  let head: TaggedToken | undefined;
  if (inside.some((t) => t.value === '-' || t.value === '‐')) head = parts[parts.length - 1];
  else head = parts.find((t) => !(t.pos === 'PART' && CLITIC.test(t.value))) ?? parts[0];
  return { pos: head?.pos, next: k };
}

/**
 * Returns the words with `pos` and `isContent` set. Words the text cannot be aligned to keep them
 * undefined and are listed in `untagged`.
 *
 * @param words stimulus words (any number of stories)
 * @param texts original text per story; stories without one are tagged on their joined words
 */
export function tagStimulusWords(
  words: readonly StimulusWord[],
  texts?: ReadonlyMap<number, string>,
  options: PartOfSpeechOptions = {},
): { words: StimulusWord[]; untagged: Array<{ index: number; word: string; reason: string }> } {
  const content = new Set(CONTENT_TAGS);
  if (options.includeProperNouns) content.add('PROPN');
  const byStory = new Map<number, StimulusWord[]>();
  for (const w of words) {
    let list = byStory.get(w.story);
    if (!list) byStory.set(w.story, (list = []));
    list.push(w);
  }
  const tagged = new Map<number, StimulusWord>();
  const untagged: Array<{ index: number; word: string; reason: string }> = [];
  for (const [story, list] of byStory) {
    const text = texts?.get(story) ?? textFromWords(list.map((w) => w.word));
    const alignment = alignWordsToText(list, text);
    const tokens = tagText(text);
    let cursor = 0;
    list.forEach((w, p) => {
      const span = alignment.spans[p];
      if (span === null || span === undefined) {
        tagged.set(w.index, { ...w, pos: undefined, isContent: undefined });
        return;
      }
      const { pos, next } = headTag(tokens, span[0], span[1], cursor);
      cursor = next;
      if (pos === undefined) untagged.push({ index: w.index, word: w.word, reason: `the tagger gave only punctuation for characters ${span[0]}…${span[1]}` });
      tagged.set(w.index, { ...w, pos, isContent: pos === undefined ? undefined : content.has(pos) });
    });
    for (const u of alignment.unmatched) untagged.push(u);
  }
  return { words: words.map((w) => tagged.get(w.index)!), untagged };
}
