"""`eadbench run` as a library: dataset -> generators -> face tracks and crops -> metrics ->
results, resumable, sharded. ``eadbench.run`` is this package *and* the library call:

    import eadbench
    result = eadbench.run(dataset="synth", methods=["ground_truth", "static"], out="runs/x")
    result.summary["methods"]["static"]["ssim"]["ssim"]["value"]

(the package is callable: calling it calls ``run`` below). The pieces, in the order data flows:

| module | job |
| --- | --- |
| ``inputs`` | scan the dataset (built-in data made on first use), stage each clip's 25 fps video, 16 kHz audio |
| ``generate`` | each method's video for a clip, recorded and reused |
| ``driver`` | one streamed pass per clip: every video decoded and tracked once, every metric fed |
| ``shard`` | a shard's clips: stage, generate, score what is missing |
| ``executors`` | serial, local worker processes, torchrun ranks |
| ``collect`` | rows, details, set-level values, summary and manifest |
| ``layout`` | every path of the run folder, its records, ``load_run`` |
"""

from __future__ import annotations

import os
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eadbench.config import RunConfig
from eadbench.run.inputs import neutral_map
from eadbench.run.layout import REAL, RunDir, RunRecord, load_run


@dataclass
class RunResult:
    out: Path
    summary: dict[str, Any]
    failures: list[str]
    unavailable: dict[str, str]
    timings: dict[str, Any] = field(default_factory=dict)  # as timings.json


def _dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def run(cfg: RunConfig | None = None, echo=print, **options: Any) -> RunResult:
    """Generate with every method and score every clip of a split.

    ``cfg``: a resolved ``RunConfig``; or keyword options as on the command line (``dataset``,
    ``root``, ``methods``, ``metrics``, ``out``, ``device``, ...; a YAML file with
    ``config=``). Returns the summary (the same records as ``summary.json``) and the failures.
    """
    from eadbench import config as config_mod

    if cfg is None:
        cfg = config_mod.resolve(options.pop("config", None), **options)
    elif options:
        raise TypeError("give a RunConfig or keyword options, not both")
    return _run(cfg, echo)


RUN_COMMAND = "eadbench run"  # the owner marker of a run folder (eadbench.locking)


def _run(cfg: RunConfig, echo) -> RunResult:
    from eadbench.atomic import ensure_folder
    from eadbench.locking import check_owner, claim_folder, wrote
    from eadbench.run.inputs import scan_dataset
    from eadbench.run.shard import build_shard
    from eadbench.streams import cpu_seconds
    from eadbench.threads import configure
    from eadbench.weights import WeightStore, exact_metrics_mode

    started, started_cpu = time.time(), cpu_seconds()
    configure()
    rank, world = _dist_info()
    scan = scan_dataset(cfg)
    t_data = time.time()
    _check_names(cfg)  # a misspelt metric or method: one line, before anything is trained
    out = RunDir(cfg.out or f"runs/{cfg.dataset}-{cfg.split or 'all'}")
    legacy = wrote(out.manifest.name, "eadbench_version")  # a run folder written before owner markers
    check_owner(out.root, RUN_COMMAND, legacy)  # someone else's folder: one line, before any work
    _builtin_assets(cfg, echo, rank)
    t_models = time.time()
    store = WeightStore(cfg.weights_dir, cfg.trust_weights, cfg.device)
    exact_metrics_mode(store.device)
    shard, unavailable = build_shard(cfg, out, scan.clips, store)
    shard.neutral = neutral_map(cfg)
    shard.setup = {"data": round(t_data - started, 3), "builtin_models": round(t_models - t_data, 3),
                   "networks": round(time.time() - t_models, 3)}
    if rank != 0:  # rank 0 owns and locks the folder; the other ranks write only their clips
        ensure_folder(out.root, "run")
        return _execute(cfg, scan, shard, unavailable, (started, started_cpu), rank, world, echo)
    # only now: a failed validation leaves no empty folder behind
    with claim_folder(out.root, RUN_COMMAND, "run", note=echo, legacy=legacy):
        return _execute(cfg, scan, shard, unavailable, (started, started_cpu), rank, world, echo)


def _check_names(cfg: RunConfig) -> None:
    """Every metric and method named exists, every protocol and metric option fits what its metric
    declares (one line with a suggestion otherwise)."""
    from eadbench.config import check_metric_settings
    from eadbench.generators import GENERATORS
    from eadbench.metrics import METRICS

    for name in cfg.metrics or []:
        METRICS.get(name)
    check_metric_settings(cfg)
    for m in cfg.methods:
        GENERATORS.get(m.method)


def _builtin_assets(cfg: RunConfig, echo, rank: int) -> None:
    """On the built-in data, what the default run compares: the tiny EAD-Net for an ``eadnet``
    method given no checkpoint, and the LSE sync expert for ``--syncnet auto`` (the default there
    when syncnet_v2.model is absent). They are the models shipped in ``eadbench/builtin/``, hash-
    checked, and nothing trains; ``cfg.retrain_builtin`` trains them from scratch instead (once,
    cached: ``eadbench.run.builtin``)."""
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
    distributed = _dist_info()[1] > 1 and training
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


def _execute(cfg, scan, shard, unavailable, started, rank, world, echo) -> RunResult:
    """Generate and score every shard, then (rank 0) collect and write the results.

    ``--no-resume`` never deletes anything: every video and score this run needs is made
    again and written over the old one (the lock keeps other runs out meanwhile)."""
    from eadbench.atomic import atomic_write_text
    from eadbench.jsonio import atomic_write_json, dumps
    from eadbench.results import summarise, write_tables
    from eadbench.run.collect import collect, write_manifest
    from eadbench.run.executors import run_distributed, run_pool, run_serial
    from eadbench.run.inputs import input_note
    from eadbench.streams import cpu_seconds

    (started, started_cpu), run_dir = started, shard.run
    if rank == 0:
        echo(f"eadbench run: {cfg.dataset} split {cfg.split} ({scan.split_name or 'default'}, "
             f"hash {scan.split_hash()}), {len(scan.clips)} clips x {len(shard.methods)} methods "
             f"-> {run_dir.root} (device {shard.store.device})")
        if scan.skipped:
            echo(f"  skipped {len(scan.skipped)} input file(s) (summary.json skipped_inputs; `eadbench datasets "
                 f"inspect --dataset {cfg.dataset} --root {cfg.root}` lists each):")
            for kind, n in scan.skipped_by_reason().items():
                echo(f"    {n}: {kind}")
        for name, why in unavailable.items():
            echo(f"  metric {name} unavailable: {why}")
        for name, ev in shard.evaluators.items():
            for note in ev.notes:
                echo(f"  warning: metric {name}: {note}")
        write_manifest(run_dir, cfg, scan, shard.methods, shard.evaluators, unavailable, started, store=shard.store)

    if world > 1:
        failures = run_distributed(shard, rank, world, cfg)
    elif cfg.workers > 1:
        failures = run_pool(shard, cfg)
    else:
        failures = run_serial(shard, cfg)
    if rank != 0:
        return RunResult(run_dir.root, {}, failures, unavailable)

    rows, details, set_values, set_values_all = collect(run_dir, scan.clips, list(shard.methods), shard.evaluators,
                                                        cfg.coverage)
    write_tables(run_dir.root, rows)
    atomic_write_text(run_dir.details, "".join(dumps(d, indent=None, lenient=True) + "\n"
                                               for d in details))
    infos = {name: ev.info for name, ev in shard.evaluators.items()}
    summary = {
        "dataset": cfg.dataset, "split": cfg.split, "split_name": scan.split_name,
        "split_hash": scan.split_hash(), "n_clips": len(scan.clips), "source": cfg.source,
        "methods": summarise(rows, set_values, infos, cfg.bootstrap, cfg.seed,
                             {name: {**ev.facts(), "protocol": ev.protocol_key()}
                              for name, ev in shard.evaluators.items()}, cfg.coverage, set_values_all),
        "coverage": cfg.coverage,
        "unavailable_metrics": sorted(unavailable),
    }
    if scan.skipped:
        summary["skipped_inputs"] = [{"path": sk.path, "reason": sk.reason} for sk in scan.skipped]
    notes = {c.clip_id: n for c in scan.clips if (n := input_note(run_dir, c.clip_id))}
    if notes:
        summary["input_notes"] = notes
        echo(f"{len(notes)} clip(s) fitted to their audio (summary.json input_notes), e.g. "
             f"{next(iter(notes))}: {next(iter(notes.values()))}")
    atomic_write_json(run_dir.summary, summary)
    timings = {"seconds": shard.timer.as_dict(), "stages": shard.timer.table(), "wall": round(time.time() - started, 3),
               "cpu_seconds": round(cpu_seconds() - started_cpu, 3), "setup_wall": shard.setup,
               "process_cpu_seconds": round(cpu_seconds(), 3)}  # with the interpreter's start and the imports
    atomic_write_json(run_dir.timings, timings)
    write_manifest(run_dir, cfg, scan, shard.methods, shard.evaluators, unavailable, started, time.time(),
                   store=shard.store)
    all_failures = sorted({f"{r['method']}/{r['clip_id']}/{r['metric']}: {r['reason']}"
                           for r in rows if r["status"] == "failed"})
    return RunResult(run_dir.root, summary, all_failures, unavailable, timings)


def failures_exit_code(result: RunResult, strict: bool) -> int:
    return 1 if strict and result.failures else 0


class _CallableModule(types.ModuleType):
    """``eadbench.run(...)`` works whether ``eadbench.run`` is this package or the function."""

    def __call__(self, *args, **kwargs) -> RunResult:
        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["REAL", "RunDir", "RunRecord", "RunResult", "failures_exit_code", "load_run", "run"]
