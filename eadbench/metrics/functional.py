"""The functional twins of every metric: plain functions on arrays, no state, no registry.

Frames are uint8 RGB arrays (N, H, W, 3); face metrics take the face crops of their protocol
(``eadbench.faces.crop_clip(frames, "syncnet" | "face256")``); networks come from a
``WeightStore`` (``store=``; by default ``$EADBENCH_WEIGHTS`` and the libraries' caches).
"""

from __future__ import annotations

from eadbench.metrics.action_dist import action_dist
from eadbench.metrics.action_dist_dtw import action_dist_dtw
from eadbench.metrics.avsync import avsync
from eadbench.metrics.blinkbrow import blinkbrow
from eadbench.metrics.csim import csim
from eadbench.metrics.emotion import emotion_accuracy
from eadbench.metrics.expfid import expfid
from eadbench.metrics.fid import fid
from eadbench.metrics.fvd import fvd
from eadbench.metrics.headmotion import headmotion
from eadbench.metrics.headvel import headvel
from eadbench.metrics.lipleak import lipleak
from eadbench.metrics.lmd import lmd
from eadbench.metrics.lmd_dtw import lmd_dtw
from eadbench.metrics.lpips import lpips_distance as lpips
from eadbench.metrics.lse import lse
from eadbench.metrics.psnr import psnr
from eadbench.metrics.ssim import ssim

__all__ = ["action_dist", "action_dist_dtw", "avsync", "blinkbrow", "csim", "emotion_accuracy", "expfid", "fid", "fvd",
           "headmotion", "headvel", "lipleak", "lmd", "lmd_dtw", "lpips", "lse", "psnr", "ssim"]
