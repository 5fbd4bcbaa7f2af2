"""LMD, protocol ``mesh468-face256`` (v1): mean Euclidean distance, in pixels of the 256x256
``face256`` crop, between the face-mesh landmarks (``eadbench.nets.face_mesh``) of generated and
real frames paired 1:1 (the shorter clip sets the length). ``lmd`` uses the 40 lip-contour points
(M-LMD), ``f_lmd`` all 468 (F-LMD). Frames where the mesh finds no face in either video (or
the tracker had no face) are left out and counted; no alignment beyond the shared crop protocol."""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import PairedLandmarksEvaluator
from eadbench.nets.face_mesh import LIPS, face_mesh

PROTOCOL = MetricProtocol("mesh468-face256", "1", "face256", (("landmarks", "mediapipe-468"), ("units", "px of 256")),
                          "468-point MediaPipe mesh, pixels of the 256 crop")


def lmd_from_landmarks(fake: np.ndarray, real: np.ndarray) -> dict:
    n = min(len(fake), len(real))
    f, r = fake[:n], real[:n]
    ok = ~(np.isnan(f).any(axis=(1, 2)) | np.isnan(r).any(axis=(1, 2)))
    if not ok.any():
        raise MetricInputError("no frame where the face mesh found a face in both videos")
    d = np.linalg.norm(f[ok] - r[ok], axis=2)  # (frames, 468)
    return {"lmd": float(d[:, list(LIPS)].mean()), "f_lmd": float(d.mean()), "frames_used": int(ok.sum()),
            "frames_dropped": int(n - ok.sum())}


def lmd(fake_crops: np.ndarray, real_crops: np.ndarray, store=None) -> dict:
    """Functional twin on face crops of the same protocol."""
    m = face_mesh(store)
    return lmd_from_landmarks(m.clip(fake_crops), m.clip(real_crops))


@register_metric(
    name="lmd", direction=LOWER, level="clip", outputs=("lmd", "f_lmd"), needs=("real",), weights=("face-mesh",),
    protocols=(PROTOCOL,), output_directions=(("f_lmd", LOWER),),
    description="landmark distance to the real frames: lips (M-LMD) and whole face (F-LMD), 468-point mesh",
    functional=lmd, order=80, columns=(Column("lmd", "M-LMD", 3), Column("f_lmd", "F-LMD", 3)),
    torchmetric=TorchMetric("LMD", "update(fake_face256, real_face256)",
                            clip_outputs=lambda store, fake, real: lmd(fake, real, store)),
)
class LMDEvaluator(PairedLandmarksEvaluator):
    dims = 2

    def score(self, fake: np.ndarray, real: np.ndarray) -> dict:
        return lmd_from_landmarks(fake, real)
