/**
 * Per-word, per-layer language-model features of a stimulus, written to the activation cache
 * (activationCache.ts): load the model folder (surgery + runner, loadModel.ts) → read the stimulus
 * (a text file, `builtin` for Moby Dick, or a BIDS events.tsv) → content-word tags → words ↔ tokens
 * → context windows (exact or chunked) → extraction → PCA → cache.
 *
 * In three steps, so that one loaded model serves several stimuli and callers learn the words (and
 * their tags) before the features exist: `openExtractionSession` (model, extraction workers),
 * `prepareStimulus` (words, tags, tokens, windows, the PCA basis's size; a reference basis is
 * resolved here), `executeExtract` (the extraction itself, streaming rows to `onRows` when the basis
 * is fixed). `runExtract` does all three for one stimulus.
 *
 * Owns: one extraction run and its summary. Must not: print (callers get progress and warnings
 * through `ExtractReport`) or parse options (cli/extract.ts does).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { splitWords } from '../text/builtinText.js';
import { tagStimulusWords } from '../text/partOfSpeech.js';
import { builtinStory, readStimulusText, stimulusFromEvents, stimulusFromStories, type Stimulus, type StimulusStory } from '../text/stimulusText.js';
import { tokenizeStimulus } from '../text/wordAlignment.js';
import type { BackendName, LinalgBackend } from '../../src/linalg/backend.js';
import { createBackend } from '../../src/linalg/select.js';
import { componentsFor } from '../../src/llm/pca.js';
import { allLayers, DEFAULT_DEPTHS, describeDuplicates, layersForDepths } from '../../src/llm/depths.js';
import type { HiddenStateModel, StimulusWord } from '../../src/types.js';
import { resolveDevice, type DeviceChoice } from '../onnx/devices.js';
import { planContextWindows, type ContextPlan } from './contextWindows.js';
import { ExtractionPool, poolExtractWords } from './extractionPool.js';
import { runExtraction, type ExtractionProgress, type StreamedRows } from './extraction.js';
import { extractWords, type Aggregation, type StoryStimulus } from './extractor.js';
import { loadLanguageModel, type LoadedLanguageModel, type RunnerChoice } from './loadModel.js';
import { basisComponents, basisHash, describePcaFit, fitBasis, readBasis, REFERENCE_TEXT_WORDS, sampleWindows, writeBasis, type PcaBasis, type PcaFitChoice } from './pcaBasis.js';
import { readEventWords } from './stimulusEvents.js';
import { DEFAULT_BATCH_TOKENS, planWindowBatches } from './windowBatches.js';

/** Where an extraction's progress and warnings go (the command line prints them). */
export interface ExtractReport {
  progress?(p: ExtractionProgress): void;
  warn?(line: string): void;
}

/** How forward passes are computed (never part of the cache key: the numbers agree to float rounding). */
export interface ComputeOptions {
  allowDownload?: boolean;
  runner?: RunnerChoice;
  /**
   * onnxruntime threads per session: of each extraction worker (default ⌊cores / workers⌋), or of
   * the in-thread transformers.js runner with `workers: 0` (default 1).
   */
  threads?: number;
  /** Extraction worker threads (default min(2, cores)); 0 = this thread, with the chosen runner. */
  workers?: number;
  /** Most padded tokens per forward pass (default 4096); 0 = one window per pass. */
  batchTokens?: number;
  /** Where the workers' sessions run: cpu (default), cuda, or auto (cuda when usable). */
  device?: DeviceChoice;
  backend?: 'auto' | BackendName;
}

export interface ExtractOptions extends ComputeOptions {
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
  /** How the PCA basis is fit (pcaBasis.ts). Default all words. */
  pcaFit?: PcaFitChoice;
  keepRaw?: boolean;
  out: string;
  maxWords?: number;
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
  /** Forward passes the windows were grouped into. */
  batches: number;
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
  /** Where the passes ran: workers × threads, device, batch size. */
  compute: string;
  /** all, sample:N or reference:N (pcaBasis.ts); "none" without PCA. */
  pcaFit: string;
  modelHash: string;
  textHash: string;
  explainedVarianceRatio: number[] | null;
}

/** A loaded model and where its forward passes run; one session serves several stimuli. */
export interface ExtractionSession {
  loaded: LoadedLanguageModel;
  /** Worker threads computing batches, or null (this thread). */
  pool: ExtractionPool | null;
  backend: LinalgBackend;
  batchTokens: number;
  /** Where passes run, in words. */
  compute: string;
  close(): Promise<void>;
}

/** A model's sizes and hash without its session (passes run on the workers). */
function describedOnly(m: HiddenStateModel): HiddenStateModel {
  const { nBlocks, hiddenSize, vocabSize, modelHash } = m;
  return {
    nBlocks,
    hiddenSize,
    vocabSize,
    modelHash,
    forward: () => Promise.reject(new Error('this model runs on the extraction workers (its session in this thread was released)')),
    dispose: async () => undefined,
  };
}

/** Loads the model and starts the extraction workers. */
export async function openExtractionSession(o: ComputeOptions & { model: string }): Promise<ExtractionSession> {
  const workers = o.workers;
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0)) throw new RangeError(`workers must be a non-negative integer, got ${workers}`);
  const batchTokens = o.batchTokens ?? DEFAULT_BATCH_TOKENS;
  if (!(Number.isInteger(batchTokens) && batchTokens >= 0)) throw new RangeError(`batchTokens must be a non-negative integer (0: one window per pass), got ${batchTokens}`);
  const inThread = workers === 0;
  const device = await resolveDevice(o.device ?? 'cpu');
  // In this thread, the device applies to the transformers.js runner; otherwise to the workers.
  let loaded = await loadLanguageModel(o.model, { allowDownload: o.allowDownload, runner: o.runner, threads: inThread ? o.threads : 1, device: inThread ? device : 'cpu' });
  let pool: ExtractionPool | null = null;
  let backend: LinalgBackend | null = null;
  try {
    if (!inThread && loaded.recipe) pool = await ExtractionPool.start(loaded.recipe, { workers, threads: o.threads, device });
    backend = await createBackend(o.backend ?? 'auto');
  } catch (e) {
    await pool?.close();
    await loaded.model.dispose();
    throw e;
  }
  if (pool) {
    // The workers run every pass: this thread's session would only hold a copy of the weights.
    await loaded.model.dispose();
    loaded = { ...loaded, model: describedOnly(loaded.model) };
  }
  const batched = batchTokens > 0 && (pool !== null || typeof loaded.model.forwardBatch === 'function');
  const passes = batched ? `batches of ≤ ${batchTokens} padded tokens` : 'one window per pass';
  const compute = pool
    ? `${pool.workers} worker thread(s) × ${pool.threads} onnxruntime thread(s) on ${pool.device}, ${passes}`
    : `this thread (${loaded.runner}${!inThread && !loaded.recipe ? '; the graph takes no batch, so no workers' : ''}), ${passes}`;
  const b = backend;
  return {
    loaded,
    pool,
    backend: b,
    batchTokens,
    compute,
    async close() {
      await pool?.close();
      await b.dispose();
      await loaded.model.dispose();
    },
  };
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

function loadStimulus(o: Pick<ExtractOptions, 'text' | 'storyText' | 'maxWords'>): Stimulus {
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

/** A stimulus ready to extract: its words, windows, and what its features will look like. */
export interface PreparedStimulus {
  /** Every stimulus word, tagged (content or not), in index order. */
  words: StimulusWord[];
  stories: StoryStimulus[];
  plan: ContextPlan;
  layers: number[];
  depths: number[];
  duplicateLayers: string | null;
  unmatched: Array<{ index: number; word: string; reason: string }>;
  textHash: string;
  /** Stimulus word index of each feature row, in the order rows are computed. */
  rowWords: number[];
  /** Dims per layer of the features. */
  dims: number;
  pcaFit: PcaFitChoice;
  /** The reference basis, resolved (fit or read from its cache) when pcaFit is reference. */
  referenceBasis: PcaBasis | null;
}

type StimulusOptions = Partial<Pick<ExtractOptions, 'model' | 'maxContextCutFraction'>> & Pick<ExtractOptions, 'text' | 'storyText' | 'maxWords' | 'context' | 'mode' | 'chunkWords' | 'depths' | 'allLayers' | 'aggregate' | 'pca' | 'pcaFit' | 'includeProperNouns' | 'out' | 'signal'>;

function windowPlan(session: ExtractionSession, stories: readonly StoryStimulus[], o: Pick<ExtractOptions, 'context' | 'mode' | 'chunkWords'>): ContextPlan {
  const { loaded } = session;
  return planContextWindows(
    stories.map((s) => ({ story: s.story, words: s.words, tokenized: s.tokens })),
    { contextWords: o.context, mode: o.mode, chunkWords: o.chunkWords, prependBos: loaded.tokenizer.bosTokenId !== null, maxTokens: loaded.maxTokens ?? undefined },
  );
}

function storiesOf(session: ExtractionSession, stimulus: Stimulus, words: StimulusWord[]) {
  const tokenized = tokenizeStimulus(session.loaded.tokenizer, words, stimulus.texts);
  const storyWords = new Map<number, StimulusWord[]>();
  // Appended in place: copying the story's list for every word was quadratic (4 minutes for a
  // 130,000-word story, bench/tenHours.ts).
  for (const w of words) {
    const list = storyWords.get(w.story);
    if (list) list.push(w);
    else storyWords.set(w.story, [w]);
  }
  const stories: StoryStimulus[] = tokenized.map((t) => ({ story: t.story, words: storyWords.get(t.story)!, tokens: t }));
  return { tokenized, stories };
}

/** Words, tags, tokens and windows of a stimulus, and the size (and, for `reference`, the basis) of its PCA. */
export async function prepareStimulus(session: ExtractionSession, o: StimulusOptions, report: ExtractReport = {}): Promise<PreparedStimulus> {
  const { model } = session.loaded;
  const sel = o.allLayers ? allLayers(model.nBlocks) : layersForDepths(o.depths ?? DEFAULT_DEPTHS, model.nBlocks);
  const duplicateLayers = describeDuplicates(sel, model.nBlocks);
  if (duplicateLayers) report.warn?.(duplicateLayers);
  const stimulus = loadStimulus(o);
  if (stimulus.words.length === 0) throw new RangeError(`${o.text}: no words`);
  const words = tagStimulusWords(stimulus.words, stimulus.texts, { includeProperNouns: o.includeProperNouns }).words;
  const { tokenized, stories } = storiesOf(session, stimulus, words);
  const plan = windowPlan(session, stories, o);
  if (o.maxContextCutFraction !== undefined && plan.truncatedTargets > o.maxContextCutFraction * plan.nTargets) {
    throw new ContextLengthError(
      `context ${o.context} words does not fit ${o.model ?? session.loaded.folder}: its ${session.loaded.maxTokens} positions cut the context of ${plan.truncatedTargets} of ${plan.nTargets} words (more than ${(o.maxContextCutFraction * 100).toFixed(0)} %); ` +
        `the longest context that fits every word of this text is ${plan.shortestTruncatedContext} words`,
    );
  }
  const rowWords = plan.windows.flatMap((w) => w.targetWords);
  const pcaFit: PcaFitChoice = o.pca === 'none' ? { kind: 'all' } : (o.pcaFit ?? { kind: 'all' });
  let referenceBasis: PcaBasis | null = null;
  let dims = model.hiddenSize;
  if (o.pca !== 'none') {
    if (pcaFit.kind === 'all') dims = componentsFor(o.pca, Math.max(1, rowWords.length), model.hiddenSize);
    else if (pcaFit.kind === 'sample') {
      const sampled = sampleWindows(plan.windows, pcaFit.words).reduce((n, i) => n + plan.windows[i]!.targetWords.length, 0);
      dims = basisComponents(o.pca, Math.max(1, sampled), model.hiddenSize);
    } else {
      referenceBasis = await resolveReferenceBasis(session, { ...o, pca: o.pca, words: pcaFit.words, layers: sel.layers }, report);
      dims = referenceBasis.fits[0]!.nComponents;
    }
  }
  return {
    words,
    stories,
    plan,
    layers: sel.layers,
    depths: sel.depths,
    duplicateLayers,
    unmatched: tokenized.flatMap((t) => t.unmatched),
    textHash: stimulusHash(words, stimulus.texts),
    rowWords,
    dims,
    pcaFit,
    referenceBasis,
  };
}

/**
 * The reference basis for this model and setting: read from `<out>/pca-reference/<setting>/`, or
 * fit on `words` words spread over the first REFERENCE_TEXT_WORDS words of the built-in text and
 * stored there.
 */
export async function resolveReferenceBasis(
  session: ExtractionSession,
  o: Pick<ExtractOptions, 'context' | 'mode' | 'chunkWords' | 'aggregate' | 'out' | 'signal'> & { pca: number; words: number; layers: number[] },
  report: ExtractReport = {},
): Promise<PcaBasis> {
  const { loaded } = session;
  const bos = loaded.tokenizer.bosTokenId;
  const setting = { modelHash: loaded.model.modelHash, text: `builtin:${REFERENCE_TEXT_WORDS}`, context: o.context, mode: o.mode, chunkWords: o.mode === 'chunked' ? (o.chunkWords ?? null) : null, layers: o.layers, aggregate: o.aggregate, pca: o.pca, bos, words: o.words };
  const dir = path.join(o.out, 'pca-reference', createHash('sha256').update(JSON.stringify(setting)).digest('hex').slice(0, 24));
  const known = readBasis(dir);
  if (known) return known;
  const stimulus = stimulusFromStories(truncateStories([builtinStory()], REFERENCE_TEXT_WORDS));
  const { stories } = storiesOf(session, stimulus, stimulus.words);
  const plan = windowPlan(session, stories, o);
  const sample = sampleWindows(plan.windows, o.words).map((i) => plan.windows[i]!);
  const nWords = sample.reduce((n, w) => n + w.targetWords.length, 0);
  const H = loaded.model.hiddenSize;
  const nL = o.layers.length;
  const raw = new Float32Array(nWords * nL * H);
  const opts = { layers: o.layers, aggregate: o.aggregate, bosTokenId: bos ?? undefined };
  const batches = session.batchTokens > 0 ? planWindowBatches(sample, { maxBatchTokens: session.batchTokens, prependBos: bos !== null }) : undefined;
  const source = session.pool ? poolExtractWords(session.pool, stories, sample, opts, batches ?? sample.map((_, i) => [i])) : extractWords(loaded.model, stories, sample, opts, 0, batches);
  let r = 0;
  const t0 = performance.now();
  for await (const { words } of source) {
    for (const w of words) raw.set(w.activations, (r++) * nL * H);
    const sec = (performance.now() - t0) / 1000;
    report.progress?.({ phase: 'pca-sample', wordsDone: r, wordsTotal: nWords, wordsPerSec: sec > 0 ? r / sec : 0, etaSec: null, elapsedSec: sec });
    if (o.signal?.aborted) throw new Error('extraction stopped while fitting the reference PCA basis; rerun to start again');
  }
  const basis = await fitBasis(raw, nWords, nL, H, o.pca, session.backend, `reference:${nWords} words spread over the first ${REFERENCE_TEXT_WORDS} words of the built-in text`);
  writeBasis(dir, basis);
  return basis;
}

/** Runs (or resumes, or finds) the extraction of a prepared stimulus. */
export async function executeExtract(
  session: ExtractionSession,
  prepared: PreparedStimulus,
  o: Pick<ExtractOptions, 'context' | 'mode' | 'aggregate' | 'pca' | 'keepRaw' | 'out' | 'checkpointEvery' | 'signal'>,
  report: ExtractReport = {},
  onRows?: (rows: StreamedRows) => void,
): Promise<ExtractSummary> {
  const t0 = performance.now();
  const { loaded, pool } = session;
  const { model } = loaded;
  const { plan, pcaFit } = prepared;
  if (o.keepRaw && pcaFit.kind !== 'all') throw new RangeError('--keep-raw keeps the raw activations of an all-words PCA fit; with a fixed basis (sample or reference) rows are projected as they are computed');
  const bos = loaded.tokenizer.bosTokenId;
  let extractRate: number | null = null;
  const onProgress = (p: ExtractionProgress) => {
    if (p.phase === 'extract') extractRate = p.wordsPerSec;
    report.progress?.(p);
  };
  const fixedBasis = o.pca === 'none' || pcaFit.kind === 'all' ? undefined : pcaFit.kind === 'sample' ? { kind: 'sample' as const, words: pcaFit.words } : { kind: 'reference' as const, basis: prepared.referenceBasis! };
  const keyFit = !fixedBasis ? undefined : fixedBasis.kind === 'sample' ? `sample:${fixedBasis.words}` : `reference:${pcaFit.kind === 'reference' ? pcaFit.words : 0}@${basisHash(fixedBasis.basis)}`;
  const batching = session.batchTokens > 0 && (pool || typeof model.forwardBatch === 'function') ? { maxBatchTokens: session.batchTokens } : ('none' as const);
  const result = await runExtraction({
    model,
    stories: prepared.stories,
    windows: plan.windows,
    key: { textHash: prepared.textHash, context: o.context, mode: o.mode, chunkWords: o.mode === 'chunked' ? plan.chunkWords : null, layers: prepared.layers, depths: prepared.depths, aggregate: o.aggregate, pca: o.pca, bosTokenId: bos, ...(keyFit ? { pcaFit: keyFit } : {}) },
    cacheRoot: o.out,
    checkpointEvery: o.checkpointEvery,
    backend: session.backend,
    keepRaw: o.keepRaw,
    onProgress,
    signal: o.signal,
    batching,
    pool: pool ?? undefined,
    fixedBasis,
    onRows,
  });
  const m = result.manifest;
  const nBatches = batching === 'none' ? plan.windows.length : planWindowBatches(plan.windows, { ...batching, prependBos: bos !== null }).length;
  return {
    cacheDir: result.dir,
    fromCache: result.fromCache,
    words: m.nWords,
    contentWords: prepared.words.filter((w) => w.isContent === true).length,
    layers: m.layers,
    depths: m.depths,
    duplicateLayers: prepared.duplicateLayers,
    dims: m.nDims,
    hiddenSize: m.hiddenSize,
    nBlocks: m.nBlocks,
    tokensPerWord: m.meanTokensPerWord,
    tokensProcessed: result.fromCache ? 0 : plan.tokensProcessed,
    windows: plan.windows.length,
    batches: nBatches,
    resumedWords: result.resumedWords,
    computedWords: result.computedWords,
    seconds: (performance.now() - t0) / 1000,
    wordsPerSec: result.fromCache ? null : extractRate,
    unmatchedWords: prepared.unmatched,
    truncatedContextWords: plan.truncatedTargets,
    truncatedContextIndices: plan.truncatedWords,
    runner: pool ? 'onnxruntime-node' : loaded.runner,
    runnerNote: pool ? `the modified graph in ${pool.workers} onnxruntime-node worker session(s); load-time runner check: ${loaded.runnerNote}` : loaded.runnerNote,
    compute: session.compute,
    pcaFit: o.pca === 'none' ? 'none' : describePcaFit(pcaFit),
    modelHash: model.modelHash,
    textHash: prepared.textHash,
    explainedVarianceRatio: m.explainedVarianceRatio,
  };
}

export async function runExtract(o: ExtractOptions, report: ExtractReport = {}): Promise<ExtractSummary> {
  const t0 = performance.now();
  const session = await openExtractionSession(o);
  try {
    const prepared = await prepareStimulus(session, o, report);
    const s = await executeExtract(session, prepared, o, report);
    return { ...s, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await session.close();
  }
}

