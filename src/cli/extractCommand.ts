/**
 * `lockstep extract`: per-word, per-layer LLM features of a stimulus text, written to the activation
 * cache (adapters/llm/activationCache.ts) for `decode` and the live pipeline.
 *
 * Steps: load the model folder (surgery + runner, adapters/llm/loadModel.ts) → read the stimulus
 * (a text file, `builtin` for Moby Dick, or a BIDS events.tsv) → content-word tags → words ↔ tokens
 * → context windows (exact or chunked) → extraction with progress on stderr → PCA → cache.
 *
 * Owns: option parsing and the JSON summary. Must not: hold extraction logic (adapters/llm does).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { planContextWindows } from '../../adapters/llm/contextWindows.js';
import { runExtraction, type ExtractionProgress } from '../../adapters/llm/extraction.js';
import { AGGREGATIONS, type Aggregation, type StoryStimulus } from '../../adapters/llm/extractor.js';
import { loadLanguageModel, RUNNER_CHOICES, type RunnerChoice } from '../../adapters/llm/loadModel.js';
import type { StimulusWord } from '../../adapters/llm/types.js';
import { splitWords } from '../../adapters/text/builtinText.js';
import { tagStimulusWords } from '../../adapters/text/partOfSpeech.js';
import { builtinStory, readStimulusText, stimulusFromEvents, stimulusFromStories, type Stimulus, type StimulusStory } from '../../adapters/text/stimulusText.js';
import { tokenizeStimulus } from '../../adapters/text/wordAlignment.js';
import { BACKEND_NAMES, type BackendName } from '../linalg/backend.js';
import { createBackend } from '../linalg/select.js';
import { allLayers, DEFAULT_DEPTHS, describeDuplicates, layersForDepths } from '../llm/depths.js';
import { progressReporter } from './progress.js';
import { resolveModel } from './features.js';
import { readEventWords } from '../../adapters/llm/stimulusEvents.js';

export interface ExtractOptions {
  model: string;
  text: string;
  /** Original story texts to pair with the runs of an events.tsv (in run order). */
  storyText?: string[];
  context: number;
  mode: 'exact' | 'chunked';
  chunkWords?: number;
  depths?: number[];
  allLayers?: boolean;
  aggregate: Aggregation;
  pca: number | 'none';
  keepRaw?: boolean;
  out: string;
  maxWords?: number;
  allowDownload?: boolean;
  runner?: RunnerChoice;
  /** onnxruntime threads of the transformers.js runner (default 1). */
  threads?: number;
  backend?: 'auto' | BackendName;
  checkpointEvery?: number;
  includeProperNouns?: boolean;
  quiet?: boolean;
  /** Stops the extraction at the next window, keeping the checkpoint (the CLI wires SIGINT to it). */
  signal?: AbortSignal;
  /** Progress as it happens (in addition to the bar on stderr). */
  onProgress?: (p: ExtractionProgress) => void;
}

export interface ExtractSummary {
  cacheDir: string;
  fromCache: boolean;
  words: number;
  contentWords: number;
  layers: number[];
  depths: number[];
  duplicateLayers: string | null;
  dims: number;
  hiddenSize: number;
  nBlocks: number;
  /** Tokens run through the model per extracted word (mean). */
  tokensPerWord: number;
  tokensProcessed: number;
  windows: number;
  resumedWords: number;
  computedWords: number;
  seconds: number;
  /** Words computed per second of extraction (model passes only), this run. */
  wordsPerSec: number | null;
  unmatchedWords: Array<{ index: number; word: string; reason: string }>;
  truncatedContextWords: number;
  runner: string;
  runnerNote: string;
  modelHash: string;
  textHash: string;
  explainedVarianceRatio: number[] | null;
}

/** The first `maxWords` words of the stories, cutting the texts right after the last kept word. */
function truncateStories(stories: StimulusStory[], maxWords: number): StimulusStory[] {
  const out: StimulusStory[] = [];
  let left = maxWords;
  for (const s of stories) {
    if (left <= 0) break;
    const words = splitWords(s.text);
    if (words.length <= left) {
      out.push(s);
      left -= words.length;
    } else {
      out.push({ ...s, text: s.text.slice(0, words[left - 1].end) });
      left = 0;
    }
  }
  return out;
}

function loadStimulus(o: ExtractOptions): Stimulus {
  if (/\.tsv$/i.test(o.text)) {
    const events = readEventWords(o.text);
    const stories = o.storyText ? readStimulusText(o.storyText) : undefined;
    const s = stimulusFromEvents(events, stories);
    if (o.maxWords !== undefined) s.words = s.words.slice(0, o.maxWords);
    return s;
  }
  let stories = o.text === 'builtin' ? [builtinStory()] : readStimulusText([o.text]);
  if (o.maxWords !== undefined) stories = truncateStories(stories, o.maxWords);
  return stimulusFromStories(stories);
}

/** A hash of what the model reads: words (with stories and tags) and the story texts. */
function stimulusHash(words: readonly StimulusWord[], texts: ReadonlyMap<number, string>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(words.map((w) => [w.index, w.story, w.word, w.isContent ?? null])));
  h.update(JSON.stringify([...texts.entries()].sort((a, b) => a[0] - b[0])));
  return h.digest('hex');
}

export async function runExtract(o: ExtractOptions, stderr: NodeJS.WriteStream | null = process.stderr): Promise<ExtractSummary> {
  const t0 = performance.now();
  const loaded = await loadLanguageModel(o.model, { allowDownload: o.allowDownload, runner: o.runner, threads: o.threads });
  const { model } = loaded;
  try {
    const sel = o.allLayers ? allLayers(model.nBlocks) : layersForDepths(o.depths ?? DEFAULT_DEPTHS, model.nBlocks);
    const duplicateLayers = describeDuplicates(sel, model.nBlocks);
    if (duplicateLayers && stderr && !o.quiet) stderr.write(`extract: warning: ${duplicateLayers}\n`);

    const stimulus = loadStimulus(o);
    if (stimulus.words.length === 0) throw new RangeError(`${o.text}: no words`);
    const tagged = tagStimulusWords(stimulus.words, stimulus.texts, { includeProperNouns: o.includeProperNouns });
    const words = tagged.words;
    const tokenized = tokenizeStimulus(loaded.tokenizer, words, stimulus.texts);
    const storyWords = new Map<number, StimulusWord[]>();
    for (const w of words) storyWords.set(w.story, [...(storyWords.get(w.story) ?? []), w]);
    const stories: StoryStimulus[] = tokenized.map((t) => ({ story: t.story, words: storyWords.get(t.story)!, tokens: t }));
    const bos = loaded.tokenizer.bosTokenId;
    const plan = planContextWindows(
      stories.map((s) => ({ story: s.story, words: s.words, tokenized: s.tokens })),
      { contextWords: o.context, mode: o.mode, chunkWords: o.chunkWords, prependBos: bos !== null, maxTokens: loaded.maxTokens ?? undefined },
    );
    const unmatched = tokenized.flatMap((t) => t.unmatched);
    const textHash = stimulusHash(words, stimulus.texts);
    const backend = await createBackend(o.backend ?? 'auto');
    const bar = progressReporter(o.quiet ? null : stderr, 'extract');
    let extractRate: number | null = null;
    const onProgress = (p: ExtractionProgress) => {
      o.onProgress?.(p);
      if (p.phase === 'extract') extractRate = p.wordsPerSec;
      const what = p.phase === 'extract' ? 'words' : p.phase === 'done' ? 'done' : p.phase.replace('pca-', 'PCA ') + ' pass';
      // The reporter adds elapsed time and the ETA from the fraction.
      bar.update(`${what} ${p.wordsDone}/${p.wordsTotal} (${p.wordsPerSec.toFixed(1)} words/s)`, p.wordsTotal > 0 ? p.wordsDone / p.wordsTotal : 1);
    };
    let result;
    try {
      result = await runExtraction({
        model,
        stories,
        windows: plan.windows,
        key: { textHash, context: o.context, mode: o.mode, chunkWords: o.mode === 'chunked' ? plan.chunkWords : null, layers: sel.layers, depths: sel.depths, aggregate: o.aggregate, pca: o.pca, bosTokenId: bos },
        cacheRoot: o.out,
        checkpointEvery: o.checkpointEvery,
        backend,
        keepRaw: o.keepRaw,
        onProgress,
        signal: o.signal,
      });
    } finally {
      bar.done();
      await backend.dispose();
    }
    const m = result.manifest;
    return {
      cacheDir: result.dir,
      fromCache: result.fromCache,
      words: m.nWords,
      contentWords: words.filter((w) => w.isContent === true).length,
      layers: m.layers,
      depths: m.depths,
      duplicateLayers,
      dims: m.nDims,
      hiddenSize: m.hiddenSize,
      nBlocks: m.nBlocks,
      tokensPerWord: m.meanTokensPerWord,
      tokensProcessed: result.fromCache ? 0 : plan.tokensProcessed,
      windows: plan.windows.length,
      resumedWords: result.resumedWords,
      computedWords: result.computedWords,
      seconds: (performance.now() - t0) / 1000,
      wordsPerSec: result.fromCache ? null : extractRate,
      unmatchedWords: unmatched,
      truncatedContextWords: plan.truncatedTargets,
      runner: loaded.runner,
      runnerNote: loaded.runnerNote,
      modelHash: model.modelHash,
      textHash,
      explainedVarianceRatio: m.explainedVarianceRatio,
    };
  } finally {
    await model.dispose();
  }
}

function nonNegativeInt(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return v;
}

function positiveInt(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return v;
}

function depthList(value: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  const bad = out.findIndex((v) => !Number.isFinite(v) || v < 0 || v > 1);
  if (value.trim() === '' || bad >= 0) throw new InvalidArgumentError(`expected comma-separated relative depths in [0, 1], got "${value}"${bad >= 0 ? ` (item ${bad + 1})` : ''}`);
  return out;
}

function pcaSetting(value: string): number | 'none' {
  if (value === 'none') return 'none';
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`expected a number of components (e.g. 50) or "none", got "${value}"`);
  return v;
}

function printSummary(s: ExtractSummary): void {
  const lines = [
    `${s.fromCache ? 'found' : 'wrote'} ${s.cacheDir}`,
    `${s.words} words (${s.contentWords} content), layers ${s.layers.join(',')} of ${s.nBlocks} blocks, ${s.dims} dims per layer`,
    `${s.tokensPerWord.toFixed(2)} tokens per word, ${s.windows} windows, ${s.seconds.toFixed(1)} s${s.wordsPerSec ? `, ${s.wordsPerSec.toFixed(1)} words/s` : ''}`,
    `runner: ${s.runner} (${s.runnerNote})`,
  ];
  if (s.unmatchedWords.length > 0) lines.push(`${s.unmatchedWords.length} words not found in the text (no features): first "${s.unmatchedWords[0].word}" (word ${s.unmatchedWords[0].index}: ${s.unmatchedWords[0].reason})`);
  process.stdout.write(lines.join('\n') + '\n');
}

/** Adds `extract` to the program. */
export function registerExtractCommand(program: Command): void {
  program
    .command('extract')
    .description(
      'Per-word, per-layer language-model features of a stimulus (mean over each word\'s tokens, PCA per layer), cached on disk.\n' +
        'Layer for depth d: hidden state round(d × L), 0 = embedding output (L = blocks). Resumes an interrupted run.',
    )
    .requiredOption('--model <folder>', 'model folder (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx), builtin (the shipped model), family:<xs|s|m|l> (the model family) or <name>-untrained[:seed] (a random-weights twin, e.g. family:s-untrained:2)')
    .requiredOption('--text <file>', 'stimulus: a UTF-8 text file (=== title === lines split stories), an events.tsv, or "builtin" (Moby Dick)')
    .option('--story-text <files...>', 'with an events.tsv: the original text of each run, in run order')
    .option('--context <words>', 'previous words of context per word (paper: 50)', nonNegativeInt, 50)
    .addOption(new Option('--mode <mode>', 'exact: one window per word; chunked: blocks of words share a window (≥ context words each)').choices(['exact', 'chunked']).default('exact'))
    .option('--chunk-words <n>', 'chunked mode: words per block (default: the context)', positiveInt)
    .option('--depths <list>', 'relative depths (default 0.1,…,0.9)', depthList)
    .option('--all-layers', 'every hidden state 0…L instead of depths')
    .addOption(new Option('--aggregate <how>', "a word's vector from its tokens").choices([...AGGREGATIONS]).default('mean'))
    .option('--pca <n|none>', 'PCA components per layer, fit on all words, or "none" for raw dims', pcaSetting, 50 as number | 'none')
    .option('--keep-raw', 'keep raw.npy (raw activations) next to the PCA scores')
    .requiredOption('--out <dir>', 'cache root: the cache goes to <dir>/<key hash>/')
    .option('--max-words <n>', 'only the first n words of the stimulus', positiveInt)
    .addOption(new Option('--runner <name>', 'forward passes through transformers.js or onnxruntime-node (auto: transformers.js when it agrees)').choices([...RUNNER_CHOICES]).default('auto'))
    .option('--threads <n>', 'onnxruntime threads for the transformers.js runner (1 is fastest for small models)', positiveInt, 1)
    .addOption(new Option('--backend <name>', 'linear-algebra backend for PCA').choices(['auto', ...BACKEND_NAMES]).default('auto'))
    .option('--checkpoint-every <words>', 'checkpoint the cache every n words', positiveInt, 256)
    .option('--include-proper-nouns', 'count PROPN as content words')
    .option('--allow-download', 'let transformers.js fetch a Hugging Face hub id (needs network; off by default)')
    .option('--json', 'print one JSON object on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (opts) => {
      const out = path.resolve(opts.out as string);
      // RangeError: main.ts exits with status 2 (bad input) for these.
      if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new RangeError(`--out ${out}: exists and is not a folder; give a folder for the cache`);
      if (opts.text !== 'builtin' && !fs.existsSync(opts.text)) throw new RangeError(`--text ${opts.text}: no such file; give a text file, an events.tsv or "builtin"`);
      // builtin, family:<size> and <name>-untrained[:seed] name the shipped models and their random-weights twins.
      opts.model = await resolveModel(opts.model as string);
      if (!fs.existsSync(opts.model) && !opts.allowDownload) throw new RangeError(`--model ${opts.model}: no such folder; give a model folder (config.json, tokenizer.json, onnx/model.onnx), builtin, family:<size> or <name>-untrained`);
      if (opts.allLayers && opts.depths) throw new RangeError('give --depths or --all-layers, not both');
      // Ctrl-C: stop after the current window with a checkpoint, so the same command resumes.
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      const summary = await runExtract({
        signal: stop.signal,
        model: opts.model,
        text: opts.text,
        storyText: opts.storyText,
        context: opts.context,
        mode: opts.mode,
        chunkWords: opts.chunkWords,
        depths: opts.depths,
        allLayers: opts.allLayers,
        aggregate: opts.aggregate,
        pca: opts.pca,
        keepRaw: opts.keepRaw,
        out,
        maxWords: opts.maxWords,
        allowDownload: opts.allowDownload,
        runner: opts.runner,
        threads: opts.threads,
        backend: opts.backend,
        checkpointEvery: opts.checkpointEvery,
        includeProperNouns: opts.includeProperNouns,
        quiet: opts.quiet,
      }).finally(() => process.off('SIGINT', onSigint));
      if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else printSummary(summary);
    });
}
