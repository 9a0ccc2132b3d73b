/**
 * Which outer fold a word belongs to. Folds are contiguous blocks of words (never shuffled:
 * neighbouring epochs overlap by several seconds, so shuffled folds would leak), assigned as words
 * arrive, in one of two ways:
 *
 * - `total`: the number of words is known in advance (offline decoding, replay of a known
 *   stimulus). Fold f holds words [start_f, start_{f+1}) exactly as scikit-learn's
 *   `KFold(K, shuffle=False)` splits N samples: the first N mod K folds get one extra word.
 * - `blocks`: the total is unknown (live). Words are cut into contiguous blocks of `blockWords`
 *   and block j goes to fold j mod K, so every fold grows at the same pace and each is a union of
 *   contiguous stretches (leakage only at the 2K−2 block edges per cycle, ~16 words each).
 *
 * The position used is the arrival order of accepted words (0, 1, 2, …), not the stimulus index,
 * so skipped words do not leave holes.
 */

export type FoldPlan = { kind: 'total'; folds: number; totalWords: number } | { kind: 'blocks'; folds: number; blockWords: number };

export function foldOf(plan: FoldPlan, position: number): number {
  if (plan.kind === 'blocks') return Math.floor(position / plan.blockWords) % plan.folds;
  const { folds, totalWords } = plan;
  if (position >= totalWords) {
    throw new RangeError(`fold plan: word ${position} is beyond the declared total of ${totalWords} words; declare the right total or use block folds`);
  }
  const base = Math.floor(totalWords / folds);
  const extra = totalWords % folds;
  // The first `extra` folds have base+1 words.
  const bigSpan = extra * (base + 1);
  if (position < bigSpan) return Math.floor(position / (base + 1));
  return extra + Math.floor((position - bigSpan) / base);
}

export function describeFoldPlan(plan: FoldPlan): string {
  return plan.kind === 'total'
    ? `${plan.folds} contiguous folds over ${plan.totalWords} words (as KFold(${plan.folds}, shuffle=False))`
    : `${plan.folds} folds from contiguous blocks of ${plan.blockWords} words, assigned round-robin`;
}

/** Fewest words each fold (and each training set) needs before the exact K-fold can score it. */
export const MIN_WORDS_PER_FOLD = 2;

/**
 * Accepted words after which every fold holds {@link MIN_WORDS_PER_FOLD} words, i.e. from when on
 * an exact K-fold score can be computed (it then comes with the next refit); null when the plan
 * never gets there. Blocks of B ≥ 2 words over K folds: the last fold's second word is word
 * B·(K−1) + 2 (402 for 100-word blocks over 5 folds); B = 1: 2K. A known total: the last fold
 * (filled last) must reach its second word.
 * @example minWordsForExact({ kind: 'blocks', folds: 5, blockWords: 100 }) // 402
 */
export function minWordsForExact(plan: FoldPlan): number | null {
  const m = MIN_WORDS_PER_FOLD;
  const last = plan.folds - 1;
  if (plan.kind === 'blocks') {
    // The m-th word of the last fold: its ⌊(m−1)/B⌋-th block of that fold, offset (m−1) mod B.
    const q = Math.floor((m - 1) / plan.blockWords);
    const r = (m - 1) % plan.blockWords;
    return (last + q * plan.folds) * plan.blockWords + r + 1;
  }
  const lastSize = Math.floor(plan.totalWords / plan.folds); // the first totalWords mod K folds get one more
  if (lastSize < m) return null;
  return plan.totalWords - lastSize + m;
}

export function validateFoldPlan(plan: FoldPlan): void {
  if (!Number.isInteger(plan.folds) || plan.folds < 2) throw new RangeError(`folds must be an integer ≥ 2, got ${plan.folds}`);
  if (plan.kind === 'total' && (!Number.isInteger(plan.totalWords) || plan.totalWords < plan.folds)) {
    throw new RangeError(`fold plan: totalWords must be an integer ≥ folds (${plan.folds}), got ${plan.totalWords}`);
  }
  if (plan.kind === 'blocks' && (!Number.isInteger(plan.blockWords) || plan.blockWords < 1)) {
    throw new RangeError(`fold plan: blockWords must be a positive integer, got ${plan.blockWords}`);
  }
}
