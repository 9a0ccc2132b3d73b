"""Oracle for the CTF tests: what MNE-Python (Debian python3-mne) reads from a .ds folder.

Usage:
  ctf_read.py DS_FOLDER --out OUT.json [--data OUT.f64]   read_raw_ctf(DS, preload=True)
  ctf_read.py --markers A.mrk [B.mrk ...] --out OUT.json  MNE's own MarkerFile parser

With --data, raw.get_data() (SI units, float64, [channel][sample]) is written there as
little-endian float64 so that the test can compare every sample.
"""
import argparse
import json
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ds", nargs="?")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data")
    ap.add_argument("--markers", nargs="+")
    args = ap.parse_args()

    import mne
    mne.set_log_level("ERROR")

    if args.markers:
        from mne.io.ctf.markers import _get_markers
        out = {"files": [
            [{"name": k, "samples": [[int(t), float(s)] for t, s in v]} for k, v in _get_markers(fname).items()]
            for fname in args.markers
        ]}
    else:
        raw = mne.io.read_raw_ctf(args.ds, preload=True, verbose="ERROR")
        info = raw.info
        out = {
            "mne": mne.__version__,
            "sfreq": float(info["sfreq"]),
            "n_times": int(raw.n_times),
            "first_samp": int(raw.first_samp),
            "ch_names": list(raw.ch_names),
            "types": raw.get_channel_types(),
            "cal": [float(c["cal"]) for c in info["chs"]],
            "coil_type": [int(c["coil_type"]) for c in info["chs"]],
            "kind": [int(c["kind"]) for c in info["chs"]],
            "bads": list(info["bads"]),
            "lowpass": float(info["lowpass"]),
            "highpass": float(info["highpass"]),
            "meas_date": None if info["meas_date"] is None else info["meas_date"].isoformat(),
            "n_files": len(raw.filenames),
            "annotations": [
                {"onset": float(a["onset"]), "duration": float(a["duration"]), "description": str(a["description"])}
                for a in raw.annotations
            ],
        }
        if args.data:
            raw.get_data().astype("<f8").tofile(args.data)
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    sys.exit(main())
