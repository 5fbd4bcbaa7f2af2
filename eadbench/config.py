"""Run configuration: a YAML file, then command-line overrides, resolved into one RunConfig.

The resolved config is written whole into the run's manifest, so a run can be repeated from
its folder alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from eadbench.devices import check_device
from eadbench.errors import ConfigError


@dataclass
class MethodSpec:
    """One compared method: ``label`` (table name) driven by generator ``method`` with options."""

    label: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, entry: Any) -> "MethodSpec":
        if isinstance(entry, str):
            return cls(entry, entry, {})
        if isinstance(entry, dict):
            entry = dict(entry)
            method = entry.pop("method", None) or entry.get("name")
            label = entry.pop("name", None) or entry.pop("label", None) or method
            if not method:
                raise ConfigError(f"method entry {entry!r} needs a name or method")
            return cls(str(label), str(method), entry)
        raise ConfigError(f"method entry must be a name or a mapping, got {entry!r}")


#: the default methods: the bounds, the sync negative control and, on the built-in data, the
#: reference model (trained there on first use; elsewhere it needs --eadnet-checkpoint)
DEFAULT_METHODS = ("ground_truth", "static", "shifted")
DEFAULT_METHODS_SYNTH = ("ground_truth", "eadnet", "static", "shifted")
SOURCES = ("self", "neutral")


@dataclass
class RunConfig:
    dataset: str = "synth"
    root: str | None = None
    split: str | None = "test"
    split_file: str | None = None
    view: str | None = None
    calm: str | None = None
    methods: list[MethodSpec] = field(default_factory=lambda: [MethodSpec.parse(m) for m in DEFAULT_METHODS])
    metrics: list[str] | None = None  # None = every registered metric whose weights are present
    out: str | None = None
    limit: int | None = None
    workers: int = 1
    resume: bool = True
    strict: bool = False
    #: refuse a clip whose audio ends early instead of trimming its video to the audio (recorded)
    strict_av_length: bool = False
    quiet: bool = False
    seed: int = 0
    weights_dir: str | None = None
    trust_weights: bool = False
    #: auto (CUDA when available; under torchrun the rank's local GPU), cpu, cuda or cuda:N
    device: str = "auto"
    #: face-tracking protocol (eadbench.faces.track.TRACKING); None = the default
    tracking: str | None = None
    #: identity/reference video each method is driven from: the clip itself (self), or the same
    #: speaker's neutral clip (neutral, EAT's emotion-editing protocol; the ground truth stays the clip)
    source: str = "self"
    #: which clips a method's value is computed over: those every method scored (intersection,
    #: like with like) or all the clips it scored (all)
    coverage: str = "intersection"
    #: per-metric protocol choice, e.g. {"fvd": "latentsync"}
    protocols: dict[str, str] = field(default_factory=dict)
    #: per-metric options, e.g. {"fvd": {"clips_per_video": 2}, "lse": {"syncnet_path": ...}}
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: built-in synthetic data settings (dataset synth without --root)
    #: (8 speakers x 7 clips: the 4 MEAD test actors and 4 training actors, each with a neutral clip
    #: and every emotion at every level in both splits; see eadbench.synth.generate._emotions)
    synth: dict[str, Any] = field(default_factory=lambda: {"layout": "mead", "speakers": 8, "clips": 7,
                                                          "seconds": 2.0, "size": 256, "seed": 0})
    #: on the built-in data, train the built-in sync expert and tiny EAD-Net from scratch (once,
    #: cached) instead of loading the ones shipped in eadbench/builtin/
    retrain_builtin: bool = False
    #: bootstrap resamples for confidence intervals
    bootstrap: int = 1000

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["methods"] = [{"name": m.label, "method": m.method, **m.options} for m in self.methods]
        return d


def apply_metric_flags(cfg: RunConfig, protocols: list[str], options: list[str]) -> RunConfig:
    """``--protocol METRIC=NAME`` and ``--metric-option METRIC.KEY=VALUE`` (values parsed as YAML
    scalars: 2 -> int, true -> bool) into the config; one-line errors for malformed items."""
    for item in protocols:
        metric, sep, name = item.partition("=")
        if not sep or not metric.strip() or not name.strip():
            raise ConfigError(f"--protocol expects METRIC=NAME (e.g. fvd=latentsync), got {item!r}")
        cfg.protocols[metric.strip()] = name.strip()
    for item in options:
        key, sep, value = item.partition("=")
        metric, dot, opt = key.partition(".")
        if not sep or not dot or not metric.strip() or not opt.strip():
            raise ConfigError(f"--metric-option expects METRIC.KEY=VALUE (e.g. fvd.clips_per_video=2), got {item!r}")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        cfg.metric_options.setdefault(metric.strip(), {})[opt.strip()] = parsed
    return cfg


def check_metric_settings(cfg: RunConfig) -> RunConfig:
    """The protocols and metric options from every source (YAML, flags, aliases) checked against what
    each metric declares, before anything runs (one line, exit 2); option values in their types."""
    from eadbench.metrics.base import check_metric_settings as check

    cfg.metric_options = check(cfg.protocols, cfg.metric_options)
    return cfg


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of options")
    return data


def resolve(config_file: str | Path | None = None, **overrides: Any) -> RunConfig:
    """YAML first, then every override that is not None (the command line wins)."""
    data: dict[str, Any] = load_yaml(config_file) if config_file else {}
    known = {f.name for f in fields(RunConfig)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown option(s) in config: {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(known))}")
    yaml_methods = [MethodSpec.parse(m) for m in data.pop("methods", [])] if "methods" in data else None
    cfg = RunConfig(**{k: v for k, v in data.items()})
    if yaml_methods is not None:
        cfg.methods = yaml_methods
    elif overrides.get("methods") is None:
        dataset = overrides.get("dataset") or cfg.dataset
        cfg.methods = [MethodSpec.parse(m) for m in (DEFAULT_METHODS_SYNTH if dataset == "synth" else DEFAULT_METHODS)]
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in known:
            raise ConfigError(f"unknown option {key}")
        if key == "methods":
            by_label = {m.label: m for m in (yaml_methods or [])}
            value = [by_label.get(v) or MethodSpec.parse(v) for v in value]
        setattr(cfg, key, value)
    check_device(cfg.device)  # malformed: one line before anything is scanned or trained
    for name, least in (("workers", 1), ("limit", 1), ("bootstrap", 0)):
        value = getattr(cfg, name)
        if (value is not None or name == "workers") and (not isinstance(value, int) or isinstance(value, bool)
                                                         or value < least):
            raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}")
    if cfg.coverage not in ("intersection", "all"):
        raise ConfigError(f"--coverage must be intersection or all, got {cfg.coverage!r}")
    if cfg.source not in SOURCES:
        raise ConfigError(f"--source must be one of {', '.join(SOURCES)}, got {cfg.source!r}")
    labels = [m.label for m in cfg.methods]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"method names must be unique, got {labels}")
    return cfg
