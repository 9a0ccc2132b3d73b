#!/usr/bin/python3
"""scikit-learn oracle for lockstep's batch decoder (docs: the design's method.md §4, §7).

Usage:
    /usr/bin/python3 test/oracle/sklearn_oracle.py X.npy Y.npy --alphas 1e-4,1e-3,... \
        [--fixed ALPHA] --folds 5 --out result.json

X: [words, channels, times] MEG epochs; Y: [layers, words, dims] layer activations (.npy).

The analysis, written the plain scikit-learn way so that it is obviously what the paper describes:
1. X is z-scored per (channel, time) across ALL words with `StandardScaler` fitted on all words (the
   paper's global z-scoring; a constant column has scale 1, so it becomes 0). Computed in float64.
2. Targets: all layers concatenated, Y[l, w, d] -> Ycat[w, l*dims + d]  ([words, layers*dims]).
3. For every time sample t and every fold of `KFold(folds, shuffle=False)` (contiguous folds):
   - with --fixed: `Ridge(alpha=ALPHA, fit_intercept=True)`;
   - otherwise `RidgeCV(alphas=alphas, alpha_per_target=True, fit_intercept=True)` (efficient
     leave-one-out on the training words, alpha chosen per target by squared error);
   fitted on the training words of Xz[:, :, t], predicting the held-out words; Pearson r per target.

Output JSON (NaN is written as null; it arises when a held-out target or prediction is constant):
    targetR     [fold][time][target]   Pearson r, target = layer*dims + dim
    alphaIndex  [fold][time][target]   index into the alphas grid of the alpha used (RidgeCV: `alpha_`
                                       per target; --fixed: the grid index of ALPHA, or -1 if ALPHA is
                                       not in the grid)
    R           [layer][time]          targetR averaged over the dims of the layer, then over folds
    seconds                            wall time of steps 1-3 (not loading or writing)
    plus alphas, fixed, folds (test index ranges), shape, versions.
"""
import argparse
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler


def pearson_per_column(y, p):
    """Pearson r between matching columns of y and p ([samples, targets]); NaN where either is constant."""
    yc = y - y.mean(axis=0)
    pc = p - p.mean(axis=0)
    num = np.einsum('ij,ij->j', yc, pc)
    den = np.sqrt(np.einsum('ij,ij->j', yc, yc) * np.einsum('ij,ij->j', pc, pc))
    with np.errstate(invalid='ignore', divide='ignore'):
        r = num / den
    r[den == 0] = np.nan
    return r


def nan_to_none(a):
    """A nested list of a float array with NaN as None (JSON null)."""
    obj = np.asarray(a, dtype=float).astype(object)
    obj[np.isnan(np.asarray(a, dtype=float))] = None
    return obj.tolist()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('X', help='epochs .npy, [words, channels, times]')
    ap.add_argument('Y', help='targets .npy, [layers, words, dims]')
    ap.add_argument('--alphas', required=True, help='comma-separated alpha grid, e.g. 1e-4,1e-3,...,1e8')
    ap.add_argument('--fixed', type=float, default=None, help='use Ridge(alpha=FIXED) instead of RidgeCV')
    ap.add_argument('--inner-kfold', action='store_true',
                    help='pick alpha per target by inner K-fold: for outer fold o, minimise the summed squared '
                         'error over g != o of Ridge fit on all folds but {o, g} and tested on g')
    ap.add_argument('--folds', type=int, default=5)
    ap.add_argument('--out', required=True, help='result .json')
    args = ap.parse_args(argv)

    alphas = np.array([float(s) for s in args.alphas.split(',') if s.strip()], dtype=np.float64)
    if alphas.size == 0 or not np.all(alphas > 0):
        ap.error('--alphas must list positive numbers')
    X = np.load(args.X, allow_pickle=False)
    Y = np.load(args.Y, allow_pickle=False)
    if X.ndim != 3:
        ap.error(f'{args.X}: expected [words, channels, times], got shape {X.shape}')
    if Y.ndim != 3:
        ap.error(f'{args.Y}: expected [layers, words, dims], got shape {Y.shape}')
    n_words, n_channels, n_times = X.shape
    n_layers, n_words_y, n_dims = Y.shape
    if n_words_y != n_words:
        ap.error(f'{args.X} has {n_words} words but {args.Y} has {n_words_y}')
    n_targets = n_layers * n_dims

    t0 = time.perf_counter()
    # 1. Global z-scoring per (channel, time) across all words.
    Xz = StandardScaler().fit_transform(X.astype(np.float64).reshape(n_words, n_channels * n_times))
    Xz = Xz.reshape(n_words, n_channels, n_times)
    # 2. All layers' targets side by side.
    Ycat = Y.astype(np.float64).transpose(1, 0, 2).reshape(n_words, n_targets)
    # 3. Per time sample and contiguous fold.
    folds = list(KFold(n_splits=args.folds, shuffle=False).split(np.arange(n_words)))
    target_r = np.empty((args.folds, n_times, n_targets))
    alpha_index = np.empty((args.folds, n_times, n_targets), dtype=np.int64)
    log_alphas = np.log(alphas)
    if args.fixed is not None:
        close = np.flatnonzero(np.isclose(alphas, args.fixed, rtol=1e-9, atol=0))
        fixed_index = int(close[0]) if close.size else -1
    for t in range(n_times):
        Xt = Xz[:, :, t]
        for f, (train, test) in enumerate(folds):
            if args.fixed is not None:
                model = Ridge(alpha=args.fixed, fit_intercept=True)
            elif args.inner_kfold:
                sse = np.zeros((alphas.size, n_targets))
                for g, (_, inner_test) in enumerate(folds):
                    if g == f:
                        continue
                    inner_train = np.setdiff1d(train, inner_test)
                    for a, alpha in enumerate(alphas):
                        pred = Ridge(alpha=alpha, fit_intercept=True).fit(Xt[inner_train], Ycat[inner_train]).predict(Xt[inner_test])
                        sse[a] += ((pred - Ycat[inner_test]) ** 2).sum(axis=0)
                best = sse.argmin(axis=0)
                # One Ridge per chosen alpha (targets grouped), assembled into per-target predictions.
                pred = np.empty((test.size, n_targets))
                for a in np.unique(best):
                    cols = best == a
                    pred[:, cols] = Ridge(alpha=alphas[a], fit_intercept=True).fit(Xt[train], Ycat[train][:, cols]).predict(Xt[test])
                target_r[f, t] = pearson_per_column(Ycat[test], pred)
                alpha_index[f, t] = best
                continue
            else:
                model = RidgeCV(alphas=alphas, alpha_per_target=True, fit_intercept=True)
            model.fit(Xt[train], Ycat[train])
            target_r[f, t] = pearson_per_column(Ycat[test], model.predict(Xt[test]))
            if args.fixed is not None:
                alpha_index[f, t] = fixed_index
            else:
                chosen = np.broadcast_to(np.atleast_1d(model.alpha_), (n_targets,))
                alpha_index[f, t] = np.abs(np.log(chosen)[:, None] - log_alphas[None, :]).argmin(axis=1)
    # [fold][time][layer][dim] -> mean over dims -> mean over folds -> [layer][time]
    R = target_r.reshape(args.folds, n_times, n_layers, n_dims).mean(axis=3).mean(axis=0).T
    seconds = time.perf_counter() - t0

    result = {
        'targetR': nan_to_none(target_r),
        'alphaIndex': alpha_index.tolist(),
        'R': nan_to_none(R),
        'seconds': seconds,
        'alphas': alphas.tolist(),
        'fixed': args.fixed,
        'folds': [[int(test[0]), int(test[-1]) + 1] for _, test in folds],
        'shape': {'words': n_words, 'channels': n_channels, 'times': n_times, 'layers': n_layers, 'dims': n_dims},
        'versions': {'python': sys.version.split()[0], 'numpy': np.__version__, 'sklearn': sklearn.__version__},
    }
    with open(args.out, 'w') as fh:
        json.dump(result, fh)


if __name__ == '__main__':
    main()
