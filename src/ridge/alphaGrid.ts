/** The regularisation grid and how α is picked per target. */

/** numpy.logspace(start, stop, num): num values from 10^start to 10^stop. */
export function logspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [10 ** start];
  return Array.from({ length: num }, (_, i) => 10 ** (start + ((stop - start) * i) / (num - 1)));
}

/** The paper-compatible default: logspace(-4, 8, 13). */
export const DEFAULT_ALPHAS: readonly number[] = logspace(-4, 8, 13);

/**
 * How the ridge penalty is chosen for each target dimension:
 * - `gcv`: generalised cross-validation on the training statistics, exact from the sufficient
 *   statistics (default; the closest streaming equivalent of RidgeCV's efficient leave-one-out,
 *   see README "Method");
 * - `kfold`: inner K-fold over the other outer folds' statistics (squared error), as a purely
 *   held-out criterion; K(K−1)/2 more eigendecompositions per time sample and a held-out product
 *   over all α per inner fold, so several times the cost of `gcv`;
 * - `fixed`: one α for every target (the grid must then have one value).
 */
export type AlphaSelection = 'gcv' | 'kfold' | 'fixed';
export const ALPHA_SELECTIONS: readonly AlphaSelection[] = ['gcv', 'kfold', 'fixed'];

export function validateAlphas(alphas: readonly number[], selection: AlphaSelection): void {
  if (alphas.length === 0) throw new RangeError('alpha grid is empty');
  if (alphas.length > 255) throw new RangeError(`alpha grid has ${alphas.length} values; at most 255 are supported`);
  for (const a of alphas) if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`alpha values must be finite and > 0, got ${a}`);
  if (selection === 'fixed' && alphas.length !== 1) throw new RangeError(`fixed-alpha mode needs exactly one alpha, got ${alphas.length}`);
}
