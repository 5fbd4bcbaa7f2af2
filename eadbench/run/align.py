"""Frame alignment for paired metrics (SSIM, PSNR, LPIPS, LMD, CSIM): a generator that dropped,
padded or shifted frames is compared frame to frame with the right real frames, and says so.

On the first chunk of both videos, frames are matched by content: small grey thumbnails of the
generated frames ``j`` against the real frames ``j + s`` for every shift ``s`` within
``MAX_SHIFT + MARGIN``; the best shift is taken only when it clearly beats no shift (its mean
absolute difference at most ``ACCEPT`` times that of ``s = 0`` and under ``MAX_MAD`` grey levels),
lies within ``MAX_SHIFT`` (a minimum out at the edge of the search is a drift, not a dropped or
padded frame, while a true shift of ``MAX_SHIFT`` frames is still a minimum inside the search) and
belongs to a video that moves (at least ``MIN_MOTION`` of the real video's frame-to-frame change),
so a video whose frames do not follow the real ones (a still image, another identity) is never
"aligned" by accident. Then generated frame ``j`` is paired with real frame ``j + s`` for the
whole clip, through small buffers; frames without a partner (a padded end, a dropped start) are
counted, never compared with the wrong frame.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_SHIFT = 8  # the largest shift applied
MARGIN = 2  # frames searched past MAX_SHIFT, so a shift of MAX_SHIFT is a minimum inside the search
ACCEPT = 0.6
MAX_MAD = 6.0
THUMB = 24
MIN_MOTION = 0.3  # the generated video must move at least this fraction as much as the real one
PROBE_FRAMES = 2 * (MAX_SHIFT + MARGIN) + 16  # frames of each video looked at before the shift is decided


def _thumbs(frames: np.ndarray) -> np.ndarray:
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    return np.stack([cv2.resize(g, (THUMB, THUMB), interpolation=cv2.INTER_AREA) for g in grey]).astype(np.float32)


def estimate_shift(fake: np.ndarray, real: np.ndarray, max_shift: int = MAX_SHIFT) -> tuple[int, dict]:
    """(shift s, evidence): generated frame j shows real frame j + s."""
    f, r = _thumbs(fake), _thumbs(real)
    reach = max_shift + MARGIN
    lo, hi = reach, min(len(f), len(r)) - reach  # generated frames compared at every shift
    if hi - lo < 4:
        return 0, {"reason": "too few frames to compare"}
    motion_f = float(np.abs(np.diff(f, axis=0)).mean()) if len(f) > 1 else 0.0
    motion_r = float(np.abs(np.diff(r, axis=0)).mean()) if len(r) > 1 else 0.0
    if motion_f < MIN_MOTION * max(motion_r, 1e-6):
        # a (nearly) still video matches whichever real frames look most like it: never "aligned"
        return 0, {"reason": "the generated video barely moves", "motion_fake": round(motion_f, 3),
                   "motion_real": round(motion_r, 3)}
    mad = {s: float(np.abs(f[lo:hi] - r[lo + s:hi + s]).mean()) for s in range(-reach, reach + 1)}
    best = min(mad, key=lambda s: (mad[s], abs(s)))
    # a minimum past max_shift (up to the edge of the search) is a drift, not a dropped or padded frame
    accept = best != 0 and abs(best) <= max_shift and mad[best] <= ACCEPT * mad[0] and mad[best] <= MAX_MAD
    return (best if accept else 0), {"mad_at_0": round(mad[0], 3), "mad_at_best": round(mad[best], 3),
                                     "best": best}


class Pairing:
    """Pairs a method's frames (every view its paired metrics read) with the real video's."""

    def __init__(self, views: set[str], probe_view: str, enabled: bool = True):
        self.views = sorted(views)
        self.probe_view = probe_view
        self.enabled = enabled
        self.shift: int | None = None if enabled else 0
        self.evidence: dict = {}
        self.fake: dict[str, dict[int, tuple[np.ndarray, bool]]] = {v: {} for v in self.views}
        self.real: dict[str, dict[int, tuple[np.ndarray, bool]]] = {v: {} for v in self.views}
        self.next = 0  # the next generated frame to pair
        self.n_fake = self.n_real = self.paired = 0

    @staticmethod
    def _add(store, start: int, arrays: dict[str, np.ndarray], oks: dict[str, np.ndarray | None]) -> int:
        n = 0
        for v, arr in arrays.items():
            ok = oks.get(v)
            for k, frame in enumerate(arr):
                store[v][start + k] = (frame, True if ok is None else bool(ok[k]))
            n = len(arr)
        return n

    def push(self, fake_start: int | None, fake: dict, fake_ok: dict, real_start: int | None, real: dict,
             real_ok: dict) -> None:
        if fake_start is not None:
            self.n_fake = max(self.n_fake, fake_start + self._add(self.fake, fake_start, fake, fake_ok))
        if real_start is not None:
            self.n_real = max(self.n_real, real_start + self._add(self.real, real_start, real, real_ok))
        if self.shift is None and min(len(self.fake[self.probe_view]), len(self.real[self.probe_view])) >= PROBE_FRAMES:
            self._decide()

    def finish(self) -> None:
        """Both videos ended: decide the shift on what there is (a short clip), so pop() drains."""
        if self.shift is None:
            self._decide()

    def _decide(self) -> None:
        f = [self.fake[self.probe_view][i][0] for i in sorted(self.fake[self.probe_view])]
        r = [self.real[self.probe_view][i][0] for i in sorted(self.real[self.probe_view])]
        if f and r:
            self.shift, self.evidence = estimate_shift(np.stack(f), np.stack(r))
        else:
            self.shift, self.evidence = 0, {"reason": "one of the videos has no frames"}

    def pop(self) -> tuple[int, dict, dict, dict, dict] | None:
        """The next run of paired frames: (first generated index, fake views, real views, oks)."""
        if self.shift is None:
            return None
        s, v0 = self.shift, self.views[0]
        j = self.next
        while j in self.fake[v0] and j + s in self.real[v0]:
            j += 1
        if j + s < 0 and j < self.n_fake:  # generated frames before the real video's start: no partner
            skip = -s - j
            for v in self.views:
                for k in range(j, j + skip):
                    self.fake[v].pop(k, None)
            self.next = j = j + skip
            return self.pop()
        if j == self.next:
            return None
        idx = range(self.next, j)
        out = ({v: np.stack([self.fake[v][k][0] for k in idx]) for v in self.views},
               {v: np.stack([self.real[v][k + s][0] for k in idx]) for v in self.views},
               {v: np.array([self.fake[v][k][1] for k in idx]) for v in self.views},
               {v: np.array([self.real[v][k + s][1] for k in idx]) for v in self.views})
        for v in self.views:
            for k in idx:
                del self.fake[v][k]
            for k in [k for k in self.real[v] if k < j + s]:
                del self.real[v][k]
        start, self.next = self.next, j
        self.paired += len(idx)
        return (start, *out)

    def report(self) -> dict:
        return {"align_shift": self.shift or 0, "frames_fake": self.n_fake, "frames_real": self.n_real,
                "frames_paired": self.paired, **({"align_evidence": self.evidence} if self.evidence else {})}
