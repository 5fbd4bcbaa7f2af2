"""FVD with the Kinetics-400 I3D (TF-Hub weights), in two named, pinned protocols.

* ``stylegan-v`` (v1), the video-generation literature's de-facto standard: clips of 16
  consecutive frames taken from the start of each video, non-overlapping,
  ``clips_per_video`` per video (default 1); frames resized to 224x224 bilinearly (no
  antialias), values scaled to [-1, 1]; features = the 400-d I3D logits averaged over time.
* ``latentsync`` (v1), LatentSync's evaluation: exactly one clip per video, frames 20..35 (16),
  resized to 224x224 with area interpolation (cv2.INTER_AREA), values in [0, 1] (not rescaled).

The two give numbers that are not comparable: every value is reported with its protocol,
clip count, frame count and resolution. Fréchet distance as for FID (float64, scipy sqrtm).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from eadbench.errors import MetricInputError
from eadbench.metrics.base import LOWER, ClipInput, Evaluator, register_metric, torchmetrics_classes
from eadbench.metrics.frechet import frechet_distance_from_features
from eadbench.metrics.i3d import kinetics_i3d
from eadbench.weights import file_sha256, locate


@dataclass(frozen=True)
class FVDProtocol:
    name: str
    version: str
    frames: int
    start: int  # first frame of the first clip
    size: int
    value_range: str  # "[-1, 1]" or "[0, 1]"
    interpolation: str
    fixed_single_clip: bool

    def clips(self, video: np.ndarray, clips_per_video: int = 1) -> list[np.ndarray]:
        """Sampled clips (each (16, H, W, 3) uint8); raises MetricInputError when too short."""
        need = self.start + self.frames
        if len(video) < need:
            raise MetricInputError(f"video has {len(video)} frames; FVD protocol {self.name} needs at least {need}")
        if self.fixed_single_clip:
            return [video[self.start:need]]
        n = min(clips_per_video, (len(video) - self.start) // self.frames)
        return [video[self.start + i * self.frames:self.start + (i + 1) * self.frames] for i in range(n)]

    def preprocess(self, clip: np.ndarray) -> torch.Tensor:
        """(16, H, W, 3) uint8 -> (3, 16, 224, 224) float in the protocol's range."""
        if self.interpolation == "area":
            frames = np.stack([cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA) for f in clip])
            x = torch.from_numpy(frames).float().permute(3, 0, 1, 2)
        else:
            x = torch.from_numpy(np.ascontiguousarray(clip)).float().permute(0, 3, 1, 2)
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=False).permute(1, 0, 2, 3)
        x = x / 255.0
        return x * 2 - 1 if self.value_range == "[-1, 1]" else x


PROTOCOLS = {
    "stylegan-v": FVDProtocol("stylegan-v", "1", 16, 0, 224, "[-1, 1]", "bilinear", False),
    "latentsync": FVDProtocol("latentsync", "1", 16, 20, 224, "[0, 1]", "area", True),
}


def get_protocol(name: str | None) -> FVDProtocol:
    name = name or "stylegan-v"
    if name not in PROTOCOLS:
        raise MetricInputError(f"unknown FVD protocol {name!r}; choose {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def i3d_features(clips: list[np.ndarray], protocol: FVDProtocol, model, batch: int = 4) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for i in range(0, len(clips), batch):
            x = torch.stack([protocol.preprocess(c) for c in clips[i:i + batch]])
            out.append(model(x).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 400))


def fvd_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    for name, f in (("generated", fake), ("real", real)):
        if len(f) < 2:
            raise MetricInputError(f"FVD needs at least 2 {name} clips, got {len(f)}")
    return frechet_distance_from_features(fake, real)


def fvd(fake_videos: list[np.ndarray], real_videos: list[np.ndarray], protocol: str = "stylegan-v",
        clips_per_video: int = 1, weights_dir: str | None = None) -> float:
    """Functional twin: FVD between two lists of videos (T, H, W, 3) uint8."""
    p = get_protocol(protocol)
    model = kinetics_i3d(weights_dir)
    fc = [c for v in fake_videos for c in p.clips(v, clips_per_video)]
    rc = [c for v in real_videos for c in p.clips(v, clips_per_video)]
    return fvd_from_features(i3d_features(fc, p, model), i3d_features(rc, p, model))


class _FVD:
    """FVD as a torchmetrics Metric; I3D features gathered across processes."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, protocol: str = "stylegan-v", clips_per_video: int = 1, weights_dir: str | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.protocol, self.clips_per_video = get_protocol(protocol), clips_per_video
        self.net = kinetics_i3d(weights_dir)
        self.add_state("fake_feats", default=[], dist_reduce_fx="cat")
        self.add_state("real_feats", default=[], dist_reduce_fx="cat")

    def update(self, video: np.ndarray, real: bool) -> None:
        clips = self.protocol.clips(np.asarray(video), self.clips_per_video)
        f = torch.from_numpy(i3d_features(clips, self.protocol, self.net))
        (self.real_feats if real else self.fake_feats).append(f)

    def compute(self) -> torch.Tensor:
        cat = lambda xs: (torch.cat(xs) if isinstance(xs, list) else xs).numpy()  # noqa: E731
        return torch.tensor(fvd_from_features(cat(self.fake_feats), cat(self.real_feats)))


@register_metric(
    name="fvd", direction=LOWER, level="set", outputs=("fvd",), needs=("real",), weights=("i3d-kinetics-400",),
    protocol="stylegan-v", protocol_version="1", face=False, crop_protocol=None, protocols=tuple(PROTOCOLS),
    description="Frechet Video Distance (Kinetics-400 I3D logits; protocol stylegan-v or latentsync)",
)
class FVDEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.protocol = get_protocol(ctx.protocol)
        self.clips_per_video = int(ctx.options.get("clips_per_video", 1))
        self.sha = file_sha256(locate("i3d-kinetics-400", ctx.weights_dir).path)

    @cached_property
    def net(self):
        """Built on first use: a run whose features are all cached never builds I3D."""
        return kinetics_i3d(self.ctx.weights_dir)

    def weights_used(self):
        return {"i3d-kinetics-400": self.sha}

    def _features(self, clips: list[np.ndarray]) -> np.ndarray:
        from eadbench.features_cache import cache_key, get_or_compute

        p = self.protocol
        key = cache_key(np.stack(clips), self.sha, f"fvd-{p.name}@{p.version}")
        return get_or_compute(key, lambda: i3d_features(clips, p, self.net))

    def clip(self, item: ClipInput) -> dict:
        fake = self.protocol.clips(item.fake, self.clips_per_video)
        real = self.protocol.clips(item.real, self.clips_per_video)
        return {"fake_features": self._features(fake), "real_features": self._features(real)}

    def reduce(self, outputs: list[dict]) -> dict:
        fake = np.concatenate([o["fake_features"] for o in outputs])
        real = np.concatenate([o["real_features"] for o in outputs])
        p = self.protocol
        return {"fvd": fvd_from_features(fake, real), "n_clips_fake": len(fake), "n_clips_real": len(real),
                "frames_per_clip": p.frames, "resolution": p.size, "protocol": f"{p.name}@{p.version}",
                "clips_per_video": 1 if p.fixed_single_clip else self.clips_per_video}


__getattr__ = torchmetrics_classes(__name__, FVD=_FVD)
