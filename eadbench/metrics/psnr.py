"""PSNR, protocol ``psnr-frame-mean`` (v1): data range 255, computed per frame then averaged over
the clip's frames; a frame identical to its reference is capped at 100 dB (instead of an
infinite value that would swallow the mean). Equal to scikit-image's
``peak_signal_noise_ratio(real, fake, data_range=255)`` per frame."""

from __future__ import annotations

import numpy as np
import torch

from eadbench.metrics._frames import paired, per_frame, scratch
from eadbench.metrics.base import HIGHER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import FrameMeanEvaluator

PROTOCOL = MetricProtocol("psnr-frame-mean", "1", None, (("data_range", 255), ("cap_db", 100.0)),
                          "per frame, range 255, capped at 100 dB")
#: the protocol's parameters, read from it (stated once)
DATA_RANGE, CAP_DB = float(PROTOCOL.param("data_range")), PROTOCOL.param("cap_db")


def _mse(fake: np.ndarray, real: np.ndarray) -> float:
    """Mean squared error of one frame pair: the squared differences are integers, summed exactly
    (int64), so the value is the same whatever the order of summation."""
    d = scratch("psnr-diff", fake.size, np.int32).reshape(fake.shape)  # no per-frame allocation
    np.subtract(fake, real, out=d, dtype=np.int32)
    return float(np.einsum("ijk,ijk->", d, d, dtype=np.int64)) / d.size


def psnr_frames(fake, real) -> torch.Tensor:
    f, r = paired(fake, real)
    if np.issubdtype(f.dtype, np.integer) and np.issubdtype(r.dtype, np.integer):
        mse = torch.from_numpy(per_frame(_mse, f, r))
    else:  # float frames (already in [0, 255]): float64 as given
        mse = torch.from_numpy(((f.astype(np.float64) - r.astype(np.float64)) ** 2).reshape(len(f), -1).mean(1))
    db = 10 * torch.log10(DATA_RANGE ** 2 / mse)
    return torch.where(mse == 0, torch.full_like(db, CAP_DB), db.clamp(max=CAP_DB))


def psnr(fake, real) -> float:
    """Functional twin: mean PSNR over frames."""
    return float(psnr_frames(fake, real).mean())


@register_metric(
    name="psnr", direction=HIGHER, level="clip", outputs=("psnr",), needs=("real",), weights=(),
    protocols=(PROTOCOL,),
    description="peak signal-to-noise ratio to the real frames (range 255, per frame, capped at 100 dB)",
    functional=psnr, order=20, columns=(Column("psnr", "PSNR", 2),),
    torchmetric=TorchMetric("PSNR", "update(fake, real)",
                            frame_values=lambda store, fake, real: psnr_frames(fake, real)),
)
class PSNREvaluator(FrameMeanEvaluator):
    def frame_values(self, fake, real):
        return psnr_frames(fake, real)
