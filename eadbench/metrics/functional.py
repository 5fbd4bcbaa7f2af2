"""The functional twins of every metric: plain functions on arrays, no state, no registry.

    import eadbench.metrics.functional as F
    F.ssim(fake, real); F.lse(crops, audio); F.fid(fake_frames, real_frames); F.emotion_accuracy(...)

Each metric declares its twin in its own module (``register_metric(functional=...)``); this
module exports every one under the function's name (``F.__all__`` lists them).

Frames are uint8 RGB arrays (N, H, W, 3); face metrics take the face crops of their protocol
(``eadbench.faces.crop_clip(frames, "syncnet" | "face256")``); networks come from a
``WeightStore`` (``store=``; by default ``$EADBENCH_WEIGHTS`` and the libraries' caches).
"""

from __future__ import annotations

from eadbench.metrics import METRICS


def twins() -> dict:
    """function name -> the functional twin, for every metric registered now."""
    return {info.functional.__name__: info.functional for _, info in METRICS.items() if info.functional is not None}


globals().update(twins())


def __getattr__(name: str):
    """The twin of a metric registered after this module was imported (a plugin)."""
    if name in twins():
        return twins()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(twins())
