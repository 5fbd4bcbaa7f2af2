"""SSIM, protocol ``ssim-gauss11`` (v1): 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03,
data range 255, mean over RGB channels and over the *valid* area (the 5-pixel border where the
window leaves the image is cropped), per frame, then averaged over the clip's frames.

This is scikit-image's ``structural_similarity(..., channel_axis=-1, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=255)``. torchmetrics 1.9 averages its
SSIM map over the whole reflect-padded image instead (a different number near borders);
its map cropped to the valid area equals ours, which the tests check."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.metrics._frames import paired, per_frame
from eadbench.metrics.base import HIGHER, Chunk, ClipMeta, Evaluator, FrameValues, MetricProtocol, register_metric

PROTOCOL = MetricProtocol("ssim-gauss11", "1", None, (("window", 11), ("sigma", 1.5), ("k1", 0.01),
                                                      ("k2", 0.03), ("data_range", 255), ("area", "valid")),
                          "Gaussian 11x11, sigma 1.5, K1 .01, K2 .03, range 255, RGB mean, valid area")
WINDOW, SIGMA, K1, K2, DATA_RANGE = 11, 1.5, 0.01, 0.03, 255.0


def _gauss1d() -> np.ndarray:
    x = np.arange(WINDOW, dtype=np.float64) - WINDOW // 2
    g = np.exp(-(x ** 2) / (2 * SIGMA ** 2))
    return g / g.sum()


def _blur_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter (float32, every channel at once) keeping only the valid area
    (window fully inside the image), as (channels, H', W') contiguous planes."""
    r = WINDOW // 2
    out = cv2.sepFilter2D(img, cv2.CV_32F, g, g, borderType=cv2.BORDER_REFLECT_101)[r:-r, r:-r]
    return np.ascontiguousarray(np.moveaxis(out.reshape(*out.shape[:2], -1), -1, 0))


def _ssim_frame(fake: np.ndarray, real: np.ndarray) -> float:
    g = _GAUSS
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    x, y = fake.astype(np.float32), real.astype(np.float32)
    # float32 filtering (OpenCV's SIMD path); the SSIM formula itself in float64, per channel
    mxs, mys = _blur_valid(x, g), _blur_valid(y, g)
    xxs, yys, xys = _blur_valid(x * x, g), _blur_valid(y * y, g), _blur_valid(x * y, g)
    acc = 0.0
    for c in range(3):
        mx, my = mxs[c].astype(np.float64), mys[c].astype(np.float64)
        vx = xxs[c] - mx * mx
        vy = yys[c] - my * my
        cxy = xys[c] - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        acc += s.mean()
    return acc / 3


_GAUSS = _gauss1d().astype(np.float32)


def ssim_frames(fake, real) -> torch.Tensor:
    """Per-frame SSIM of paired (N, H, W, 3) frames in [0, 255]."""
    f, r = paired(fake, real)
    if min(f.shape[1:3]) < WINDOW:
        raise MetricInputError(f"frames of {tuple(f.shape[1:3])} are smaller than the {WINDOW}x{WINDOW} SSIM window")
    return torch.from_numpy(per_frame(_ssim_frame, f, r))


def ssim(fake, real) -> float:
    """Functional twin: mean SSIM over frames."""
    return float(ssim_frames(fake, real).mean())


@register_metric(
    name="ssim", direction=HIGHER, level="clip", outputs=("ssim",), needs=("real",), weights=(),
    protocols=(PROTOCOL,),
    description="structural similarity to the real frames (Gaussian 11x11, sigma 1.5, range 255)",
)
class SSIMEvaluator(Evaluator):
    def begin(self, meta: ClipMeta) -> FrameValues:
        return FrameValues()

    def update(self, state: FrameValues, chunk: Chunk) -> None:
        state.add(ssim_frames(chunk.fake, chunk.real).numpy())

    def end(self, state: FrameValues) -> dict:
        return {"ssim": state.mean()}
