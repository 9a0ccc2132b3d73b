/**
 * One experiment cell: a subject (a BIDS subject's recordings, or a simulated subject) decoded under
 * one model at one context length, exactly as `lockstep replay` (or `demo`) decodes it (the same
 * sources, replay/subjectSources.ts, through the same pipeline, streams/pipeline.ts), with the
 * final exact K-fold result as the cell's numbers. Words may be split into conditions (surprisal
 * quantiles), each decoded by a decoder of its own in the same pass over the data.
 *
 * Everything a cell needs is in its spec and two paths (the activation cache and the result store),
 * so that any thread, process or machine that sees those paths computes the same numbers.
 *
 * Owns: assembling one cell's sources, features and conditions, and reading its result off the
 * last snapshots. Must not: print, choose cells, or store results (experimentCellJob.ts does).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { defaultIfEmpty, filter, lastValueFrom } from 'rxjs';
import { withFileLock } from '../adapters/fileLock.js';
import { modelFeatures, type FeatureTable, type ModelFeatureOptions, type StimulusPart } from '../adapters/llm/features.js';
import { speechTiming } from '../adapters/simulator/speechTiming.js';
import { builtinWords } from '../adapters/text/builtinText.js';
import { quantileBin, quantileEdges, quantileName } from '../src/experiment/quantiles.js';
import { conditionNames, SIMULATED_BRAIN, type CellResult, type CellSpec, type ConditionMissing, type ConditionScores, type ModelSpec, type SimulatedSubjectSpec } from '../src/experiment/design.js';
import type { ScoreSnapshot } from '../src/snapshot.js';
import { minWordsForExact } from '../src/stats/foldPlan.js';
import type { WordEvent } from '../src/types.js';
import { analysisPipeline, type AnalysisPipelineOptions } from '../streams/pipeline.js';
import { modelFeaturesForBundles } from './bundleFeatures.js';
import { closeSubjectRecordings, openSubjectRecordings, type SubjectRecordings } from './subjectRecordings.js';
import { bidsSources, simulatedSources, type SubjectSources } from './subjectSources.js';

/** Bad input in a cell's spec (a missing subject, a model that changed): no retry can fix it. */
export class ExperimentQueryError extends Error {
  override name = 'ExperimentQueryError';
}

/** Only the final refit matters in a cell: no intermediate refits or snapshots. */
const NO_REFIT_BEFORE_THE_END = 1_000_000_000;
const FOLDS = 5;

/** `count` of `n` channel indices, evenly spread (every array region keeps some). */
export function evenlySpread(n: number, count: number): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) * n) / count));
}

/** Words the simulated text must provide for `minutes` of listening (~3.6 words/s at most). */
function simulatedWordCount(minutes: number): number {
  return Math.ceil(minutes * 60 * 3.6) + 50;
}

/**
 * A model's features for a stimulus, extracted at most once at a time per cache: concurrent cells
 * asking for the same features wait for the first and then read its cache.
 */
async function lockedFeatures(model: ModelSpec, key: unknown, cacheRoot: string, extract: () => Promise<FeatureTable>): Promise<FeatureTable> {
  const lockName = createHash('sha256').update(JSON.stringify([model.sha256, key])).digest('hex').slice(0, 24);
  return withFileLock(path.join(cacheRoot, 'locks', lockName), extract);
}

/**
 * Exact contexts: a word whose N previous words the model cannot hold is not decoded, and a cell
 * where that is more than this fraction of the words fails (the context does not fit the model).
 */
export const MAX_CONTEXT_CUT_FRACTION = 0.05;

/** A decoded model's features (exact contexts, the paper's nine depths). */
function featureOptions(model: ModelSpec, context: number, mode: 'exact' | 'chunked', cacheRoot: string): ModelFeatureOptions {
  return { model: model.path, context, mode, cacheRoot, exactContext: { maxCutFraction: MAX_CONTEXT_CUT_FRACTION } };
}

/** Features of the built-in text a simulated subject hears, under a decoded model (nine depths, exact contexts). */
async function simulatedFeatures(s: SimulatedSubjectSpec, model: ModelSpec, context: number, mode: 'exact' | 'chunked', cacheRoot: string): Promise<FeatureTable> {
  const parts: StimulusPart[] = [{ text: 'builtin', maxWords: simulatedWordCount(s.minutes) }];
  return lockedFeatures(model, { parts, context, mode }, cacheRoot, () => modelFeatures(parts, featureOptions(model, context, mode, cacheRoot)));
}

/**
 * What a simulated subject's brain runs: every hidden state of its model (the embedding output and
 * each block, one processing stage each, read by the simulator's 'population' coupling), as `demo`
 * and `simulate --model` plant it. Its context need not fit every word (it only defines the MEG).
 */
async function brainStages(s: SimulatedSubjectSpec, cacheRoot: string): Promise<FeatureTable> {
  const parts: StimulusPart[] = [{ text: 'builtin', maxWords: simulatedWordCount(s.minutes) }];
  const { model, context, mode } = s.brain;
  return lockedFeatures(model, { parts, context, mode, allLayers: true }, cacheRoot, () => modelFeatures(parts, { model: model.path, context, mode, cacheRoot, allLayers: true }));
}

interface CellSubject {
  sources: SubjectSources;
  /** Channel indices to decode, into the chunks (simulated subject; BIDS picks by name at the source). */
  picks?: number[];
  nChannels: number;
  /** The words the subject hears, by stimulus index (for quantile edges). */
  wordIndices: number[];
  features: FeatureTable;
  close(): Promise<void>;
}

async function openCellSubject(cell: CellSpec, cacheRoot: string): Promise<CellSubject> {
  const s = cell.subject;
  const mode = cell.decoding.contextMode;
  if (s.kind === 'simulated') {
    const planted = await brainStages(s, cacheRoot);
    const features = await simulatedFeatures(s, cell.model, cell.context, mode, cacheRoot);
    const words: WordEvent[] = speechTiming(builtinWords(simulatedWordCount(s.minutes)), { seed: s.seed, startSec: 3 }).map((w) => ({ ...w, isContent: features.isContent(w.wordIndex) }));
    const sources = simulatedSources({ seed: s.seed, words, planted, coupling: SIMULATED_BRAIN.coupling, control: 'planted', snr: s.snr, minutes: s.minutes, speed: 'max' });
    const picks = cell.decoding.channels !== null ? evenlySpread(sources.nChannels, cell.decoding.channels) : undefined;
    return { sources, picks, nChannels: picks?.length ?? sources.nChannels, wordIndices: words.filter((w) => w.onsetSec < sources.totalSec).map((w) => w.wordIndex), features, close: async () => undefined };
  }
  let subject: SubjectRecordings;
  try {
    subject = await openSubjectRecordings({ root: s.root, subject: s.subject, sessions: s.sessions, task: s.task, run: s.run });
  } catch (e) {
    throw new ExperimentQueryError(`sub-${s.subject} in ${s.root}: ${(e as Error).message}`);
  }
  try {
    const o = featureOptions(cell.model, cell.context, mode, cacheRoot);
    const texts = subject.bundles.map((b) => b.entry.eventsTsv);
    const features = await lockedFeatures(cell.model, { texts, context: cell.context, mode }, cacheRoot, () => modelFeaturesForBundles(s.root, o)(subject.bundles));
    const names = cell.decoding.channels !== null ? evenlySpread(subject.channels.length, cell.decoding.channels).map((i) => subject.channels[i]) : subject.channels;
    const sources = bidsSources(subject, (i) => features.isContent(i), { speed: 'max', channels: names });
    return { sources, nChannels: names.length, wordIndices: Array.from({ length: sources.wordsInEvents }, (_, i) => i), features, close: () => closeSubjectRecordings(subject) };
  } catch (e) {
    await closeSubjectRecordings(subject);
    throw e;
  }
}

function exactMissing(s: ScoreSnapshot | null, foldBlockWords: number): string {
  const need = s?.minWordsForExact ?? minWordsForExact({ kind: 'blocks', folds: FOLDS, blockWords: foldBlockWords });
  return `no exact score: ${s?.nWords ?? 0} words decoded, ${need} needed (each of the ${FOLDS} folds needs words; folds fill in blocks of ${foldBlockWords}); use longer recordings or a smaller --fold-block`;
}

function conditionResult(condition: string, s: ScoreSnapshot | null, foldBlockWords: number): ConditionScores | ConditionMissing {
  const e = s?.exact;
  if (!e) return { condition, nWords: s?.nWords ?? 0, missing: exactMissing(s, foldBlockWords) };
  return { condition, nWords: e.nWords, temporalScore: e.temporalScore, p: e.p, tmax: e.tmax, R: e.R, alignmentScore: e.alignmentScore, ci: e.ci };
}

/** Words split into surprisal quantiles: which quantile a word is in, and each quantile's range. */
interface QuantileSplit {
  conditionOf(wordIndex: number): string | null;
  surprisal: Map<string, { low: number; high: number; mean: number; wordsAssigned: number }>;
}

/**
 * Surprisal quantiles of the words the cell decodes (content words unless all words, with features
 * and a surprisal), under the condition's model and context; edges from those words alone.
 */
async function quantileSplit(cell: CellSpec, subj: CellSubject, cacheRoot: string): Promise<QuantileSplit> {
  const cond = cell.conditions;
  if (cond.kind !== 'surprisal-quantiles') throw new Error('quantileSplit: not a quantile condition');
  const same = cond.model.sha256 === cell.model.sha256 && cond.context === cell.context;
  let table = subj.features;
  if (!same) {
    const s = cell.subject;
    if (s.kind === 'simulated') table = await simulatedFeatures(s, cond.model, cond.context, cell.decoding.contextMode, cacheRoot);
    else throw new ExperimentQueryError('on a BIDS subject, the surprisal model and context must be the decoded model and context (give --surprisal-model equal to --model)');
  }
  if (!table.surprisal) throw new ExperimentQueryError(`${cond.model.name}: its features carry no surprisal`);
  const nats = (i: number) => table.surprisal!(i);
  const eligible = subj.wordIndices.filter((i) => (cell.decoding.allWords || subj.features.isContent(i) !== false) && subj.features.of(i, '') !== undefined && Number.isFinite(nats(i)));
  if (eligible.length < cond.quantiles) throw new ExperimentQueryError(`${cell.subject.label}: ${eligible.length} words with a surprisal, too few for ${cond.quantiles} quantiles`);
  const edges = quantileEdges(eligible.map(nats), cond.quantiles);
  const bins = new Map<number, string>();
  const surprisal = new Map<string, { low: number; high: number; mean: number; wordsAssigned: number }>();
  for (const i of eligible) {
    const name = quantileName(quantileBin(nats(i), edges));
    bins.set(i, name);
    const r = surprisal.get(name) ?? { low: Infinity, high: -Infinity, mean: 0, wordsAssigned: 0 };
    r.low = Math.min(r.low, nats(i));
    r.high = Math.max(r.high, nats(i));
    r.mean += nats(i);
    r.wordsAssigned++;
    surprisal.set(name, r);
  }
  for (const r of surprisal.values()) r.mean /= r.wordsAssigned;
  return { conditionOf: (i) => bins.get(i) ?? null, surprisal };
}

/** The cell's pipeline, without conditions: the same decoding as `replay` of this subject. */
function cellPipelineOptions(cell: CellSpec, subj: CellSubject): AnalysisPipelineOptions {
  const { sources, features } = subj;
  return {
    chunks$: sources.chunks$,
    words$: sources.words$,
    sfreqHz: sources.sfreqHz,
    nChannels: subj.nChannels,
    activationOf: (w) => features.of(w.wordIndex, w.word),
    nLayers: features.nLayers,
    nDims: features.nDims,
    depths: features.depths,
    contentWordsOnly: !cell.decoding.allWords,
    preprocess: subj.picks ? { picks: subj.picks } : undefined,
    backend: cell.decoding.backend,
    refitEveryWords: NO_REFIT_BEFORE_THE_END,
    snapshotEveryWords: 0,
    foldBlockWords: cell.decoding.foldBlockWords,
    halfLifeWords: null,
    flow: sources.flow,
  };
}

/**
 * Runs one cell to its result: the overall decoder over every word and, for a quantile split, one
 * decoder per quantile over that quantile's words, all fed in the same pass over the data
 * (streams/pipeline.ts `conditionsOf`). A quantile with too few words for an exact score is
 * reported with its word count and the reason (`missing`), not as a failure of the cell.
 * @param cacheRoot the activation cache (features are extracted there once, then read)
 * @throws ExperimentQueryError (bad input: no such subject, too few words for an exact score),
 *   ContextLengthError (the context does not fit the model), or the readers' format errors
 */
export async function runExperimentCell(cell: CellSpec, cacheRoot: string): Promise<Omit<CellResult, 'key'>> {
  const t0 = performance.now();
  const names = conditionNames(cell.conditions);
  const subj = await openCellSubject(cell, cacheRoot);
  try {
    const { features } = subj;
    const split = cell.conditions.kind === 'surprisal-quantiles' ? await quantileSplit(cell, subj, cacheRoot) : null;
    const lastOf = new Map<string, ScoreSnapshot>();
    const pipeline = analysisPipeline({
      ...cellPipelineOptions(cell, subj),
      ...(split && {
        conditionsOf: (w: WordEvent) => {
          const c = split.conditionOf(w.wordIndex);
          return c === null ? [] : [c];
        },
        conditionDecoder: { refitEveryWords: NO_REFIT_BEFORE_THE_END, foldBlockWords: cell.decoding.foldBlockWords, snapshotEveryWords: 0 },
        onConditionSnapshot: (c: string, snap: ScoreSnapshot) => lastOf.set(c, snap),
      }),
    });
    const last = await lastValueFrom(pipeline.snapshots$.pipe(defaultIfEmpty(null)));
    const overall = conditionResult('all', last, cell.decoding.foldBlockWords);
    if ('missing' in overall) throw new ExperimentQueryError(`${cell.subject.label}: ${overall.missing}`);
    const conditions: (ConditionScores | ConditionMissing)[] = [overall];
    if (split) {
      // A quantile whose words never reached the decoder (all outside the recording) has no snapshot: 0 words.
      for (const name of names) {
        const r = conditionResult(name, lastOf.get(name) ?? null, cell.decoding.foldBlockWords);
        const range = split.surprisal.get(name);
        conditions.push(range ? { ...r, surprisal: range } : r);
      }
    }
    return {
      conditions,
      times: last!.times,
      depths: last!.depths,
      backend: last!.backend,
      features: features.label,
      channels: subj.nChannels,
      wordsExcluded: { ...last!.skipped, ...pipeline.counters.excluded() },
      contextCutWords: features.contextCutWords ?? 0,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await subj.close();
  }
}

/**
 * One quantile of a predictability cell decoded alone: the cell's pipeline fed only that quantile's
 * words, with no other decoder beside it. What the one-pass decoding of `runExperimentCell` must
 * equal for that quantile (test/experiment.test.ts checks it).
 */
export async function decodeConditionAlone(cell: CellSpec, cacheRoot: string, condition: string): Promise<ConditionScores | ConditionMissing> {
  if (!conditionNames(cell.conditions).includes(condition) || condition === 'all') throw new RangeError(`decodeConditionAlone: ${condition} is not one of this cell's quantiles`);
  const subj = await openCellSubject(cell, cacheRoot);
  try {
    const split = await quantileSplit(cell, subj, cacheRoot);
    const o = cellPipelineOptions(cell, subj);
    const words$ = o.words$.pipe(filter((w) => split.conditionOf(w.wordIndex) === condition));
    const last = await lastValueFrom(analysisPipeline({ ...o, words$ }).snapshots$.pipe(defaultIfEmpty(null)));
    const r = conditionResult(condition, last, cell.decoding.foldBlockWords);
    const range = split.surprisal.get(condition);
    return range ? { ...r, surprisal: range } : r;
  } finally {
    await subj.close();
  }
}
