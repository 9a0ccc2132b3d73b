#!/usr/bin/python3
"""Why temporal alignment fails with the built-in language model's features in `lockstep demo`,
and what a better coupling between layers and simulated MEG would give (docs/alignment-diagnosis.md).

Computes every number and draws every figure of the document:

  Part A (why): similarity of the 9 depths (linear CKA, PCA spectra of the raw hidden states),
  cross-decoding between depths, what today's coupling (3 random unit projections of the raw PCA
  scores per layer) does with such features, neighbouring words' overlap and the features'
  word-to-word autocorrelation, and decoding curves R(t) from noise-free simulated responses and
  from the pipeline's real output.

  Part B (what instead): coupling designs prototyped at the level of the continuous 30 Hz stream.
  The noise is the real simulator's (`--control null` run through the pipeline's own preprocessing,
  bench/diagnosisMeg.ts); the evoked signal is rebuilt here exactly as adapters/simulator builds it
  (cos² bumps at 120 Hz, unit-RMS dipolar patterns, 6 fT per unit source weight) and sent through the
  same band-pass and resampling; epochs are cut as streams/epochs.ts cuts them; the decoder is
  src/ridge/kfoldRidge.ts's (global z-scoring per channel and time, ridge per time sample with GCV α
  per target from logspace(-4, 8, 13), 5 folds from contiguous 100-word blocks round-robin, R = mean
  Pearson r over a layer's 50 dims and over folds), Tmax = mean time of R ≥ 0.95·max, score =
  r(Tmax, depth) with its t-test (df 7). The replica is checked against the real pipeline first.

Usage (Debian's python3: numpy, scipy, scikit-learn, matplotlib):
  npx tsc -p .
  /usr/bin/python3 scripts/diagnose_alignment.py [--work /tmp/lockstep-diagnosis] [--part a|b|all]

It runs `node dist/cli/main.js extract` and `node dist/bench/diagnosisMeg.js` itself (cached in
--work), writes figures to docs/figures/alignment-*.png and every number to
docs/figures/alignment-diagnosis.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

# One BLAS thread: on a shared 2-core machine OpenBLAS's threads fight the other processes (an
# eigendecomposition of 273 × 273 took 25× longer with threads than without).
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
import numpy as np  # noqa: E402
from scipy import signal, stats  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGS = os.path.join(REPO, 'docs', 'figures')
DEPTHS = np.round(np.arange(1, 10) / 10, 1)
L = 9
N_DIMS = 50
MINUTES = 20
N_WORDS = int(np.ceil(MINUTES * 60 * 3.6)) + 50  # the words cli/demo.ts extracts for --minutes 20
SEEDS = (1, 2, 3)

# The simulator's constants (adapters/simulator/simulatedSubject.ts), copied, never changed here.
EVOKED_T = 6e-15
WIDTH_SEC = 0.15
LOW_HZ = 120
# The epoch grid (src/epochGrid.ts) and decoder defaults.
T_MIN, T_MAX, FS = -2.5, 3.0, 30
N_TIMES = int(round((T_MAX - T_MIN) * FS)) + 1
TIMES = T_MIN + np.arange(N_TIMES) / FS
ALPHAS = 10.0 ** np.arange(-4, 9)
FOLDS, FOLD_BLOCK = 5, 100


def planted_latency(depth):
    return 0.3 + (depth - 0.1) * 0.35 / 0.8


LATENCIES = planted_latency(DEPTHS)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Material: features and simulated streams, made by the project's own commands
# ---------------------------------------------------------------------------------------------

ALL_DEPTHS = np.round(np.arange(0, 11) / 10, 1)  # every hidden state of the 10-block built-in model


def extract(work, model, depths=None):
    """`lockstep extract` of the words a 20-minute demo hears, with the raw hidden states kept
    (depths: the 9 decoded ones by default; ALL_DEPTHS adds the embedding output and the last block)."""
    cmd = ['node', os.path.join(REPO, 'dist/cli/main.js'), 'extract', '--model', model, '--text', 'builtin',
           '--max-words', str(N_WORDS), '--context', '50', '--mode', 'chunked', '--keep-raw',
           '--out', os.path.join(work, 'cache'), '--json', '--quiet']
    if depths is not None:
        cmd += ['--depths', ','.join(map(str, depths))]
    import fcntl
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, 'extract.lock'), 'w') as lock:
        # One extraction at a time: parts may run side by side, and the cache is one folder.
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    d = out['cacheDir']
    acts = np.load(os.path.join(d, 'activations.npy')).astype(np.float64)  # [word, layer, dim]
    raw = np.load(os.path.join(d, 'raw.npy')).astype(np.float64)  # [word, layer, hidden]
    with open(os.path.join(d, 'words.tsv')) as f:
        content = np.array([line.split('\t')[3] == '1' for line in f.read().strip().split('\n')[1:]])
    return {'acts': acts, 'raw': raw, 'content': content, 'evr50': out['explainedVarianceRatio'], 'hidden': out['hiddenSize'], 'depths': out['depths']}


def meg_dump(work, name, **kw):
    """bench/diagnosisMeg.ts: the simulated subject through the pipeline's preprocessing, 30 Hz."""
    d = os.path.join(work, 'meg', name)
    if not os.path.exists(os.path.join(d, 'meta.json')):
        cmd = ['node', os.path.join(REPO, 'dist/bench/diagnosisMeg.js'), '--out', d]
        for k, v in kw.items():
            cmd += [f'--{k}', str(v)]
        log('running', ' '.join(cmd[1:]))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(d, 'meta.json')) as f:
        meta = json.load(f)
    words = np.load(os.path.join(d, 'words.npy'))
    return {
        'meta': meta,
        'meg': np.load(os.path.join(d, 'meg30.npy'), mmap_mode='r'),
        'onsets': words[:, 0],
        'index': words[:, 1].astype(int),
        'content': words[:, 2],
        'has': words[:, 3] > 0,
        'weights': np.load(os.path.join(d, 'weights.npy')),
        'patterns': np.load(os.path.join(d, 'patterns.npy')).astype(np.float64),
        'features': np.load(os.path.join(d, 'features.npy')).astype(np.float64) if os.path.exists(os.path.join(d, 'features.npy')) else None,
    }


# ---------------------------------------------------------------------------------------------
# Small statistics
# ---------------------------------------------------------------------------------------------

def linear_cka(a, b):
    """Linear CKA (Kornblith et al. 2019) between two [n, d] representations of the same words."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    ab = np.linalg.norm(a.T @ b) ** 2
    return ab / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b))


def pca_spectrum(x):
    x = x - x.mean(0)
    s = np.linalg.svd(x, compute_uv=False) ** 2
    return s / s.sum()


def participation_ratio(evr):
    return evr.sum() ** 2 / (evr ** 2).sum()


def contiguous_folds(n, k=5):
    return np.minimum((np.arange(n) * k) // n, k - 1)


def ridge_cross_r2(x, y, alphas=10.0 ** np.arange(-2, 7)):
    """Held-out R² of y's dims from x (ridge, α by GCV per target on the training folds, 5
    contiguous folds), per target dim, [dims]."""
    n = len(x)
    fold = contiguous_folds(n)
    pred = np.zeros_like(y)
    for f in range(5):
        tr, te = fold != f, fold == f
        mx, sx = x[tr].mean(0), x[tr].std(0) + 1e-12
        my = y[tr].mean(0)
        xt = (x[tr] - mx) / sx
        u, s, vt = np.linalg.svd(xt, full_matrices=False)
        q = u.T @ (y[tr] - my)
        best = None
        for a in alphas:
            h = s ** 2 / (s ** 2 + a)
            fit = u @ (h[:, None] * q)
            rss = ((y[tr] - my - fit) ** 2).sum(0)
            gcv = rss / (tr.sum() - h.sum()) ** 2
            if best is None:
                best, ba = gcv, np.full(y.shape[1], a)
            else:
                better = gcv < best
                best = np.where(better, gcv, best)
                ba = np.where(better, a, ba)
        coef = vt.T @ ((s[:, None] / (s[:, None] ** 2 + ba[None, :])) * q)
        pred[te] = ((x[te] - mx) / sx) @ coef + my
    ss = ((y - y.mean(0)) ** 2).sum(0)
    return 1 - ((y - pred) ** 2).sum(0) / ss


def lagged_autocorr(f, lags):
    """Mean over dims of corr(f[w], f[w+k]) (equal weight per dim) and the variance-weighted
    version (the share of total variance carried over), per lag."""
    z = (f - f.mean(0)) / (f.std(0) + 1e-12)
    fc = f - f.mean(0)
    eq, vw = [], []
    for k in lags:
        eq.append(float(np.mean((z[:-k] * z[k:]).mean(0))))
        vw.append(float((fc[:-k] * fc[k:]).sum() / np.sqrt((fc[:-k] ** 2).sum() * (fc[k:] ** 2).sum())))
    return eq, vw


def temporal_stats(R):
    """Tmax per layer (mean time of R ≥ 0.95 max), r(Tmax, depth), two-sided p (df 7)."""
    tmax = []
    for curve in R:
        m = np.nanmax(curve)
        tmax.append(float(TIMES[np.nanargmax(curve)]) if not m > 0 else float(TIMES[curve / m >= 0.95].mean()))
    tmax = np.array(tmax)
    if np.ptp(tmax) == 0:
        return tmax, float('nan'), float('nan')
    r = float(np.corrcoef(tmax, DEPTHS)[0, 1])
    df = L - 2
    t = r * np.sqrt(df / max(1e-300, 1 - r * r))
    p = float(2 * stats.t.sf(abs(t), df))
    return tmax, r, p


# ---------------------------------------------------------------------------------------------
# The simulated stream: signal rebuilt as the simulator builds it, noise from the real simulator
# ---------------------------------------------------------------------------------------------

SOS = signal.butter(4, [0.1, 20], btype='bandpass', fs=LOW_HZ, output='sos')


def bandpass_delay_sec(at_hz=5.0):
    w, gd = signal.group_delay(signal.sos2tf(SOS), w=[at_hz], fs=LOW_HZ)
    return float(gd[0] / LOW_HZ)


def evoked_stream(onsets, weights, patterns, n30, shift_sec, latencies=LATENCIES, widths=None, amps=None):
    """The evoked part of the preprocessed 30 Hz stream, [n30, channels] in tesla.

    weights [word, layer, source] (z-scored source amplitudes), patterns [layer, source, channel]
    (unit RMS). Source (l, k) of word i is weights[i, l, k] × a cos² bump of full width widths[l]
    peaking at onset + latencies[l], × amps[l] × EVOKED_T. Built at 120 Hz like the simulator's
    low-rate part, band-passed causally (0.1–20 Hz Butterworth, order 4, as streams/bandpass.ts at
    the two-stage chain's 120 Hz), then resampled to 30 Hz with a zero-phase FIR. `shift_sec` puts
    it on the real stream's clock: the pipeline's FIR delays (linear phase, exact).
    """
    n_words, nl, ns = weights.shape
    widths = np.full(nl, WIDTH_SEC) if widths is None else np.asarray(widths)
    amps = np.ones(nl) if amps is None else np.asarray(amps)
    n_low = n30 * 4 + 64
    latent = np.zeros((n_low, nl * ns))
    for l in range(nl):
        w = widths[l]
        peak = onsets + shift_sec + latencies[l]
        j0 = np.ceil((peak - w / 2) * LOW_HZ).astype(int)
        for o in range(int(np.ceil(w * LOW_HZ)) + 2):
            j = j0 + o
            tj = j / LOW_HZ - peak
            ok = (np.abs(tj) <= w / 2) & (j >= 0) & (j < n_low)
            g = np.cos(np.pi * tj[ok] / w) ** 2
            np.add.at(latent[:, l * ns:(l + 1) * ns], j[ok], weights[ok, l, :] * g[:, None])
    latent = signal.sosfilt(SOS, latent, axis=0)
    latent30 = signal.resample_poly(latent, 1, 4, axis=0)[:n30]
    mix = (patterns * (amps * EVOKED_T)[:, None, None]).reshape(nl * ns, -1)
    return latent30 @ mix


def epoch_starts(onsets, meta, n30):
    """First sample of each word's epoch, as streams/epochs.ts computes it (Math.round), and
    whether the epoch lies inside the stream."""
    x = (onsets + T_MIN + meta['delaySec'] - meta['firstTimeSec']) * FS
    start = meta['firstSample'] + np.floor(x + 0.5).astype(int)
    ok = (start >= 0) & (start + N_TIMES <= n30)
    return start, ok


def decode(stream, starts, Y, progress='', tidx=None):
    """kfoldRidge's exact K-fold decoding, R [layer, time] (mean over dims and folds).

    stream [n30, C] (or a function t → X [n, C] of epoch sample t); starts [n] epoch first samples
    (decoded words, in arrival order); Y [n, L, D]; tidx: the time samples to decode (default all;
    the others are NaN).
    """
    n = len(starts)
    Yf = Y.reshape(n, -1)
    P = Yf.shape[1]
    fold = (np.arange(n) // FOLD_BLOCK) % FOLDS
    masks = [fold == f for f in range(FOLDS)]
    R = np.full((FOLDS, L, N_TIMES), np.nan)
    ny = Yf.shape[1] // L
    for t in (range(N_TIMES) if tidx is None else tidx):
        X = stream(t) if callable(stream) else np.asarray(stream[starts + t], dtype=np.float64)
        X = (X - X.mean(0)) / (X.std(0) + 1e-300)  # global z-scoring per (channel, t)
        sums = []
        for m in masks:
            Xm, Ym = X[m], Yf[m]
            sums.append((m.sum(), Xm.sum(0), Xm.T @ Xm, Ym.sum(0), Xm.T @ Ym, (Ym ** 2).sum(0)))
        tot = [sum(s[i] for s in sums) for i in range(6)]
        for f in range(FOLDS):
            nt, sx, sxx, sy, sxy, syy = (tot[i] - sums[f][i] for i in range(6))
            mx, my = sx / nt, sy / nt
            S = sxx - nt * np.outer(mx, mx)
            Sxy = sxy - nt * np.outer(mx, my)
            Syy = syy - nt * my ** 2
            s, V = np.linalg.eigh(S)
            s = np.maximum(s, 0)
            Q = V.T @ Sxy
            U = (s[:, None] + 2 * ALPHAS[None, :]) / (s[:, None] + ALPHAS[None, :]) ** 2
            rss = np.maximum(Syy[:, None] - (Q ** 2).T @ U, 0)
            dof = nt - 1 - (s[:, None] / (s[:, None] + ALPHAS[None, :])).sum(0)
            best = ALPHAS[np.argmin(rss / dof[None, :] ** 2, axis=1)]
            W = V @ (Q / (s[:, None] + best[None, :]))
            pred = (X[masks[f]] - mx) @ W
            yt = Yf[masks[f]] - Yf[masks[f]].mean(0)
            pc = pred - pred.mean(0)
            r = (pc * yt).sum(0) / np.sqrt((pc ** 2).sum(0) * (yt ** 2).sum(0) + 1e-300)
            R[f, :, t] = r.reshape(L, ny).mean(1)
        if progress and t % 60 == 0:
            log(f'  {progress}: t {t}/{N_TIMES}')
    return R.mean(0)


def summarize(R, planted=LATENCIES):
    tmax, r, p = temporal_stats(R)
    rp = float(np.corrcoef(tmax, planted)[0, 1]) if np.ptp(tmax) > 0 and np.ptp(planted) > 0 else float('nan')
    return {'score': r, 'p': p, 'tmax': [round(float(v), 4) for v in tmax], 'rTmaxPlanted': rp,
            'maxErrMs': float(np.max(np.abs(tmax - planted)) * 1000), 'peakR': float(np.nanmax(R))}


# ---------------------------------------------------------------------------------------------
# Couplings: word features → source weights [word, layer, source]
# ---------------------------------------------------------------------------------------------

def zscore_cols(x):
    return (x - x.mean(0)) / (x.std(0) + 1e-12)


def innovations(F):
    """What each depth adds to the previous one: F_l minus its least-squares prediction from
    F_{l−1} (fit over the words); the first depth is kept whole. [word, layer, dim]."""
    out = F.copy()
    for l in range(1, F.shape[1]):
        x = np.c_[F[:, l - 1], np.ones(len(F))]
        b, *_ = np.linalg.lstsq(x, F[:, l], rcond=None)
        out[:, l] = F[:, l] - x @ b
    return out


def specifics(F):
    """What is specific to each depth: F_l (every dim z-scored) minus its least-squares
    prediction from both hierarchical neighbours F_{l−1} and F_{l+1} (one at the ends). In a
    Markov chain of layers this residual is uncorrelated with every other layer."""
    Z = np.stack([zscore_cols(F[:, l]) for l in range(F.shape[1])], 1)
    out = np.empty_like(Z)
    for l in range(F.shape[1]):
        x = np.concatenate([Z[:, k] for k in (l - 1, l + 1) if 0 <= k < F.shape[1]] + [np.ones((len(F), 1))], 1)
        b, *_ = np.linalg.lstsq(x, Z[:, l], rcond=None)
        out[:, l] = Z[:, l] - x @ b
    return out


def source_weights(F, n_sources, rng, whiten=False, innovation=False, specific=0.0, orthonormal=False):
    """Random unit-norm projections of each layer's features onto n_sources sources, each source
    z-scored over words (as the simulator does). whiten: every PCA dim z-scored first (the
    features' PCA dims are uncorrelated, so this whitens within the PCA space); innovation: the
    part of each depth not predictable from the previous depth; specific m > 0: the sources
    project [√(1−m)·whitened F_l, √m·whitened specific part of F_l] (m = 1: the specific part only);
    orthonormal: the projections are orthonormal (a random rotation, QR of a Gaussian matrix) rather
    than independent random unit vectors, so no direction of the representation is lost (a square
    matrix of random unit vectors is ill-conditioned: some directions get almost no gain)."""
    G = innovations(F) if innovation else F
    nw, nl, nd = G.shape
    S = specifics(F) if specific > 0 else None
    W = np.zeros((nw, nl, n_sources))
    for l in range(nl):
        g = zscore_cols(G[:, l]) if whiten else G[:, l] - G[:, l].mean(0)
        if S is not None:
            g = np.c_[np.sqrt(1 - specific) * g, np.sqrt(specific) * zscore_cols(S[:, l])] if specific < 1 else zscore_cols(S[:, l])
        p = rng.standard_normal((g.shape[1], n_sources))
        if orthonormal:
            q, r = np.linalg.qr(p if n_sources <= g.shape[1] else p.T)
            q = q * np.sign(np.diag(r))
            p = q if n_sources <= g.shape[1] else q.T
        p /= np.linalg.norm(p, axis=0)
        W[:, l] = zscore_cols(g @ p)
    return W


class Design:
    """A coupling: how many sources per layer, what they project (raw PCA scores, whitened, the
    innovation), response width and amplitude per stage (functions of depth), and the total
    evoked amplitude per layer relative to today's (gain 1: 3 sources × 6 fT)."""

    def __init__(self, label, sources, whiten=False, innovation=False, width=None, amp=None, gain=1.0, specific=0.0, whole=False, orthonormal=False):
        self.label, self.sources, self.whiten, self.innovation, self.specific = label, sources, whiten, innovation, specific
        self.orthonormal = orthonormal
        # whole: the subject runs the whole model: every hidden state (depths 0, 0.1, …, 1.0) drives
        # its own stage at defaultLatency(depth) (0.256 s … 0.694 s); the decoder still reads 0.1…0.9.
        self.whole = whole
        self.width, self.amp, self.gain = width, amp, gain


WIDER = lambda d: 0.15 + 0.125 * (d - 0.1)  # noqa: E731  0.15 s at depth 0.1 → 0.25 s at 0.9
WEAKER = lambda d: 1 - 0.375 * (d - 0.1)  # noqa: E731  1 → 0.7
DESIGNS = {
    'today': Design("today: 3 sources, raw PCA scores", 3),
    'more30': Design('raw PCA scores, 30 sources', 30),
    'white3': Design('whitened, 3 sources', 3, whiten=True),
    'white8': Design('whitened, 8 sources', 8, whiten=True),
    'white30': Design('whitened, 30 sources', 30, whiten=True),
    'white50': Design('whitened, 50 sources', 50, whiten=True),
    'innov3': Design('innovation, 3 sources', 3, innovation=True),
    'innov30': Design('innovation, 30 sources', 30, innovation=True),
    'winnov8': Design('whitened innovation, 8 sources', 8, whiten=True, innovation=True),
    'winnov30': Design('whitened innovation, 30 sources', 30, whiten=True, innovation=True),
    'white30wide': Design('whitened, 30 sources, width 0.15→0.25 s, amplitude 1→0.7', 30, whiten=True, width=WIDER, amp=WEAKER),
    'today_x2': Design("today's coupling, amplitude ×2", 3, gain=2),
    'white30_x2': Design('whitened, 30 sources, amplitude ×2', 30, whiten=True, gain=2),
    'white50_x2': Design('whitened, 50 sources, amplitude ×2', 50, whiten=True, gain=2),
    'white30_x3': Design('whitened, 30 sources, amplitude ×3.16 (6 fT per source)', 30, whiten=True, gain=np.sqrt(10)),
    'spec50': Design('depth-specific part only, 50 sources', 50, whiten=True, specific=1.0),
    'spec50_x2': Design('depth-specific part only, 50 sources, amplitude ×2', 50, whiten=True, specific=1.0, gain=2),
    'mix50_x2': Design('whitened + depth-specific (1:1), 50 sources, amplitude ×2', 50, whiten=True, specific=0.5, gain=2),
    'mix50': Design('whitened + depth-specific (1:1), 50 sources', 50, whiten=True, specific=0.5),
    'whole30': Design('whole model (11 stages), whitened, 30 sources', 30, whiten=True, whole=True),
    'whole50': Design('whole model (11 stages), whitened, 50 sources', 50, whiten=True, whole=True),
    'whole50_x2': Design('whole model (11 stages), whitened, 50 sources, amplitude ×2', 50, whiten=True, whole=True, gain=2),
    'whole3': Design("whole model (11 stages), today's coupling (3 sources, raw)", 3, whole=True),
    'whole50_x1.5': Design('whole model (11 stages), whitened, 50 sources, amplitude ×1.5', 50, whiten=True, whole=True, gain=1.5),
    'whole50_x2.5': Design('whole model (11 stages), whitened, 50 sources, amplitude ×2.5', 50, whiten=True, whole=True, gain=2.5),
    'whole50o_x2': Design('whole model (11 stages), whitened, 50 orthonormal sources, amplitude ×2', 50, whiten=True, whole=True, gain=2, orthonormal=True),
    'whole50o': Design('whole model (11 stages), whitened, 50 orthonormal sources', 50, whiten=True, whole=True, orthonormal=True),
    'white50o_x2': Design('whitened, 50 orthonormal sources, amplitude ×2', 50, whiten=True, gain=2, orthonormal=True),
    'whole64_x2': Design('whole model (11 stages), whitened, 64 sources, amplitude ×2', 64, whiten=True, whole=True, gain=2),
    'white50_w10_x2': Design('whitened, 50 sources, width 0.10 s, amplitude ×2', 50, whiten=True, width=lambda d: np.full_like(d, 0.10), gain=2),
}


# ---------------------------------------------------------------------------------------------
# Part A: why
# ---------------------------------------------------------------------------------------------

def load_feature_sets(work):
    """The three feature sets on the words of a 20-minute demo (seed 1's timing for synthetic).
    'raw' is what the similarity is measured on: the residual stream (96 dims) for the models, the
    generator's 50 dims for synthetic."""
    b = extract(work, 'builtin')
    u = extract(work, 'builtin-untrained')
    bw = extract(work, 'builtin', ALL_DEPTHS)
    uw = extract(work, 'builtin-untrained', ALL_DEPTHS)
    syn = meg_dump(work, 'synthetic-s1-planted', seed=1, features='synthetic', control='planted')
    sf = syn['features']
    return {
        'builtin': {'F': b['acts'], 'Fwhole': bw['acts'], 'raw': b['raw'], 'content': b['content'], 'label': 'built-in model (trained)'},
        'untrained': {'F': u['acts'], 'Fwhole': uw['acts'], 'raw': u['raw'], 'content': u['content'], 'label': 'untrained twin'},
        'synthetic': {'F': sf, 'raw': sf, 'content': np.ones(len(sf), bool), 'label': 'synthetic'},
    }


def part_a(work, sets, res, quick=False):
    A = res.setdefault('A', {})
    # A1. Similarity of the depths: linear CKA on the raw states; PCA spectra.
    for name, fs in sets.items():
        raw = fs['raw']
        cka = np.array([[linear_cka(raw[:, i], raw[:, j]) for j in range(L)] for i in range(L)])
        evr = [pca_spectrum(raw[:, l]) for l in range(L)]
        pc1 = []
        for l in range(L):
            x = raw[:, l] - raw[:, l].mean(0)
            pc1.append(np.linalg.svd(x, full_matrices=False)[2][0])
        pc1cos = np.abs(np.array([[pc1[i] @ pc1[j] for j in range(L)] for i in range(L)]))
        A.setdefault('cka', {})[name] = cka.round(4).tolist()
        A.setdefault('ckaAdjacentMean', {})[name] = float(np.mean([cka[i, i + 1] for i in range(L - 1)]))
        A.setdefault('ckaFirstLast', {})[name] = float(cka[0, L - 1])
        A.setdefault('pc1Share', {})[name] = [float(e[0]) for e in evr]
        A.setdefault('top3Share', {})[name] = [float(e[:3].sum()) for e in evr]
        A.setdefault('pcsFor90', {})[name] = [int(np.searchsorted(np.cumsum(e), 0.9) + 1) for e in evr]
        A.setdefault('participationRatio', {})[name] = [float(participation_ratio(e)) for e in evr]
        A.setdefault('pc1CosineFirstVsOthers', {})[name] = pc1cos[0].round(3).tolist() if name != 'synthetic' else None
        A.setdefault('spectra', {})[name] = [e[:50].tolist() for e in evr]
        log(f'A1 {name}: CKA adjacent {A["ckaAdjacentMean"][name]:.3f}, first-last {cka[0, L-1]:.3f}, PC1 share {evr[0][0]:.3f}…{evr[-1][0]:.3f}')
    # A2. Cross-decoding between depths (the 50 PCA dims the decoder targets; held-out R²).
    for name, fs in sets.items():
        F = fs['F']
        eq = np.zeros((L, L))
        vw = np.zeros((L, L))
        for i in range(L):
            for j in range(L):
                if i == j:
                    eq[i, j] = vw[i, j] = 1.0
                    continue
                r2 = ridge_cross_r2(F[:, i], F[:, j])
                var = F[:, j].var(0)
                eq[i, j] = r2.mean()
                vw[i, j] = (r2 * var).sum() / var.sum()
        A.setdefault('crossR2', {})[name] = eq.round(4).tolist()
        A.setdefault('crossR2VarianceWeighted', {})[name] = vw.round(4).tolist()
        log(f'A2 {name}: R² of depth 0.9 from 0.1: {eq[0, L-1]:.3f} (dims equal), {vw[0, L-1]:.3f} (variance-weighted)')
    # A3. Today's coupling on these features.
    rng = np.random.default_rng(7)
    for name, fs in sets.items():
        F = fs['F']
        W = source_weights(F, 3, np.random.default_rng(11))
        flat = W.reshape(len(F), -1)
        c = np.corrcoef(flat.T)
        blk = np.array([[np.abs(c[i * 3:(i + 1) * 3, j * 3:(j + 1) * 3]).max() for j in range(L)] for i in range(L)])
        # R² of each layer's 3 sources from the first layer's 3 sources (shared information).
        from_first = []
        for l in range(1, L):
            x = np.c_[W[:, 0], np.ones(len(W))]
            b, *_ = np.linalg.lstsq(x, W[:, l], rcond=None)
            from_first.append(float(1 - ((W[:, l] - x @ b) ** 2).sum() / ((W[:, l] - W[:, l].mean(0)) ** 2).sum()))
        # Share of a random unit projection's variance from the first k PCA dims, averaged over
        # 2000 projections: Σ_{j≤k} p_j²λ_j / Σ p_j²λ_j.
        lam = F.var(0)  # [layer, dim]
        p2 = rng.standard_normal((2000, F.shape[2])) ** 2
        share1 = ((p2[:, :1] * lam[:, None, :1]).sum(-1) / (p2[None] * lam[:, None]).sum(-1)).mean(1)
        share3 = ((p2[:, :3] * lam[:, None, :3]).sum(-1) / (p2[None] * lam[:, None]).sum(-1)).mean(1)
        A.setdefault('sourceCorrMaxAbsBetweenLayers', {})[name] = blk.round(3).tolist()
        A.setdefault('sourceCorrMeanMaxAbsOffDiagonal', {})[name] = float(blk[~np.eye(L, dtype=bool)].mean())
        A.setdefault('sourcesR2FromFirstLayer', {})[name] = from_first
        A.setdefault('sourceVarFromPC1', {})[name] = share1.tolist()
        A.setdefault('sourceVarFromPC1to3', {})[name] = share3.tolist()
        if name == 'builtin':
            A['sourceCorrMatrixBuiltin'] = c.round(3).tolist()
        log(f'A3 {name}: sources of layer l from layer 1 R² {np.round(from_first, 2)}, PC1 share of a source {share1.round(2)}')
    # A4. Neighbouring words: timing and feature autocorrelation.
    timing = {}
    for seed in SEEDS:
        d = meg_dump(work, f'null-s{seed}', seed=seed, features='builtin', control='null')
        on = d['onsets']
        ioi = np.diff(on)
        content = (d['content'] == 1)
        prev = np.r_[np.nan, ioi][content]
        timing[seed] = {'medianIoiSec': float(np.median(ioi)), 'ioiQuartilesSec': np.percentile(ioi, [25, 75]).round(3).tolist(),
                        'wordsPerSec': float(len(on) / (on[-1] - on[0])),
                        'contentPrevGapMedianSec': float(np.nanmedian(prev)),
                        'fracPrevWithin035': float(np.nanmean(prev <= 0.35)),
                        'prevDeepResponseLandsMedianSec': float(np.nanmedian(LATENCIES[-1] - prev))}
    A['timing'] = timing
    A['ioiHist'] = np.histogram(np.diff(meg_dump(work, 'null-s1')['onsets']), bins=np.arange(0, 1.6, 0.05))[0].tolist()
    lags = [1, 2, 3, 4, 8]
    for name, fs in sets.items():
        eq, vw = zip(*[lagged_autocorr(fs['F'][:, l], lags) for l in range(L)])
        A.setdefault('autocorrLags', lags)
        A.setdefault('autocorrEqual', {})[name] = [list(map(float, e)) for e in eq]
        A.setdefault('autocorrVarianceWeighted', {})[name] = [list(map(float, v)) for v in vw]
        log(f'A4 {name}: lag-1 autocorrelation per depth (variance-weighted) {np.round([v[0] for v in vw], 2)}')
    log('A4 timing', json.dumps(timing))


def curves_a(work, sets, res, window):
    """R(t) of every layer: from the pipeline's real output (built-in and synthetic, seed 1), and
    from noise-free simulated responses of today's coupling (overlapping words as heard, and each
    word's response alone)."""
    A = res.setdefault('A', {})
    curves = A.setdefault('curves', {})
    for name, dump, feats in (('realBuiltin', 'builtin-s1-planted', 'builtin'), ('realSynthetic', 'synthetic-s1-planted', 'synthetic')):
        if name in curves:
            continue
        d = meg_dump(work, dump, seed=1, features=feats, control='planted')
        meg = np.asarray(d['meg'], dtype=np.float64)
        starts, ok = epoch_starts(d['onsets'], d['meta'], len(meg))
        sel = ok & (d['content'] != 0) & d['has']
        Y = sets[feats]['F'][d['index'][sel]] if feats == 'builtin' else d['features'][sel]
        R = decode(meg, starts[sel], Y, progress=name)
        curves[name] = {'R': np.round(R, 5).tolist(), **summarize(R), 'words': int(sel.sum())}
        log(name, json.dumps({k: v for k, v in curves[name].items() if k != 'R'}))
    # Noise-free: today's weights of the real seed-1 run, the real patterns.
    d = meg_dump(work, 'builtin-s1-planted')
    n30 = len(d['meg'])
    shift = d['meta']['delaySec'] - bandpass_delay_sec()
    W = d['weights'].astype(np.float64)
    pat = d['patterns'].reshape(L, 3, -1)
    starts, ok = epoch_starts(d['onsets'], d['meta'], n30)
    sel = ok & (d['content'] != 0) & d['has']
    Y = sets['builtin']['F'][d['index'][sel]]
    if 'sourcesReal' not in curves:
        # Today's own source weights decoded from the real stream: how well each stage's sources
        # come through the noise (their R, mean over its 3 sources), whatever they encode.
        meg = np.asarray(d['meg'], dtype=np.float64)
        R = decode(meg, starts[sel], W[sel], progress='sources', tidx=window)
        curves['sourcesReal'] = {'R': np.round(R, 5).tolist(), **summarize(R),
                                 'peakPerStage': np.nanmax(R, 1).round(4).tolist()}
        log('sources', json.dumps({k: v for k, v in curves['sourcesReal'].items() if k != 'R'}))
    if 'noiseFreeOverlapping' not in curves:
        sig = evoked_stream(d['onsets'], W, pat, n30, shift)
        R = decode(sig, starts[sel], Y, progress='noise-free', tidx=window)
        curves['noiseFreeOverlapping'] = {'R': np.round(R, 5).tolist(), **summarize(R)}
        log('noise-free overlapping', json.dumps({k: v for k, v in curves['noiseFreeOverlapping'].items() if k != 'R'}))
    if 'noiseFreeIsolated' not in curves:
        # Each decoded word's own response only (no neighbours): X(t) = Σ_l bump_l(t) W[w, l] · pattern_l.
        Wsel = W[sel]
        drive = np.einsum('wls,lsc->wlc', Wsel, pat)

        def iso(t):
            tt = TIMES[t]
            g = np.where(np.abs(tt - LATENCIES) <= WIDTH_SEC / 2, np.cos(np.pi * (tt - LATENCIES) / WIDTH_SEC) ** 2, 0.0)
            return np.einsum('l,wlc->wc', g, drive)
        R = decode(iso, starts[sel], Y, progress='isolated', tidx=window)
        curves['noiseFreeIsolated'] = {'R': np.round(R, 5).tolist(), **summarize(R)}
        log('noise-free isolated', json.dumps({k: v for k, v in curves['noiseFreeIsolated'].items() if k != 'R'}))
    if 'isolatedWithNoise' not in curves:
        # The same isolated responses in the real noise: what overlap with neighbours changes.
        noise = meg_dump(work, 'null-s1')['meg']
        R = decode(lambda t: iso(t) * EVOKED_T + np.asarray(noise[starts[sel] + t], dtype=np.float64), starts[sel], Y, progress='isolated+noise')
        curves['isolatedWithNoise'] = {'R': np.round(R, 5).tolist(), **summarize(R)}
        log('isolated with noise', json.dumps({k: v for k, v in curves['isolatedWithNoise'].items() if k != 'R'}))


# ---------------------------------------------------------------------------------------------
# Part B: coupling designs, prototyped on the real noise
# ---------------------------------------------------------------------------------------------

def shuffled_latencies(seed, planted=LATENCIES):
    """The --shuffle control's latencies for a seed, from the simulator's own function."""
    js = ("import('" + os.path.join(REPO, 'dist/adapters/simulator/simulatedSubject.js') + "').then(async (m) => {"
          "const h = await import('" + os.path.join(REPO, 'dist/adapters/simulator/hashedNoise.js') + "');"
          f"const lat = [{','.join(repr(float(x)) for x in planted)}];"
          f"console.log(JSON.stringify(m.shuffledLatencies(lat, h.subKey({seed}, 14))));}})")
    return np.array(json.loads(subprocess.run(['node', '-e', js], check=True, capture_output=True, text=True).stdout))


MAX_SOURCES = 64


def source_patterns(work, seed, n_layers=L):
    """[layer, source, channel] unit-RMS dipolar patterns of MAX_SOURCES sources per layer, made by
    the simulator itself (SimulatedSubject.sourcePatterns with nSources = MAX_SOURCES); a design
    with S sources uses the first S of each layer."""
    path = os.path.join(work, f'patterns-s{seed}-{MAX_SOURCES}' + ('' if n_layers == L else f'-{n_layers}layers') + '.npy')
    if not os.path.exists(path):
        depths = ','.join(str((i + 1) / (n_layers + 1)) for i in range(n_layers))
        js = ("import('" + os.path.join(REPO, 'dist/adapters/simulator/simulatedSubject.js') + "').then((m) => {"
              f"const s = new m.SimulatedSubject({{ seed: {seed}, words: [], activation: () => new Float32Array({n_layers * 50}), nLayers: {n_layers}, nDims: 50,"
              f" depths: [{depths}], nSources: {MAX_SOURCES} }});"
              "process.stdout.write(JSON.stringify(Array.from(s.sourcePatterns)));})")
        out = subprocess.run(['node', '-e', js], check=True, capture_output=True, text=True).stdout
        np.save(path, np.array(json.loads(out)).reshape(n_layers, MAX_SOURCES, -1))
    return np.load(path)


class Bench:
    """Noise, patterns, timing and features per seed; runs one design on one seed."""

    def __init__(self, work, sets):
        self.work = work
        self.sets = sets
        self.cache = {}

    def seed_material(self, seed):
        if seed not in self.cache:
            noise = meg_dump(self.work, f'null-s{seed}', seed=seed, features='builtin', control='null')
            # The synthetic features of this seed (the synthetic demo's are seeded by the demo's seed).
            syn = meg_dump(self.work, f'synthetic-s{seed}-null', seed=seed, features='synthetic', control='null')
            self.cache[seed] = {'noise': np.asarray(noise['meg'], dtype=np.float64), 'meta': noise['meta'],
                                'onsets': noise['onsets'], 'index': noise['index'], 'content': noise['content'],
                                'synF': syn['features']}
        return self.cache[seed]

    def run(self, design, feats, seed, control='planted', window=None, progress='', targets='features', decode_feats=None, draw=None):
        """One simulated session and its decoding. targets='sources': decode the planted source
        weights instead of the features (how well each stage's own sources come through the noise)."""
        dz = DESIGNS[design]
        sources = dz.sources
        m = self.seed_material(seed)
        n30 = len(m['noise'])
        if feats == 'synthetic':
            F = m['synF']
            n = len(F)
            onsets, content = m['onsets'][:n], np.ones(n)
        else:
            F = self.sets[feats]['F'][m['index']]
            onsets, content = m['onsets'], m['content']
        # 'clean': planted latencies and no noise at all (the coupling's own limit).
        lat = {'planted': LATENCIES, 'clean': LATENCIES, 'null': LATENCIES, 'flat': np.full(L, LATENCIES.mean()), 'shuffle': shuffled_latencies(seed)}[control]
        Fplant, lat_plant, n_stages = F, lat, L
        if dz.whole and feats != 'synthetic':
            # Stages for depth 0 and 1.0 around the decoded ones; under a control they keep the
            # control's rule (shuffle: permuted with the rest; flat: same latency; null: none).
            Fw = self.sets[feats]['Fwhole'][m['index']]
            ends = planted_latency(np.array([0.0, 1.0]))
            if control == 'shuffle':
                full = shuffled_latencies(seed, np.r_[ends[0], LATENCIES, ends[1]])
            elif control == 'flat':
                full = np.full(L + 2, LATENCIES.mean())
            else:
                full = np.r_[ends[0], LATENCIES, ends[1]]
            Fplant, lat_plant, n_stages = Fw, full, L + 2
            lat = full[1:-1]
        stream = np.zeros_like(m['noise']) if control == 'clean' else m['noise']
        W = None
        if control != 'null':
            # draw: another subject's projections and patterns (the simulator's for seed `draw`) on
            # this seed's noise and timing, to see how much the random draw alone moves Tmax.
            d_ = seed if draw is None else draw
            W = source_weights(Fplant, sources, np.random.default_rng(1000 * d_ + sources), dz.whiten, dz.innovation, dz.specific, dz.orthonormal)
            depths = DEPTHS if n_stages == L else ALL_DEPTHS
            widths = None if dz.width is None else dz.width(depths)
            # Total evoked power per layer as today's (3 sources at 6 fT) × gain².
            amps = (np.ones(n_stages) if dz.amp is None else dz.amp(depths)) * np.sqrt(3 / sources) * dz.gain
            shift = m['meta']['delaySec'] - bandpass_delay_sec()
            pats = source_patterns(self.work, d_, n_stages)[:, :sources]
            stream = stream + evoked_stream(onsets, W, pats, n30, shift, latencies=lat_plant, widths=widths, amps=amps)
            if n_stages != L:
                W = W[:, 1:-1]
        starts, ok = epoch_starts(onsets, m['meta'], n30)
        sel = ok & (content != 0)
        Y = F if decode_feats is None else self.sets[decode_feats]['F'][m['index']]
        R = decode(stream, starts[sel], Y[sel] if targets == 'features' else W[sel], progress=progress, tidx=window)
        out = summarize(R, planted=lat)
        out['words'] = int(sel.sum())
        out['plantedLatencies'] = [round(float(x), 4) for x in lat]
        out['R'] = np.round(R, 5).tolist()
        return out


def stage_decodability(F, W):
    """M[l, k]: how well stage k's sources (W [word, layer, source]) predict layer l's features
    (mean over its dims of the held-out r of a ridge from the k's sources, no noise). A coupling
    can only give Tmax(l) ≈ latency(l) when M is largest on its diagonal."""
    M = np.zeros((L, L))
    for k in range(L):
        for l in range(L):
            r2 = ridge_cross_r2(W[:, k], F[:, l])
            M[l, k] = np.sqrt(np.clip(r2, 0, None)).mean()
    return M


def part_b_matrices(sets, res, designs):
    out = res.setdefault('stageDecodability', {})
    for name in ('builtin', 'untrained', 'synthetic'):
        F = sets[name]['F']
        for design in designs:
            key = f'{design}|{name}'
            if key in out:
                continue
            dz = DESIGNS[design]
            M = stage_decodability(F, source_weights(F, dz.sources, np.random.default_rng(1000 + dz.sources), dz.whiten, dz.innovation, dz.specific, dz.orthonormal))
            argmax = [int(np.argmax(M[l])) for l in range(L)]
            out[key] = {'M': M.round(4).tolist(), 'argmaxStage': argmax,
                        'diagonalIsMax': int(sum(a == l for l, a in enumerate(argmax))),
                        'meanDiag': float(np.mean(np.diag(M)))}
            log(f'M {key}: best stage per layer {argmax}, mean diagonal {np.mean(np.diag(M)):.3f}')


def part_b(work, sets, res, plan, save):
    B = res.setdefault('B', {})
    bench = Bench(work, sets)
    for design, feats, seed, control, window, *tg in plan:
        targets = tg[0] if tg else 'features'
        decode_feats = tg[1] if len(tg) > 1 else None
        draw = tg[2] if len(tg) > 2 else None
        key = (f'{design}|{feats}|{seed}|{control}|{"full" if window is None else "window"}' + ('' if targets == 'features' else f'|{targets}')
               + ('' if decode_feats is None else f'|decoded:{decode_feats}') + ('' if draw is None else f'|draw:{draw}'))
        if key in B:
            continue
        t0 = time.time()
        B[key] = bench.run(design, feats, seed, control, window, progress=key, targets=targets, decode_feats=decode_feats, draw=draw)
        s = B[key]
        log(f'B {key}: score {s["score"]:.3f} p {s["p"]:.2g} max|Tmax−planted| {s["maxErrMs"]:.0f} ms peak R {s["peakR"]:.3f} ({time.time() - t0:.0f} s)')
        save()


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

WINDOW = [int(i) for i in np.flatnonzero((TIMES >= -0.5 - 1e-9) & (TIMES <= 1.5 + 1e-9))]


def sweep_plan(designs, feats=('builtin',)):
    return [(d, f, s, 'planted', WINDOW) for f in feats for d in designs for s in SEEDS]


def checks_plan(design):
    """The recommended design against the redesign's targets: the built-in model on seeds 1–3,
    planted and the three controls; synthetic features
    and the untrained twin planted and decoded; the trained model planted but the untrained twin
    decoded (the paper's comparison: one brain, two models)."""
    # The whole epoch where a peak may be anywhere (null) and once for planted (seed 1) to check that
    # nothing outside −0.5…1.5 s competes; the −0.5…1.5 s window elsewhere (planted peaks are there).
    plan = [(design, 'builtin', 1, 'planted', None)] + [(design, 'builtin', s, 'null', None) for s in SEEDS]
    plan += [(design, 'builtin', s, c, WINDOW) for c in ('planted', 'shuffle', 'flat') for s in SEEDS]
    plan += [(design, f, s, 'planted', WINDOW) for f in ('synthetic', 'untrained') for s in SEEDS]
    plan += [(design, 'builtin', s, 'planted', WINDOW, 'features', 'untrained') for s in SEEDS]
    return plan


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

SET_LABELS = {'builtin': 'built-in model', 'untrained': 'untrained twin', 'synthetic': 'synthetic'}


def draw(res, recommend):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs(FIGS, exist_ok=True)
    A = res['A']
    plt.rcParams.update({'font.size': 8})

    # 1. How similar the depths are.
    fig, ax = plt.subplots(2, 3, figsize=(9.5, 6.2))
    for j, name in enumerate(SET_LABELS):
        for i, (key, title) in enumerate((('cka', 'linear CKA'), ('crossR2', 'R² of column from row'))):
            m = np.array(A[key][name])
            im = ax[i, j].imshow(m, vmin=0, vmax=1, cmap='viridis')
            ax[i, j].set_title(f'{SET_LABELS[name]}: {title}', fontsize=8)
            ax[i, j].set_xticks(range(L), DEPTHS)
            ax[i, j].set_yticks(range(L), DEPTHS)
            for (r, c), v in np.ndenumerate(m):
                if r != c:
                    ax[i, j].text(c, r, f'{v:.2f}'[1:] if v < 1 else '1', ha='center', va='center', fontsize=5, color='w' if v < 0.6 else 'k')
    fig.colorbar(im, ax=ax, shrink=0.6)
    fig.savefig(os.path.join(FIGS, 'alignment-similarity.png'), dpi=90)
    plt.close(fig)

    # 2. Spectra, autocorrelation, timing.
    fig, ax = plt.subplots(1, 3, figsize=(10, 3))
    colors = {'builtin': 'C0', 'untrained': 'C1', 'synthetic': 'C2'}
    for name in SET_LABELS:
        sp = A['spectra'][name]
        for l, ls in ((0, ':'), (4, '--'), (8, '-')):
            ax[0].plot(np.arange(1, len(sp[l]) + 1), np.cumsum(sp[l]), ls, color=colors[name], label=f'{SET_LABELS[name]} d={DEPTHS[l]}')
        ax[1].plot(DEPTHS, [a[0] for a in A['autocorrEqual'][name]], 'o-', color=colors[name], label=SET_LABELS[name])
    ax[0].set_xscale('log')
    ax[0].set_xlabel('principal components of the raw states')
    ax[0].set_ylabel('cumulative explained variance')
    ax[0].legend(fontsize=5, ncol=1)
    ax[1].set_xlabel('depth')
    ax[1].set_ylabel('corr(word w, word w+1), mean over dims')
    ax[1].legend(fontsize=6)
    edges = np.arange(0, 1.6, 0.05)
    ax[2].bar(edges[:-1] + 0.025, A['ioiHist'], width=0.05, color='0.6')
    ax[2].axvspan(LATENCIES[0], LATENCIES[-1], color='C3', alpha=0.15, label='planted latencies 0.30–0.65 s')
    ax[2].set_xlabel('time between word onsets, s (seed 1)')
    ax[2].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(FIGS, 'alignment-features.png'), dpi=90)
    plt.close(fig)

    # 3. Decoding curves.
    cv = A['curves']
    panels = [('realBuiltin', 'pipeline output, built-in model'), ('realSynthetic', 'pipeline output, synthetic'),
              ('isolatedWithNoise', 'built-in: each word alone + real noise'),
              ('noiseFreeOverlapping', 'built-in: noise-free, words as heard'), ('noiseFreeIsolated', 'built-in: noise-free, each word alone')]
    fig, ax = plt.subplots(2, 3, figsize=(10, 5.4))
    cmap = plt.get_cmap('viridis')
    for a_, (key, title) in zip(ax.flat, panels):
        if key not in cv:
            continue
        R = np.array(cv[key]['R'], dtype=float)
        for l in range(L):
            a_.plot(TIMES, R[l], color=cmap(l / (L - 1)), lw=1)
            a_.plot(cv[key]['tmax'][l], np.nanmax(R[l]), 'v', color=cmap(l / (L - 1)), ms=4)
        a_.axvspan(LATENCIES[0], LATENCIES[-1], color='C3', alpha=0.1)
        a_.set_xlim(-0.5, 1.5)
        if key == 'realBuiltin':
            a_.text(0.98, 0.95, 'depth 0.1', color=cmap(0.0), ha='right', va='top', transform=a_.transAxes)
            a_.text(0.98, 0.85, 'depth 0.9', color=cmap(1.0), ha='right', va='top', transform=a_.transAxes)
        a_.set_title(f"{title}\nscore {cv[key]['score']:.2f}, Tmax {min(cv[key]['tmax']):.2f}–{max(cv[key]['tmax']):.2f} s", fontsize=7)
        a_.set_xlabel('time after word onset, s')
    M = np.array(res['stageDecodability']['today|builtin']['M'])
    im = ax[1, 2].imshow(M, cmap='viridis')
    ax[1, 2].set_title("today's coupling, built-in: r of layer (row)\nfrom stage (column)'s 3 sources, no noise", fontsize=7)
    ax[1, 2].set_xticks(range(L), DEPTHS)
    ax[1, 2].set_yticks(range(L), DEPTHS)
    fig.colorbar(im, ax=ax[1, 2], shrink=0.8)
    ax[0, 0].set_ylabel('R (mean r over dims)')
    ax[1, 0].set_ylabel('R')
    fig.tight_layout()
    fig.savefig(os.path.join(FIGS, 'alignment-curves.png'), dpi=90)
    plt.close(fig)

    # 4. Designs: score and worst Tmax error per design and seed (built-in, planted).
    B = res.get('B', {})
    designs = [d for d in DESIGNS if any(k.startswith(f'{d}|builtin|') and '|planted|' in k for k in B)]
    if designs:
        fig, ax = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={'width_ratios': [1.2, 1.2, 1]})
        for i, d in enumerate(designs):
            for s_ in SEEDS:
                for win in ('window', 'full'):
                    v = B.get(f'{d}|builtin|{s_}|planted|{win}')
                    if v:
                        ax[0].plot(v['score'], i, 'o', color=f'C{s_}', ms=4)
                        ax[1].plot(min(v['maxErrMs'], 400), i, 'o', color=f'C{s_}', ms=4)
        for a_ in ax[:2]:
            a_.set_yticks(range(len(designs)), [DESIGNS[d].label for d in designs], fontsize=6)
            a_.invert_yaxis()
        ax[0].axvline(0.9, color='k', lw=0.5)
        ax[0].set_xlabel('temporal score r(Tmax, depth), seeds 1/2/3')
        ax[1].axvline(67, color='k', lw=0.5)
        ax[1].set_xlabel('max |Tmax − planted| over layers, ms (clipped at 400)')
        ax[1].set_yticklabels([])
        key = f'{recommend}|builtin|1|planted|full'
        v = B.get(key) or B.get(f'{recommend}|builtin|1|planted|window')
        if v:
            R = np.array(v['R'], dtype=float)
            for l in range(L):
                ax[2].plot(TIMES, R[l], color=cmap(l / (L - 1)), lw=1)
                ax[2].plot(v['tmax'][l], np.nanmax(R[l]), 'v', color=cmap(l / (L - 1)), ms=4)
                ax[2].axvline(LATENCIES[l], color=cmap(l / (L - 1)), lw=0.4, ls=':')
            ax[2].set_xlim(-0.2, 1.2)
            ax[2].set_title(f'{DESIGNS[recommend].label}, built-in, seed 1', fontsize=7)
            ax[2].set_xlabel('time after word onset, s')
        fig.tight_layout()
        fig.savefig(os.path.join(FIGS, 'alignment-designs.png'), dpi=90)
        plt.close(fig)


def table(res):
    """Markdown rows of Part B: per design and condition, seeds 1/2/3."""
    B = res.get('B', {})
    groups = {}
    for key, v in B.items():
        design, feats, seed, control, win, *rest = key.split('|')
        groups.setdefault((design, feats, control, win, '|'.join(rest)), {})[int(seed)] = v
    lines = ['| design | features | control | window | score (seeds 1/2/3) | p | max abs(Tmax − planted), ms | peak R |', '|---|---|---|---|---|---|---|---|']
    for (design, feats, control, win, rest), runs in groups.items():
        seeds = [runs.get(s_) for s_ in SEEDS]

        def col(f, fmt):
            return ' / '.join('–' if v is None else (fmt.format(f(v)) if f(v) == f(v) else 'NaN') for v in seeds)
        lines.append(f"| {DESIGNS[design].label if design in DESIGNS else design} | {feats}{(' ' + rest) if rest else ''} | {control} | {win} | "
                     f"{col(lambda v: v['score'], '{:.2f}')} | {col(lambda v: v['p'], '{:.2g}')} | {col(lambda v: v['maxErrMs'], '{:.0f}')} | {col(lambda v: v['peakR'], '{:.2f}')} |")
    return '\n'.join(lines)


def merge(into, new):
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--work', default='/tmp/lockstep-diagnosis', help='cache of extractions, simulated streams and results')
    ap.add_argument('--part', choices=['a', 'curves', 'matrices', 'sweep', 'clean', 'sources', 'draws', 'table', 'checks', 'figures', 'all'], default='all')
    ap.add_argument('--designs', default=','.join(DESIGNS), help='designs for the sweep (comma-separated)')
    ap.add_argument('--recommend', default='white30', help='the design the checks run on')
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    res_path = os.path.join(a.work, 'results.json')
    res = json.load(open(res_path)) if os.path.exists(res_path) else {}

    def save():
        # Merged into what is on disk, so parts can run side by side in separate processes.
        disk = json.load(open(res_path)) if os.path.exists(res_path) else {}
        merge(disk, res)
        with open(res_path + '.tmp', 'w') as f:
            json.dump(disk, f)
        os.replace(res_path + '.tmp', res_path)

    sets = load_feature_sets(a.work) if a.part not in ('table', 'figures') else None
    if a.part in ('a', 'all'):
        part_a(a.work, sets, res)
        save()
    if a.part in ('curves', 'all'):
        curves_a(a.work, sets, res, WINDOW)
        save()
    if a.part in ('matrices', 'all'):
        part_b_matrices(sets, res, list(DESIGNS))
        save()
    if a.part in ('sweep', 'all'):
        part_b(a.work, sets, res, sweep_plan(a.designs.split(',')), save)
    if a.part in ('clean', 'all'):
        # Each design's limit without noise (built-in, seed 1).
        part_b(a.work, sets, res, [(d, 'builtin', 1, 'clean', WINDOW) for d in a.designs.split(',')], save)
    if a.part in ('sources', 'all'):
        # Why the common Tmax of today's coupling lands where it does: each stage's own sources.
        part_b(a.work, sets, res, [('today', 'builtin', s_, 'planted', WINDOW, 'sources') for s_ in SEEDS], save)
    if a.part in ('draws', 'all'):
        # Other projection/pattern draws of the recommended design on the same noise (seed s gets draws s+3, s+6).
        part_b(a.work, sets, res, [(d, 'builtin', s_, 'planted', WINDOW, 'features', None, s_ + k) for k in (3, 6) for s_ in SEEDS for d in a.designs.split(',')], save)
    if a.part in ('checks', 'all'):
        part_b(a.work, sets, res, checks_plan(a.recommend), save)
    if a.part == 'table':
        print(table(json.load(open(res_path))))
    if a.part in ('figures', 'all'):
        res = json.load(open(res_path))
        draw(res, a.recommend)
        # The numbers, without the curves and matrices the figures draw (those stay in --work).
        slim = json.loads(json.dumps(res))
        for v in list(slim.get('B', {}).values()) + list(slim['A'].get('curves', {}).values()):
            v.pop('R', None)
        for k in ('spectra', 'sourceCorrMatrixBuiltin'):
            slim['A'].pop(k, None)
        with open(os.path.join(FIGS, 'alignment-diagnosis.json'), 'w') as f:
            json.dump(slim, f, indent=None, separators=(',', ':'))


if __name__ == '__main__':
    main()
