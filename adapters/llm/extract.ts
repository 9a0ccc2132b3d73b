/**
 * Per-word, per-layer language-model features of a stimulus, written to the activation cache
 * (activationCache.ts): load the model folder (surgery + runner, loadModel.ts) → read the stimulus
 * (a text file, `builtin` for Moby Dick, or a BIDS events.tsv) → content-word tags → words ↔ tokens
 * → context windows (exact or chunked) → extraction → PCA → cache.
 *
 * Owns: one extraction run and its summary. Must not: print (callers get progress and warnings
 * through `ExtractReport`) or parse options (cli/extract.ts does).
 */
import { createHash } from 'node:crypto';
import { splitWords } from '../text/builtinText.js';
import { tagStimulusWords } from '../text/partOfSpeech.js';
import { builtinStory, readStimulusText, stimulusFromEvents, stimulusFromStories, type Stimulus, type StimulusStory } from '../text/stimulusText.js';
import { tokenizeStimulus } from '../text/wordAlignment.js';
import type { BackendName } from '../../src/linalg/backend.js';
import { createBackend } from '../../src/linalg/select.js';
import { allLayers, DEFAULT_DEPTHS, describeDuplicates, layersForDepths } from '../../src/llm/depths.js';
import type { StimulusWord } from '../../src/types.js';
import { planContextWindows } from './contextWindows.js';
import { runExtraction, type ExtractionProgress } from './extraction.js';
import type { Aggregation, StoryStimulus } from './extractor.js';
import { loadLanguageModel, type RunnerChoice } from './loadModel.js';
import { readEventWords } from './stimulusEvents.js';

/** Where an extraction's progress and warnings go (the command line prints them). */
export interface ExtractReport {
  progress?(p: ExtractionProgress): void;
  warn?(line: string): void;
}

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
  /** Stops the extraction at the next window, keeping the checkpoint (the CLI wires SIGINT to it). */
  signal?: AbortSignal;
  /**
   * Refuse (ContextLengthError, before any model pass) when the model's positions cannot hold the
   * full context of more than this fraction of the words (exact context lengths, as the context
   * experiment needs them; 0 = every word). Unset: no check (context is cut at the left, counted).
   */
  maxContextCutFraction?: number;
}

/** The context asked for does not fit the model's positions for every word. */
export class ContextLengthError extends RangeError {
  override name = 'ContextLengthError';
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
  /** Stimulus indices of the words whose context the model's positions cut. */
  truncatedContextIndices: number[];
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

export async function runExtract(o: ExtractOptions, report: ExtractReport = {}): Promise<ExtractSummary> {
  const t0 = performance.now();
  const loaded = await loadLanguageModel(o.model, { allowDownload: o.allowDownload, runner: o.runner, threads: o.threads });
  const { model } = loaded;
  try {
    const sel = o.allLayers ? allLayers(model.nBlocks) : layersForDepths(o.depths ?? DEFAULT_DEPTHS, model.nBlocks);
    const duplicateLayers = describeDuplicates(sel, model.nBlocks);
    if (duplicateLayers) report.warn?.(duplicateLayers);

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
    if (o.maxContextCutFraction !== undefined && plan.truncatedTargets > o.maxContextCutFraction * plan.nTargets) {
      throw new ContextLengthError(
        `context ${o.context} words does not fit ${o.model}: its ${loaded.maxTokens} positions cut the context of ${plan.truncatedTargets} of ${plan.nTargets} words (more than ${(o.maxContextCutFraction * 100).toFixed(0)} %); ` +
          `the longest context that fits every word of this text is ${plan.shortestTruncatedContext} words`,
      );
    }
    const unmatched = tokenized.flatMap((t) => t.unmatched);
    const textHash = stimulusHash(words, stimulus.texts);
    const backend = await createBackend(o.backend ?? 'auto');
    let extractRate: number | null = null;
    const onProgress = (p: ExtractionProgress) => {
      if (p.phase === 'extract') extractRate = p.wordsPerSec;
      report.progress?.(p);
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
      truncatedContextIndices: plan.truncatedWords,
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
