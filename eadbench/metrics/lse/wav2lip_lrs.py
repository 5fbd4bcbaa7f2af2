"""``wav2lip-lrs@1``: Wav2Lip's evaluation/scores_LSE/calculate_scores_LRS.py, which is
syncnet_python's procedure on every whole frame resized to 224x224 (no face detection, so no
``min_track``). Its own module so the one thing that differs from ``syncnet-v2``, the images,
stands apart from it."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from eadbench.errors import ChoiceError
from eadbench.metrics.base import MetricProtocol
from eadbench.metrics.lse.core import _COMMON, SIZE
from eadbench.metrics.lse.syncnet_v2 import SyncNetV2

WAV2LIP_LRS = MetricProtocol(
    "wav2lip-lrs", "1", None, _COMMON + (("image", "whole frame resized to 224x224, cv2 bilinear"),),
    "Wav2Lip's calculate_scores_LRS.py: whole frames resized to 224, no face detection")


def whole_frames(frames: np.ndarray) -> np.ndarray:
    """``wav2lip-lrs``'s images: every whole frame resized to 224x224 with cv2.resize's default
    (bilinear). Channel order does not change a resize, so RGB in gives RGB out."""
    return np.stack([cv2.resize(np.ascontiguousarray(f), (SIZE, SIZE)) for f in frames])


class Wav2LipLRS(SyncNetV2):
    """syncnet_python's procedure on whole frames; its ``views()`` are the evaluator's default,
    whole frames (the protocol names no crop)."""

    protocol = WAV2LIP_LRS

    @staticmethod
    def parse_min_track(value: Any) -> int:
        if value is None:
            return 0
        raise ChoiceError("lse option min_track does not apply to protocol wav2lip-lrs "
                          "(it tracks no face)")

    def images(self, frames: np.ndarray) -> np.ndarray:
        return whole_frames(frames)
