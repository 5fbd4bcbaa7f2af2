"""MFCC exactly as ``python_speech_features.mfcc`` computes it with its defaults (what
syncnet_python feeds SyncNet): 25 ms rectangular frames every 10 ms, pre-emphasis 0.97,
512-point power spectrum, 26 mel filters, log, orthonormal DCT-II, 13 coefficients, lifter 22,
coefficient 0 replaced by the log frame energy. Vectorised numpy, no dependency on that package."""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import dct

WINLEN, WINSTEP, NUMCEP, NFILT, NFFT, PREEMPH, LIFTER = 0.025, 0.01, 13, 26, 512, 0.97, 22


def _hz2mel(hz):
    return 2595 * np.log10(1 + hz / 700.0)


def _mel2hz(mel):
    return 700 * (10 ** (mel / 2595.0) - 1)


def mel_filterbank(samplerate: int, nfilt: int = NFILT, nfft: int = NFFT) -> np.ndarray:
    mels = np.linspace(_hz2mel(0), _hz2mel(samplerate / 2), nfilt + 2)
    bins = np.floor((nfft + 1) * _mel2hz(mels) / samplerate)
    fb = np.zeros((nfilt, nfft // 2 + 1))
    for j in range(nfilt):
        lo, mid, hi = int(bins[j]), int(bins[j + 1]), int(bins[j + 2])
        fb[j, lo:mid] = (np.arange(lo, mid) - bins[j]) / (bins[j + 1] - bins[j])
        fb[j, mid:hi] = (bins[j + 2] - np.arange(mid, hi)) / (bins[j + 2] - bins[j + 1])
    return fb


def mfcc(signal: np.ndarray, samplerate: int = 16000) -> np.ndarray:
    """(n_frames, 13) MFCC of a 1-D signal (raw sample values, e.g. int16 range)."""
    x = np.asarray(signal, dtype=np.float64)
    x = np.append(x[0], x[1:] - PREEMPH * x[:-1])
    flen = int(math.floor(WINLEN * samplerate + 0.5))
    fstep = int(math.floor(WINSTEP * samplerate + 0.5))
    n = 1 if len(x) <= flen else 1 + int(math.ceil((len(x) - flen) / fstep))
    padded = np.concatenate([x, np.zeros((n - 1) * fstep + flen - len(x))])
    idx = np.arange(flen)[None, :] + fstep * np.arange(n)[:, None]
    frames = padded[idx]
    pspec = np.abs(np.fft.rfft(frames, NFFT)) ** 2 / NFFT
    eps = np.finfo(float).eps
    energy = pspec.sum(axis=1)
    energy = np.where(energy == 0, eps, energy)
    feat = pspec @ mel_filterbank(samplerate).T
    feat = np.where(feat == 0, eps, feat)
    feat = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :NUMCEP]
    feat = feat * (1 + (LIFTER / 2.0) * np.sin(np.pi * np.arange(NUMCEP) / LIFTER))
    feat[:, 0] = np.log(energy)
    return feat
