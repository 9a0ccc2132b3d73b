#!/usr/bin/python3
"""scikit-learn oracle for lockstep's PCA of word activations (docs: the design's method.md §3).

Usage:
    /usr/bin/python3 test/oracle/pca_oracle.py --job X.npy,K[,L] [--job ...] --out result.json

Each job is an .npy file X ([words, features], or [words, layers, features] with L naming the layer
whose slice X[:, L, :] is analysed) and a number of components K. One process runs every job, since
importing scikit-learn is the slow part. The data are cast to float64 first (scikit-learn would otherwise fit
float32 input in float32).

The analysis is `PCA(n_components=K, svd_solver='full').fit(X)` then `transform(X)`. Signs are then
normalised to the u-based `svd_flip` convention (scikit-learn <= 1.4's choice for PCA): for each
component, the word with the largest |score| gets a positive score. This step is a no-op with
scikit-learn 1.2 (Debian bookworm) and makes the reference independent of the version's choice.

Output JSON: {"results": [one per job: scores [words][K], components [K][features], mean [features],
explained_variance [K], explained_variance_ratio [K]], "versions": {...}}.
"""
import argparse
import json

import numpy as np
import sklearn
from sklearn.decomposition import PCA


def run_job(path, k, layer):
    X = np.load(path)
    if layer is not None:
        X = X[:, layer, :]
    X = np.asarray(X, dtype=np.float64)
    pca = PCA(n_components=k, svd_solver='full').fit(X)
    scores = pca.transform(X)
    components = pca.components_.copy()
    big = np.argmax(np.abs(scores), axis=0)
    signs = np.sign(scores[big, np.arange(scores.shape[1])])
    signs[signs == 0] = 1
    scores *= signs
    components *= signs[:, None]
    return {
        'scores': scores.tolist(),
        'components': components.tolist(),
        'mean': pca.mean_.tolist(),
        'explained_variance': pca.explained_variance_.tolist(),
        'explained_variance_ratio': pca.explained_variance_ratio_.tolist(),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--job', action='append', required=True, help='X.npy,K[,layer]')
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    results = []
    for job in a.job:
        parts = job.split(',')
        results.append(run_job(parts[0], int(parts[1]), int(parts[2]) if len(parts) > 2 else None))
    json.dump({'results': results, 'versions': {'sklearn': sklearn.__version__, 'numpy': np.__version__}}, open(a.out, 'w'))


if __name__ == '__main__':
    main()
