/**
 * `balance-surprisal`: choose each next passage so that the content words heard stay balanced over
 * the four surprisal quartiles, and decode each quartile with its own decoder (conditions q1…q4,
 * q1 = most predictable), so the temporal score per quartile is reported live — the paper's
 * predictable-vs-surprising comparison (0.92 vs 0.83).
 *
 * The choice is greedy: among the passages not yet played, the one after which the quartile counts
 * are most even (smallest max − min), ties broken by more content words, then by closeness to the
 * passage that would continue the story. Counts are those of the passages chosen (the bank's tags),
 * so a decision never waits for a decoder; the decoders' own counts are reported beside them.
 *
 * Owns: the choice and the quartile conditions. Must not: compute quartiles (the bank has them).
 */
import type { BankSummary, BankWord } from './bank.js';
import type { ClosedLoopPolicy, ParameterValue, PlayedPassage, PolicyDecision, PolicyDefinition, PolicyInput } from './policy.js';

export const QUARTILE_CONDITIONS = ['q1', 'q2', 'q3', 'q4'] as const;

export const BALANCE_SURPRISAL: PolicyDefinition = {
  name: 'balance-surprisal',
  summary: 'the passage that keeps the surprisal quartiles of content words balanced; temporal score per quartile (q1 predictable … q4 surprising)',
  parameters: {},
  create: (bank, parameters) => balanceSurprisal(bank, parameters),
};

/** Content words heard per quartile, from the passages played. */
export function quartileCountsOf(bank: BankSummary, played: readonly PlayedPassage[]): [number, number, number, number] {
  const c: [number, number, number, number] = [0, 0, 0, 0];
  for (const p of played) bank.passages[p.ordinal].quartileCounts.forEach((n, q) => (c[q] += n));
  return c;
}

function balanceSurprisal(bank: BankSummary, parameters: Record<string, ParameterValue>): ClosedLoopPolicy {
  return {
    name: BALANCE_SURPRISAL.name,
    parameters,
    conditions: QUARTILE_CONDITIONS,
    conditionsOf: (w: BankWord) => (w.isContent !== false && w.quartile !== null ? [`q${w.quartile}`] : []),
    decide(input: PolicyInput): PolicyDecision {
      const counts = quartileCountsOf(bank, input.played);
      const decoded = QUARTILE_CONDITIONS.map((q) => input.scores.conditions[q]?.nWords ?? 0);
      const state = { heard: counts, decoded };
      const seen = new Set(input.played.map((p) => p.ordinal));
      const follow = (input.played.at(-1)?.ordinal ?? -1) + 1;
      let best = -1;
      let bestKey: [number, number, number] | null = null;
      for (const p of bank.passages) {
        if (seen.has(p.ordinal)) continue;
        const after = counts.map((n, q) => n + p.quartileCounts[q]);
        const key: [number, number, number] = [Math.max(...after) - Math.min(...after), -p.nContent, Math.abs(p.ordinal - follow)];
        if (bestKey === null || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
          bestKey = key;
          best = p.ordinal;
        }
      }
      if (best < 0) return { action: 'stop', reason: 'bank-exhausted', detail: 'every passage of the bank has been played', state };
      const p = bank.passages[best];
      const least = counts.indexOf(Math.min(...counts)) + 1;
      return {
        action: 'play',
        passage: p.id,
        reason: `fill-q${least}`,
        detail: `heard per quartile ${counts.join('/')}; ${p.id} adds ${p.quartileCounts.join('/')} (spread after: ${bestKey![0]})`,
        state,
      };
    },
  };
}
