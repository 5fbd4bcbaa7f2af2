"""FVD with the Kinetics-400 I3D (TF-Hub weights, ``eadbench.nets.i3d``), in two named protocols.

* ``stylegan-v`` (v1), the video-generation literature's de-facto standard: clips of 16
  consecutive frames taken from the start of each video, non-overlapping,
  ``clips_per_video`` per video (default 1); frames resized to 224x224 bilinearly (no
  antialias), values scaled to [-1, 1]; features = the 400-d I3D logits averaged over time.
* ``latentsync`` (v1), LatentSync's evaluation: exactly one clip per video, frames 20..35 (16),
  resized to 224x224 with area interpolation (cv2.INTER_AREA), values in [0, 1] (not rescaled).

The two give numbers that are not comparable: every value is reported with its protocol,
clip count, frame count and resolution. Frechet distance as for FID (float64). Streaming: only
the frames of the sampled clips are kept, and I3D runs on 4 clips at a time as they complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from eadbench.errors import MetricInputError
from eadbench.metrics.base import (
    LOWER,
    Chunk,
    ClipMeta,
    Column,
    Evaluator,
    MetricOption,
    MetricProtocol,
    TorchMetric,
    register_metric,
)
from eadbench.metrics.frechet import frechet_distance_from_features
from eadbench.nets.i3d import kinetics_i3d

BATCH = 4  # clips per I3D call
#: below this many clips per side an FVD value moves a lot with the sample: tables flag it
MIN_STABLE_CLIPS = 64


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

    def n_clips(self, n_frames: int, clips_per_video: int = 1) -> int:
        if self.fixed_single_clip:
            return 1 if n_frames >= self.start + self.frames else 0
        return min(clips_per_video, (n_frames - self.start) // self.frames)

    def too_short(self, n_frames: int) -> MetricInputError:
        return MetricInputError(f"video has {n_frames} frames; FVD protocol {self.name} needs at least "
                                f"{self.start + self.frames}")

    def clips(self, video: np.ndarray, clips_per_video: int = 1) -> list[np.ndarray]:
        """Sampled clips (each (16, H, W, 3) uint8); raises MetricInputError when too short."""
        if len(video) < self.start + self.frames:
            raise self.too_short(len(video))
        n = self.n_clips(len(video), clips_per_video)
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

    def metric_protocol(self) -> MetricProtocol:
        return MetricProtocol(self.name, self.version, None, (
            ("frames", self.frames), ("start", self.start), ("size", self.size), ("range", self.value_range),
            ("interpolation", self.interpolation), ("clips", "one" if self.fixed_single_clip else "clips_per_video"),
            ("features", "i3d-kinetics-400 logits, time mean")), f"FVD, {self.frames} frames at {self.size}")


PROTOCOLS = {
    "stylegan-v": FVDProtocol("stylegan-v", "1", 16, 0, 224, "[-1, 1]", "bilinear", False),
    "latentsync": FVDProtocol("latentsync", "1", 16, 20, 224, "[0, 1]", "area", True),
}


def get_protocol(name: str | None) -> FVDProtocol:
    name = (name or "stylegan-v").split("@")[0]
    if name not in PROTOCOLS:
        raise MetricInputError(f"unknown FVD protocol {name!r}; choose {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def i3d_features(clips: list[np.ndarray], protocol: FVDProtocol, model, batch: int = BATCH) -> np.ndarray:
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(clips), batch):
            x = torch.stack([protocol.preprocess(c) for c in clips[i:i + batch]])
            x = x.to(device).contiguous(memory_format=torch.channels_last_3d)  # the network's layout
            out.append(model(x).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 400))


def fvd_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    for name, f in (("generated", fake), ("real", real)):
        if len(f) < 2:
            raise MetricInputError(f"FVD needs at least 2 {name} clips, got {len(f)}")
    return frechet_distance_from_features(fake, real)


def fvd(fake_videos: list[np.ndarray], real_videos: list[np.ndarray], protocol: str = "stylegan-v",
        clips_per_video: int = 1, store=None) -> float:
    """Functional twin: FVD between two lists of videos (T, H, W, 3) uint8."""
    p = get_protocol(protocol)
    model = kinetics_i3d(store)
    fc = [c for v in fake_videos for c in p.clips(v, clips_per_video)]
    rc = [c for v in real_videos for c in p.clips(v, clips_per_video)]
    return fvd_from_features(i3d_features(fc, p, model), i3d_features(rc, p, model))


@dataclass
class _Clips:
    """Frames of the sampled clips still to featurise, and the features so far."""

    wanted: int  # clips wanted (clips_per_video, or 1)
    seen: int = 0
    frames: list[np.ndarray] = field(default_factory=list)
    ready: list[np.ndarray] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    taken: int = 0


class _ClassNets:
    """What the FVD class holds: its protocol, clips per video and the I3D network."""

    def __init__(self, store, protocol: MetricProtocol, clips_per_video: int = 1):
        self.protocol, self.clips_per_video = get_protocol(protocol.name), clips_per_video
        self.net = kinetics_i3d(store)

    def features(self, video: np.ndarray) -> np.ndarray:
        return i3d_features(self.protocol.clips(video, self.clips_per_video), self.protocol, self.net)


@register_metric(
    name="fvd", direction=LOWER, level="set", outputs=("fvd",), needs=("real",), weights=("i3d-kinetics-400",),
    protocols=tuple(p.metric_protocol() for p in PROTOCOLS.values()),
    options=(MetricOption("clips_per_video", "16-frame clips per video (stylegan-v; default 1)", int, min=1,
                          unit="clips"),),
    description="Frechet Video Distance (Kinetics-400 I3D logits; protocol stylegan-v or latentsync)",
    functional=fvd, order=50, columns=(Column("fvd", "FVD", 2),),
    torchmetric=TorchMetric("FVD", "update(video, real=bool)", nets=_ClassNets, features=_ClassNets.features,
                            distance=fvd_from_features),
)
class FVDEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.fvd_protocol = get_protocol(self.protocol.name)
        self.clips_per_video = ctx.options.get("clips_per_video", 1)
        self.store.verified("i3d-kinetics-400")

    def views(self):
        return super().views()[0], None  # one video at a time; the driver runs the real side once per clip

    def begin(self, meta: ClipMeta) -> _Clips:
        p = self.fvd_protocol
        return _Clips(1 if p.fixed_single_clip else self.clips_per_video)

    def update(self, state: _Clips, chunk: Chunk) -> None:
        p = self.fvd_protocol
        first = p.start + state.taken * p.frames
        for k, frame in enumerate(chunk.fake, chunk.start):
            state.seen = k + 1
            if state.taken >= state.wanted or k < first:
                continue
            state.frames.append(frame)
            if len(state.frames) == p.frames:
                state.ready.append(np.stack(state.frames))
                state.frames = []
                state.taken += 1
                first = p.start + state.taken * p.frames
        while len(state.ready) >= BATCH:  # the same groups of 4 as on the whole video
            self._featurise(state, BATCH)

    def _featurise(self, state: _Clips, n: int) -> None:
        clips, state.ready = state.ready[:n], state.ready[n:]
        state.features.append(i3d_features(clips, self.fvd_protocol, kinetics_i3d(self.store)))

    def end(self, state: _Clips) -> dict:
        if state.taken == 0:
            raise self.fvd_protocol.too_short(state.seen)
        if state.ready:
            self._featurise(state, len(state.ready))
        return {"features": np.concatenate(state.features)}

    def reduce(self, outputs: list[dict], real: list[dict] | None = None) -> dict:
        fake = np.concatenate([o["features"] for o in outputs])
        ref = np.concatenate([o["features"] for o in real or []]) if real else np.zeros((0, 400))
        p = self.fvd_protocol
        return {"fvd": fvd_from_features(fake, ref), "n_clips_fake": len(fake), "n_clips_real": len(ref),
                "frames_per_clip": p.frames, "resolution": p.size, "stride": p.frames, "first_frame": p.start,
                "protocol": f"{p.name}@{p.version}",
                "clips_per_video": 1 if p.fixed_single_clip else self.clips_per_video,
                "feature_network": "i3d-kinetics-400 (TF-Hub) logits, mean over time",
                "weights_sha256": self.store.sha256("i3d-kinetics-400"),
                "real_side": "the real videos of the same clips, sampled the same way",
                "stable": min(len(fake), len(ref)) >= MIN_STABLE_CLIPS}
