"""Frame-array helpers shared by the image metrics: checks that two frame sets can be paired,
a per-frame map over a thread pool (numpy and OpenCV release the GIL, so frames of a chunk
are scored on every core; each frame's value does not depend on the others), and per-thread
scratch buffers, reused from frame to frame: a fresh temporary array per frame is a fresh
mmap (``eadbench.streams`` keeps large blocks mmapped) whose pages the kernel must fault in and
zero, which was a third of a run's CPU time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.threads import budget, scratch  # noqa: F401  (scratch: the metrics' buffers)

_POOL: ThreadPoolExecutor | None = None


def as_frames(frames) -> np.ndarray:
    """(N, H, W, 3) (or one (H, W, 3) frame) from numpy or torch, values in [0, 255], not copied."""
    a = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise MetricInputError(f"expected frames shaped (N, H, W, 3), got {tuple(a.shape)}")
    return a


def paired(fake, real) -> tuple[np.ndarray, np.ndarray]:
    """The first min(len) frames of each, after checking that they can be compared."""
    f, r = as_frames(fake), as_frames(real)
    if f.shape[1:] != r.shape[1:]:
        raise MetricInputError(f"generated and real frames differ in size: {tuple(f.shape[1:3])} vs "
                               f"{tuple(r.shape[1:3])}; crop both with the same protocol (--crop)")
    n = min(len(f), len(r))
    if n == 0:
        raise MetricInputError("no frames to compare")
    return f[:n], r[:n]


def per_frame(fn: Callable[[np.ndarray, np.ndarray], float], fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """``fn(fake[i], real[i])`` for every frame, in parallel threads; float64 values in order."""
    global _POOL
    if len(fake) < 2:
        return np.array([fn(a, b) for a, b in zip(fake, real)], dtype=np.float64)
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=budget(), thread_name_prefix="eadbench-frames")
    return np.fromiter(_POOL.map(fn, fake, real), dtype=np.float64, count=len(fake))


