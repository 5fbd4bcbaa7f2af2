"""Frame-array helpers shared by the image metrics."""

from __future__ import annotations

import numpy as np
import torch

from eadbench.errors import MetricInputError


def to_nchw(frames, dtype=torch.float64) -> torch.Tensor:
    """(N, H, W, 3) uint8/float in [0, 255] (numpy or torch) -> (N, 3, H, W) float tensor."""
    t = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[-1] != 3:
        raise MetricInputError(f"expected frames shaped (N, H, W, 3), got {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2).to(dtype)


def paired(fake, real) -> tuple[torch.Tensor, torch.Tensor]:
    f, r = to_nchw(fake), to_nchw(real)
    if f.shape[1:] != r.shape[1:]:
        raise MetricInputError(f"generated and real frames differ in size: {tuple(f.shape[2:])} vs "
                               f"{tuple(r.shape[2:])}; crop both with the same protocol (--crop)")
    n = min(len(f), len(r))
    if n == 0:
        raise MetricInputError("no frames to compare")
    return f[:n], r[:n]
