"""Frechet distance between Gaussian fits of two feature sets (shared by FID and FVD).

d^2 = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrt(S1 S2)). pytorch-fid computes the last
trace with scipy.linalg.sqrtm of the non-symmetric product (about 12 s for 2048-d features on
2 CPU cores). The same trace is the sum of the square roots of the eigenvalues of the
symmetric PSD matrix sqrt(S1) S2 sqrt(S1) (similar to S1 S2), which two symmetric
eigendecompositions give in about a second; the tests hold it to pytorch-fid's value.
The value of a pair of feature sets is cached on disk by their content.

``frechet_small`` is the same distance for sets of few rows (n << d), exact without any d x d
matrix: the robustness study's bootstrap resamples of per-clip features take it (a few clips of
400-d features, a thousand times); it is not merged into ``frechet_distance`` because the two
round differently and the published values must not move.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from scipy import linalg


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (rowvar=False), in float64 as pytorch-fid computes them."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr(sqrt(S1 S2)) for symmetric PSD S1, S2 via symmetric eigendecompositions."""
    w, v = linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ sigma2 @ root1
    lam = linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(lam, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    d = float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))
    return _rounded_off(d)


def _rounded_off(d: float) -> float:
    """The distance is >= 0: tiny negative values are round-off on identical sets (0); a larger
    negative value is kept, so that it shows."""
    return max(d, 0.0) if d > -1e-3 else d


def frechet_small(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance of Gaussian fits of two feature sets with few rows (n << d), exactly:
    with centred, scaled rows A (S1 = A^T A) and B, Tr sqrt(S1 S2) is the nuclear norm of A B^T
    (n x n), so no d x d matrix is formed. Used for bootstrap resamples; equals
    ``frechet_distance`` up to round-off."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ca = (a - a.mean(0)) / math.sqrt(len(a) - 1)
    cb = (b - b.mean(0)) / math.sqrt(len(b) - 1)
    diff = a.mean(0) - b.mean(0)
    nuclear = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    return _rounded_off(float(diff @ diff + (ca * ca).sum() + (cb * cb).sum() - 2 * nuclear))


def frechet_distance_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """The distance between the Gaussian fits of two feature sets; exactly 0 for two identical sets
    (the ground-truth control), where the eigendecompositions would leave round-off of either sign
    (-1e-3 on two 400-d clips)."""
    from eadbench.features_cache import get_or_compute

    if np.shape(a) == np.shape(b) and np.array_equal(a, b):
        return 0.0
    h = hashlib.sha256()
    for x in (a, b):
        x = np.ascontiguousarray(x, dtype=np.float64)
        h.update(str(x.shape).encode())
        h.update(memoryview(x).cast("B"))
    key = "frechet-" + h.hexdigest()
    return float(get_or_compute(key, lambda: np.array(frechet_distance(*gaussian_stats(a), *gaussian_stats(b)))))
