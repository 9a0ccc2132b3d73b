/**
 * `stop-when-tight`: play the passages in bank order and stop as soon as the temporal score is
 * known precisely enough: its interval (the latest exact refit's `ci`, whatever method computed
 * it) narrower than `ciWidth`, once the refit covers at least `minWords` words. Automated, so staff
 * stay blind to interim results.
 *
 * The interval is read as the snapshot gives it: a better-calibrated interval (or an anytime-valid
 * confidence sequence) in the decoder's snapshot makes this rule better with no change here; the
 * method is logged with every decision. A percentile bootstrap over 5 folds is not anytime-valid:
 * looking after every passage and stopping at the first narrow interval makes the final interval
 * optimistic (README "Closed-loop experiments").
 *
 * Owns: the rule. Must not: compute intervals (the decoder's snapshot does).
 */
import type { BankSummary } from './bank.js';
import { nextUnplayed, type ClosedLoopPolicy, type ParameterValue, type PolicyDefinition, type PolicyInput, type PolicyDecision } from './policy.js';

export const STOP_WHEN_TIGHT: PolicyDefinition = {
  name: 'stop-when-tight',
  summary: 'passages in bank order; stop when the temporal score\'s interval is narrower than --ci-width (after --min-words)',
  parameters: {
    ciWidth: { kind: 'number', default: 0.2, min: 0, help: 'stop when the interval of the temporal score (high − low) is narrower than this' },
    minWords: { kind: 'number', default: 200, min: 0, help: 'never stop before the exact refit covers this many decoded words' },
  },
  create: (bank, parameters) => stopWhenTight(bank, parameters),
};

function stopWhenTight(bank: BankSummary, parameters: Record<string, ParameterValue>): ClosedLoopPolicy {
  const ciWidth = parameters.ciWidth as number;
  const minWords = parameters.minWords as number;
  return {
    name: STOP_WHEN_TIGHT.name,
    parameters,
    decide(input: PolicyInput): PolicyDecision {
      const all = input.scores.all;
      const ci = all?.ci ?? null;
      const width = ci ? ci.high - ci.low : null;
      const words = all?.exactWords ?? 0;
      const state = { ciWidth: width, target: ciWidth, exactWords: words, minWords, method: ci?.method ?? null };
      if (ci && width !== null && width < ciWidth && words >= minWords) {
        return { action: 'stop', reason: 'ci-narrower', detail: `interval ${ci.low.toFixed(3)}…${ci.high.toFixed(3)} (${ci.method}, ${Math.round(ci.level * 100)} %) is ${width.toFixed(3)} wide < ${ciWidth} after ${words} words`, state };
      }
      const last = input.played.at(-1);
      const next = nextUnplayed(bank, input.played, last ? last.ordinal : -1);
      if (next === null) return { action: 'stop', reason: 'bank-exhausted', detail: 'every passage of the bank has been played', state };
      const why =
        width === null
          ? `no interval yet (${all?.nWords ?? 0} words decoded, no exact refit)`
          : width >= ciWidth
            ? `interval ${width.toFixed(3)} wide ≥ ${ciWidth}`
            : `interval ${width.toFixed(3)} wide but ${words} < ${minWords} words`;
      return { action: 'play', passage: bank.passages[next].id, reason: 'in-order', detail: `${why}: next passage in order`, state };
    },
  };
}
