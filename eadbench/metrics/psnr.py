"""PSNR, protocol ``psnr-frame-mean``: data range 255, computed per frame then averaged over
the clip's frames; a frame identical to its reference is capped at 100 dB (instead of an
infinite value that would swallow the mean). Equal to scikit-image's
``peak_signal_noise_ratio(real, fake, data_range=255)`` per frame."""

from __future__ import annotations

import torch

from eadbench.metrics._frames import paired
from eadbench.metrics.base import HIGHER, ClipInput, Evaluator, FrameMean, register_metric, torchmetrics_classes

CAP_DB = 100.0


def psnr_frames(fake, real) -> torch.Tensor:
    f, r = paired(fake, real)
    mse = ((f - r) ** 2).flatten(1).mean(1)
    db = 10 * torch.log10(255.0 ** 2 / mse)
    return torch.where(mse == 0, torch.full_like(db, CAP_DB), db.clamp(max=CAP_DB))


def psnr(fake, real) -> float:
    return float(psnr_frames(fake, real).mean())


class _PSNR(FrameMean):
    """Mean per-frame PSNR over every frame pair seen."""

    higher_is_better = True

    def frame_values(self, fake, real) -> torch.Tensor:
        return psnr_frames(fake, real)


@register_metric(
    name="psnr", direction=HIGHER, level="clip", outputs=("psnr",), needs=("real",), weights=(),
    protocol="psnr-frame-mean", protocol_version="1", face=False, crop_protocol=None,
    description="peak signal-to-noise ratio to the real frames (range 255, per frame, capped at 100 dB)",
)
class PSNREvaluator(Evaluator):
    def clip(self, item: ClipInput) -> dict:
        return {"psnr": psnr(item.fake, item.real)}


__getattr__ = torchmetrics_classes(__name__, PSNR=_PSNR)
