"""eadbench: a reproducible evaluation harness for emotion-aware talking-head generation.

The library API (the command line is a thin layer over it)::

    import eadbench
    result = eadbench.run(dataset="synth", methods=["ground_truth", "static"], out="runs/x")
    records = eadbench.score(["ssim", "psnr"], fake="out.mp4", real="ref.mp4")
    from eadbench.metrics import SSIM, PSNR, LPIPS, FID, FVD, LSE, EmotionAccuracy, LMD, CSIM
    from eadbench.metrics import functional

``import eadbench`` itself imports no torch: everything is imported on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = ["__version__", "run", "score", "metrics", "RunResult", "load_run"]

from eadbench._tvhook import install as _install_torchvision_hook  # noqa: E402

_install_torchvision_hook()


def score(metrics, fake, real=None, **options):
    """Score files you already have with registered metrics (``eadbench.scoring.score``): one
    record per metric, the same records `eadbench score --json` prints."""
    from eadbench.scoring import score as _score

    return _score(list(metrics) if not isinstance(metrics, str) else metrics.split(","), fake, real, **options)


def __getattr__(name: str):
    """``eadbench.run`` (the run package, callable), ``eadbench.metrics``, ``RunResult``, ``load_run``."""
    if name in ("run", "metrics"):
        return importlib.import_module(f"eadbench.{name}")
    if name in ("RunResult", "load_run"):
        return getattr(importlib.import_module("eadbench.run"), name)
    raise AttributeError(f"module 'eadbench' has no attribute {name!r}")
