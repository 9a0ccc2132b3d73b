/**
 * Text side of LLM feature extraction, on the built-in text (Moby Dick): how long words ↔ text
 * alignment, tokenization and content-word tagging take, and what each context-window mode costs
 * in tokens run through the model per word, for N = 0 … 1000 previous words.
 *
 * The tokenizer is a GPT-2-style byte-level BPE trained here (test/helpers/tokenizers.ts, 1 000
 * merges on the first 100 000 characters), so tokens per word are higher than real GPT-2's (~1.3);
 * the ratios between modes do not depend on that. Events words are the text's words upper-cased,
 * with every 97th dropped and a foreign word inserted every 131st, as an events file would differ.
 *
 * Usage: node dist/bench/textPipeline.js [--words 20000]
 */
import os from 'node:os';
import { builtinText, builtinWords } from '../adapters/text/builtinText.js';
import { loadStimulusTokenizer, tokenizeStory, alignWordsToText } from '../adapters/text/wordAlignment.js';
import { tagStimulusWords } from '../adapters/text/partOfSpeech.js';
import { planContextWindows } from '../adapters/llm/contextWindows.js';
import { writeTokenizer } from '../test/helpers/tokenizers.js';
import { tempDir } from '../test/helpers/paths.js';

const args = process.argv.slice(2);
const i = args.indexOf('--words');
const nWords = i >= 0 ? Number(args[i + 1]) : 20000;
if (!(Number.isInteger(nWords) && nWords >= 1000)) throw new RangeError(`--words must be an integer ≥ 1000, got ${args[i + 1]}`);

const tw = builtinWords(nWords);
const text = builtinText().slice(0, tw[tw.length - 1]!.end);
const events: string[] = [];
tw.forEach((w, k) => {
  if (k % 131 === 65) events.push('ZZYZX');
  if (k % 97 !== 50) events.push(w.word.toUpperCase());
});
const words = events.map((word, index) => ({ index, word, story: 0 }));

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
let t0 = process.hrtime.bigint();
const tokDir = writeTokenizer(tempDir('bench-tok'), 'gpt2', builtinText().slice(0, 100_000), 1000);
const trainMs = ms(t0);
const tok = await loadStimulusTokenizer(tokDir);

t0 = process.hrtime.bigint();
const alignment = alignWordsToText(words, text);
const alignMs = ms(t0);
t0 = process.hrtime.bigint();
const ts = tokenizeStory(tok, words, text);
const tokenizeMs = ms(t0);
t0 = process.hrtime.bigint();
const tagged = tagStimulusWords(words, new Map([[0, text]]));
const tagMs = ms(t0);

const story = [{ story: 0, words, tokenized: ts }];
const windows = [];
for (const N of [0, 10, 50, 100, 200, 500, 1000]) {
  for (const mode of ['exact', 'chunked'] as const) {
    t0 = process.hrtime.bigint();
    const plan = planContextWindows(story, { contextWords: N, mode, prependBos: false });
    windows.push({
      contextWords: N,
      mode,
      chunkWords: plan.chunkWords,
      windows: plan.windows.length,
      tokensPerWord: Number(plan.tokensPerWord.toFixed(2)),
      attentionPerWord: Math.round(plan.attentionCost / plan.nTargets),
      planMs: Number(ms(t0).toFixed(1)),
    });
  }
}

console.log(JSON.stringify({
  bench: 'textPipeline',
  node: process.version,
  cpu: os.cpus()[0]?.model,
  words: words.length,
  textChars: text.length,
  tokens: ts.inputIds.length,
  tokensPerTextWord: Number((ts.inputIds.length / tw.length).toFixed(3)),
  unmatched: alignment.unmatched.length,
  extraTextWords: alignment.extraTextWords.length,
  contentWords: tagged.words.filter((w) => w.isContent).length,
  ms: { trainTokenizer: Math.round(trainMs), align: Math.round(alignMs), tokenizeAndMap: Math.round(tokenizeMs), tagPartOfSpeech: Math.round(tagMs) },
  windows,
}, null, 1));
