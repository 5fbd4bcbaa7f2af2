"""LMD after time warping, protocol ``lmd-dtw-band@1``: LMD that does not punish a face that lags.

Frame-by-frame LMD (``eadbench.metrics.lmd``) compares generated frame t with real frame t, so a
generator whose mouth is two frames late scores as if every mouth shape were wrong. Here the two
landmark trajectories are aligned first by plain DTW inside a band of ``BAND`` frames
(``eadbench.metrics._dtw``: steps (1,0) (0,1) (1,1), value = the cheapest path's summed cost / n
paired frames), with LMD's own per-frame cost:

* ``lmd_dtw``: the frame cost is the mean distance of the 40 lip-contour points (M-LMD's), in
  pixels of the 256x256 ``face256`` crop, of the face mesh's x, y;
* ``f_lmd_dtw``: all 468 points (F-LMD's), aligned on their own;
* ``lmd_dtw_lag`` (not an output; the clip's record): the lip path's mean lag, frames (> 0: late).

Pairing as LMD's: the shorter clip sets n, frames where either side has no face are left out of
both before aligning. Reported beside ``lmd``: the diagonal path is allowed, so ``lmd_dtw`` <=
``lmd``, equal for a still face (warping cannot help it); the gap between them is what timing alone
cost. The run's frame alignment (``eadbench.run.align``) only undoes a whole-clip shift of frames
that copy the real ones pixel for pixel; this also forgives a generated mouth that is late by a
varying few frames.
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.metrics._dtw import BAND, PARAMS, dtw
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import PairedLandmarksEvaluator
from eadbench.nets.face_mesh import LIPS, face_mesh

PROTOCOL = MetricProtocol(
    "lmd-dtw-band", "1", "face256",
    (("landmarks", "mediapipe-468"), ("units", "px of 256"),
     ("frame_cost", "mean point distance: lips (40, lmd_dtw), all 468 (f_lmd_dtw)")) + PARAMS,
    f"LMD after plain DTW within +-{BAND} frames, summed path cost / paired frames")


def _lips(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a[:, list(LIPS)] - b[:, list(LIPS)], axis=2).mean(axis=1)


def _face(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=2).mean(axis=1)


def paired_frames(fake: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(generated, real, dropped): both cut to the shorter clip, frames without a face on either side
    left out of both (LMD's pairing)."""
    n = min(len(fake), len(real))
    f, r = fake[:n], real[:n]
    ok = np.isfinite(f).all(axis=tuple(range(1, f.ndim))) & np.isfinite(r).all(axis=tuple(range(1, r.ndim)))
    if not ok.any():
        raise MetricInputError("no frame where the face mesh found a face in both videos")
    return f[ok], r[ok], int(n - ok.sum())


def lmd_dtw_from_landmarks(fake: np.ndarray, real: np.ndarray) -> dict:
    """The clip's outputs from (T, 468, 2) generated and real mesh landmarks (NaN rows: no face)."""
    xy = [np.asarray(x, dtype=np.float64)[..., :2] for x in (fake, real)]
    f, r, dropped = paired_frames(*xy)
    lips, face = dtw(f, r, _lips), dtw(f, r, _face)
    return {"lmd_dtw": lips.value, "f_lmd_dtw": face.value, "lmd_dtw_lag": lips.lag, "frames_used": len(f),
            "frames_dropped": dropped}


def lmd_dtw(fake_crops: np.ndarray, real_crops: np.ndarray, store=None) -> dict:
    """Functional twin on face256 crops (T, 256, 256, 3) uint8 of the generated and real clip."""
    m = face_mesh(store)
    return lmd_dtw_from_landmarks(m.series(fake_crops), m.series(real_crops))


@register_metric(
    name="lmd_dtw", direction=LOWER, level="clip", outputs=("lmd_dtw", "f_lmd_dtw"), needs=("real",),
    weights=("face-mesh",), protocols=(PROTOCOL,), output_directions=(("f_lmd_dtw", LOWER),),
    description=f"LMD (lips, whole face) after aligning the clips in time (DTW, +-{BAND} frames): lag forgiven",
    functional=lmd_dtw, order=90, columns=(Column("lmd_dtw", "M-LMD (DTW)", 3), Column("f_lmd_dtw", "F-LMD (DTW)", 3)),
    torchmetric=TorchMetric("LMDDTW", "update(fake_face256, real_face256)",
                            clip_outputs=lambda store, fake, real: lmd_dtw(fake, real, store)),
)
class LMDDTWEvaluator(PairedLandmarksEvaluator):
    dims = 2

    def score(self, fake: np.ndarray, real: np.ndarray) -> dict:
        return lmd_dtw_from_landmarks(fake, real)
