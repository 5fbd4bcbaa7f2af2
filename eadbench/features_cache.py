"""On-disk cache of network features, keyed by input content, weights hash and protocol.

A second run over the same data skips the networks entirely. Entries are written atomically;
a damaged entry is recomputed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from eadbench.atomic import atomic_path
from eadbench.weights import eadbench_cache


def cache_dir() -> Path:
    return eadbench_cache() / "features"


def get_or_compute(key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    path = cache_dir() / key[:2] / f"{key}.npy"
    if path.exists():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    value = np.asarray(compute())
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, value, allow_pickle=False)
    return value
