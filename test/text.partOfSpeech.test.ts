/**
 * Content words: wink-nlp tags mapped back to stimulus words, checked against a hand-tagged sample
 * of the built-in text (test/fixtures/pos-gold.json) and against the word-level rule for contractions
 * and hyphenated words.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { headTag, tagStimulusWords, tagText } from '../adapters/text/partOfSpeech.js';
import { builtinText, builtinWords } from '../adapters/text/builtinText.js';
import type { StimulusWord } from '../src/types.js';
import { REPO_ROOT } from './helpers/paths.js';

interface GoldWord {
  index: number;
  word: string;
  pos: string;
  content: boolean;
}

const gold = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/pos-gold.json'), 'utf8')) as { words: GoldWord[] }).words;

/** Tag accuracy and content/function accuracy of tagged words against the gold sample. */
function agreement(tagged: StimulusWord[]): { tag: number; content: number } {
  let tag = 0;
  let content = 0;
  for (const g of gold) {
    const w = tagged[g.index]!;
    if (w.pos === g.pos) tag++;
    if (w.isContent === g.content) content++;
  }
  return { tag: tag / gold.length, content: content / gold.length };
}

describe('part of speech', () => {
  // The gold sample lies in the first 5 800 words; tag that stretch as one story.
  const n = 5800;
  let words: StimulusWord[];
  let text: string;
  before(() => {
    const tw = builtinWords(n);
    text = builtinText().slice(0, tw[n - 1]!.end);
    words = tw.map((w, index) => ({ index, word: w.word, story: 0 }));
  });

  it('the gold sample names the built-in words it tags', () => {
    assert.equal(gold.length, 100);
    for (const g of gold) assert.equal(words[g.index]!.word, g.word, `gold word ${g.index}`);
  });

  it('agrees with the hand-tagged sample (measured: tags 0.90, content/function 0.95)', () => {
    const { words: tagged, untagged } = tagStimulusWords(words, new Map([[0, text]]));
    assert.equal(untagged.length, 0);
    const a = agreement(tagged);
    assert.ok(a.tag >= 0.87, `tag accuracy ${a.tag}`);
    assert.ok(a.content >= 0.92, `content accuracy ${a.content}`);
  });

  it('agrees as well on upper-case event words without the text (measured: 0.90, 0.95)', () => {
    const upper = words.map((w) => ({ ...w, word: w.word.toUpperCase() }));
    const a = agreement(tagStimulusWords(upper).words);
    assert.ok(a.tag >= 0.87, `tag accuracy ${a.tag}`);
    assert.ok(a.content >= 0.92, `content accuracy ${a.content}`);
  });

  it('tags a word by its head: contraction host, last part of a hyphenated word', () => {
    const t = 'I don\'t think Ahab\'s sea-captain will say good-bye, sir; I\'ll see.';
    const ev = ['I', "DON'T", 'THINK', "AHAB'S", 'SEA-CAPTAIN', 'WILL', 'SAY', 'GOODBYE', 'SIR', "I'LL", 'SEE', 'TOMORROW'];
    const sw = ev.map((word, index) => ({ index, word, story: 0 }));
    const { words: tagged, untagged } = tagStimulusWords(sw, new Map([[0, t]]));
    const pos = Object.fromEntries(tagged.map((w) => [w.word, w.pos]));
    assert.equal(pos["DON'T"], 'AUX');
    assert.equal(pos["AHAB'S"], 'PROPN');
    assert.equal(pos['SEA-CAPTAIN'], 'NOUN');
    assert.equal(pos["I'LL"], 'PRON');
    assert.equal(pos['THINK'], 'VERB');
    const content = Object.fromEntries(tagged.map((w) => [w.word, w.isContent]));
    assert.deepEqual(
      ev.filter((w) => content[w]),
      ['THINK', 'SEA-CAPTAIN', 'SAY', 'GOODBYE', 'SIR', 'SEE'],
    );
    // A word missing from the text is left untagged and reported.
    assert.equal(tagged[11]!.pos, undefined);
    assert.equal(tagged[11]!.isContent, undefined);
    assert.deepEqual(untagged.map((u) => u.word), ['TOMORROW']);
    // Proper nouns count as content only on request.
    const withPropn = tagStimulusWords(sw, new Map([[0, t]]), { includeProperNouns: true }).words;
    assert.equal(withPropn[3]!.isContent, true);
  });

  it('gives tokens offsets that spell the text back', () => {
    const t = '  "Don\'t," she said—\n\nwell-known.  ';
    const toks = tagText(t);
    for (const k of toks) assert.equal(t.slice(k.start, k.end), k.value);
    assert.deepEqual(toks.map((k) => k.value), ['"', 'Do', "n't", ',', '"', 'she', 'said', '—', '\n\n', 'well', '-', 'known', '.']);
    assert.equal(headTag(toks, t.indexOf('Don'), t.indexOf(','), 0).pos, 'AUX');
  });
});
