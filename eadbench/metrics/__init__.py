"""Metrics: importing this package fills the METRICS registry; the public names live here.

    from eadbench.metrics import SSIM, PSNR, LPIPS, FID, FVD, LSE, EmotionAccuracy, LMD, CSIM
    from eadbench.metrics import HeadMotion, HeadVel, LMDDTW, ActionDist, ActionDistDTW, ExpFID, BlinkBrow
    from eadbench.metrics import functional as F   # ssim, psnr, lpips, fid, fvd, lse, ...

The classes are ordinary ``torchmetrics.Metric`` subclasses in ``eadbench.metrics.classes``,
imported on first access (torchmetrics costs seconds to import, which the command line and a
cached run should not pay). Each metric module is imported defensively so one broken optional
dependency never hides the others; ``import_errors`` records what failed and why.
"""

from __future__ import annotations

import importlib

from eadbench.metrics.base import (
    METRICS,
    Chunk,
    ClipMeta,
    Evaluator,
    MetricContext,
    MetricInfo,
    MetricProtocol,
    register_metric,
)

MODULES = ("ssim", "psnr", "lpips", "fid", "fvd", "lse", "emotion", "lmd", "csim", "avsync", "lipleak", "headmotion",
           "headvel", "lmd_dtw", "action_dist", "action_dist_dtw", "expfid", "blinkbrow")
#: metric name -> its torchmetrics class in eadbench.metrics.classes
CLASS_OF = {"ssim": "SSIM", "psnr": "PSNR", "lpips": "LPIPS", "fid": "FID", "fvd": "FVD", "lse": "LSE",
            "emotion": "EmotionAccuracy", "lmd": "LMD", "csim": "CSIM", "avsync": "AVSync", "lipleak": "LipLeak",
            "headmotion": "HeadMotion", "headvel": "HeadVel", "lmd_dtw": "LMDDTW", "action_dist": "ActionDist",
            "action_dist_dtw": "ActionDistDTW", "expfid": "ExpFID", "blinkbrow": "BlinkBrow"}
CLASSES = tuple(CLASS_OF.values())
import_errors: dict[str, str] = {}
for _m in MODULES:
    try:
        importlib.import_module(f"eadbench.metrics.{_m}")
    except ImportError as exc:
        import_errors[_m] = f"{type(exc).__name__}: {exc}"


from eadbench import plugins  # noqa: E402

plugins.load("eadbench.metrics")  # third-party metric modules register themselves on import


def __getattr__(name: str):
    """The torchmetrics classes, imported on first use (PEP 562 lazy attribute)."""
    if name in CLASSES:
        from eadbench.metrics import classes

        return getattr(classes, name)
    if name == "functional":
        return importlib.import_module("eadbench.metrics.functional")
    raise AttributeError(f"module 'eadbench.metrics' has no attribute {name!r}")


__all__ = ["CLASSES", "CLASS_OF", "METRICS", "Chunk", "ClipMeta", "Evaluator", "MetricContext", "MetricInfo",
           "MetricProtocol",
           "import_errors", "register_metric", *CLASSES, "functional"]
