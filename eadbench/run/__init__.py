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
| ``session`` | the setup every study shares (this run, robustness, the probes, ablate, yours) |
"""

from __future__ import annotations

import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eadbench.config import RunConfig
from eadbench.run.inputs import neutral_map
from eadbench.run.layout import MANIFEST, REAL, RunDir, RunRecord, load_run
from eadbench.run.session import Owner


@dataclass
class RunResult:
    out: Path
    summary: dict[str, Any]
    failures: list[str]
    unavailable: dict[str, str]
    timings: dict[str, Any] = field(default_factory=dict)  # as timings.json


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
#: a run folder written before owner markers holds a manifest with the eadbench version
RUN = Owner(RUN_COMMAND, "run", MANIFEST, "eadbench_version")


def _run(cfg: RunConfig, echo) -> RunResult:
    """The run as a study on the session: set up (nothing written yet), then rank 0 claims the
    folder (a failed validation leaves no empty folder behind) and every rank executes."""
    from eadbench.run.session import Session, dist_info
    from eadbench.run.shard import Shard
    from eadbench.streams import cpu_seconds
    from eadbench.threads import configure

    started, started_cpu = time.time(), cpu_seconds()
    configure()
    rank, world = dist_info()
    session = Session.open(cfg, RUN, cfg.out or f"runs/{cfg.dataset}-{cfg.split or 'all'}", echo, rank=rank,
                           started=started)
    shard = Shard(cfg, session.dir, session.clips, session.store, methods=session.methods,
                  evaluators=session.evaluators, timer=session.timer, neutral=neutral_map(cfg),
                  setup=session.setup)
    with session.locked():
        return _execute(cfg, session.scan, shard, session.unavailable, (started, started_cpu), rank, world, echo)


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
