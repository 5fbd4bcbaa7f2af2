"""The one setup every study shares (issue 27): a ``Session`` is opened on a resolved config and
an output folder, and gives a study everything it would otherwise rebuild: the dataset scanned,
the names checked, the built-in models ready, one ``WeightStore``, the methods and evaluators
built, the ``RunDir`` (checked before any work, locked while the study writes), a progress bar,
and the per-clip steps (staging a clip's inputs, scoring videos with the clip driver, writing
results). ``eadbench run``, ``eadbench robustness``, ``eadbench probe lipleak`` and
``eadbench ablate`` are studies on it; so is a study of your own (README, "Extending").

Opening does the steps in the order the run always did them, so that a misspelt name or
someone else's folder fails in one line before anything is trained or written:

1. the dataset scanned (the built-in data is made on first use);
2. the names checked: every metric and method named exists, protocols and metric options fit
   (a study that generates nothing checks the settings only; building its evaluators then
   reports an unknown or unimportable metric);
3. the output folder's owner checked (``Owner``: which command may write it);
4. the built-in models the default run compares made ready (built-in data only);
5. the ``WeightStore`` (metrics exact on every device), the methods, the evaluators.

``Session.locked()`` then claims the folder for the block (rank 0 under torchrun; the other
ranks only make sure it exists and write their own clips' files).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from eadbench.config import RunConfig


@dataclass(frozen=True)
class Owner:
    """Who may write a study's output folder (``eadbench.locking``): the owner marker
    (``command``), how errors name the folder (``what``), and the JSON record (``record`` holding
    ``key``) by which a folder the command wrote before folders carried markers is recognised."""

    command: str
    what: str
    record: str
    key: str

    def legacy(self) -> Callable[[Path], bool]:
        from eadbench.locking import wrote

        return wrote(self.record, self.key)


def dist_info() -> tuple[int, int]:
    """(rank, world size) under torchrun; (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def check_names(cfg: RunConfig, methods: bool = True) -> None:
    """Every metric and method named exists, every protocol and metric option fits what its metric
    declares (one line with a suggestion otherwise). ``methods`` False: a study that generates
    nothing; only the protocols and metric options are checked (its evaluators check the names)."""
    from eadbench.config import check_metric_settings
    from eadbench.generators import GENERATORS
    from eadbench.metrics import METRICS

    if methods:
        for name in cfg.metrics or []:
            METRICS.get(name)
    check_metric_settings(cfg)
    if methods:
        for m in cfg.methods:
            GENERATORS.get(m.method)


def prepare_builtin_assets(cfg: RunConfig, echo, rank: int = 0) -> None:
    """On the built-in data, what the default run compares: the tiny EAD-Net for an ``eadnet``
    method given no checkpoint, and the LSE sync expert for ``--syncnet auto`` (the default there
    when syncnet_v2.model is absent). They are the models shipped in ``eadbench/builtin/``, hash-
    checked, and nothing trains; ``cfg.retrain_builtin`` trains them from scratch instead (once,
    cached: ``eadbench.run.builtin``). Fills ``cfg`` in place."""
    from eadbench.errors import ConfigError
    from eadbench.weights import is_available

    lse = cfg.metric_options.setdefault("lse", {}) if (cfg.metrics is None or "lse" in cfg.metrics) else {}
    wants_eadnet = [m for m in cfg.methods if m.method == "eadnet" and not m.options.get("checkpoint")]
    if cfg.dataset != "synth":
        if wants_eadnet:
            raise ConfigError("method eadnet needs a checkpoint (--eadnet-checkpoint or checkpoint: in the config); "
                              "only the built-in data has a built-in one")
        if lse.get("syncnet_path") == "auto":
            raise ConfigError("--syncnet auto is the built-in expert, trained on the built-in data only; train an "
                              "expert on yours with `eadbench syncnet train` and pass it with "
                              "--metric-option lse.syncnet_path=FILE")
        return
    if (cfg.metrics is None or "lse" in cfg.metrics) and "syncnet_path" not in lse \
            and not is_available("syncnet-v2", cfg.weights_dir):
        lse["syncnet_path"] = "auto"
    if not cfg.retrain_builtin:
        from eadbench.builtin import shipped
        from eadbench.run.builtin import EADNET_GUIDANCE, EADNET_INFER_STEPS

        if lse.get("syncnet_path") == "auto":
            lse["syncnet_path"] = str(shipped("lse", cfg.weights_dir))
        for m in wants_eadnet:
            m.options.setdefault("checkpoint", str(shipped("eadnet", cfg.weights_dir)))
            m.options.setdefault("steps", EADNET_INFER_STEPS)
            m.options.setdefault("guidance", EADNET_GUIDANCE)
        return
    from eadbench.run import builtin

    training = bool(wants_eadnet) or lse.get("syncnet_path") == "auto"
    distributed = dist_info()[1] > 1 and training
    if distributed and rank != 0:
        _barrier()  # rank 0 trains first; the others then find the cached files
    if lse.get("syncnet_path") == "auto":
        lse["syncnet_path"] = str(builtin.sync_expert(cfg, "syncnet", echo, not cfg.quiet))
    for m in wants_eadnet:
        m.options.setdefault("checkpoint", str(builtin.tiny_eadnet(cfg, echo, not cfg.quiet)))
        m.options.setdefault("steps", builtin.EADNET_INFER_STEPS)
        m.options.setdefault("guidance", builtin.EADNET_GUIDANCE)
    if distributed and rank == 0:
        _barrier()


def _barrier() -> None:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    dist.barrier()


@dataclass
class Session:
    """A study's setup and its per-clip steps; ``Session.open`` makes one ready. A study whose
    evaluation is a run of its own (``eadbench ablate``) makes one directly, for its folder:
    ``Session(cfg, owner, out)``."""

    cfg: RunConfig
    owner: Owner
    dir: Any  # RunDir: the output folder
    echo: Callable[[str], None] = print
    rank: int = 0
    methods: dict[str, Any] = field(default_factory=dict)  # label -> Generator
    evaluators: dict[str, Any] = field(default_factory=dict)  # metric name -> Evaluator
    unavailable: dict[str, str] = field(default_factory=dict)  # metric name -> why it cannot be computed
    #: wall seconds of the setup: finding or making the data, the built-in models, the networks
    setup: dict[str, float] = field(default_factory=dict)
    show_progress: bool = True

    def __post_init__(self) -> None:
        from eadbench.run.layout import RunDir

        if not isinstance(self.dir, RunDir):  # a path: the study's folder
            self.dir = RunDir(self.dir)

    @classmethod
    def open(cls, cfg: RunConfig, owner: Owner, out: str | Path, echo: Callable[[str], None] = print, *,
             rank: int = 0, methods: bool = True, evaluators: bool = True, builtin: bool = True,
             progress: bool | None = None, started: float | None = None) -> "Session":
        """Scan, check, make ready and build, in that order (the module's docstring); nothing is
        written to ``out`` yet. ``methods`` / ``evaluators`` False: a study that generates or
        scores nothing through the session; ``builtin`` False: it takes the settings as given;
        ``progress`` None: a progress bar unless ``cfg.quiet``."""
        from eadbench.locking import check_owner

        started = time.time() if started is None else started
        session = cls(cfg, owner, out, echo, rank)
        session.show_progress = not cfg.quiet if progress is None else progress
        session.scan  # noqa: B018 - the dataset first: the built-in data is made here on first use
        t_data = time.time()
        check_names(cfg, methods)  # a misspelt metric or method: one line, before anything is trained
        check_owner(session.dir.root, owner.command, owner.legacy())  # someone else's folder: before any work
        if builtin:
            prepare_builtin_assets(cfg, echo, rank)
        t_models = time.time()
        session.store  # noqa: B018 - one store for every network of the study
        if methods:
            session.build_methods()
        if evaluators:
            session.build_evaluators()
        session.setup = {"data": round(t_data - started, 3), "builtin_models": round(t_models - t_data, 3),
                         "networks": round(time.time() - t_models, 3)}
        return session

    # -- what the setup made ------------------------------------------------------------------------------

    @cached_property
    def scan(self):
        """The dataset's ``ScanResult`` (``cfg.limit`` applied)."""
        from eadbench.run.inputs import scan_dataset

        return scan_dataset(self.cfg)

    @property
    def clips(self) -> list:
        return self.scan.clips

    @cached_property
    def store(self):
        """The study's one ``WeightStore``; metrics are computed exactly (no TF32) on its device."""
        from eadbench.devices import exact_metrics_mode
        from eadbench.weights import WeightStore

        store = WeightStore(self.cfg.weights_dir, self.cfg.trust_weights, self.cfg.device)
        exact_metrics_mode(store.device)
        return store

    @cached_property
    def timer(self):
        from eadbench.streams import Timer

        return Timer()

    def build_methods(self) -> dict[str, Any]:
        from eadbench.run.generate import build_generators

        self.methods = build_generators(self.cfg)
        return self.methods

    def build_evaluators(self) -> dict[str, Any]:
        """The requested metrics' evaluators; those that cannot be computed go to ``unavailable``."""
        from eadbench.run.shard import build_evaluators

        self.evaluators, self.unavailable = build_evaluators(self.cfg, self.store)
        return self.evaluators

    # -- the study's folder, progress and per-clip steps ---------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator["Session"]:
        """The output folder claimed for the block (created, locked, owner marker written); ranks
        other than 0 only make sure it exists."""
        from eadbench.atomic import ensure_folder
        from eadbench.locking import claim_folder

        if self.rank != 0:
            ensure_folder(self.dir.root, self.owner.what)
            yield self
            return
        with claim_folder(self.dir.root, self.owner.command, self.owner.what, note=self.echo,
                          legacy=self.owner.legacy()):
            yield self

    def progress(self, items: Iterable | None = None, desc: str = "", unit: str = "it", total: int | None = None):
        """A progress bar over ``items`` (or one updated by hand, of ``total`` steps); off without
        ``show_progress`` or when the output is not a terminal."""
        from tqdm import tqdm

        return tqdm(items, total=total, desc=desc, unit=unit, disable=not self.show_progress or None,
                    dynamic_ncols=True)

    def stage(self, clip) -> tuple[Path, Path, str]:
        """The clip's real video at 25 fps with its fitted audio muxed, its 16 kHz wav and their key
        (``run.inputs.stage_inputs``; cached in the folder)."""
        from eadbench.run.inputs import stage_inputs

        return stage_inputs(clip, self.dir, self.cfg.strict_av_length)

    def score(self, meta, real: Path, jobs: list) -> dict:
        """(label, metric) -> ``Outcome`` for every ``Job`` of one clip, streamed once against the
        real video ``real`` by the clip driver."""
        from eadbench.run.driver import ClipScoring, score_clip

        outcomes, _ = score_clip(ClipScoring(meta, real, jobs, self.store, self.cfg.tracking, self.timer))
        return outcomes

    def write_json(self, name: str | Path, obj: Any) -> Path:
        """``obj`` as JSON at ``name`` in the output folder, atomically."""
        from eadbench.jsonio import atomic_write_json

        path = self.dir.root / name
        atomic_write_json(path, obj)
        return path

    def write_text(self, name: str | Path, text: str) -> Path:
        from eadbench.atomic import atomic_write_text

        path = self.dir.root / name
        atomic_write_text(path, text)
        return path
