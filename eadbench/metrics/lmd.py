"""LMD, protocol ``mesh468-face256`` (v1): mean Euclidean distance, in pixels of the 256x256
``face256`` crop, between the face-mesh landmarks of generated and real frames paired 1:1
(the shorter clip sets the length). ``lmd`` uses the 40 lip-contour points (M-LMD), ``f_lmd``
all 468 (F-LMD). Frames where the mesh finds no face in either video are left out and counted;
no alignment beyond the shared crop protocol."""

from __future__ import annotations

import threading

import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.metrics.base import LOWER, ClipInput, Evaluator, register_metric, torchmetrics_classes
from eadbench.metrics.face_mesh import LIPS, FaceMesh
from eadbench.weights import file_sha256

_MESH: dict[str, FaceMesh] = {}
_LOCK = threading.Lock()


def mesh(weights_dir: str | None = None) -> FaceMesh:
    with _LOCK:
        key = str(weights_dir)
        if key not in _MESH:
            _MESH[key] = FaceMesh(weights_dir)
        return _MESH[key]


def lmd_from_landmarks(fake: np.ndarray, real: np.ndarray) -> dict:
    n = min(len(fake), len(real))
    f, r = fake[:n], real[:n]
    ok = ~(np.isnan(f).any(axis=(1, 2)) | np.isnan(r).any(axis=(1, 2)))
    if not ok.any():
        raise MetricInputError("no frame where the face mesh found a face in both videos")
    d = np.linalg.norm(f[ok] - r[ok], axis=2)  # (frames, 468)
    return {"lmd": float(d[:, list(LIPS)].mean()), "f_lmd": float(d.mean()), "frames_used": int(ok.sum()),
            "frames_dropped": int(n - ok.sum())}


def lmd(fake_crops: np.ndarray, real_crops: np.ndarray, weights_dir: str | None = None) -> dict:
    """Functional twin on face crops of the same protocol."""
    m = mesh(weights_dir)
    return lmd_from_landmarks(m.clip(fake_crops), m.clip(real_crops))


class _LMD:
    higher_is_better = False
    full_state_update = False

    def __init__(self, weights_dir: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mesh = mesh(weights_dir)
        for s in ("sum_lmd", "sum_flmd"):
            self.add_state(s, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, fake_crops, real_crops) -> None:
        r = lmd_from_landmarks(self.mesh.clip(fake_crops), self.mesh.clip(real_crops))
        self.sum_lmd += r["lmd"]
        self.sum_flmd += r["f_lmd"]
        self.count += 1

    def compute(self):
        return {"lmd": self.sum_lmd / self.count, "f_lmd": self.sum_flmd / self.count}


@register_metric(
    name="lmd", direction=LOWER, level="clip", outputs=("lmd", "f_lmd"), needs=("real",), weights=("face-mesh",),
    protocol="mesh468-face256", protocol_version="1", face=True, crop_protocol="face256",
    output_directions=(("f_lmd", LOWER),),
    description="landmark distance to the real frames: lips (M-LMD) and whole face (F-LMD), 468-point mesh",
)
class LMDEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.mesh = mesh(ctx.weights_dir)
        self.sha = file_sha256(self.mesh.path)

    def weights_used(self):
        return {"face-mesh": self.sha}

    def clip(self, item: ClipInput) -> dict:
        if item.faces is None:
            raise MetricInputError("LMD needs face crops")
        return lmd_from_landmarks(self.mesh.clip(item.faces("fake", "face256")),
                                  self.mesh.clip(item.faces("real", "face256")))


__getattr__ = torchmetrics_classes(__name__, LMD=_LMD)
