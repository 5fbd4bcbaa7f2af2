"""FID, protocol ``pytorch-fid``: pytorch-fid's InceptionV3 (FID weights
``pt_inception-2015-12-05-6726825d.pth``), 2048-d pool3 features of every frame, inputs as
given in [0, 1] and resized to 299x299 *bilinearly inside the network* (pytorch-fid's own
resize; name it when comparing with clean-fid's ``clean`` mode, which resizes with PIL
bicubic first), float64 Gaussian fits and Frechet distance as pytorch-fid computes them.

Set-level: each clip contributes the features of its frames; the value is computed once
over the whole split (``reduce``). Features are cached on disk by content and weights hash.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.features_cache import cache_key, get_or_compute
from eadbench.metrics.base import LOWER, ClipInput, Evaluator, register_metric, torchmetrics_classes
from eadbench.metrics.frechet import frechet_distance_from_features
from eadbench.weights import file_sha256, load_state_dict, verified

PROTOCOL, VERSION = "pytorch-fid", "1"
_LOCK = threading.Lock()
_MODELS: dict[str, torch.nn.Module] = {}


def inception(weights_dir: str | None = None) -> torch.nn.Module:
    """pytorch-fid's InceptionV3 with the FID weights located through eadbench's weight store."""
    loc = verified("inception-fid", weights_dir)
    key = str(loc.path)
    with _LOCK:
        if key not in _MODELS:
            import pytorch_fid.inception as pi

            state = load_state_dict("inception-fid", weights_dir)
            original = pi.load_state_dict_from_url
            pi.load_state_dict_from_url = lambda *a, **k: state  # never download: use the located file
            try:
                model = pi.InceptionV3([pi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
            finally:
                pi.load_state_dict_from_url = original
            _MODELS[key] = model.eval()
        return _MODELS[key]


def fid_features(frames: np.ndarray, model: torch.nn.Module, batch: int = 32) -> np.ndarray:
    """(N, 2048) float64 pool3 features of (N, H, W, 3) uint8 frames."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise MetricInputError(f"expected frames shaped (N, H, W, 3), got {frames.shape}")
    out = []
    with torch.inference_mode():
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(np.ascontiguousarray(frames[i:i + batch])).permute(0, 3, 1, 2).float() / 255.0
            out.append(model(x)[0].squeeze(-1).squeeze(-1).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2048))


def fid_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    for name, f in (("generated", fake), ("real", real)):
        if len(f) < 2:
            raise MetricInputError(f"FID needs at least 2 {name} images, got {len(f)}")
    return frechet_distance_from_features(fake, real)


def fid(fake_frames: np.ndarray, real_frames: np.ndarray, weights_dir: str | None = None) -> float:
    """Functional twin: FID between two sets of frames (N, H, W, 3) uint8."""
    m = inception(weights_dir)
    return fid_from_features(fid_features(fake_frames, m), fid_features(real_frames, m))


class _FID:
    """FID as a torchmetrics Metric: feature lists gathered across processes (dist_reduce_fx="cat")."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, weights_dir: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = inception(weights_dir)
        self.add_state("fake_feats", default=[], dist_reduce_fx="cat")
        self.add_state("real_feats", default=[], dist_reduce_fx="cat")

    def update(self, frames, real: bool) -> None:
        f = torch.from_numpy(fid_features(np.asarray(frames), self.net))
        (self.real_feats if real else self.fake_feats).append(f)

    def compute(self) -> torch.Tensor:
        cat = lambda xs: (torch.cat(xs) if isinstance(xs, list) else xs).numpy()  # noqa: E731
        return torch.tensor(fid_from_features(cat(self.fake_feats), cat(self.real_feats)))


@register_metric(
    name="fid", direction=LOWER, level="set", outputs=("fid",), needs=("real",), weights=("inception-fid",),
    protocol=PROTOCOL, protocol_version=VERSION, face=False, crop_protocol=None,
    description="Frechet Inception Distance over all frames of the split (pytorch-fid InceptionV3)",
)
class FIDEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.weights_sha = file_sha256(verified("inception-fid", ctx.weights_dir).path)
        self._net = None

    @property
    def net(self):
        """Built on first use: a run whose features are all cached never constructs Inception."""
        if self._net is None:
            self._net = inception(self.ctx.weights_dir)
        return self._net

    def weights_used(self) -> dict[str, str]:
        return {"inception-fid": self.weights_sha}

    def _features(self, frames: np.ndarray) -> np.ndarray:
        key = cache_key(frames, self.weights_sha, f"{PROTOCOL}@{VERSION}")
        return get_or_compute(key, lambda: fid_features(frames, self.net))

    def clip(self, item: ClipInput) -> dict:
        return {"fake_features": self._features(item.fake), "real_features": self._features(item.real)}

    def reduce(self, outputs: list[dict]) -> dict:
        fake = np.concatenate([o["fake_features"] for o in outputs])
        real = np.concatenate([o["real_features"] for o in outputs])
        return {"fid": fid_from_features(fake, real), "n_images_fake": len(fake), "n_images_real": len(real)}


__getattr__ = torchmetrics_classes(__name__, FID=_FID)
