"""Metric registry and the contract between metrics and the harness.

Each metric lives in its own module and provides three things:

* a ``torchmetrics.Metric`` subclass (``update``/``compute``/``reset``, states with
  distributed reduction) for use in anyone's training loop. It is written as a plain class
  and becomes a Metric subclass on first access (``torchmetrics_classes``): importing
  torchmetrics costs ~3 s (it pulls in transformers and torchvision), which a cached run that
  only uses evaluators should not pay;
* a functional twin (plain function on tensors/arrays);
* an *evaluator* registered here with ``@register_metric(...)``: what the harness calls per clip.

Evaluators separate per-clip work from set-level reduction, which is what makes caching,
resuming and sharding exact: ``clip()`` returns per-clip values (clip-level metrics) or feature
arrays (set-level metrics, FID/FVD); ``reduce()`` turns the list of per-clip outputs of the
whole split into the final value(s). A clip that cannot be scored raises an EadbenchError whose
message becomes the recorded failure reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from eadbench.registry import Registry

HIGHER = "higher"
LOWER = "lower"


@dataclass
class ClipInput:
    """Everything a metric may need about one (generated, real) clip pair.

    Frames are uint8 RGB arrays (T, H, W, 3) at 25 fps; audio is float32 mono at
    ``sample_rate`` (16 kHz). ``faces`` returns face crops of the fake or real frames for a named
    crop protocol (computed once and shared by all face metrics).
    """

    clip_id: str
    fake: np.ndarray
    real: np.ndarray | None = None
    audio: np.ndarray | None = None
    sample_rate: int = 16000
    emotion: str | None = None
    intensity: float | None = None
    fake_path: Path | None = None
    real_path: Path | None = None
    faces: Callable[[str, str], np.ndarray] | None = None  # (which: "fake"|"real", protocol)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricContext:
    """Run-wide settings handed to evaluator factories."""

    weights_dir: str | None = None
    device: str = "cpu"
    trust_weights: bool = False
    protocol: str | None = None  # None = the metric's default protocol
    options: dict[str, Any] = field(default_factory=dict)


class Evaluator:
    """Per-clip scoring + set-level reduction. Subclasses load their networks in ``__init__``."""

    info: "MetricInfo"

    def __init__(self, ctx: MetricContext):
        self.ctx = ctx
        #: one-line warnings about how the metric was set up (printed once per run)
        self.notes: list[str] = []

    def facts(self) -> dict[str, Any]:
        """Run-wide facts printed and recorded next to every value (e.g. the classifier used)."""
        return {}

    def clip(self, item: ClipInput) -> dict[str, Any]:
        raise NotImplementedError

    def reduce(self, outputs: list[dict[str, Any]]) -> dict[str, float]:
        """Default for clip-level metrics: the mean of each numeric output over clips."""
        values: dict[str, float] = {}
        for key in self.info.outputs:
            xs = [o[key] for o in outputs if key in o and o[key] is not None]
            values[key] = float(np.mean(xs)) if xs else float("nan")
        return values

    def weights_used(self) -> dict[str, str]:
        """{weight name: sha256} of every file this evaluator loaded (for manifests)."""
        return {}


@dataclass(frozen=True)
class MetricInfo:
    name: str
    direction: str  # HIGHER or LOWER (of the primary output)
    level: str  # "clip" (value per clip, averaged) or "set" (FID/FVD: features -> one value)
    outputs: tuple[str, ...]  # reported keys; outputs[0] is the primary value
    needs: tuple[str, ...]  # subset of ("real", "audio", "emotion")
    weights: tuple[str, ...]  # names in eadbench.weights.WEIGHTS
    protocol: str
    protocol_version: str
    face: bool  # defined on face crops: --crop auto crops with ``crop_protocol``
    crop_protocol: str | None
    description: str
    factory: Callable[[MetricContext], Evaluator]
    #: Direction of each output when it differs from the primary one.
    output_directions: tuple[tuple[str, str], ...] = ()
    protocols: tuple[str, ...] = ()  # selectable protocols (first = default)

    def direction_of(self, output: str) -> str | None:
        extra = dict(self.output_directions)
        if output in extra:
            return extra[output]
        return self.direction if output == self.outputs[0] else extra.get(output)


METRICS: Registry[MetricInfo] = Registry("metric")


def register_metric(**kwargs) -> Callable[[type], type]:
    """Class decorator for an Evaluator subclass: records its MetricInfo in METRICS."""

    def deco(cls: type) -> type:
        info = MetricInfo(factory=cls, **kwargs)
        cls.info = info
        METRICS.add(info.name, info)
        return cls

    return deco


class FrameMean:
    """Body of a Metric whose value is the mean of a per-frame score over every frame it saw
    (SSIM, PSNR, LPIPS): a float64 sum and a count, both reduced by sum across processes.
    Subclasses define ``frame_values(fake, real)`` returning one value per frame pair."""

    full_state_update = False

    def __init__(self, **kwargs):
        import torch

        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def frame_values(self, fake, real):
        raise NotImplementedError

    def update(self, fake, real) -> None:
        v = self.frame_values(fake, real)
        self.total += v.sum().to(self.total)
        self.count += v.numel()

    def compute(self):
        return self.total / self.count


def torchmetrics_classes(module: str, **bodies: type) -> Callable[[str], type]:
    """Module ``__getattr__`` that turns each plain class body into a ``torchmetrics.Metric``
    subclass of the same name the first time it is looked up.

    ``from eadbench.metrics.ssim import SSIM`` and ``pickle`` work as for an ordinary class; the
    class is created once and cached in the module.
    """
    import sys
    import types

    def __getattr__(name: str) -> type:
        body = bodies.get(name)
        if body is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        from torchmetrics import Metric

        def namespace(ns: dict) -> None:
            ns.update(__module__=module, __qualname__=name, __doc__=body.__doc__)

        cls = types.new_class(name, (body, Metric), exec_body=namespace)
        setattr(sys.modules[module], name, cls)
        return cls

    return __getattr__


def load_all() -> Registry[MetricInfo]:
    """Import every metric module so the registry is complete."""
    import eadbench.metrics  # noqa: F401  (its __init__ imports the modules)

    return METRICS
