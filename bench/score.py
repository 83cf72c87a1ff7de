#!/usr/bin/env python3
"""Scores a recording against the reference it came from.

  score.py REF.wav DEG.wav --mode wb|nb [--seconds 20]

Both are made mono and resampled to 16 kHz (wb) or 8 kHz (nb). The
recording is aligned to the reference first: the lag of the peak of their
cross-correlation (computed on 8 kHz envelopes-free signals by FFT) is cut
off the recording's start, then both are trimmed to the same length and
scored with ITU-T P.862 (PyPI `pesq`; P.862.2 for wb). Prints one JSON
line: {"pesq": .., "lag_ms": .., "corr": .., "seconds": ..}.
lag_ms is where the reference's first sample sits in the recording: the
recording's start-to-speech delay (pipeline latency plus any skew between
when the sender started playing and the receiver started recording).
"""
import argparse
import json
from math import gcd

import numpy as np
import soundfile as sf
from pesq import pesq
from scipy.signal import resample_poly


def load(path, fs):
    x, r = sf.read(path, dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if r != fs:
        g = gcd(r, fs)
        x = resample_poly(x, fs // g, r // g)
    return x


def lag(ref, deg, fs, max_s=2.0):
    """Samples by which deg lags ref (>= 0 expected), from the FFT
    cross-correlation restricted to +-max_s."""
    n = len(ref) + len(deg)
    nfft = 1 << (n - 1).bit_length()
    c = np.fft.irfft(np.fft.rfft(deg, nfft) * np.conj(np.fft.rfft(ref, nfft)), nfft)
    m = int(max_s * fs)
    cand = np.concatenate([c[: m + 1], c[-m:]])  # lags 0..m, then -m..-1
    i = int(np.argmax(np.abs(cand)))
    k = i if i <= m else i - len(cand)
    norm = np.sqrt(np.sum(ref ** 2) * np.sum(deg ** 2)) or 1.0
    return k, float(np.abs(cand[i]) / norm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("deg")
    ap.add_argument("--mode", choices=["nb", "wb"], default="wb")
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    fs = 8000 if a.mode == "nb" else 16000
    ref, deg = load(a.ref, fs), load(a.deg, fs)
    out = {"pesq": None, "lag_ms": None, "corr": None, "seconds": 0.0}
    if len(deg) < fs or np.max(np.abs(deg)) < 1e-4:
        out["error"] = "recording silent or shorter than 1 s"
        print(json.dumps(out))
        return
    k, corr = lag(ref, deg, fs)
    if k >= 0:
        deg = deg[k:]
    else:
        ref = ref[-k:]
    n = min(len(ref), len(deg), int(a.seconds * fs))
    try:
        score = float(pesq(fs, ref[:n], deg[:n], a.mode))
    except Exception as e:  # pesq raises on no utterances etc.
        out["error"] = str(e)
        score = None
    out.update(pesq=None if score is None else round(score, 3),
               lag_ms=round(1000.0 * k / fs, 1), corr=round(corr, 3),
               seconds=round(n / fs, 2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
