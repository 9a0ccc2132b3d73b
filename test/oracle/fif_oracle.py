"""MNE-Python (1.3, Debian python3-mne) as the oracle for lockstep's FIF reader and writer.

  fif_oracle.py read FILE [FILE ...] --out J
      For each file: what mne.io.read_raw_fif(allow_maxshield=True, preload=True) reports
      (header, channels, annotations, buffers) and a summary of get_data() (per-channel stats,
      values at fixed sample indices), plus find_events on every stim channel.
  fif_oracle.py variants SRC DIR --out J
      Writes MNE variants of SRC into DIR (int16/int32/float64 data, acquisition skips, split
      files, annotations) and reads each back as `read` does.
"""
import argparse
import json
import os
import sys

import numpy as np
import mne

mne.set_log_level('ERROR')


def finite_or_none(a):
    """JSON has no NaN: non-finite values become null."""
    a = np.asarray(a, dtype=object)
    out = np.where(np.isfinite(a.astype(float)), a, None)
    return out.tolist()


def summarize(path):
    raw = mne.io.read_raw_fif(path, allow_maxshield=True, preload=True)
    data = raw.get_data()
    n = data.shape[1]
    idx = sorted(set([0, 1, n // 3, n // 2, n - 2, n - 1] + list(np.random.RandomState(0).randint(0, n, 40))))
    info = raw.info
    stim = {}
    for k, ch in enumerate(info['chs']):
        if mne.io.pick.channel_type(info, k) == 'stim':
            try:
                ev = mne.find_events(raw, stim_channel=ch['ch_name'], shortest_event=1, consecutive=True,
                                     initial_event=True, verbose='ERROR')
                stim[ch['ch_name']] = ev.tolist()
            except ValueError as e:
                stim[ch['ch_name']] = str(e)
    ann = raw.annotations
    return dict(
        files=[os.path.basename(f) for f in raw.filenames],
        sfreq=info['sfreq'], n_times=int(n), first_samp=int(raw.first_samp), orig_format=raw.orig_format,
        meas_date=None if info['meas_date'] is None else info['meas_date'].isoformat(),
        lowpass=info['lowpass'], highpass=info['highpass'], line_freq=info['line_freq'], bads=info['bads'],
        ch_names=info['ch_names'], types=raw.get_channel_types(),
        cals=[float(c) for c in raw._cals],
        coil_types=[int(c['coil_type']) for c in info['chs']],
        annotations=[dict(onset=float(o), duration=float(d), description=str(s))
                     for o, d, s in zip(ann.onset, ann.duration, ann.description)],
        annotation_samples=[int(x) for x in (np.round(ann.onset * info['sfreq']).astype(int) - raw.first_samp)] if len(ann) else [],
        sample_index=[int(i) for i in idx],
        samples=finite_or_none(data[:, idx].T),
        mean=finite_or_none(data.mean(1)), rms=finite_or_none(np.sqrt((data ** 2).mean(1))),
        min=finite_or_none(data.min(1)), max=finite_or_none(data.max(1)),
        zeros=[int(z) for z in (data == 0).sum(1)],
        nonfinite=int((~np.isfinite(data)).sum()),
        stim_events=stim,
    )


def variants(src, outdir):
    raw = mne.io.read_raw_fif(src, allow_maxshield=True, preload=True)
    sf = raw.info['sfreq']
    made = {}
    for fmt in ('short', 'int', 'double'):
        p = os.path.join(outdir, f'fmt_{fmt}_raw.fif')
        r = raw.copy()
        # MNE stores data / (range * cal) truncated to integers, so integer formats need a cal
        # that resolves the signal (the acquisition cal of these float data would store zeros).
        for ch in r.info['chs']:
            if ch['kind'] == 1:
                ch['cal'] = 2e-15 if fmt == 'short' else 1e-19
                ch['range'] = 1.0
        r.save(p, fmt=fmt, overwrite=True, buffer_size_sec=1.5)
        made[f'fmt_{fmt}'] = p
    # Acquisition skips: MNE writes FIFF_DATA_SKIP for BAD_ACQ_SKIP annotations aligned to buffers;
    # one at the very start gives an initial skip (first_samp shifts), one in the middle a gap.
    r = raw.copy().crop(0, 20 - 1 / sf)
    bs = 2.0
    t0 = r.first_samp / sf
    r.set_annotations(mne.Annotations([t0 + 0.0, t0 + 6.0], [4.0, 4.0], ['BAD_ACQ_SKIP', 'BAD_ACQ_SKIP'],
                                      orig_time=r.info['meas_date']))
    p = os.path.join(outdir, 'skips_raw.fif')
    r.save(p, buffer_size_sec=bs, overwrite=True)
    made['skips'] = p
    # Split files (neuromag naming: name-1.fif, ...).
    p = os.path.join(outdir, 'split_raw.fif')
    raw.save(p, split_size='1.3MB', buffer_size_sec=2.0, overwrite=True)
    made['split'] = p
    # Annotations with colons, durations and channel names.
    r = raw.copy()
    r.set_annotations(mne.Annotations([t0 + 1.5, t0 + 10.25, t0 + 42.0], [0.5, 0.0, 2.25],
                                      ['word:the', 'BAD_blink', 'story 2'], orig_time=r.info['meas_date']))
    p = os.path.join(outdir, 'annot_raw.fif')
    r.save(p, overwrite=True)
    made['annot'] = p
    return {k: summarize(v) for k, v in made.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['read', 'variants'])
    ap.add_argument('paths', nargs='+')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    if a.mode == 'read':
        res = {p: summarize(p) for p in a.paths}
    else:
        res = variants(a.paths[0], a.paths[1])
    with open(a.out, 'w') as f:
        json.dump(res, f)


if __name__ == '__main__':
    main()
