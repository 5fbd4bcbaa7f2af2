"""Metrics: importing this package fills the METRICS registry; the public names live here.

    from eadbench.metrics import SSIM, PSNR, LPIPS, FID, FVD, LSE, EmotionAccuracy, LMD, CSIM
    from eadbench.metrics import HeadMotion, HeadVel, LMDDTW, ActionDist, ActionDistDTW, ExpFID, BlinkBrow
    from eadbench.metrics import functional as F   # ssim, psnr, lpips, fid, fvd, lse, ...

Every module of this package except ``base``, ``evaluators``, ``frechet``, ``classes`` and
``functional`` (and private ``_*`` helpers) is a metric module, imported here; each declares its
metric once (``base``'s docstring). The classes are ordinary ``torchmetrics.Metric`` subclasses
built in ``eadbench.metrics.classes`` from those declarations, imported on first access
(torchmetrics costs seconds to import, which the command line and a cached run should not pay).
Each metric module is imported defensively so one broken optional dependency never hides the
others; ``import_errors`` records what failed and why.
"""

from __future__ import annotations

import importlib
import pkgutil

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

#: the package's modules that are not metrics: the contract, the shared evaluator shapes, the one
#: Frechet distance, the torchmetrics classes and the functional twins (the last two import the metric
#: modules, not the other way)
_NOT_METRICS = ("base", "evaluators", "frechet", "classes", "functional")
#: every metric module, found in this package (a new metric is a new module; nothing lists it)
MODULES = tuple(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name not in
                _NOT_METRICS)
import_errors: dict[str, str] = {}
for _m in MODULES:
    try:
        importlib.import_module(f"eadbench.metrics.{_m}")
    except ImportError as exc:
        import_errors[_m] = f"{type(exc).__name__}: {exc}"


from eadbench import plugins  # noqa: E402

plugins.load("eadbench.metrics")  # third-party metric modules register themselves on import



def class_names() -> dict[str, str]:
    """metric name -> the name of its torchmetrics class, for every metric registered now (the
    class is built in eadbench.metrics.classes from the metric's own declaration)."""
    return {name: info.torchmetric.name for name, info in METRICS.items() if info.torchmetric is not None}


def __getattr__(name: str):
    """``CLASS_OF`` / ``CLASSES`` (read from the registry when asked, so a metric registered later
    is in them) and the torchmetrics classes, imported on first use (PEP 562 lazy attributes)."""
    if name == "CLASS_OF":
        return class_names()
    if name == "CLASSES":
        return tuple(class_names().values())
    if name in class_names().values():
        from eadbench.metrics import classes

        return getattr(classes, name)
    if name == "functional":
        return importlib.import_module("eadbench.metrics.functional")
    raise AttributeError(f"module 'eadbench.metrics' has no attribute {name!r}")


__all__ = ["CLASSES", "CLASS_OF", "METRICS", "Chunk", "ClipMeta", "Evaluator", "MetricContext", "MetricInfo",
           "MetricProtocol", "class_names", "import_errors", "register_metric", *class_names().values(), "functional"]
