/**
 * Stimulus text loading: plain-text stimulus files → stories and words, and events-file words
 * (+ optional original text) → `StimulusWord[]`.
 *
 * File format (chosen here): UTF-8 text, a BOM and CRLF/CR line ends tolerated (normalised to LF),
 * the text normalised to Unicode NFC (so "é" is one character whichever way the file spells it;
 * tokenizers see one form). Story boundaries: a line made of a title between runs of at least three
 * "=" (`=== A Scandal in Bohemia ===`, or just `======`) starts a new story; text before the first
 * such line, if not blank, is a story of its own. Several files may be given; each starts a new
 * story, so "one file per story" works with no markers at all. Stories are numbered 0, 1, … in order.
 * The built-in text (Moby Dick) is one story.
 *
 * Events words: the events parser (another module) gives `{ word, onsetSec, run }` rows; here the
 * run becomes the story (context resets where it changes; the Armeni recordings play one story
 * section per run), words are indexed in order, and the n-th story text (if given) is paired with
 * the n-th distinct run.
 *
 * Owns: reading stimulus text files and assembling StimulusWord lists. Must not: tokenize, tag, or
 * parse events files.
 */
import fs from 'node:fs';
import type { StimulusWord } from '../../src/types.js';
import { builtinText, splitWords } from './builtinText.js';

/** One story of a stimulus text. */
export interface StimulusStory {
  story: number;
  /** The title from the marker line, or '' (untitled / one file per story). */
  title: string;
  text: string;
  /** File and 1-based line where the story starts, for messages. */
  source: string;
}

/** A word as an events file gives it (another module parses events.tsv into these). */
export interface EventWord {
  word: string;
  onsetSec: number;
  run: number;
}

const STORY_MARKER = /^[ \t]*={3,}[ \t]*(.*?)[ \t]*={3,}[ \t]*$/;

/**
 * Decodes a stimulus file's bytes: strict UTF-8 (an invalid byte is an error naming its offset), BOM
 * dropped, line ends normalised to LF, NFC.
 */
export function decodeStimulusBytes(bytes: Uint8Array, source: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    // Find the offending byte for the message (the decoder does not say).
    let offset = 0;
    for (let n = bytes.length; n > 0; n >>= 1) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, offset + n));
        offset += n;
      } catch {
        /* keep halving */
      }
    }
    throw new Error(`${source}: not valid UTF-8 near byte ${offset}; save the stimulus text as UTF-8`);
  }
  return text.replace(/\r\n?/g, '\n').normalize('NFC');
}

/**
 * Splits a decoded stimulus text into stories at `=== title ===` lines.
 *
 * @param firstStory number of the first story
 */
export function splitStories(text: string, source: string, firstStory = 0): StimulusStory[] {
  const lines = text.split('\n');
  const stories: StimulusStory[] = [];
  let title = '';
  let startLine = 1;
  let body: string[] = [];
  let sawMarker = false;
  const flush = () => {
    const t = body.join('\n').trim();
    if (t.length > 0) stories.push({ story: firstStory + stories.length, title, text: t, source: `${source}:${startLine}` });
    else if (sawMarker && title !== '') throw new Error(`${source}:${startLine - 1}: story "${title}" has no text`);
  };
  lines.forEach((line, k) => {
    const m = STORY_MARKER.exec(line);
    if (m) {
      flush();
      sawMarker = true;
      title = m[1]!;
      startLine = k + 2;
      body = [];
    } else {
      body.push(line);
    }
  });
  flush();
  if (stories.length === 0) throw new Error(`${source}: no text (the file is empty or holds only story markers)`);
  return stories;
}

/** Reads stimulus text files; each file starts a new story, and `===` lines split stories inside a file. */
export function readStimulusText(files: readonly string[]): StimulusStory[] {
  const stories: StimulusStory[] = [];
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${file}: cannot read the stimulus text (${(err as Error).message})`);
    }
    stories.push(...splitStories(decodeStimulusBytes(bytes, file), file, stories.length));
  }
  return stories;
}

/** The built-in text (Moby Dick) as a one-story stimulus. */
export function builtinStory(): StimulusStory {
  return { story: 0, title: 'Moby Dick', text: builtinText(), source: 'builtin' };
}

/** A stimulus: its words, and the original text of each story (for tokenizing and tagging). */
export interface Stimulus {
  words: StimulusWord[];
  /** Story number → original text. */
  texts: Map<number, string>;
}

/** Words of text stories (words as the text spells them, see builtinText.splitWords). */
export function stimulusFromStories(stories: readonly StimulusStory[]): Stimulus {
  const words: StimulusWord[] = [];
  const texts = new Map<number, string>();
  for (const s of stories) {
    if (texts.has(s.story)) throw new Error(`${s.source}: story number ${s.story} is used twice`);
    texts.set(s.story, s.text);
    for (const w of splitWords(s.text)) words.push({ index: words.length, word: w.word, story: s.story });
  }
  return { words, texts };
}

/**
 * Stimulus words from events-file words: story = run (numbered 0, 1, … in order of first appearance,
 * so context resets at each run), index = order. A value in double quotes is unquoted; the silence
 * marker "sp" and empty values are dropped (the events parser should already have dropped them).
 *
 * @param stories original texts, paired in order with the distinct runs (story k ↔ k-th run); fewer
 * stories than runs leaves the last runs without text (they are tokenized as joined words)
 */
export function stimulusFromEvents(events: readonly EventWord[], stories?: readonly StimulusStory[]): Stimulus & { runOfStory: number[] } {
  const runOfStory: number[] = [];
  const storyOfRun = new Map<number, number>();
  const words: StimulusWord[] = [];
  let lastRun: number | undefined;
  events.forEach((e, k) => {
    let word = e.word.trim();
    if (word.length >= 2 && word.startsWith('"') && word.endsWith('"')) word = word.slice(1, -1).replace(/""/g, '"');
    if (word === '' || word.toLowerCase() === 'sp') return;
    let story = storyOfRun.get(e.run);
    if (story === undefined) {
      story = runOfStory.length;
      storyOfRun.set(e.run, story);
      runOfStory.push(e.run);
    } else if (e.run !== lastRun) {
      throw new Error(`events word ${k} ("${e.word}"): run ${e.run} resumes after run ${lastRun}; words must be grouped by run, in order`);
    }
    lastRun = e.run;
    words.push({ index: words.length, word, story });
  });
  const texts = new Map<number, string>();
  if (stories) {
    if (stories.length > runOfStory.length) {
      throw new Error(`${stories.length} story texts for ${runOfStory.length} runs; give one text per run (in run order)`);
    }
    stories.forEach((s, k) => texts.set(k, s.text));
  }
  return { words, texts, runOfStory };
}
