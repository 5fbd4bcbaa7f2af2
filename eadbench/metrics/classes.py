"""The metrics as ``torchmetrics.Metric`` classes, for anyone's training or validation loop.

Every class is built here from its metric's declaration (``MetricInfo.torchmetric``, a
``TorchMetric`` in the metric's own module), by one of three templates:

* ``FrameMean`` (``frame_values``): the mean of a per-frame value over every frame seen;
* ``ClipMean`` (``clip_outputs``): each output's mean over the clips where it is not None;
* ``FeatureSets`` (``features`` + ``distance``): ``update(video, real=bool)`` gathers feature
  rows per side, ``compute`` is the distance between the generated and the real set.

The states are what torchmetrics syncs across processes (float64 sums and counts reduced by
sum, feature lists by concatenation); ``higher_is_better`` is the metric's direction. The
contract test checks, for every metric, that the class, its functional twin and its evaluator
give the same value, and that the states sync across two processes. Networks come from a
``WeightStore``: pass ``weights_dir=`` (and ``device=``) or a ``store=``.

This module imports torchmetrics (a few seconds); ``eadbench.metrics`` imports it only when a
class is first asked for, so the command line and a cached run never pay for it.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from torchmetrics import Metric

from eadbench.errors import EadbenchError
from eadbench.metrics import METRICS
from eadbench.metrics.base import CLIP_MEAN, FRAME_MEAN, HIGHER, SET, MetricInfo, TorchMetric
from eadbench.weights import WeightStore


def _arrays(args: tuple) -> tuple:
    """Update arguments as the metric functions take them: torch tensors as numpy arrays."""
    return tuple(a.detach().cpu().numpy() if torch.is_tensor(a) else a for a in args)


def _cat(xs) -> np.ndarray:
    return (torch.cat(xs) if isinstance(xs, list) else xs).cpu().numpy()


class _Declared(Metric):
    """What every built class shares: the store, the protocol, the networks its ``nets`` builds."""

    full_state_update = False
    summary = ""  # what the class computes, for the built classes' docstrings
    info: MetricInfo
    spec: TorchMetric

    def __init__(self, *, protocol: str | None = None, weights_dir=None, device=None, store: WeightStore | None = None,
                 **kwargs):
        """``protocol``: one of the metric's (default its first); the networks from ``store``, else from
        ``weights_dir`` (and the libraries' caches) on ``device``; the metric's own options (its
        ``nets``' keyword arguments, e.g. ``classifier=``, ``clips_per_video=``); the rest go to
        ``torchmetrics.Metric``."""
        own = set(inspect.signature(self.spec.nets).parameters) - {"store", "protocol"} if self.spec.nets else set()
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in own}
        super().__init__(**kwargs)
        self.store = store if store is not None else WeightStore(weights_dir, device=device or "cpu")
        self.protocol = self.info.protocol(protocol)
        self.nets = self.spec.nets(self.store, self.protocol, **options) if self.spec.nets else self.store

    def _sum(self, name: str) -> None:
        self.add_state(name, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def _count(self, name: str) -> None:
        self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")


class FrameMean(_Declared):
    """The mean of a per-frame value over every frame seen."""

    summary = "The mean over every frame seen."

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._sum("total")
        self._count("count")

    def update(self, *args) -> None:
        v = torch.as_tensor(np.asarray(self.spec.frame_values(self.nets, *_arrays(args)))).double()
        self.total += v.sum()
        self.count += v.numel()

    def compute(self) -> torch.Tensor:
        return self.total / self.count


class ClipMean(_Declared):
    """Each output's mean over the clips where it is not None (a sum and a count per output);
    ``compute`` returns the value alone for a one-output metric, else a dict."""

    summary = "Each output's mean over the clips that have it (one output: the value, else a dict)."

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.outputs = self.spec.outputs or self.info.outputs_of(self.protocol)
        for o in self.outputs:
            self._sum(f"sum_{o}")
            self._count(f"n_{o}")
        self._count("clips")

    @property
    def excluded(self) -> torch.Tensor:
        """Clips without a value (the evaluator records them as excluded, with the reason)."""
        return self.clips - getattr(self, f"n_{self.outputs[0]}")

    def update(self, *args) -> None:
        r = self.spec.clip_outputs(self.nets, *_arrays(args))
        self.clips += 1
        for o in self.outputs:
            if r[o] is not None:
                setattr(self, f"sum_{o}", getattr(self, f"sum_{o}") + float(r[o]))
                setattr(self, f"n_{o}", getattr(self, f"n_{o}") + 1)

    def compute(self):
        means = {o: getattr(self, f"sum_{o}") / getattr(self, f"n_{o}") for o in self.outputs}
        return means[self.outputs[0]] if len(self.outputs) == 1 else means


class FeatureSets(_Declared):
    """A distance between the feature rows of the generated and the real videos. Under DDP every
    process needs at least one generated and one real update before ``compute``: torchmetrics
    cannot gather a list state that is empty on one process."""

    summary = ("The distance between the generated and the real set; under DDP every process needs one "
               "generated and one real update.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("fake_feats", default=[], dist_reduce_fx="cat")
        self.add_state("real_feats", default=[], dist_reduce_fx="cat")

    def update(self, video, real: bool) -> None:
        f = torch.from_numpy(np.asarray(self.spec.features(self.nets, *_arrays((video,)))))
        (self.real_feats if real else self.fake_feats).append(f)

    def compute(self) -> torch.Tensor:
        return torch.tensor(self.spec.distance(_cat(self.fake_feats), _cat(self.real_feats)))


TEMPLATES = {FRAME_MEAN: FrameMean, CLIP_MEAN: ClipMean, SET: FeatureSets}


def build(info: MetricInfo) -> type:
    """The class of ``info``'s metric, named as its ``TorchMetric`` says, importable from here."""
    spec = info.torchmetric
    base = TEMPLATES[spec.kind]
    doc = f"{info.description} ({', '.join(p.key for p in info.protocols)}): ``{spec.usage}``. {base.summary}"
    return type(spec.name, (base,), {"__module__": __name__, "__qualname__": spec.name, "__doc__": doc,
                                      "info": info, "spec": spec, "higher_is_better": info.direction == HIGHER})


_BUILT: dict[str, type] = {}


def class_of(metric: str | MetricInfo) -> type:
    """The torchmetrics class of ``metric`` (a name or its MetricInfo), built once from its declaration."""
    info = METRICS.get(metric) if isinstance(metric, str) else metric
    if info.torchmetric is None:
        raise EadbenchError(f"metric {info.name} declares no torchmetrics class (register_metric(torchmetric=...))")
    if info.name not in _BUILT:
        _BUILT[info.name] = build(info)
    return _BUILT[info.name]


def __getattr__(name: str) -> type:
    """A class by its name (``classes.SSIM``), also for metrics registered after this module was
    imported (a plugin, a metric defined in a notebook); pickling a metric finds its class here."""
    for _, info in METRICS.items():
        if info.torchmetric is not None and info.torchmetric.name == name:
            return class_of(info)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ClipMean", "FeatureSets", "FrameMean", "build", "class_of",
           *(i.torchmetric.name for _, i in METRICS.items() if i.torchmetric is not None)]
