/**
 * Writes models/family/family.json, the model family's summary (docs/model-family.md), and prints
 * its table in Markdown:
 *
 *   node dist/adapters/llm/modelFamilyReportMain.js [--context-words 300] [--check]
 *
 * - For each member: parameters, positions, held-out perplexity (at its own window and at the
 *   built-in model's 128-token window), unigram baseline, steps, training seconds, MB on disk
 *   (generated surgery caches not counted), from its config.json and training.json.
 * - The built-in text as `lockstep extract` reads it (its words, the members' shared tokenizer
 *   through the project's own tokenizer path): tokens per word, and the longest exact-mode window of
 *   `--context-words` previous words + the target (the most tokens it takes, where it is), so the
 *   test can check that every member's positions hold that context anywhere in the text.
 * With --check it writes nothing and exits 1 when family.json differs from what it would write.
 *
 * Owns: that summary. Must not: train, export or load the models.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { builtinFolder, familyMembers, familyRoot, type FamilyMember } from '../onnx/builder/modelFamily.js';
import { splitWords } from '../text/builtinText.js';
import { builtinStory, stimulusFromStories } from '../text/stimulusText.js';
import { loadStimulusTokenizer, tokenizeStimulus } from '../text/wordAlignment.js';

export interface ContextSpan {
  contextWords: number;
  /** Most tokens of any window of contextWords previous words + the target (no BOS: GPT-2 has none). */
  maxTokens: number;
  /** The target word (position in the built-in text's words) of that window. */
  atWord: number;
  /** The window's first and last word positions, and its characters [start, end) in builtinText(). */
  words: [number, number];
  chars: [number, number];
  meanTokens: number;
}

/** Bytes of a model folder's committed files (generated surgery caches left out). */
export function folderBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || /^model\.lockstep-hs-/.test(e.name)) continue;
    n += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

async function contextSpan(contextWords: number): Promise<ContextSpan & { words_: number; tokens: number; tokensPerWord: number }> {
  const tok = await loadStimulusTokenizer(builtinFolder());
  const st = stimulusFromStories([builtinStory()]);
  const [tz] = tokenizeStimulus(tok, st.words, st.texts);
  if (!tz || tz.unmatched.length > 0) throw new Error(`built-in text: ${tz?.unmatched.length} words not matched to tokens`);
  const wt = tz.wordTokens;
  let best = -1;
  let at = 0;
  let sum = 0;
  for (let p = 0; p < wt.length; p++) {
    const n = wt[p]![1] - wt[Math.max(0, p - contextWords)]![0];
    sum += n;
    if (n > best) [best, at] = [n, p];
  }
  const offs = splitWords(st.texts.get(0)!).map((w) => [w.start, w.end] as const);
  if (offs.length !== wt.length) throw new Error(`built-in text: ${offs.length} words here, ${wt.length} in the stimulus`);
  const first = Math.max(0, at - contextWords);
  return {
    contextWords, maxTokens: best, atWord: at, words: [first, at], chars: [offs[first]![0], offs[at]![1]], meanTokens: sum / wt.length,
    words_: wt.length, tokens: tz.inputIds.length, tokensPerWord: tz.inputIds.length / wt.length,
  };
}

function memberRow(m: FamilyMember): Record<string, unknown> {
  const t = m.training;
  const at128 = t.heldOutPerplexityByWindow?.['128']?.perplexity ?? null;
  return {
    size: m.size, name: m.name, folder: path.relative(path.dirname(path.dirname(familyRoot())), m.dir).split(path.sep).join('/'),
    hidden: m.config.n_embd, blocks: m.config.n_layer, heads: m.config.n_head, positions: m.positions, parameters: m.parameters,
    heldOutPerplexity: t.heldOutPerplexity, heldOutPerplexityWindow: m.positions, heldOutPerplexityAt128: at128,
    unigramAddOnePerplexity: t.unigramAddOnePerplexity, steps: t.steps, tokensSeen: t.tokensSeen, trainSeconds: t.trainSeconds, trainCpuSeconds: t.trainCpuSeconds,
    bytes: folderBytes(m.dir), command: t.command ?? null,
  };
}

function markdown(rows: Array<Record<string, unknown>>): string {
  const f = (v: unknown, d: number) => (typeof v === 'number' ? v.toFixed(d) : '—');
  const lines = [
    '| model | hidden / blocks / heads | parameters | positions | held-out ppl (own window) | ppl (128-token windows) | steps | train min (CPU) | MB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(`| \`${String(r.name)}\` | ${String(r.hidden)} / ${String(r.blocks)} / ${String(r.heads)} | ${(r.parameters as number).toLocaleString('en-US')} | ${String(r.positions)} | ${f(r.heldOutPerplexity, 1)} | ${f(r.heldOutPerplexityAt128, 1)} | ${String(r.steps)} | ${f((r.trainSeconds as number) / 60, 1)} (${f((r.trainCpuSeconds as number) / 60, 1)}) | ${f((r.bytes as number) / 1e6, 2)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--context-words');
  const contextWords = i >= 0 ? Number(argv[i + 1]) : 300;
  if (!Number.isInteger(contextWords) || contextWords < 0) throw new RangeError('--context-words: a non-negative integer');
  const members = familyMembers();
  if (members.length === 0) throw new Error(`${familyRoot()}: no family members (see docs/model-family.md)`);
  const tokenizerPath = path.join(builtinFolder(), 'tokenizer.json');
  const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  for (const m of members) {
    if (sha(path.join(m.dir, 'tokenizer.json')) !== sha(tokenizerPath)) throw new Error(`${m.dir}: tokenizer.json differs from the built-in model's`);
  }
  const span = await contextSpan(contextWords);
  const rows = members.map(memberRow);
  const summary = {
    generatedBy: 'adapters/llm/modelFamilyReportMain.ts',
    tokenizer: 'models/lockstep-moby-gpt2/tokenizer.json (the built-in model\'s; every member holds an identical copy)',
    tokenizerSha256: sha(tokenizerPath),
    text: 'the built-in text (builtinText(): Moby Dick, Chapter 1 to Epilogue), words as lockstep extract splits them, tokenized as it tokenizes them',
    words: span.words_, tokens: span.tokens, tokensPerWord: span.tokensPerWord,
    contextWindow: { contextWords: span.contextWords, maxTokens: span.maxTokens, meanTokens: span.meanTokens, atWord: span.atWord, words: span.words, chars: span.chars },
    unigramAddOnePerplexity: members[0]!.training.unigramAddOnePerplexity,
    members: rows,
    totalBytes: rows.reduce((a, r) => a + (r.bytes as number), 0),
  };
  const out = path.join(familyRoot(), 'family.json');
  const text = JSON.stringify(summary, null, 1) + '\n';
  if (argv.includes('--check')) {
    const same = fs.existsSync(out) && fs.readFileSync(out, 'utf8') === text;
    process.stdout.write(same ? `${out}: up to date\n` : `${out}: out of date (run without --check)\n`);
    process.exit(same ? 0 : 1);
  }
  fs.writeFileSync(out, text);
  process.stdout.write(`${markdown(rows)}\n\nbuilt-in text: ${span.words_} words, ${span.tokens} tokens (${span.tokensPerWord.toFixed(3)} per word); ` +
    `${contextWords} words of context + the target take at most ${span.maxTokens} tokens (mean ${span.meanTokens.toFixed(0)}), at word ${span.atWord}\nwrote ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`modelFamilyReport: ${(err as Error).message}\n`);
  process.exit(1);
});
