"""FID, protocol ``pytorch-fid`` (v1): pytorch-fid's InceptionV3 (FID weights
``pt_inception-2015-12-05-6726825d.pth``, ``eadbench.nets.inception``), 2048-d pool3 features
of every frame, inputs as given in [0, 1] and resized to 299x299 *bilinearly inside the
network* (pytorch-fid's own resize; name it when comparing with clean-fid's ``clean`` mode,
which resizes with PIL bicubic first), float64 Gaussian fits and Frechet distance as
pytorch-fid computes them.

Set-level: each video contributes the features of its frames (the real side once per clip);
the value is computed once over the whole split (``reduce``). Features are cached on disk by
video content and weights hash.
"""

from __future__ import annotations

import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.metrics.base import (
    LOWER,
    Chunk,
    ClipMeta,
    Column,
    Evaluator,
    MetricProtocol,
    TorchMetric,
    register_metric,
)
from eadbench.metrics.frechet import frechet_distance_from_features
from eadbench.nets.inception import fid_inception

PROTOCOL = MetricProtocol("pytorch-fid", "1", None, (("features", "pool3-2048"), ("resize", "bilinear-299-in-net"),
                                                     ("range", "[0, 1]")),
                          "InceptionV3 pool3, pytorch-fid's bilinear resize to 299")
BATCH = 32


def fid_features(frames: np.ndarray, model: torch.nn.Module, batch: int = BATCH) -> np.ndarray:
    """(N, 2048) float64 pool3 features of (N, H, W, 3) uint8 frames."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise MetricInputError(f"expected frames shaped (N, H, W, 3), got {frames.shape}")
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(np.ascontiguousarray(frames[i:i + batch])).permute(0, 3, 1, 2).float() / 255.0
            out.append(model(x.to(device))[0].squeeze(-1).squeeze(-1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2048))


def fid_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    for name, f in (("generated", fake), ("real", real)):
        if len(f) < 2:
            raise MetricInputError(f"FID needs at least 2 {name} images, got {len(f)}")
    return frechet_distance_from_features(fake, real)


def fid(fake_frames: np.ndarray, real_frames: np.ndarray, store=None) -> float:
    """Functional twin: FID between two sets of frames (N, H, W, 3) uint8."""
    m = fid_inception(store)
    return fid_from_features(fid_features(fake_frames, m), fid_features(real_frames, m))


@register_metric(
    name="fid", direction=LOWER, level="set", outputs=("fid",), needs=("real",), weights=("inception-fid",),
    protocols=(PROTOCOL,),
    description="Frechet Inception Distance over all frames of the split (pytorch-fid InceptionV3)",
    functional=fid, order=40, columns=(Column("fid", "FID", 2),),
    torchmetric=TorchMetric("FID", "update(frames, real=bool)", nets=lambda store, protocol: fid_inception(store),
                            features=lambda net, frames: fid_features(frames, net), distance=fid_from_features),
)
class FIDEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.store.verified("inception-fid")

    def views(self):
        return super().views()[0], None  # one video at a time; the driver runs the real side once per clip

    def begin(self, meta: ClipMeta) -> list[np.ndarray]:
        return []

    def update(self, state: list[np.ndarray], chunk: Chunk) -> None:
        state.append(fid_features(chunk.fake, fid_inception(self.store)))

    def end(self, state: list[np.ndarray]) -> dict:
        return {"features": np.concatenate(state) if state else np.zeros((0, 2048))}

    def reduce(self, outputs: list[dict], real: list[dict] | None = None) -> dict:
        fake = np.concatenate([o["features"] for o in outputs])
        ref = np.concatenate([o["features"] for o in real or []]) if real else np.zeros((0, 2048))
        return {"fid": fid_from_features(fake, ref), "n_images_fake": len(fake), "n_images_real": len(ref)}
