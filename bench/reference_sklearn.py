#!/usr/bin/python3
"""Reference scikit-learn batch decoder, for benchmarking lockstep against (method.md §4).

Usage:
    /usr/bin/python3 bench/reference_sklearn.py X.npy Y.npy [--times-subset N] --out result.json
        [--folds 5] [--chunk-mb 256]

X: [words, channels, times] float32/float64 .npy (memory-mapped); Y: [layers, words, dims] .npy.

What it runs: the strongest reasonable plain scikit-learn implementation of the paper's analysis.
1. X is z-scored per (channel, time) across all words (population std, a constant column gets scale 1,
   exactly as StandardScaler), reading the memory-mapped file in channel chunks of about --chunk-mb
   and writing a float64 array laid out [time][word][channel], so that each time sample's design
   matrix is contiguous. Only the time samples that will be fitted are z-scored (the statistics of a
   time sample do not depend on the others, so this is exact).
2. All layers' targets side by side: Ycat [words, layers*dims], float64.
3. For every time sample and every contiguous fold (KFold(folds, shuffle=False)): ONE
   `RidgeCV(alphas=np.logspace(-4, 8, 13), alpha_per_target=True)` on all targets at once (efficient
   leave-one-out: one SVD/eigendecomposition per fit serves every alpha and target), predict the
   held-out words, Pearson r per target (vectorised). R[layer][time] = mean over dims, then folds.
RidgeCV's leave-one-out path casts to float64 whatever the input dtype, so float64 throughout costs
nothing extra there. BLAS threads are whatever numpy's BLAS uses by default (reported below).

Timing and the full-size estimate: `seconds` is the wall time of steps 1-3 (loading the memory map,
z-scoring, all fits and scores; not Python start-up, imports or writing the output). With
`--times-subset N`, only N evenly spaced time samples (rounded linspace over 0..times-1) are run and
    secondsExtrapolated = seconds * nTimes / N
is reported as the estimate of the full-size run. Fits are identical in cost for every time sample,
so the fit part scales exactly (up to timing noise). The z-scoring part reads memory-mapped pages
that hold all time samples, so its I/O does not shrink with N, and scaling it by nTimes / N
overstates it; it is a small share of the total at realistic sizes (e.g. 3000 words x 270 channels
x 166 times: prep 0.07 s vs 25 s of fits for N = 4, on 2 cores), so the estimate errs slightly on
the high side. `secondsFit` and `secondsPrep` are reported separately; `secondsFitExtrapolated` =
secondsFit * nTimes / N is the fit-only estimate. Without --times-subset, secondsExtrapolated =
seconds.

Output: the JSON file holds everything (R for the measured time samples, timesIndex, timings,
shape, versions, BLAS threadpool info from threadpoolctl if importable); stdout gets one JSON line
with the same fields except the R array.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

ALPHAS = np.logspace(-4, 8, 13)


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


def threadpool_info():
    try:
        from threadpoolctl import threadpool_info as info
    except ImportError:
        return None
    return info()


def zscore_times(X, times, chunk_bytes):
    """Z-score X [words, channels, times] per (channel, time) across words, for the given time samples;
    returns float64 [len(times), words, channels]."""
    n_words, n_channels, _ = X.shape
    Z = np.empty((len(times), n_words, n_channels), dtype=np.float64)
    per_channel = n_words * len(times) * 8 * 2  # the float64 block and its centred copy
    step = max(1, int(chunk_bytes // max(per_channel, 1)))
    contiguous = len(times) == X.shape[2]
    for c0 in range(0, n_channels, step):
        c1 = min(n_channels, c0 + step)
        block = X[:, c0:c1, :] if contiguous else X[:, c0:c1, :][:, :, times]
        block = np.array(block, dtype=np.float64)  # [words, chunk, times]
        block -= block.mean(axis=0)
        std = np.sqrt(np.einsum('wct,wct->ct', block, block) / n_words)
        std[std == 0] = 1.0
        block /= std
        Z[:, :, c0:c1] = block.transpose(2, 0, 1)
    return Z


def main(argv=None):
    ap = argparse.ArgumentParser(description='Reference scikit-learn RidgeCV decoder (see the module docstring).')
    ap.add_argument('X', help='epochs .npy, [words, channels, times]')
    ap.add_argument('Y', help='targets .npy, [layers, words, dims]')
    ap.add_argument('--times-subset', type=int, default=None, metavar='N',
                    help='run only N evenly spaced time samples and extrapolate the time to all of them')
    ap.add_argument('--folds', type=int, default=5)
    ap.add_argument('--chunk-mb', type=float, default=256.0, help='memory per z-scoring chunk')
    ap.add_argument('--out', required=True, help='result .json')
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    X = np.load(args.X, mmap_mode='r', allow_pickle=False)
    Y = np.load(args.Y, mmap_mode='r', allow_pickle=False)
    if X.ndim != 3:
        ap.error(f'{args.X}: expected [words, channels, times], got shape {X.shape}')
    if Y.ndim != 3:
        ap.error(f'{args.Y}: expected [layers, words, dims], got shape {Y.shape}')
    n_words, n_channels, n_times = X.shape
    n_layers, n_words_y, n_dims = Y.shape
    if n_words_y != n_words:
        ap.error(f'{args.X} has {n_words} words but {args.Y} has {n_words_y}')
    if args.times_subset is not None and args.times_subset < 1:
        ap.error('--times-subset must be >= 1')
    n_targets = n_layers * n_dims

    if args.times_subset is None or args.times_subset >= n_times:
        times = np.arange(n_times)
    else:
        times = np.unique(np.round(np.linspace(0, n_times - 1, args.times_subset)).astype(np.int64))

    Z = zscore_times(X, times, args.chunk_mb * 2**20)
    Ycat = np.ascontiguousarray(np.asarray(Y, dtype=np.float64).transpose(1, 0, 2).reshape(n_words, n_targets))
    folds = list(KFold(n_splits=args.folds, shuffle=False).split(np.arange(n_words)))
    t_prep = time.perf_counter()

    R = np.zeros((n_layers, len(times)))
    for i in range(len(times)):
        Xt = Z[i]
        for train, test in folds:
            model = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(Xt[train], Ycat[train])
            r = pearson_per_column(Ycat[test], model.predict(Xt[test]))
            R[:, i] += r.reshape(n_layers, n_dims).mean(axis=1)
    R /= args.folds
    t_end = time.perf_counter()

    seconds = t_end - t0
    scale = n_times / len(times)
    summary = {
        'tool': 'bench/reference_sklearn.py',
        'seconds': seconds,
        'secondsPrep': t_prep - t0,
        'secondsFit': t_end - t_prep,
        'secondsExtrapolated': seconds * scale,
        'secondsFitExtrapolated': (t_end - t_prep) * scale,
        'nTimes': n_times,
        'nTimesMeasured': int(len(times)),
        'timesIndex': times.tolist(),
        'shape': {'words': n_words, 'channels': n_channels, 'times': n_times, 'layers': n_layers, 'dims': n_dims},
        'xDtype': str(X.dtype),
        'folds': args.folds,
        'alphas': ALPHAS.tolist(),
        'estimator': 'RidgeCV(alphas=np.logspace(-4, 8, 13), alpha_per_target=True), one per (time, fold), all targets',
        'versions': {'python': sys.version.split()[0], 'numpy': np.__version__, 'sklearn': sklearn.__version__},
        'threadpool': threadpool_info(),
        'cpuCount': os.cpu_count(),
        'platform': platform.platform(),
        'machine': platform.processor() or platform.machine(),
    }
    result = dict(summary, R=[[None if np.isnan(v) else float(v) for v in row] for row in R])
    with open(args.out, 'w') as fh:
        json.dump(result, fh)
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
