"""Metric modules; importing this package fills the METRICS registry.

Each metric module is imported defensively so one broken optional dependency never hides the
others; ``import_errors`` records what failed and why.
"""

from __future__ import annotations

import importlib

from eadbench.metrics.base import METRICS, ClipInput, Evaluator, MetricContext, MetricInfo, register_metric

_MODULES = ("ssim", "psnr", "lpips", "fid", "fvd", "lse", "emotion", "lmd", "csim")
import_errors: dict[str, str] = {}
for _m in _MODULES:
    try:
        importlib.import_module(f"eadbench.metrics.{_m}")
    except ModuleNotFoundError as exc:
        if exc.name == f"eadbench.metrics.{_m}":
            continue  # module not written yet
        import_errors[_m] = f"{type(exc).__name__}: {exc}"
    except ImportError as exc:
        import_errors[_m] = f"{type(exc).__name__}: {exc}"

__all__ = ["METRICS", "ClipInput", "Evaluator", "MetricContext", "MetricInfo", "register_metric", "import_errors"]
