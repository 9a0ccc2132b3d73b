/**
 * Words ↔ tokens: turns the stimulus words of one story (as an events file spells them: `SHERLOCK`,
 * `DON'T`, `GOODBYE`) plus the story's original text into model input, the text's tokens, each tied
 * to the word it spells.
 *
 * 1. Event words are aligned to the text's words (src/text/sequenceAlignment.ts: DP on comparison
 *    forms, merges like GOODBYE ↔ good-bye, approximate pairs like GREY ↔ gray), which gives every
 *    matched event word a character span in the text. Words with no counterpart are reported with
 *    their position and the reason (what the text has there); they get no tokens.
 * 2. The whole story text is tokenized with a transformers.js tokenizer, so the model sees the
 *    original punctuation and case; token spans are recovered from the token strings
 *    (src/text/tokenSpans.ts), because transformers.js gives no offset mapping.
 * 3. A token belongs to the word whose bytes it overlaps. A token overlapping two words (possible with
 *    SentencePiece merges across a hyphen, or when several event words share one text word) belongs to
 *    both word ranges; `tokenWord` names the later word, whose reading needs the whole token.
 *
 * Every result is checked before it is returned (`checkTokenizedStory`): each matched word's tokens
 * must cover its characters, those characters must normalise to the event word, and words must be in
 * order; a failure throws rather than returning a misaligned stimulus.
 *
 * Without an original text, the words are joined with single spaces (all-upper-case event words are
 * lower-cased, with the story's first word and the pronoun I capitalised), so tokens still look like
 * running text to the model.
 *
 * Owns: building `TokenizedStimulus` for a story and loading a tokenizer folder offline. Must not:
 * run a model or decide context windows (adapters/llm/contextWindows.ts does).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import type { StimulusWord, TokenizedStimulus } from '../../src/types.js';
import { splitWords } from './builtinText.js';
import { hasWordCharacters, normalizeChar, normalizeWord } from '../../src/text/normalizeWord.js';
import { alignSequences, type MatchKind, type SequenceAlignmentOptions } from '../../src/text/sequenceAlignment.js';
import { tokenSpansInText, utf8Offsets, type PieceEncoding, type TokenSpans } from '../../src/text/tokenSpans.js';

/** A tokenizer ready for stimulus work: the transformers.js object and how its tokens encode text. */
export interface StimulusTokenizer {
  tokenizer: PreTrainedTokenizer;
  encoding: PieceEncoding;
  /** Id → token string. */
  idToPiece: string[];
  /** The beginning-of-sequence token the model expects before its input, or null (GPT-2 has none). */
  bosTokenId: number | null;
  /** Where it was loaded from, for messages. */
  source: string;
}

/**
 * Loads a tokenizer folder (`tokenizer.json` + `tokenizer_config.json`) with no network access.
 *
 * @throws when the folder lacks the files or the tokenizer's token strings are of a kind this module
 * cannot map back to characters (only byte-level BPE and SentencePiece BPE/Unigram are supported)
 */
export async function loadStimulusTokenizer(dir: string): Promise<StimulusTokenizer> {
  const jsonPath = path.join(dir, 'tokenizer.json');
  for (const f of [jsonPath, path.join(dir, 'tokenizer_config.json')]) {
    if (!fs.existsSync(f)) throw new Error(`${f}: not found; a tokenizer folder needs tokenizer.json and tokenizer_config.json (save_pretrained writes both)`);
  }
  const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as TokenizerJson;
  const encoding = detectPieceEncoding(json, jsonPath);
  env.allowRemoteModels = false;
  const tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const vocab = tokenizer.get_vocab();
  const idToPiece: string[] = [];
  for (const [piece, id] of vocab) idToPiece[id] = piece;
  // A BOS is expected when the tokenizer adds one itself (Llama: add_bos_token). GPT-2's bos_token is
  // <|endoftext|>, which it never adds, so it counts as none.
  const addsBos = tokenizer.add_bos_token === true;
  const bosTokenId = addsBos && typeof tokenizer.bos_token_id === 'number' ? tokenizer.bos_token_id : null;
  return { tokenizer, encoding, idToPiece, bosTokenId, source: dir };
}

interface TokenizerJsonDecoder {
  type: string;
  replacement?: string;
  pattern?: { String?: string };
  content?: string;
  decoders?: TokenizerJsonDecoder[];
}

/** The parts of tokenizer.json that say how token strings spell text. */
export interface TokenizerJson {
  decoder?: TokenizerJsonDecoder | null;
}

/** Reads from tokenizer.json how token strings spell text. */
export function detectPieceEncoding(json: TokenizerJson, source: string): PieceEncoding {
  const decoders = json.decoder ? (json.decoder.type === 'Sequence' ? (json.decoder.decoders ?? []) : [json.decoder]) : [];
  if (decoders.some((d) => d.type === 'ByteLevel')) return { kind: 'byteLevel' };
  const metaspace = decoders.find((d) => d.type === 'Metaspace');
  if (metaspace) return { kind: 'sentencePiece', replacement: metaspace.replacement ?? '▁' };
  const replace = decoders.find((d) => d.type === 'Replace' && d.content === ' ' && d.pattern?.String !== undefined);
  if (replace) return { kind: 'sentencePiece', replacement: replace.pattern!.String! };
  throw new Error(
    `${source}: decoder ${JSON.stringify(json.decoder?.type ?? null)} is not supported; word ↔ token alignment handles byte-level BPE ` +
      '(GPT-2, Pythia, Llama-3, Qwen) and SentencePiece tokenizers (Llama-2, Mistral)',
  );
}

/** Where each event word of a story lies in the story text. */
export interface WordTextAlignment {
  /** The text the spans refer to. */
  text: string;
  /** [word position in story] character span in the text, or null when unmatched. */
  spans: Array<[number, number] | null>;
  /** [word position in story] how the word was matched ('eventOnly' = unmatched). */
  kinds: MatchKind[];
  unmatched: Array<{ index: number; word: string; reason: string }>;
  /** Matched by spelling similarity, not identity (e.g. GREY ↔ gray): reported for review. */
  approximate: Array<{ index: number; word: string; textWord: string }>;
  /** Text words with no event word (stay in the model input, belong to no word). */
  extraTextWords: Array<{ textIndex: number; word: string; charStart: number }>;
}

/**
 * Aligns a story's event words to its text.
 *
 * @param words the story's stimulus words, in order
 * @param text the story's original text
 */
export function alignWordsToText(words: readonly StimulusWord[], text: string, options: SequenceAlignmentOptions = {}): WordTextAlignment {
  const textWords = splitWords(text);
  const eventForms = words.map((w) => normalizeWord(w.word));
  const textForms = textWords.map((w) => normalizeWord(w.word));
  const groups = alignSequences(eventForms, textForms, options);
  const spans: Array<[number, number] | null> = new Array(words.length).fill(null);
  const kinds: MatchKind[] = new Array(words.length).fill('eventOnly');
  const unmatched: WordTextAlignment['unmatched'] = [];
  const approximate: WordTextAlignment['approximate'] = [];
  const extraTextWords: WordTextAlignment['extraTextWords'] = [];
  for (const g of groups) {
    if (g.kind === 'textOnly') {
      const tw = textWords[g.textStart]!;
      extraTextWords.push({ textIndex: g.textStart, word: tw.word, charStart: tw.start });
      continue;
    }
    if (g.kind === 'eventOnly') {
      const w = words[g.eventStart]!;
      unmatched.push({ index: w.index, word: w.word, reason: unmatchedReason(w.word, groups, g.eventStart, textWords, text) });
      continue;
    }
    const nEvents = g.eventStop - g.eventStart;
    if (nEvents === 1) {
      const first = textWords[g.textStart]!;
      const last = textWords[g.textStop - 1]!;
      spans[g.eventStart] = [first.start, last.end];
      kinds[g.eventStart] = g.kind;
      if (g.kind === 'approximate') approximate.push({ index: words[g.eventStart]!.index, word: words[g.eventStart]!.word, textWord: first.word });
    } else {
      // Several event words share one text word: split its characters by comparison form.
      const tw = textWords[g.textStart]!;
      const parts = splitSpan(text, tw.start, tw.end, eventForms.slice(g.eventStart, g.eventStop));
      for (let k = 0; k < nEvents; k++) {
        spans[g.eventStart + k] = parts[k]!;
        kinds[g.eventStart + k] = g.kind;
      }
    }
  }
  return { text, spans, kinds, unmatched, approximate, extraTextWords };
}

/** Why an event word has no place in the text, naming what the text has there. */
function unmatchedReason(word: string, groups: ReturnType<typeof alignSequences>, eventIndex: number, textWords: ReturnType<typeof splitWords>, text: string): string {
  if (!hasWordCharacters(word)) return 'no letters or digits to match';
  // Text words skipped in the same gap (between the neighbouring matches).
  const gapText: string[] = [];
  const k = groups.findIndex((g) => g.kind === 'eventOnly' && g.eventStart === eventIndex);
  for (let q = k - 1; q >= 0 && (groups[q]!.kind === 'eventOnly' || groups[q]!.kind === 'textOnly'); q--) {
    if (groups[q]!.kind === 'textOnly') gapText.unshift(textWords[groups[q]!.textStart]!.word);
  }
  for (let q = k + 1; q < groups.length && (groups[q]!.kind === 'eventOnly' || groups[q]!.kind === 'textOnly'); q++) {
    if (groups[q]!.kind === 'textOnly') gapText.push(textWords[groups[q]!.textStart]!.word);
  }
  const pos = groups[k]!.textStart;
  const at = pos < textWords.length ? `before text word ${pos} ("${textWords[pos]!.word}", character ${textWords[pos]!.start})` : `at the end of the text (character ${text.length})`;
  return gapText.length > 0
    ? `not in the text: the text has "${gapText.join(' ')}" there (${at})`
    : `not in the text (${at})`;
}

/** Splits text[start, stop) into one span per comparison form, by walking normalised characters. */
function splitSpan(text: string, start: number, stop: number, forms: string[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let f = 0;
  let consumed = 0;
  let spanStart = -1;
  let i = start;
  while (i < stop && f < forms.length) {
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    const norm = normalizeChar(ch);
    if (norm.length > 0) {
      if (spanStart < 0) spanStart = i;
      consumed += norm.length;
      if (consumed >= forms[f]!.length) {
        out.push([spanStart, i + ch.length]);
        f++;
        consumed = 0;
        spanStart = -1;
      }
    }
    i += ch.length;
  }
  if (out.length !== forms.length) throw new Error(`word alignment: internal error splitting text[${start}, ${stop}) into ${forms.join('+')}`);
  return out;
}

/**
 * Running text from bare words, for stimuli without an original text. All-upper-case words (events
 * files) are lower-cased, then the first word and the pronoun I (and I'm, I'll…) are capitalised.
 */
export function textFromWords(words: readonly string[]): string {
  const shouting = words.length > 0 && words.every((w) => w === w.toUpperCase());
  if (!shouting) return words.join(' ');
  return words
    .map((w, k) => {
      let s = w.toLowerCase();
      if (/^i(?:['’](?:m|ll|d|ve))?$/.test(s)) s = `I${s.slice(1)}`;
      if (k === 0) s = s.charAt(0).toUpperCase() + s.slice(1);
      return s;
    })
    .join(' ');
}

/** `TokenizedStimulus` for one story plus what was needed to build and check it. */
export interface TokenizedStory extends TokenizedStimulus {
  story: number;
  /** The text that was tokenized (the original text, or the words joined). */
  text: string;
  /** Token strings, as the tokenizer spells them. */
  pieces: string[];
  tokenSpans: TokenSpans;
  alignment: WordTextAlignment;
  /** Tokens that belong to two words (both ranges hold them; tokenWord names the later word). */
  sharedTokens: number[];
}

/**
 * Tokenizes one story and ties every token to its word.
 *
 * @param tok a loaded tokenizer
 * @param words the story's stimulus words, in order (all with the same `story`)
 * @param text the story's original text; when omitted, the words joined (see textFromWords)
 */
export function tokenizeStory(tok: StimulusTokenizer, words: readonly StimulusWord[], text?: string, options: SequenceAlignmentOptions = {}): TokenizedStory {
  if (words.length === 0) throw new Error('tokenizeStory: a story needs at least one word');
  const story = words[0]!.story;
  const bad = words.findIndex((w) => w.story !== story);
  if (bad >= 0) throw new Error(`tokenizeStory: word ${words[bad]!.index} ("${words[bad]!.word}") is in story ${words[bad]!.story}, expected ${story}; pass one story at a time`);
  const storyText = text ?? textFromWords(words.map((w) => w.word));
  const alignment = alignWordsToText(words, storyText, options);
  const source = `${tok.source} on story ${story}`;
  const inputIds = tok.tokenizer.encode(storyText, { add_special_tokens: false }) as number[];
  const pieces = inputIds.map((id) => {
    const p = tok.idToPiece[id];
    if (p === undefined) throw new Error(`${source}: token id ${id} is not in the vocabulary`);
    return p;
  });
  const tokenSpans = tokenSpansInText(storyText, pieces, tok.encoding, source);

  // Word spans in bytes, to compare with token byte spans.
  const off = utf8Offsets(storyText);
  const nTok = inputIds.length;
  const tokenWord = new Int32Array(nTok).fill(-1);
  const wordTokens: Array<[number, number]> = words.map(() => [-1, -1]);
  const sharedTokens: number[] = [];
  // Words are in text order, so one forward sweep over tokens suffices.
  let t0 = 0;
  for (let p = 0; p < words.length; p++) {
    const span = alignment.spans[p];
    if (span === null || span === undefined) continue;
    const ws = off[span[0]]!;
    const we = off[span[1]]!;
    while (t0 < nTok && tokenSpans.byteStop[t0]! <= ws) t0++;
    let t = t0;
    let first = -1;
    let stop = -1;
    while (t < nTok && tokenSpans.byteStart[t]! < we) {
      if (tokenSpans.byteStop[t]! > ws) {
        if (first < 0) first = t;
        stop = t + 1;
        if (tokenWord[t] !== -1 && tokenWord[t] !== words[p]!.index) sharedTokens.push(t);
        tokenWord[t] = words[p]!.index;
      }
      t++;
    }
    if (first < 0) throw new Error(`${source}: word ${words[p]!.index} ("${words[p]!.word}") at characters ${span[0]}…${span[1]} has no token`);
    wordTokens[p] = [first, stop];
  }
  const result: TokenizedStory = {
    story,
    inputIds,
    tokenWord,
    wordTokens,
    unmatched: alignment.unmatched,
    text: storyText,
    pieces,
    tokenSpans,
    alignment,
    sharedTokens,
  };
  checkTokenizedStory(result, words);
  return result;
}

/**
 * Tokenizes every story of a stimulus.
 *
 * @param texts original text per story number; stories without one use their joined words
 */
export function tokenizeStimulus(tok: StimulusTokenizer, words: readonly StimulusWord[], texts?: ReadonlyMap<number, string>): TokenizedStory[] {
  const byStory = new Map<number, StimulusWord[]>();
  for (const w of words) {
    let list = byStory.get(w.story);
    if (!list) byStory.set(w.story, (list = []));
    list.push(w);
  }
  return [...byStory].map(([story, list]) => tokenizeStory(tok, list, texts?.get(story)));
}

/**
 * Checks a tokenized story against its words; throws on the first inconsistency. Run on every result,
 * and usable on results that were cached or edited.
 *
 * - each matched word's tokens are non-empty, in range, and in word order;
 * - the tokens' bytes cover the word's characters, and the first and last token overlap them;
 * - for exact and merged matches, the characters normalise to the event word;
 * - `tokenWord` agrees with `wordTokens`.
 */
export function checkTokenizedStory(ts: TokenizedStory, words: readonly StimulusWord[]): void {
  const off = utf8Offsets(ts.text);
  const where = `story ${ts.story}`;
  let prevStop = 0;
  for (let p = 0; p < words.length; p++) {
    const w = words[p]!;
    const span = ts.alignment.spans[p];
    const [a, b] = ts.wordTokens[p]!;
    if (span === null || span === undefined) {
      if (a !== -1 || b !== -1) throw new Error(`${where}: unmatched word ${w.index} ("${w.word}") has tokens [${a}, ${b})`);
      continue;
    }
    if (!(a >= 0 && b > a && b <= ts.inputIds.length)) throw new Error(`${where}: word ${w.index} ("${w.word}") has token range [${a}, ${b}) outside 0…${ts.inputIds.length}`);
    // Tokens may be shared with the previous word, but never go backwards.
    if (a < prevStop - 1) throw new Error(`${where}: word ${w.index} ("${w.word}") starts at token ${a}, before the previous word ends (${prevStop})`);
    prevStop = b;
    const ws = off[span[0]]!;
    const we = off[span[1]]!;
    if (ts.tokenSpans.byteStart[a]! > ws || ts.tokenSpans.byteStop[b - 1]! < we) {
      throw new Error(`${where}: word ${w.index} ("${w.word}") characters ${span[0]}…${span[1]} are not covered by its tokens [${a}, ${b})`);
    }
    if (ts.tokenSpans.byteStop[a]! <= ws || ts.tokenSpans.byteStart[b - 1]! >= we) {
      throw new Error(`${where}: word ${w.index} ("${w.word}") tokens [${a}, ${b}) reach past its characters ${span[0]}…${span[1]}`);
    }
    const kind = ts.alignment.kinds[p];
    if ((kind === 'exact' || kind === 'merged') && normalizeWord(ts.text.slice(span[0], span[1])) !== normalizeWord(w.word)) {
      throw new Error(`${where}: word ${w.index} ("${w.word}") is aligned to "${ts.text.slice(span[0], span[1])}" (characters ${span[0]}…${span[1]}), which spells another word`);
    }
    for (let t = a; t < b; t++) {
      const owner = ts.tokenWord[t]!;
      if (owner !== w.index && !ts.sharedTokens.includes(t)) {
        throw new Error(`${where}: token ${t} is in the range of word ${w.index} ("${w.word}") but tokenWord says ${owner}`);
      }
    }
  }
}
