/**
 * Words ↔ tokens: event words aligned to an original text full of traps (contractions, curly
 * quotes, numbers, hyphens, em dashes, a word missing from the text and one extra), tokenized by
 * GPT-2-style byte-level BPE and Llama-style SentencePiece tokenizers generated in test code and
 * loaded through transformers.js.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  alignWordsToText,
  checkTokenizedStory,
  detectPieceEncoding,
  loadStimulusTokenizer,
  textFromWords,
  tokenizeStimulus,
  tokenizeStory,
  type StimulusTokenizer,
  type TokenizedStory,
} from '../adapters/text/wordAlignment.js';
import { builtinText, builtinWords } from '../adapters/text/builtinText.js';
import type { StimulusWord } from '../src/types.js';
import { alignSequences } from '../src/text/sequenceAlignment.js';
import { normalizeWord } from '../src/text/normalizeWord.js';
import { tokenSpansInText } from '../src/text/tokenSpans.js';
import { aggregateWordTokens } from '../src/text/aggregateTokens.js';
import { writeTokenizer, type TokenizerKind } from './helpers/tokenizers.js';
import { tempDir } from './helpers/paths.js';

const TEXT =
  '"Don\'t," said Holmes—"I\'ll be at 221B Baker Street by ten o\'clock." It was 1887; the café’s “quoted” good-bye ' +
  'was well-known to any one.\n\n’Tis a sea-captain\'s hat, isn\'t it?';
const EVENTS = (
  "DON'T SAID HOLMES I'LL BE AT 221B BAKER BY TEN O'CLOCK IT WAS EIGHTEEN EIGHTY SEVEN THE CAFE'S QUOTED GOODBYE " +
  "WAS VERY WELL KNOWN TO ANYONE 'TIS A SEA-CAPTAIN'S HAT ISN'T IT"
).split(' ');

/** Stimulus words of one story, with indices offset so positions and indices differ. */
function stimulus(words: string[], story = 2, offset = 1000): StimulusWord[] {
  return words.map((word, k) => ({ index: offset + k, word, story }));
}

const KINDS: TokenizerKind[] = ['gpt2', 'llama2', 'metaspace'];
const tokenizers = new Map<TokenizerKind, StimulusTokenizer>();

before(async () => {
  const dir = tempDir('tok');
  // Train on the tricky sentence plus a slice of the built-in text, so merges are realistic.
  const training = `${TEXT}\n${builtinText().slice(0, 15_000)}`;
  for (const kind of KINDS) tokenizers.set(kind, await loadStimulusTokenizer(writeTokenizer(dir, kind, training, 300)));
});

/** Asserts the token spans tile the text: contiguous bytes, and the characters spell it back. */
function assertSpansTileText(ts: TokenizedStory): void {
  const { byteStart, byteStop, charStart, charStop } = ts.tokenSpans;
  const n = ts.inputIds.length;
  assert.equal(byteStart[0], 0);
  for (let k = 1; k < n; k++) assert.equal(byteStart[k], byteStop[k - 1], `token ${k} starts where token ${k - 1} stops`);
  assert.equal(byteStop[n - 1], new TextEncoder().encode(ts.text).length);
  let joined = '';
  for (let k = 0; k < n; k++) joined += ts.text.slice(charStart[k], charStop[k]);
  assert.equal(joined, ts.text);
}

/** The text a word's tokens cover, with whitespace and punctuation at the ends removed. */
function coveredCore(ts: TokenizedStory, p: number): string {
  const [a, b] = ts.wordTokens[p]!;
  const covered = ts.text.slice(ts.tokenSpans.charStart[a], ts.tokenSpans.charStop[b - 1]);
  return covered.replace(/^[\s\p{P}]+|[\s\p{P}]+$/gu, '');
}

describe('event words ↔ text words', () => {
  it('matches contractions, curly quotes, numbers and hyphens, and reports what it cannot match', () => {
    const words = stimulus(EVENTS);
    const al = alignWordsToText(words, TEXT);
    const at = (w: string, nth = 0) => EVENTS.findIndex((e, k) => e === w && EVENTS.slice(0, k).filter((x) => x === w).length === nth);
    const spanText = (p: number) => (al.spans[p] ? TEXT.slice(al.spans[p]![0], al.spans[p]![1]) : null);
    assert.equal(spanText(at("DON'T")), "Don't");
    assert.equal(spanText(at("CAFE'S")), 'café’s');
    assert.equal(spanText(at('GOODBYE')), 'good-bye');
    assert.equal(spanText(at('221B')), '221B');
    assert.equal(spanText(at("O'CLOCK")), "o'clock");
    assert.equal(spanText(at("'TIS")), 'Tis');
    assert.equal(spanText(at("SEA-CAPTAIN'S")), "sea-captain's");
    // Several event words ↔ one text word, and one event word ↔ several text words.
    assert.equal(spanText(at('WELL')), 'well');
    assert.equal(spanText(at('KNOWN')), 'known');
    assert.equal(al.kinds[at('WELL')], 'merged');
    assert.equal(spanText(at('ANYONE')), 'any one');
    // Spoken numbers vs digits stay unmatched, as does a word missing from the text.
    assert.deepEqual(
      al.unmatched.map((u) => u.word),
      ['EIGHTEEN', 'EIGHTY', 'SEVEN', 'VERY'],
    );
    assert.deepEqual(al.unmatched.map((u) => u.index), [at('EIGHTEEN'), at('EIGHTY'), at('SEVEN'), at('VERY')].map((p) => p + 1000));
    assert.match(al.unmatched[0]!.reason, /the text has "1887" there/);
    assert.match(al.unmatched[3]!.reason, /not in the text/);
    assert.deepEqual(al.extraTextWords.map((w) => w.word), ['Street', '1887']);
    assert.equal(al.approximate.length, 0);
    // Matched spans are in order and normalise to their event word.
    let last = -1;
    al.spans.forEach((s, p) => {
      if (!s) return;
      assert.ok(s[0] >= last, `span of ${EVENTS[p]} is in order`);
      last = s[1];
      assert.equal(normalizeWord(TEXT.slice(s[0], s[1])), normalizeWord(EVENTS[p]!));
    });
  });

  it('never pairs dissimilar words; reports similar spellings as approximate', () => {
    const swapped = EVENTS.map((w) => (w === 'HOLMES' ? 'WATSON' : w));
    const al = alignWordsToText(stimulus(swapped), TEXT);
    const p = swapped.indexOf('WATSON');
    assert.equal(al.spans[p], null);
    assert.ok(al.unmatched.some((u) => u.word === 'WATSON' && /the text has "Holmes" there/.test(u.reason)));
    assert.ok(al.extraTextWords.some((w) => w.word === 'Holmes'));

    const misspelt = EVENTS.map((w) => (w === 'HOLMES' ? 'HOLMS' : w));
    const al2 = alignWordsToText(stimulus(misspelt), TEXT);
    const q = misspelt.indexOf('HOLMS');
    assert.equal(TEXT.slice(al2.spans[q]![0], al2.spans[q]![1]), 'Holmes');
    assert.deepEqual(al2.approximate, [{ index: 1000 + q, word: 'HOLMS', textWord: 'Holmes' }]);
  });

  it('recovers planted edits in 3 000 words of Moby Dick, with and without anchor cutting', () => {
    const tw = builtinWords(3000);
    const text = builtinText().slice(0, tw[tw.length - 1]!.end);
    const events: string[] = [];
    const dropped: number[] = [];
    const inserted: number[] = [];
    tw.forEach((w, k) => {
      if (k % 131 === 65) {
        inserted.push(events.length);
        events.push('ZZYZX');
      }
      if (k % 97 === 50) {
        dropped.push(k);
        return;
      }
      events.push(w.word.toUpperCase());
    });
    for (const maxCells of [20_000_000, 5_000]) {
      const al = alignWordsToText(stimulus(events, 0, 0), text, { maxCells });
      assert.deepEqual(al.unmatched.map((u) => u.index), inserted, `inserted words reported (maxCells ${maxCells})`);
      assert.deepEqual(al.extraTextWords.map((w) => w.textIndex), dropped, `dropped words reported (maxCells ${maxCells})`);
      // Every other event word sits on the text word it came from.
      let k = 0;
      events.forEach((e, p) => {
        if (e === 'ZZYZX') return;
        while (dropped.includes(k)) k++;
        assert.deepEqual(al.spans[p], [tw[k]!.start, tw[k]!.end]);
        k++;
      });
    }
  });

  it('aligns sequences with merges in both directions on comparison forms', () => {
    const g = alignSequences(['good', 'bye', 'anyone', 'x'], ['goodbye', 'any', 'one', 'x']);
    assert.deepEqual(g.map((x) => [x.kind, x.eventStart, x.eventStop, x.textStart, x.textStop]), [
      ['merged', 0, 2, 0, 1],
      ['merged', 2, 3, 1, 3],
      ['exact', 3, 4, 3, 4],
    ]);
  });

  it('joins bare words into running text when there is no original', () => {
    assert.equal(textFromWords(['CALL', 'ME', 'ISHMAEL', "I'LL", 'I', 'GO']), "Call me ishmael I'll I go");
    assert.equal(textFromWords(['Call', 'me', 'Ishmael']), 'Call me Ishmael');
  });
});

describe('tokens ↔ words through transformers.js tokenizers', () => {
  for (const kind of KINDS) {
    it(`${kind}: token spans tile the text and every matched word's tokens cover exactly its characters`, () => {
      const tok = tokenizers.get(kind)!;
      assert.deepEqual(tok.encoding, kind === 'gpt2' ? { kind: 'byteLevel' } : { kind: 'sentencePiece', replacement: '▁' });
      assert.equal(tok.bosTokenId, kind === 'gpt2' ? null : 1);
      const words = stimulus(EVENTS);
      const ts = tokenizeStory(tok, words, TEXT);
      assertSpansTileText(ts);
      // The model input is the original text, token for token.
      assert.deepEqual(ts.inputIds, tok.tokenizer.encode(TEXT, { add_special_tokens: false }));
      // SentencePiece prepends one "▁" that is not in the text; byte-level BPE does not.
      assert.deepEqual(ts.tokenSpans.syntheticSpaces, kind === 'gpt2' ? [] : [0]);
      let nMatched = 0;
      words.forEach((w, p) => {
        const span = ts.alignment.spans[p];
        const [a, b] = ts.wordTokens[p]!;
        if (!span) {
          assert.deepEqual([a, b], [-1, -1]);
          return;
        }
        nMatched++;
        assert.equal(coveredCore(ts, p), TEXT.slice(span[0], span[1]), `${kind}: tokens of ${w.word}`);
        for (let t = a; t < b; t++) assert.equal(ts.tokenWord[t], w.index);
      });
      assert.equal(nMatched, EVENTS.length - 4);
      // Tokens outside words (punctuation, spaces, the extra text words) belong to no word.
      const owned = new Set<number>();
      ts.wordTokens.forEach(([a, b]) => {
        for (let t = a; t < b; t++) owned.add(t);
      });
      for (let t = 0; t < ts.inputIds.length; t++) if (!owned.has(t)) assert.equal(ts.tokenWord[t], -1);
      assert.deepEqual(ts.unmatched.map((u) => u.word), ['EIGHTEEN', 'EIGHTY', 'SEVEN', 'VERY']);
    });

    it(`${kind}: a deliberate misalignment is caught`, () => {
      const tok = tokenizers.get(kind)!;
      const words = stimulus(EVENTS);
      const ts = tokenizeStory(tok, words, TEXT);
      const p = EVENTS.indexOf('HOLMES');
      // Shift one word's tokens onto its neighbour's.
      const shifted: TokenizedStory = { ...ts, wordTokens: ts.wordTokens.map((r, k) => (k === p ? ([r[0] + 1, r[1] + 1] as [number, number]) : r)) };
      assert.throws(() => checkTokenizedStory(shifted, words), /HOLMES/);
      // Point a word at another word's characters.
      const spans = ts.alignment.spans.slice();
      spans[p] = spans[p - 1]!;
      const moved: TokenizedStory = { ...ts, alignment: { ...ts.alignment, spans } };
      assert.throws(() => checkTokenizedStory(moved, words), /HOLMES/);
      // Words in the wrong order.
      const swapped = words.slice();
      [swapped[p], swapped[p + 1]] = [swapped[p + 1]!, swapped[p]!];
      assert.throws(() => checkTokenizedStory(ts, swapped));
    });

    it(`${kind}: without an original text, tokenizes the joined words with every word matched`, () => {
      const tok = tokenizers.get(kind)!;
      const words = stimulus(EVENTS);
      const ts = tokenizeStory(tok, words);
      assert.equal(ts.text.slice(0, 24), "Don't said holmes I'll b");
      assert.equal(ts.unmatched.length, 0);
      assertSpansTileText(ts);
      words.forEach((w, p) => assert.equal(normalizeWord(coveredCore(ts, p)), normalizeWord(w.word)));
    });
  }

  it('tokenizes each story separately', () => {
    const tok = tokenizers.get('gpt2')!;
    const words = [...stimulus(['CALL', 'ME', 'ISHMAEL'], 0, 0), ...stimulus(EVENTS, 1, 3)];
    const out = tokenizeStimulus(tok, words, new Map([[1, TEXT]]));
    assert.deepEqual(out.map((s) => s.story), [0, 1]);
    assert.equal(out[0]!.text, 'Call me ishmael');
    assert.equal(out[1]!.text, TEXT);
    assert.equal(out[1]!.tokenWord.find((x) => x >= 0), 3);
  });

  it('refuses tokens that do not spell the text, and tokenizers it cannot map', () => {
    assert.throws(() => tokenSpansInText('Hello world', ['hello', 'Ġworld'], { kind: 'byteLevel' }, 'lowercasing tokenizer'), /lowercasing tokenizer: token 0 "hello" does not match the text at byte 0/);
    assert.throws(() => tokenSpansInText('Hello world', ['Hello'], { kind: 'byteLevel' }), /only the first 5 of 11 bytes/);
    assert.throws(() => detectPieceEncoding({ decoder: { type: 'WordPiece' } }, 'bert/tokenizer.json'), /bert\/tokenizer.json: decoder "WordPiece" is not supported/);
  });
});

describe('word vectors from token vectors', () => {
  it('takes the mean or the last of a word\'s tokens, in window rows', () => {
    // Window rows for story tokens 10…13, 2 dims.
    const states = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual([...aggregateWordTokens(states, 2, 10, [11, 13], 'mean', new Float32Array(2))], [4, 5]);
    assert.deepEqual([...aggregateWordTokens(states, 2, 10, [11, 13], 'last', new Float32Array(2))], [5, 6]);
    assert.deepEqual([...aggregateWordTokens(states, 2, 10, [13, 14], 'mean', new Float32Array(2))], [7, 8]);
    assert.throws(() => aggregateWordTokens(states, 2, 10, [9, 11], 'mean', new Float32Array(2)), /outside the window rows \[10, 14\)/);
    assert.throws(() => aggregateWordTokens(states, 2, 10, [11, 11], 'mean', new Float32Array(2)), /empty token range/);
  });
});
