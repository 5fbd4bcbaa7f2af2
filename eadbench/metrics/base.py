"""The contract between metrics and the harness: protocols, the metric table, streaming evaluators.

A metric is one module (``eadbench/metrics/<name>.py``; every module there is imported) that
declares everything about it once, in its ``@register_metric(...)``:

* its facts (``MetricInfo``: direction, outputs, protocols, weights, options, table columns);
* the **evaluator** it decorates: what ``run`` and ``score`` call. It reads a clip as a stream
  of chunks (``begin`` -> ``update`` per chunk -> ``end``), so no video is ever held whole in
  memory, and separates per-clip work from the set-level ``reduce``, which is what makes
  caching, resuming and sharding exact;
* its **functional** twin (``functional=``): plain functions on arrays, exported by
  ``eadbench.metrics.functional`` under the function's name;
* its ``torchmetrics.Metric`` class (``torchmetric=TorchMetric(...)``): which per-frame,
  per-clip or per-video function the class accumulates. ``eadbench.metrics.classes`` builds the
  class from it on first use (the CLI never pays for importing torchmetrics), with
  ``higher_is_better`` from the direction.

The evaluator, the cache keys, the run manifest, the tables, ``eadbench metrics list``, the
classes and the contract test all read these facts from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from eadbench.errors import ChoiceError
from eadbench.media import FRAMES
from eadbench.registry import Registry, unknown_name_message

HIGHER = "higher"
LOWER = "lower"


@dataclass(frozen=True)
class MetricProtocol:
    """A named, versioned way of computing a metric: every parameter that changes the number.

    ``crop``: the face-crop protocol the metric reads (``syncnet``, ``face256``), or None for
    whole frames. ``params``: the rest (resize, frames, value range, classifier, ...), as
    (name, value) pairs so the object stays hashable and prints in the manifest. ``outputs``: the
    outputs this protocol reports, its value first, when they are not all of the metric's (a new
    version with a new headline: ``mouth-envelope@2`` reports ``avsync_peak`` first, ``@1`` its
    ``avsync_r``); not a parameter of the numbers, so not in ``to_dict`` (nor the cache keys)."""

    name: str
    version: str
    crop: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    description: str = ""
    outputs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "crop": self.crop, **dict(self.params)}


@dataclass(frozen=True)
class MetricOption:
    """One option a metric accepts (``--metric-option METRIC.NAME=VALUE``, YAML ``metric_options``):
    its type (``int``, or ``str`` for a name or a path), lower bound and choices. Every way in (run,
    score, robustness, config files, the library's ``MetricContext``) checks values through ``parse``."""

    name: str
    help: str
    type: type = str
    min: int | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""  # what an int counts, for the message ("frames")

    def parse(self, metric: str, value: Any) -> Any:
        """``value`` (as typed in YAML, or text from the command line) in the declared type, or a
        one-line ChoiceError naming the metric, the option and what it accepts."""
        where = f"{metric} option {self.name}"
        if self.type is int:
            n = value if isinstance(value, int) and not isinstance(value, bool) else None
            if n is None and isinstance(value, str) and value.strip().lstrip("-").isdigit():
                n = int(value)
            lower = "" if self.min is None else f" >= {self.min}"
            if n is None or (self.min is not None and n < self.min):
                raise ChoiceError(f"{where} must be a whole number{' of ' + self.unit if self.unit else ''}{lower}, "
                                  f"got {value!r}")
            return n
        if value is None or isinstance(value, (bool, dict, list)):
            raise ChoiceError(f"{where} must be {'one of ' + ', '.join(self.choices) if self.choices else 'text'}, "
                              f"got {value!r}")
        text = str(value).strip()
        if self.choices and text not in self.choices:
            raise ChoiceError(unknown_name_message(f"{where} value", text, self.choices))
        return text


#: how a TorchMetric accumulates: the mean over frames, each output's mean over clips, or a
#: distance between the feature sets of the generated and the real videos
FRAME_MEAN, CLIP_MEAN, SET = "frame mean", "clip mean", "set"


@dataclass(frozen=True)
class TorchMetric:
    """How a metric's ``torchmetrics.Metric`` class is made (``eadbench.metrics.classes`` builds it).

    Exactly one of three ways to accumulate:

    * ``frame_values(nets, *args)``: values per frame; the class is their mean over every frame
      seen (a float64 sum and a count);
    * ``clip_outputs(nets, *args)``: one clip's outputs (a dict); the class is each of
      ``outputs`` (default: the protocol's) averaged over the clips where it is not None, as the
      evaluator's ``reduce`` does;
    * ``features(nets, video)`` with ``distance(fake, real)``: ``update(video, real=bool)``
      gathers feature rows per side (concatenated across processes) and ``compute`` is the
      distance between the two sets.

    ``nets(store, protocol, **kwargs)`` builds what those functions get first (networks, the
    protocol's settings); without it they get the ``WeightStore``. Its keyword arguments are the
    class's own (e.g. ``FVD(clips_per_video=2)``). ``usage``: the update call, for the docstring."""

    name: str
    usage: str
    frame_values: Callable[..., Any] | None = None
    clip_outputs: Callable[..., Any] | None = None
    features: Callable[..., Any] | None = None
    distance: Callable[..., Any] | None = None
    nets: Callable[..., Any] | None = None
    outputs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        ways = [w for w in (self.frame_values, self.clip_outputs, self.features) if w is not None]
        if len(ways) != 1 or (self.features is None) != (self.distance is None):
            raise ValueError(f"TorchMetric {self.name}: give exactly one of frame_values, clip_outputs or "
                             "features (features with distance)")

    @property
    def kind(self) -> str:
        return FRAME_MEAN if self.frame_values else CLIP_MEAN if self.clip_outputs else SET


@dataclass(frozen=True)
class Column:
    """One output shown in the paper tables: its header, decimals and the scale it is shown in
    (100 for a percentage)."""

    output: str
    label: str
    decimals: int
    scale: float = 1.0


@dataclass(frozen=True)
class MetricInfo:
    name: str
    direction: str  # HIGHER or LOWER (of the primary output)
    level: str  # "clip" (value per clip, averaged) or "set" (FID/FVD: features -> one value)
    outputs: tuple[str, ...]  # reported keys; outputs[0] is the primary value
    needs: tuple[str, ...]  # subset of ("real", "audio", "emotion")
    weights: tuple[str, ...]  # names in eadbench.weights.WEIGHTS
    protocols: tuple[MetricProtocol, ...]  # selectable protocols; the first is the default
    description: str
    factory: Callable[["MetricContext"], "Evaluator"]
    #: Direction of each output when it differs from the primary one.
    output_directions: tuple[tuple[str, str], ...] = ()
    #: options the metric accepts (--metric-option METRIC.KEY=VALUE), with their types and ranges
    options: tuple[MetricOption, ...] = ()
    #: the functional twin (exported by eadbench.metrics.functional under its name)
    functional: Callable[..., Any] | None = None
    #: how its torchmetrics class is built (eadbench.metrics.classes)
    torchmetric: TorchMetric | None = None
    #: the outputs the paper tables show, in order; ``order`` places the metric's columns among
    #: the others' (ascending; the built-in metrics use multiples of 10)
    columns: tuple[Column, ...] = ()
    order: int = 1000

    def direction_of(self, output: str) -> str | None:
        extra = dict(self.output_directions)
        if output in extra:
            return extra[output]
        return self.direction if output == self.outputs[0] else extra.get(output)

    def protocol(self, name: str | None = None) -> MetricProtocol:
        """The protocol named ``name`` (``name@version``, or a bare name: its first, newest entry), or
        the default."""
        if name is None:
            return self.protocols[0]
        for p in self.protocols:
            if p.name == name or p.key == name:
                return p
        names = [p.name for p in self.protocols]
        known = dict.fromkeys(p.key if names.count(p.name) > 1 else p.name for p in self.protocols)
        raise ChoiceError(unknown_name_message(f"{self.name} protocol", name, known))

    def outputs_of(self, protocol: MetricProtocol) -> tuple[str, ...]:
        """What ``protocol`` reports, its value first: its own ``outputs``, else all of the metric's."""
        return protocol.outputs or self.outputs

    def parse_options(self, options: Any, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        """``options`` checked against the declared ones (names with "did you mean", values with their
        type, range and choices), values in their declared types; ``extra`` names pass as they are."""
        if not isinstance(options, dict):
            raise ChoiceError(f"metric {self.name}: options must be a mapping of name: value, got {options!r}")
        declared = {o.name: o for o in self.options}
        out: dict[str, Any] = {}
        for key, value in options.items():
            if key in extra:
                out[key] = value
            elif key in declared:
                out[key] = declared[key].parse(self.name, value)
            else:
                raise ChoiceError(unknown_name_message(f"{self.name} option", key, declared))
        return out

    @property
    def default_protocol(self) -> MetricProtocol:
        return self.protocols[0]


METRICS: Registry[MetricInfo] = Registry("metric")


@dataclass
class MetricContext:
    """Run-wide settings handed to evaluator factories: the weight store (weights folder,
    device, trust), the chosen protocol name (None = the default) and metric options."""

    store: Any = None  # eadbench.weights.WeightStore
    protocol: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.store is None:
            from eadbench.weights import WeightStore

            self.store = WeightStore()


@dataclass
class ClipMeta:
    """What an evaluator knows about the clip besides its frames."""

    clip_id: str
    audio: np.ndarray | None = None  # float32 mono at ``sample_rate``
    sample_rate: int = 16000
    emotion: str | None = None
    intensity: float | None = None
    n_frames: int | None = None  # frames that will be streamed (when known)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chunk:
    """Consecutive frames ``[start, start + len)`` of the generated (``fake``) and real video, in the
    views the evaluator asked for; ``*_ok`` marks crops of frames where a face was known."""

    start: int
    fake: np.ndarray | None = None
    real: np.ndarray | None = None
    fake_ok: np.ndarray | None = None
    real_ok: np.ndarray | None = None


class Evaluator:
    """Per-clip scoring over streamed chunks + set-level reduction.

    Subclasses set ``info`` (through ``register_metric``) and implement ``begin``/``update``/
    ``end`` (and ``reduce`` for set-level metrics). ``views()`` says what the driver must stream
    for each side: ``"frames"``, a crop protocol name, or None when the side is not read. A clip
    that cannot be scored raises an ``EadbenchError`` whose message becomes the recorded reason.
    Networks are built on first use through ``ctx.store``, so a fully cached run builds none.
    """

    info: MetricInfo

    def __init__(self, ctx: MetricContext):
        self.ctx = ctx
        self.store = ctx.store
        self.protocol = self.info.protocol(ctx.protocol)
        #: one-line warnings about how the metric was set up (printed once per run)
        self.notes: list[str] = []
        ctx.options = self.info.parse_options(ctx.options, extra=("crop",))  # crop: `eadbench score --crop`

    @property
    def outputs(self) -> tuple[str, ...]:
        """The outputs this evaluator's protocol reports; ``outputs[0]`` is its value."""
        return self.info.outputs_of(self.protocol)

    def protocol_key(self) -> str:
        """The protocol as results name it: ``name@version``, plus what an option changed that makes
        the numbers incomparable with the published protocol (e.g. LSE with another sync expert)."""
        return self.protocol.key

    # -- what to stream ----------------------------------------------------------------------------
    def views(self) -> tuple[str | None, str | None]:
        """(fake view, real view). Default: the protocol's crop (or frames), real only when needed;
        ``--crop`` of `eadbench score` (option ``crop``) overrides a frames view."""
        view = self.protocol.crop or FRAMES
        crop = self.ctx.options.get("crop", "auto")
        if crop == "none":
            view = FRAMES  # inputs are already face crops
        elif crop not in ("auto", None) and view == FRAMES:
            view = crop
        return view, (view if "real" in self.info.needs else None)

    # -- per clip ----------------------------------------------------------------------------------
    def begin(self, meta: ClipMeta) -> Any:
        raise NotImplementedError

    def update(self, state: Any, chunk: Chunk) -> None:
        raise NotImplementedError

    def end(self, state: Any) -> dict[str, Any]:
        raise NotImplementedError

    def clip(self, meta: ClipMeta, fake: np.ndarray, real: np.ndarray | None = None, chunk: int = 32) -> dict:
        """The whole clip in memory (arrays already in this evaluator's views): begin, chunked
        updates, end. Used by tests and by callers that hold small clips."""
        state = self.begin(meta)
        n = len(fake) if real is None else min(len(fake), len(real))
        for s in range(0, n, chunk):
            self.update(state, Chunk(s, fake[s:s + chunk], None if real is None else real[s:s + chunk]))
        return self.end(state)

    # -- over the split ----------------------------------------------------------------------------
    def reduce(self, outputs: list[dict[str, Any]], real: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Default for clip-level metrics: the mean of each numeric output over clips."""
        values: dict[str, Any] = {}
        for key in self.outputs:
            xs = [o[key] for o in outputs if key in o and o[key] is not None]
            values[key] = float(np.mean(xs)) if xs else float("nan")
        return values

    def weights_used(self) -> dict[str, str]:
        """{weight name: sha256} of every file this evaluator's networks were built from."""
        return {n: self.store.sha256(n) for n in self.info.weights if self.store.available(n)}

    def facts(self) -> dict[str, Any]:
        """Run-wide facts printed and recorded next to every value (e.g. the classifier used)."""
        return {}

    def cache_identity(self) -> dict[str, Any]:
        """Everything that changes this evaluator's per-clip output (the score cache key)."""
        return {"metric": self.info.name, "protocol": self.protocol.to_dict(),
                "options": {k: str(v) for k, v in sorted(self.ctx.options.items())},
                "weights": self.weights_used(), "facts": self.facts()}


def register_metric(**kwargs) -> Callable[[type], type]:
    """Class decorator for an Evaluator subclass: records its MetricInfo (every fact about the
    metric, its functional twin and its class's recipe) in METRICS."""

    def deco(cls: type) -> type:
        info = MetricInfo(factory=cls, **kwargs)
        named = [c.output for c in info.columns] + list((info.torchmetric and info.torchmetric.outputs) or ())
        stray = [o for o in named if o not in info.outputs]
        if stray:
            raise ValueError(f"metric {info.name}: {', '.join(stray)} named in its columns or class but not an output")
        cls.info = info
        METRICS.add(info.name, info)
        return cls

    return deco


def check_metric_settings(protocols: Any, options: Any) -> dict[str, dict[str, Any]]:
    """The one check of per-metric choices, whatever they came from (flags, a YAML config, the
    library): every metric named exists, every protocol is one its metric declares, every option
    is declared and its value fits; "did you mean" for names. Returns the options in their
    declared types. A metric whose module failed to import is left to be reported unavailable."""
    from eadbench.metrics import import_errors

    for what, value in (("protocols", protocols), ("metric_options", options)):
        if not isinstance(value, dict):
            raise ChoiceError(f"{what} must be a mapping of metric: ..., got {value!r}")
    for metric, name in protocols.items():
        if metric not in import_errors:
            METRICS.get(metric).protocol(name)
    return {metric: opts if metric in import_errors else METRICS.get(metric).parse_options(opts)
            for metric, opts in options.items()}


__all__ = ["CLIP_MEAN", "Chunk", "ClipMeta", "Column", "Evaluator", "FRAME_MEAN", "HIGHER", "LOWER", "METRICS",
           "MetricContext", "MetricInfo", "MetricOption", "MetricProtocol", "SET", "TorchMetric",
           "check_metric_settings", "register_metric"]
