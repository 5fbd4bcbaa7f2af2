"""Dynamic time warping inside a Sakoe-Chiba band: the alignment behind the temporally tolerant
paired scores (``lmd_dtw``, ``action_dist_dtw``). A helper, not a metric (nothing registers here).

Why: a frame-by-frame paired score (LMD, the action-vector distance) punishes a generated clip
whose face lags the real one by two frames as if every frame were wrong. Aligning the two landmark
trajectories first, with a warping path that may stray at most ``BAND`` frames from the diagonal,
compares each generated frame with the real frame it shows, while a face that does the wrong thing
(a still face, another mouth shape) still finds no cheap match.

The pinned choice (``PARAMS``, part of every protocol that uses it), plain DTW rather than Soft-DTW
(Temporally-Aligned Evaluation, arXiv 2606.01031): the value is the mean cost of one real path (so
it is in the frame score's own units and 0 only for a perfect match), it needs no smoothing
temperature, and its path gives the lag.

* Inputs: the two clips' frames paired 0..n-1 (the caller cuts both to the shorter clip and leaves
  out of both the frames where either side has no face, as LMD does).
* Steps (1, 0), (0, 1) and (1, 1), each adding the cost of the cell it enters, unit weights
  (the "symmetric1" step pattern); the path runs from (0, 0) to (n - 1, n - 1) and never leaves
  |i - j| <= ``BAND`` (generated frame i, real frame j).
* Value = the cheapest path's summed cost / n. The diagonal (no warping) is a path, so the value
  is never above the frame-by-frame mean and equals it when warping cannot help (a still face:
  every real frame must be visited, each at its own cost to the one generated frame).
* Lag = the mean of i - j along that path, in frames: > 0 when the generated face is late.

A simple O(n x (2 ``BAND`` + 1)) loop over band storage: clips are a few hundred frames (a
10-minute clip, 15000 frames, takes a fraction of a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: the Sakoe-Chiba band: frames the path may stray from the diagonal (0.2 s at 25 fps)
BAND = 5
PARAMS = (("dtw", "plain DTW, steps (1,0) (0,1) (1,1), unit weights, (0,0) to (n-1,n-1)"), ("band", BAND),
          ("value", "cheapest path's summed frame cost / paired frames n (never above the frame-by-frame mean)"))


@dataclass(frozen=True)
class Warp:
    """The cheapest banded warping path: its value (summed cost / n), summed cost and cells."""

    value: float
    total: float
    path: np.ndarray  # (L, 2) cells (i, j) from (0, 0) to (n - 1, n - 1)

    @property
    def lag(self) -> float:
        """The mean of i - j along the path, frames (> 0: the generated face is late)."""
        return float((self.path[:, 0] - self.path[:, 1]).mean())


def band_costs(fake: np.ndarray, real: np.ndarray, frame_cost: Callable[[np.ndarray, np.ndarray], np.ndarray],
               band: int = BAND) -> np.ndarray:
    """(n, 2 band + 1) costs, ``C[i, k] = frame_cost(fake[i], real[i + k - band])`` (inf where
    ``i + k - band`` is outside the clip). ``frame_cost`` takes (m, ...) frames of each side and
    returns (m,) non-negative costs."""
    n = len(fake)
    if len(real) != n:
        raise ValueError(f"DTW pairs clips of one length, got {n} and {len(real)} frames")
    out = np.full((n, 2 * band + 1), np.inf)
    for k in range(2 * band + 1):
        o = k - band
        lo, hi = max(0, -o), min(n, n - o)
        if hi > lo:
            out[lo:hi, k] = frame_cost(fake[lo:hi], real[lo + o:hi + o])
    return out


def warp(cost: np.ndarray) -> Warp:
    """The cheapest path through band costs ``cost`` (n, 2 band + 1) from ``band_costs``."""
    n, width = cost.shape
    band = (width - 1) // 2
    if n == 0:
        raise ValueError("DTW needs at least one frame")
    c = cost.tolist()
    inf = float("inf")
    acc = [[inf] * width for _ in range(n)]
    # cell (i, k) is real frame j = i + k - band; it is entered from (i-1, j) = (i-1, k+1),
    # (i, j-1) = (i, k-1) and (i-1, j-1) = (i-1, k)
    row, left = acc[0], inf
    for k in range(band, width):
        left = row[k] = c[0][k] + (0.0 if k == band else left)
    for i in range(1, n):
        up, row, ci, left = acc[i - 1], acc[i], c[i], inf
        for k in range(width):
            best = up[k]
            if k + 1 < width and up[k + 1] < best:
                best = up[k + 1]
            if left < best:
                best = left
            left = row[k] = ci[k] + best
    total = acc[n - 1][band]
    # back from (n-1, band): the predecessor with the least accumulated cost, the diagonal on ties
    i, k, cells = n - 1, band, [(n - 1, n - 1)]
    while i > 0 or k > band:
        options = [(acc[i - 1][k] if i > 0 else inf, 0, i - 1, k),
                   (acc[i - 1][k + 1] if i > 0 and k + 1 < width else inf, 1, i - 1, k + 1),
                   (acc[i][k - 1] if k > 0 else inf, 2, i, k - 1)]
        _, _, i, k = min(options)
        cells.append((i, i + k - band))
    return Warp(value=total / n, total=total, path=np.array(cells[::-1]))


def dtw(fake: np.ndarray, real: np.ndarray, frame_cost: Callable[[np.ndarray, np.ndarray], np.ndarray],
        band: int = BAND) -> Warp:
    """The banded DTW of two paired frame sequences under ``frame_cost`` (see ``band_costs``)."""
    return warp(band_costs(fake, real, frame_cost, band))
