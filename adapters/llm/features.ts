/**
 * Where a session's layer activations come from, behind one small interface: the seeded synthetic
 * generator (demo controls, tests), or a language model through the extraction cache (issue 4).
 * `simulate` plants the same features that `replay`/`live` then decode, so a simulated dataset
 * written with one feature source is analysed with the same one.
 *
 * A model's table can be returned before its features exist (`stream`): the words and their tags
 * are known at once, rows arrive in stimulus order as the extraction runs (a fixed PCA basis,
 * pcaBasis.ts), and `when` lets the pipeline wait for a word not yet extracted.
 *
 * Owns: the choice and its label. Must not: extract (adapters/llm does) or decode.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDepths } from '../../src/epochGrid.js';
import { readNpyFile } from '../npyFile.js';
import { syntheticActivations, describe as SYNTHETIC_DESCRIBE } from '../simulator/syntheticActivations.js';
import { executeExtract, openExtractionSession, prepareStimulus, type ComputeOptions, type ExtractReport, type ExtractSummary, type PreparedStimulus } from './extract.js';
import { describePcaFit, type PcaFitChoice } from './pcaBasis.js';
import { StreamedFeatureTable } from './streamedFeatures.js';

/** Per-word features for a stimulus of known words, by stimulus index. */
export interface FeatureTable {
  /** What the dashboard and results say the features are. */
  label: string;
  nLayers: number;
  nDims: number;
  depths: number[];
  /** [layer][dim] of stimulus word `index`, or undefined when the word has none (unmatched in the text). */
  of(index: number, word: string): Float32Array | undefined;
  /** Content word (NOUN/VERB/ADJ/ADV) per the tagger; undefined when not tagged. */
  isContent(index: number): boolean | undefined;
  /** −log p(word | context) in nats under the model, NaN when unknown (or not extracted yet); absent for synthetic features. */
  surprisal?(index: number): number;
  /** Words left without features because the model could not hold their exact context (see ModelFeatureOptions.exactContext). */
  contextCutWords?: number;
  /**
   * Tables still filling (an extraction running): the word's features once they exist, a promise
   * while they do not yet; undefined when the word will have none. Absent on complete tables.
   */
  when?(index: number, word: string): Float32Array | undefined | Promise<Float32Array | undefined>;
}

/** The pipeline's lookup for a table: `when` where the table streams, else `of`. */
export function activationLookup(table: FeatureTable): (w: { wordIndex: number; word: string }) => Float32Array | undefined | Promise<Float32Array | undefined> {
  return table.when ? (w) => table.when!(w.wordIndex, w.word) : (w) => table.of(w.wordIndex, w.word);
}

/** How a model table's label names its layers (see modelFeatures and tableLayers). */
export function describeLayers(nLayers: number, depths: readonly number[]): string {
  return `${nLayers} layers at depths ${depths.join(',')}`;
}

/**
 * Some layers of a model's table (`layers`: indices into it) as a table of its own that reads the
 * same rows: views when the layers are consecutive (the paper's nine depths within a whole-model
 * stack), copies otherwise. Each layer's PCA is fit on that layer alone, so these are the numbers
 * an extraction of just those layers gives (test/features.layers.test.ts), without a second
 * extraction or a second table in memory (0.23 GB over 10 hours of words).
 */
export function tableLayers(table: FeatureTable, layers: readonly number[]): FeatureTable {
  layers.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= table.nLayers) throw new RangeError(`layer ${i + 1} of ${layers.length} is ${l}; the table has layers 0…${table.nLayers - 1}`);
  });
  const D = table.nDims;
  const depths = layers.map((l) => table.depths[l]!);
  const consecutive = layers.every((l, i) => i === 0 || l === layers[i - 1]! + 1);
  const from = layers[0]! * D;
  const pick = (row: Float32Array): Float32Array => {
    if (consecutive) return row.subarray(from, from + layers.length * D);
    const out = new Float32Array(layers.length * D);
    layers.forEach((l, k) => out.set(row.subarray(l * D, (l + 1) * D), k * D));
    return out;
  };
  const whole = describeLayers(table.nLayers, table.depths);
  return {
    label: table.label.includes(whole) ? table.label.replace(whole, describeLayers(layers.length, depths)) : `${table.label}, ${describeLayers(layers.length, depths)}`,
    nLayers: layers.length,
    nDims: D,
    depths,
    of: (i, w) => {
      const row = table.of(i, w);
      return row && pick(row);
    },
    isContent: (i) => table.isContent(i),
    ...(table.surprisal ? { surprisal: (i: number) => table.surprisal!(i) } : {}),
    ...(table.contextCutWords !== undefined ? { contextCutWords: table.contextCutWords } : {}),
    ...(table.when
      ? {
          when: (i: number, w: string) => {
            const got = table.when!(i, w);
            return got instanceof Promise ? got.then((r) => r && pick(r)) : got && pick(got);
          },
        }
      : {}),
  };
}

/** The seeded synthetic activations of the simulator (not a language model; clearly labelled). */
export function syntheticFeatures(seed: number, nDims = 50, nLayers = 9): FeatureTable {
  const act = syntheticActivations({ seed, nLayers, nDims });
  return {
    label: `${SYNTHETIC_DESCRIBE}, seed ${seed}`,
    nLayers,
    nDims,
    depths: defaultDepths(nLayers),
    of: (i, w) => act(i, w),
    isContent: () => undefined,
  };
}

/** The built-in model shipped with lockstep (trained on the built-in text; see docs/builtin-model.md). */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../../../models/lockstep-moby-gpt2', import.meta.url));

/**
 * `builtin` → the shipped model's folder, `family:<xs|s|m|l>` → a model of the family
 * (docs/model-family.md); `<either>-untrained[:seed]` (`builtin-untrained`, `family:s-untrained:2`)
 * → its seeded random-weights twin (same architecture and tokenizer, written once under the cache
 * folder: what an untrained model gives); anything else is a folder or .onnx path as given.
 * The names are parsed in adapters/onnx/builder/modelFamily.ts.
 */
export async function resolveModel(model: string): Promise<string> {
  const { resolveModelName } = await import('../onnx/builder/modelFamily.js');
  return (await resolveModelName(model, path.join(path.dirname(defaultActivationCache()), 'models'))) ?? model;
}

/** Where extracted activations are cached unless told otherwise. */
export function defaultActivationCache(): string {
  return process.env.LOCKSTEP_CACHE ? path.join(process.env.LOCKSTEP_CACHE, 'activations') : path.join(os.homedir(), '.cache', 'lockstep', 'activations');
}

/** One stimulus source: an events.tsv (with the original story texts), a text file, or `builtin`. */
export interface StimulusPart {
  text: string;
  storyText?: string[];
  maxWords?: number;
}

export interface ModelFeatureOptions extends ComputeOptions {
  model: string;
  /** Previous words of context (paper: 50). */
  context?: number;
  /**
   * Every hidden state (depths i / L: the embedding output and each of the L blocks) rather than
   * the paper's nine depths: what a simulated brain that runs the whole model plants.
   */
  allLayers?: boolean;
  mode?: 'exact' | 'chunked';
  cacheRoot?: string;
  /** How the PCA basis is fit (default all words: nothing streams; sample/reference stream). */
  pcaFit?: PcaFitChoice;
  /**
   * Return as soon as the words are known, with rows arriving while the extraction runs (`when`;
   * `done` settles at the end). Default false: return the finished table.
   */
  stream?: boolean;
  /** Progress and warnings of extractions that have to run (a cache hit reports nothing). */
  report?: ExtractReport;
  /**
   * Exact contexts: refuse (extract.ts ContextLengthError) when the model's positions cannot hold
   * the context of more than `maxCutFraction` of the words, and give the few whose context was cut
   * no features (they are not decoded), so every decoded word has exactly its N previous words.
   */
  exactContext?: { maxCutFraction: number };
  /** Stops a running extraction at its next window, keeping a checkpoint (`done` then rejects). */
  signal?: AbortSignal;
}

/** What is known of each stimulus part before its extraction: its words and the ones the text lacks. */
export interface PartInfo {
  words: number;
  unmatchedWords: Array<{ index: number; word: string; reason: string }>;
}

export interface ModelFeatureTable extends FeatureTable {
  parts: PartInfo[];
  /** The extraction summaries, once every part is done (rejects with the extraction's error). */
  done: Promise<ExtractSummary[]>;
  /** Filled as parts finish (all of them once `done` resolved). */
  summaries: ExtractSummary[];
  /** Stops an extraction still running (at its next window, checkpoint kept) and waits for it to let go of the model. */
  stop(): Promise<void>;
}

/** How results name a model given as `builtin`, `family:<size>`, `<name>-untrained[:seed]` or a folder. */
export function modelName(model: string): string {
  if (model === 'builtin') return 'built-in model lockstep-moby-gpt2';
  if (/-untrained(:\d+)?$/.test(model)) return `untrained twin (${model})`;
  if (model.startsWith('family:')) return `model family ${model.slice('family:'.length)} (lockstep-moby-gpt2-${model.slice('family:'.length)})`;
  return path.basename(path.resolve(model));
}

/** Reads a finished cache's rows into the table (part k's words start at `offset`). */
function loadCachedRows(table: StreamedFeatureTable, cacheDir: string, offset: number, skip: ReadonlySet<number>): void {
  const acts = readNpyFile(path.join(cacheDir, 'activations.npy')); // [words, layers, dims]
  const data = acts.data instanceof Float32Array ? acts.data : Float32Array.from(acts.data as ArrayLike<number>);
  const index = fs.readFileSync(path.join(cacheDir, 'words.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => offset + Number(l.split('\t')[0]));
  addRows(table, index, data, skip);
}

/** Adds rows to the table, leaving out the words in `skip` (their exact context was cut: no features). */
function addRows(table: StreamedFeatureTable, words: number[], rows: Float32Array, skip: ReadonlySet<number>): void {
  if (skip.size === 0 || !words.some((w) => skip.has(w))) {
    table.add(words, rows);
    return;
  }
  const per = table.nLayers * table.nDims;
  const keep = words.flatMap((w, i) => (skip.has(w) ? [] : [i]));
  const kept = new Float32Array(keep.length * per);
  keep.forEach((i, j) => kept.set(rows.subarray(i * per, (i + 1) * per), j * per));
  table.add(keep.map((i) => words[i]!), kept);
}

/** Reads a finished cache's surprisal (nats, NaN = unknown) into `out` by stimulus index (part k's words start at `offset`). */
function loadSurprisal(out: number[], cacheDir: string, offset: number): void {
  const nats = readNpyFile(path.join(cacheDir, 'surprisal.npy')).data as ArrayLike<number>; // [rows]
  const index = fs.readFileSync(path.join(cacheDir, 'words.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => offset + Number(l.split('\t')[0]));
  index.forEach((i, r) => (out[i] = nats[r]));
}

/**
 * Layer activations of a language model for the stimulus parts, in order (part k's words follow
 * part k−1's in the stimulus index), through `lockstep extract`'s cache: computed once, then read.
 * Words the text could not be matched to (reported by the extraction) have no features.
 */
export async function modelFeatures(parts: StimulusPart[], o: ModelFeatureOptions): Promise<ModelFeatureTable> {
  const pcaFit = o.pcaFit ?? { kind: 'all' };
  const stopper = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stopper.signal]) : stopper.signal;
  const model = await resolveModel(o.model);
  const common = { model, context: o.context ?? 50, mode: o.mode ?? ('exact' as const), aggregate: 'mean' as const, pca: 50, pcaFit, allLayers: o.allLayers, out: o.cacheRoot ?? defaultActivationCache(), signal, maxContextCutFraction: o.exactContext?.maxCutFraction };
  const session = await openExtractionSession({ ...o, model });
  let prepared: PreparedStimulus[];
  try {
    prepared = [];
    for (const part of parts) prepared.push(await prepareStimulus(session, { ...common, text: part.text, storyText: part.storyText, maxWords: part.maxWords }, o.report));
  } catch (e) {
    await session.close();
    throw e;
  }
  const offsets: number[] = [];
  const contextCut = new Set<number>();
  const surprisal: number[] = [];
  const content: (boolean | undefined)[] = [];
  const expected: boolean[] = [];
  for (const p of prepared) {
    const offset = content.length;
    offsets.push(offset);
    for (const w of p.words) {
      content.push(w.isContent);
      expected.push(false);
    }
    // Words with a row (matched in the text); part k's words follow part k−1's.
    for (const i of p.rowWords) expected[offset + i] = true;
    // Exact contexts: a word whose N previous words the positions cut gets no features.
    if (o.exactContext) for (const i of p.plan.truncatedWords) contextCut.add(offset + i);
  }
  for (const i of contextCut) expected[i] = false;
  const first = prepared[0]!;
  const fitLabel = pcaFit.kind === 'all' ? '' : ` (basis: ${describePcaFit(pcaFit)})`;
  const label = `${modelName(o.model)}, ${describeLayers(first.layers.length, first.depths)}, context ${common.context} words (${common.mode}), PCA ${first.dims}${fitLabel}`;
  const table = new StreamedFeatureTable(label, first.layers.length, first.dims, first.depths, content, expected);
  const summaries: ExtractSummary[] = [];
  const done = (async () => {
    try {
      for (let k = 0; k < prepared.length; k++) {
        let streamed = false;
        const s = await executeExtract(session, prepared[k]!, common, o.report, (r) => {
          streamed = true;
          addRows(table, r.words.map((w) => offsets[k]! + w), r.rows, contextCut);
        });
        if (!streamed || s.fromCache) loadCachedRows(table, s.cacheDir, offsets[k]!, contextCut);
        loadSurprisal(surprisal, s.cacheDir, offsets[k]!);
        summaries.push(s);
      }
      table.end();
      return summaries;
    } catch (e) {
      table.fail(e);
      throw e;
    } finally {
      await session.close();
    }
  })();
  // Failures reach the caller through `done`, `complete` and the waiters; never unhandled.
  done.catch(() => undefined);
  const view: ModelFeatureTable = {
    label,
    nLayers: table.nLayers,
    nDims: table.nDims,
    depths: table.depths,
    of: (i) => table.of(i),
    isContent: (i) => table.isContent(i),
    surprisal: (i) => surprisal[i] ?? NaN,
    contextCutWords: contextCut.size,
    parts: prepared.map((p) => ({ words: p.words.length, unmatchedWords: p.unmatched })),
    done,
    summaries,
    stop: async () => {
      stopper.abort();
      await done.catch(() => undefined);
    },
  };
  if (!o.stream) {
    // A finished table answers synchronously: no `when` for the pipeline to wait on.
    await done;
    return view;
  }
  return { ...view, when: (i) => table.when(i) };
}
