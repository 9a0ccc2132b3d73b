/**
 * The closed-loop policy interface: after each passage, a policy looks at what has been played and
 * at the latest scores (overall and per condition) and says which passage comes next, or to stop.
 * A policy is a pure function of its bank, its parameters and that input, so every decision can be
 * reproduced from the sidecar that logs the inputs (`lockstep closed-loop` writes it).
 *
 * A lab writes its own in a few lines (README "Closed-loop experiments"):
 *
 *   export default {
 *     name: 'shortest-first', summary: 'shortest passages first', parameters: {},
 *     create: (bank) => ({ name: 'shortest-first', parameters: {}, decide: ({ played }) => {
 *       const next = [...bank.passages].sort((a, b) => a.durationSec - b.durationSec).find((p) => !played.some((q) => q.passage === p.id));
 *       return next ? { action: 'play', passage: next.id, reason: 'shortest', detail: `${next.durationSec.toFixed(1)} s` }
 *                   : { action: 'stop', reason: 'bank-exhausted', detail: 'every passage played' };
 *     } }),
 *   };
 *
 * Owns: the contract (input, decision, parameters) and the score summary policies read.
 * Must not: do I/O or keep hidden state between calls (everything a decision uses is in its input).
 */
import type { ScoreSnapshot } from '../snapshot.js';
import type { BankSummary, BankWord } from './bank.js';

/** What a policy reads of one decoder's latest snapshot. */
export interface ScoreSummary {
  /** Words in the decoder's statistics. */
  nWords: number;
  /** Where the scores below come from: the latest exact K-fold refit, else the rolling score. */
  source: 'exact' | 'rolling' | null;
  temporalScore: number | null;
  p: number | null;
  /** Peak R over time at the best layer. */
  alignmentScore: number | null;
  /** Interval of the temporal score (exact only), as the snapshot gives it, with its method. */
  ci: { method: string; level: number; low: number; high: number } | null;
  /** Words in the statistics at the exact refit the scores come from. */
  exactWords: number | null;
  /** Onset (session clock) of the last word the decoder has. */
  lastOnsetSec: number | null;
  /**
   * The decoder's rolling score over each condition's words, every word predicted by the one model
   * of all words (live sessions; absent otherwise). Comparable across conditions of different
   * sizes, which the conditions' own decoders are not (their scores grow with their word counts).
   */
  byCondition?: Record<string, { nScored: number; temporalScore: number | null; alignmentScore: number | null }>;
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function scoreSummary(s: ScoreSnapshot): ScoreSummary {
  const e = s.exact;
  const r = s.rolling;
  const c = e ?? r;
  return {
    nWords: s.nWords,
    source: e ? 'exact' : r ? 'rolling' : null,
    temporalScore: c ? c.temporalScore : null,
    p: c ? c.p : null,
    alignmentScore: c ? c.alignmentScore : null,
    ci: e ? { ...e.ci } : null,
    exactWords: e ? e.nWords : null,
    lastOnsetSec: s.lastWord?.onsetSec ?? null,
    ...(r?.conditions
      ? { byCondition: Object.fromEntries(Object.entries(r.conditions).map(([name, v]) => [name, { nScored: v.nScored, temporalScore: finiteOrNull(v.temporalScore), alignmentScore: finiteOrNull(v.alignmentScore) }])) }
      : {}),
  };
}

/** A passage that was chosen, in order, with the label its policy gave it (e.g. a trial's role). */
export interface PlayedPassage {
  passage: string;
  ordinal: number;
  label?: string;
}

export interface PolicyInput {
  /** Seconds of recording so far (session clock since the first MEG sample; 0 before it). */
  elapsedSec: number;
  /** Every passage chosen so far, in order (the one just heard last). */
  played: PlayedPassage[];
  /** The latest scores: all decoded words, and each condition's own decoder. */
  scores: { all: ScoreSummary | null; conditions: Record<string, ScoreSummary> };
}

/** Small JSON a policy reports about itself (shown on the dashboard, logged with the decision). */
export type PolicyState = Record<string, unknown>;

export type PolicyDecision =
  | { action: 'play'; passage: string; label?: string; reason: string; detail: string; state?: PolicyState }
  | { action: 'stop'; reason: string; detail: string; state?: PolicyState };

export type ParameterValue = number | string | boolean | number[];

export interface ClosedLoopPolicy {
  readonly name: string;
  /** The values it runs with (logged in the sidecar beside every decision). */
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  /** Conditions it reports, in display order (each gets its own decoder); none = overall only. */
  readonly conditions?: readonly string[];
  /** The conditions of a word heard in a passage played under `play` (subset of `conditions`). */
  conditionsOf?(word: BankWord, play: PlayedPassage): string[];
  decide(input: PolicyInput): PolicyDecision;
}

export interface ParameterSpec {
  kind: 'number' | 'numbers' | 'string';
  default: ParameterValue;
  help: string;
  /** Smallest allowed value (numbers). */
  min?: number;
}

/** How a policy is found by name and built for a bank. */
export interface PolicyDefinition {
  name: string;
  summary: string;
  parameters: Record<string, ParameterSpec>;
  create(bank: BankSummary, parameters: Record<string, ParameterValue>): ClosedLoopPolicy;
}

/**
 * The parameters with defaults filled in and values checked against the specs.
 * @throws RangeError naming the policy, the parameter and what it accepts
 */
export function resolveParameters(def: PolicyDefinition, given: Record<string, unknown>): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  for (const key of Object.keys(given)) {
    if (!(key in def.parameters)) {
      const known = Object.keys(def.parameters);
      throw new RangeError(`policy ${def.name} has no parameter "${key}"${known.length ? ` (it has: ${known.join(', ')})` : ''}`);
    }
  }
  for (const [key, spec] of Object.entries(def.parameters)) {
    const v = given[key] ?? spec.default;
    const bad = (what: string) => new RangeError(`policy ${def.name}: ${key} must be ${what}, got ${JSON.stringify(v)}`);
    if (spec.kind === 'number') {
      const n = typeof v === 'string' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw bad('a number');
      if (spec.min !== undefined && n < spec.min) throw bad(`≥ ${spec.min}`);
      out[key] = n;
    } else if (spec.kind === 'numbers') {
      const list = typeof v === 'string' ? v.split(',').map((x) => Number(x.trim())) : v;
      if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw bad('a comma-separated list of numbers');
      if (spec.min !== undefined && list.some((x) => (x as number) < spec.min!)) throw bad(`numbers ≥ ${spec.min}`);
      out[key] = list as number[];
    } else {
      if (typeof v !== 'string') throw bad('a string');
      out[key] = v;
    }
  }
  return out;
}

/** The first passage after `ordinal` in bank order that has not been played (or null). */
export function nextUnplayed(bank: BankSummary, played: readonly PlayedPassage[], afterOrdinal: number): number | null {
  const seen = new Set(played.map((p) => p.ordinal));
  for (let k = afterOrdinal + 1; k < bank.passages.length; k++) if (!seen.has(k)) return k;
  return null;
}
