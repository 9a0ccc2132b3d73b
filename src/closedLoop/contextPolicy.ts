/**
 * `context`: how much preceding story does alignment need? Trials vary the context heard before a
 * probe passage and an upper-confidence-bound rule allocates them, so that trials concentrate where
 * more context stops paying: the saturation point.
 *
 * A trial of arm k (k in `arms`, passages of context) jumps to a fresh place in the bank (skipping
 * `jumpPassages` passages, so the listener's context breaks), plays k passages that continue into
 * the probe, then the probe. Only the probe's words go to the arm's decoder (condition
 * `context-<k>`); every word goes to the overall decoder. Arm 0 is a jump straight into the probe.
 *
 * Allocation (UCB1 on a cost-adjusted, normalised score): with n_k probes of arm k out of N and
 * s_k the arm's score (`measure`: alignment = peak R, or temporal score),
 *   U_k = s_k / max_j s_j − cost · k + ucbC · sqrt(2 ln N / n_k).
 * The cost per passage of context turns "the most context is best" (alignment only grows) into
 * "the least context that reaches the plateau is best": arms past saturation score the same but
 * cost more, arms before it score less. Arms never tried come first (lowest k first), then arms
 * whose decoder has no score yet (fewer than `minArmWords` words, or no refit yet); only arms the
 * bank still has an unplayed run of k + 1 passages for are candidates.
 *
 * The arm's score (`scorer`): `overall` (default) is the rolling score of the decoder of all words
 * over the arm's probe words (ScoreSummary.byCondition): one model, trained on everything heard,
 * predicts every probe word as it arrives, so arms are compared by how well their words are
 * decoded, whatever their number of probes. `own` is the arm's own decoder (trained on its probe
 * words only), whose score grows with its word count: UCB then favours the arm it has played most
 * (measured: BENCHMARKS.md, "Closed loop"), which is why it is not the default. Before the first
 * trial the policy plays `warmupWords` words of story in order, so that the decoder of all words
 * has a model when the first probes are scored. It stops when the arm the rule chooses has no
 * unplayed run of passages left in the bank.
 *
 * Owns: the trial structure, the allocation rule and the context conditions. Must not: estimate
 * scores (the decoders do).
 */
import type { BankSummary, BankWord } from './bank.js';
import type { ClosedLoopPolicy, ParameterValue, PlayedPassage, PolicyDecision, PolicyDefinition, PolicyInput } from './policy.js';

export const CONTEXT_POLICY: PolicyDefinition = {
  name: 'context',
  summary: 'trials with 0…k passages of context before a probe passage, allocated by UCB to find where alignment saturates',
  parameters: {
    arms: { kind: 'numbers', default: [0, 1, 2, 3, 4], min: 0, help: 'passages of context before the probe, one arm each' },
    cost: { kind: 'number', default: 0.1, min: 0, help: 'cost of one passage of context, as a fraction of the best arm\'s score' },
    ucbC: { kind: 'number', default: 0.3, min: 0, help: 'exploration weight of the UCB bonus' },
    measure: { kind: 'string', default: 'alignment', help: 'the arm score: alignment (peak R) or temporal (temporal score)' },
    minArmWords: { kind: 'number', default: 20, min: 1, help: 'an arm counts as scored once its decoder has this many words' },
    jumpPassages: { kind: 'number', default: 1, min: 1, help: 'passages skipped before a trial, so its context starts fresh' },
    scorer: { kind: 'string', default: 'overall', help: "the arm score's decoder: overall (the decoder of all words, scored over the arm's probe words) or own (the arm's own decoder)" },
    warmupWords: { kind: 'number', default: 300, min: 0, help: 'words of story played in order before the first trial (the overall decoder needs a model)' },
  },
  create: (bank, parameters) => contextPolicy(bank, parameters),
};

type Role = { arm: number; probe: boolean; index: number };

/** `ctx:<k>:<j>` (j-th context passage of an arm-k trial) or `probe:<k>`. */
function roleOf(label: string | undefined): Role | null {
  const m = label ? /^(?:ctx:(\d+):(\d+)|probe:(\d+))$/.exec(label) : null;
  if (!m) return null;
  return m[3] !== undefined ? { arm: Number(m[3]), probe: true, index: 0 } : { arm: Number(m[1]), probe: false, index: Number(m[2]) };
}

export interface ArmState {
  arm: number;
  probes: number;
  words: number;
  score: number | null;
  ucb: number | null;
}

function contextPolicy(bank: BankSummary, parameters: Record<string, ParameterValue>): ClosedLoopPolicy {
  const arms = [...new Set(parameters.arms as number[])].map(Math.round).sort((a, b) => a - b);
  const cost = parameters.cost as number;
  const ucbC = parameters.ucbC as number;
  const measure = parameters.measure as string;
  if (measure !== 'alignment' && measure !== 'temporal') throw new RangeError(`policy context: measure must be alignment or temporal, got "${measure}"`);
  const minArmWords = parameters.minArmWords as number;
  const jump = Math.round(parameters.jumpPassages as number);
  const scorer = parameters.scorer as string;
  if (scorer !== 'overall' && scorer !== 'own') throw new RangeError(`policy context: scorer must be overall or own, got "${scorer}"`);
  const warmupWords = parameters.warmupWords as number;
  const conditionOf = (k: number) => `context-${k}`;
  /** An arm's words and score (null until it has minArmWords words and a score). */
  const armScore = (input: PolicyInput, k: number): { words: number; score: number | null } => {
    const shared = input.scores.all?.byCondition?.[conditionOf(k)];
    const own = input.scores.conditions[conditionOf(k)];
    const s = scorer === 'overall' ? shared && { ...shared, words: shared.nScored } : own && { ...own, words: own.nWords };
    if (!s) return { words: 0, score: null };
    const v = measure === 'alignment' ? s.alignmentScore : s.temporalScore;
    return { words: s.words, score: s.words < minArmWords || v === null || !Number.isFinite(v) ? null : v };
  };

  const armStates = (input: PolicyInput): ArmState[] => {
    const probes = new Map<number, number>();
    for (const p of input.played) {
      const r = roleOf(p.label);
      if (r?.probe) probes.set(r.arm, (probes.get(r.arm) ?? 0) + 1);
    }
    const states = arms.map((k) => ({ arm: k, probes: probes.get(k) ?? 0, ...armScore(input, k), ucb: null as number | null }));
    const best = Math.max(...states.map((a) => a.score ?? -Infinity));
    const total = states.reduce((n, a) => n + a.probes, 0);
    for (const a of states) {
      if (a.score === null || a.probes === 0 || !(best > 0)) continue;
      a.ucb = a.score / best - cost * a.arm + ucbC * Math.sqrt((2 * Math.log(Math.max(total, 1))) / a.probes);
    }
    return states;
  };

  /** The arm whose point estimate (no bonus) is best: the policy's current answer. */
  const saturationArm = (states: ArmState[]): number | null => {
    const best = Math.max(...states.map((a) => a.score ?? -Infinity));
    if (!(best > 0)) return null;
    let arm: number | null = null;
    let value = -Infinity;
    for (const a of states) {
      if (a.score === null) continue;
      const v = a.score / best - cost * a.arm;
      if (v > value) [arm, value] = [a.arm, v];
    }
    return arm;
  };

  /** First s ≥ from with passages s … s+k all unplayed (searching the whole bank round from `from`). */
  const freshRun = (played: readonly PlayedPassage[], from: number, k: number): number | null => {
    const seen = new Set(played.map((p) => p.ordinal));
    const N = bank.passages.length;
    const last = played.at(-1)?.ordinal;
    for (let i = 0; i < N; i++) {
      const s = (from + i) % N;
      if (s + k >= N) continue;
      // The passage before the trial must not be the one just heard: the context has to break.
      if (last !== undefined && s === last + 1) continue;
      let ok = true;
      for (let j = s; j <= s + k && ok; j++) ok = !seen.has(j);
      if (ok) return s;
    }
    return null;
  };

  return {
    name: CONTEXT_POLICY.name,
    parameters,
    conditions: arms.map(conditionOf),
    conditionsOf: (_w: BankWord, play: PlayedPassage) => {
      const r = roleOf(play.label);
      return r?.probe ? [conditionOf(r.arm)] : [];
    },
    decide(input: PolicyInput): PolicyDecision {
      const states = armStates(input);
      const state = { arms: states, saturationArm: saturationArm(states) };
      const last = input.played.at(-1);
      const role = roleOf(last?.label);
      // Inside a trial: continue the story into the next context passage or the probe.
      if (last && role && !role.probe) {
        const next = last.ordinal + 1;
        const free = next < bank.passages.length && !input.played.some((p) => p.ordinal === next);
        if (free) {
          const probe = role.index >= role.arm;
          const label = probe ? `probe:${role.arm}` : `ctx:${role.arm}:${role.index + 1}`;
          return { action: 'play', passage: bank.passages[next].id, label, reason: probe ? `probe-arm-${role.arm}` : `context-arm-${role.arm}`, detail: probe ? `probe after ${role.arm} passage(s) of context` : `context passage ${role.index + 1} of ${role.arm}`, state };
        }
      }
      // Before the first trial: story in order until the decoder of all words has warmupWords words.
      const trialsStarted = input.played.some((p) => roleOf(p.label) !== null);
      const heard = input.scores.all?.nWords ?? 0;
      if (!trialsStarted && heard < warmupWords) {
        const next = last ? last.ordinal + 1 : 0;
        if (next < bank.passages.length) {
          return { action: 'play', passage: bank.passages[next].id, label: 'warmup', reason: 'warm-up', detail: `story in order before the first trial: the decoder of all words has ${heard} of ${warmupWords} words`, state };
        }
      }
      // A new trial: untried arms first (lowest k), then unscored ones (fewest probes), then the
      // highest upper bound; among the arms the bank still has room for.
      const from = last ? last.ordinal + 1 + jump : 0;
      const fits = states.map((a) => freshRun(input.played, from, a.arm));
      const open = states.filter((_, i) => fits[i] !== null);
      const untried = open.find((a) => a.probes === 0);
      const unscored = open.filter((a) => a.score === null).sort((x, y) => x.probes - y.probes)[0];
      const best = (xs: ArmState[]) => xs.reduce<ArmState | undefined>((a, b) => (a === undefined || (b.ucb ?? -Infinity) > (a.ucb ?? -Infinity) ? b : a), undefined);
      // Once every arm is scored, the rule chooses among all arms: when its choice no longer fits in
      // the bank, the session stops rather than fill the rest with whichever short trials still fit,
      // which would pile trials on arm 0 for lack of room, not for its score.
      if (!untried && !unscored && states.every((a) => a.ucb !== null)) {
        const wanted = best(states)!;
        if (fits[states.indexOf(wanted)] === null) {
          return { action: 'stop', reason: 'bank-exhausted', detail: `no unplayed run of ${wanted.arm + 1} passage(s) is left for arm ${wanted.arm}, the arm with the highest upper bound (${wanted.ucb!.toFixed(3)})`, state };
        }
      }
      const arm = untried ?? unscored ?? best(open);
      if (arm) {
        const why = arm === untried ? 'untried arm' : arm === unscored ? `arm not scored yet (${arm.words} words, ${minArmWords} needed)` : `highest upper bound ${arm.ucb!.toFixed(3)}`;
        const full = open.length < states.length ? `; no room left in the bank for arm(s) ${states.filter((_, i) => fits[i] === null).map((a) => a.arm).join(', ')}` : '';
        const s0 = fits[states.indexOf(arm)]!;
        const k = arm.arm;
        return { action: 'play', passage: bank.passages[s0].id, label: k === 0 ? 'probe:0' : `ctx:${k}:1`, reason: k === 0 ? 'probe-arm-0' : `context-arm-${k}`, detail: `arm ${k} (${why}${full})`, state };
      }
      return { action: 'stop', reason: 'bank-exhausted', detail: 'no unplayed run of passages is left for a trial', state };
    },
  };
}
