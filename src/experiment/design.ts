/**
 * The paper's experiments as data: what a cell is (one subject × model × context, decoded once, with
 * one or several word conditions), the grid of cells an experiment asks for, and the identity that
 * names a cell's result (everything that defines it, nothing about where it runs).
 *
 *   size           several models, one context: x = parameter count (Pythia 14M → 12B in the paper)
 *   context        one or more models, several exact context lengths (0 → 1,000 words)
 *   predictability words split into surprisal quantiles under one model, each decoded apart in
 *                  the same pass over the data (top vs bottom quartile in the paper)
 *
 * Owns: the types and the grid. Must not: run, hash or store cells (replay/ runs them; the result
 * store in adapters/jobs hashes `cellIdentity`).
 */
import type { BackendName } from '../linalg/backend.js';

export type ExperimentKind = 'size' | 'context' | 'predictability';
export const EXPERIMENT_KINDS: readonly ExperimentKind[] = ['size', 'context', 'predictability'];

/** A language model as a cell uses it: the name given, where it was found, and its facts. */
export interface ModelSpec {
  /** As given on the command line (`builtin`, `builtin-untrained:2`, a folder). */
  name: string;
  /** The resolved model folder (or .onnx file) the workers open. */
  path: string;
  /** SHA-256 of the ONNX graph file: what defines the model in a cell's identity. */
  sha256: string;
  /** Weights in the graph (elements of its floating-point initializers). */
  parameters: number;
  /** Longest input in tokens (config.json n_positions / max_position_embeddings), when declared. */
  maxPositions: number | null;
}

/** A recorded subject of a BIDS dataset. */
export interface BidsSubjectSpec {
  kind: 'bids';
  /** Shown in results and figures (`001`). */
  label: string;
  /** Absolute dataset root, as every worker must see it. */
  root: string;
  subject: string;
  sessions?: string[];
  task?: string;
  run?: string;
  /** Names and sizes of the subject's files, so that changed data never reuse an old result. */
  fingerprint: string;
}

/**
 * A simulated subject listening to the built-in text: its MEG follows one chosen model (the "brain
 * model") at one context. On such subjects a sweep tests the machinery, not the science.
 */
export interface SimulatedSubjectSpec {
  kind: 'simulated';
  label: string;
  seed: number;
  minutes: number;
  brain: { model: ModelSpec; context: number; mode: 'exact' | 'chunked' };
  /** Evoked amplitude relative to the simulator's default. */
  snr: number;
}

export type SubjectSpec = BidsSubjectSpec | SimulatedSubjectSpec;

/**
 * How a simulated subject's brain runs its model (replay/experimentCell.ts): every hidden state a
 * processing stage, read by the simulator's population coupling (docs/alignment-diagnosis.md). Part
 * of a simulated cell's identity, so that results of another simulated brain are never reused.
 */
export const SIMULATED_BRAIN = { stages: 'every hidden state', coupling: 'population' } as const;

/** How a cell's words are split into conditions, each decoded by a decoder of its own. */
export type ConditionSpec =
  | { kind: 'all' }
  | {
      kind: 'surprisal-quantiles';
      quantiles: number;
      /** The model and context under which surprisal is measured. */
      model: ModelSpec;
      context: number;
    };

/** Decoding settings shared by every cell of an experiment. */
export interface DecodingSpec {
  /** Decode every word (default: content words, as the paper). */
  allWords: boolean;
  /** Words per contiguous fold block, dealt round-robin to the 5 folds. */
  foldBlockWords: number;
  /** Decode this many MEG channels, evenly spread over the array (null: all). */
  channels: number | null;
  backend: 'auto' | BackendName;
  /** How context windows are cut: exact (the paper's definition) or chunked. */
  contextMode: 'exact' | 'chunked';
}

export interface CellSpec {
  experiment: ExperimentKind;
  subject: SubjectSpec;
  model: ModelSpec;
  /** Previous words of context. */
  context: number;
  conditions: ConditionSpec;
  decoding: DecodingSpec;
}

/** One condition's exact K-fold result in a cell. */
export interface ConditionScores {
  condition: string;
  /** Words decoded in this condition. */
  nWords: number;
  temporalScore: number;
  p: number;
  /** Seconds, per layer. */
  tmax: number[];
  /** [layer][time] held-out R(t). */
  R: number[][];
  alignmentScore: number;
  ci: { method: string; level: number; low: number; high: number };
  /** Surprisal range of a quantile condition (nats), and its mean over the words assigned. */
  surprisal?: { low: number; high: number; mean: number; wordsAssigned: number };
}

/** A condition with no exact score (too few words for every fold), with the reason. */
export interface ConditionMissing {
  condition: string;
  nWords: number;
  missing: string;
  /** As for ConditionScores: a quantile's surprisal range and the words assigned to it. */
  surprisal?: { low: number; high: number; mean: number; wordsAssigned: number };
}

export interface CellResult {
  /** The identity's hash (adapters/jobs/resultStore.ts). */
  key: string;
  conditions: (ConditionScores | ConditionMissing)[];
  /** Epoch sample times (s) and layer depths of R and Tmax. */
  times: number[];
  depths: number[];
  backend: string;
  /** What the features were (model, context, layers, PCA). */
  features: string;
  channels: number;
  /** Excluded words by reason ("no-activations" includes the words whose exact context the model could not hold). */
  wordsExcluded: Record<string, number>;
  /** Words of the stimulus whose exact context the model's positions could not hold (not decoded). */
  contextCutWords: number;
  /** Wall time of the cell where it ran (not part of the numbers). */
  seconds: number;
}

export function hasScores(c: ConditionScores | ConditionMissing): c is ConditionScores {
  return (c as ConditionScores).temporalScore !== undefined;
}

/**
 * Everything that defines a cell's numbers, in a fixed shape: what is hashed to name its result.
 * Labels, paths of models (a model is its graph's hash) and the experiment it was asked for are
 * left out, so the same decoding asked for by two experiments is computed once.
 */
export function cellIdentity(c: CellSpec): unknown {
  const model = (m: ModelSpec) => ({ sha256: m.sha256 });
  const s = c.subject;
  const subject =
    s.kind === 'bids'
      ? { kind: s.kind, root: s.root, subject: s.subject, sessions: s.sessions ?? null, task: s.task ?? null, run: s.run ?? null, fingerprint: s.fingerprint }
      : { kind: s.kind, seed: s.seed, minutes: s.minutes, brain: { model: model(s.brain.model), context: s.brain.context, mode: s.brain.mode, ...SIMULATED_BRAIN }, snr: s.snr };
  const cond = c.conditions;
  const conditions = cond.kind === 'all' ? { kind: 'all' } : { kind: cond.kind, quantiles: cond.quantiles, model: model(cond.model), context: cond.context };
  const d = c.decoding;
  return {
    cell: 'lockstep.experiment-cell/1',
    subject,
    model: model(c.model),
    context: c.context,
    conditions,
    decoding: { allWords: d.allWords, foldBlockWords: d.foldBlockWords, channels: d.channels, backend: d.backend, contextMode: d.contextMode },
  };
}

export interface ExperimentDesign {
  experiment: ExperimentKind;
  subjects: SubjectSpec[];
  models: ModelSpec[];
  contexts: number[];
  conditions: ConditionSpec;
  decoding: DecodingSpec;
}

/**
 * The cells of an experiment, subject-major then model then context (the order results are listed
 * in): one per subject × model × context; a cell decodes all its conditions in one pass.
 * @throws RangeError for an empty axis or a negative or fractional context
 */
export function experimentCells(d: ExperimentDesign): CellSpec[] {
  if (d.subjects.length === 0) throw new RangeError('an experiment needs at least one subject');
  if (d.models.length === 0) throw new RangeError('an experiment needs at least one model');
  if (d.contexts.length === 0) throw new RangeError('an experiment needs at least one context length');
  const bad = d.contexts.find((c) => !Number.isInteger(c) || c < 0);
  if (bad !== undefined) throw new RangeError(`context lengths are whole numbers of words ≥ 0, got ${bad}`);
  const cells: CellSpec[] = [];
  for (const subject of d.subjects) for (const model of d.models) for (const context of d.contexts) cells.push({ experiment: d.experiment, subject, model, context, conditions: d.conditions, decoding: d.decoding });
  return cells;
}

/** The condition names a cell reports, in order. */
export function conditionNames(c: ConditionSpec): string[] {
  return c.kind === 'all' ? ['all'] : Array.from({ length: c.quantiles }, (_, b) => `q${b + 1}`);
}

/** A cell in words, for progress lines and failures. */
export function describeCell(c: CellSpec): string {
  return `subject ${c.subject.label}, model ${c.model.name}, context ${c.context}`;
}
