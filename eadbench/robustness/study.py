"""The robustness study end to end (``eadbench robustness``): resolve the settings, build the
metrics, then per clip stage its ground truth as ``eadbench run`` does, write its perturbations
(``perturbations``), score them against the clean video (``scoring``), and write
``robustness.json`` and ``robustness.md`` (``report``) into the locked output folder.

Memory: one clip's frames are held while its perturbations are written (a permutation needs
them all); talking-head clips are seconds long.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from eadbench.errors import ChoiceError, EadbenchError, MetricInputError, is_out_of_memory, short_reason
from eadbench.media import hevc_codec
from eadbench.robustness.perturbations import PERTURBATIONS, Perturbation, get_perturbation, make_perturbations
from eadbench.robustness.report import build_report, markdown
from eadbench.robustness.scoring import score_videos
from eadbench.run.session import Owner

REPORT_JSON, REPORT_MD = "robustness.json", "robustness.md"
#: a robustness folder written before owner markers holds robustness.json with its perturbations
ROBUSTNESS = Owner("eadbench robustness", "robustness", REPORT_JSON, "perturbations")

@dataclass
class RobustnessResult:
    out: Path
    report: dict[str, Any]
    failures: list[dict[str, Any]]


def robustness(metrics: list[str] | None = None, dataset: str = "synth", root: str | None = None,
               split: str | None = None, split_file: str | None = None, limit: int | None = None,
               out: str | Path | None = None, perturbations: list[str] | None = None, seed: int = 0,
               bootstrap: int = 1000, device: str = "auto", tracking: str | None = None,
               protocols: dict[str, str] | None = None,
               metric_options: dict[str, dict[str, Any]] | None = None,
               weights_dir: str | None = None, trust_weights: bool = False, progress: bool = True,
               command: str | None = None, echo: Callable[[str], None] = print) -> RobustnessResult:
    """Stage each clip, write its perturbations, score them against the clean video, and write
    ``robustness.json`` and ``robustness.md`` into ``out`` (default ``runs/robustness-<dataset>``).
    ``metrics``: None = every metric whose weights are present (as ``eadbench run``). A study on
    the shared session: it generates nothing and takes the metric settings as given (no built-in
    models)."""
    from eadbench import config as config_mod
    from eadbench.run.session import Session

    names = list(perturbations) if perturbations else [p.name for p in PERTURBATIONS]
    chosen = [get_perturbation(n) for n in dict.fromkeys(names)]
    if bootstrap < 0:
        raise ChoiceError("--bootstrap must be 0 or more")
    cfg = config_mod.resolve(None, dataset=dataset, root=root, split=split, split_file=split_file,
                             limit=limit, metrics=metrics, seed=seed, device=device, tracking=tracking,
                             weights_dir=weights_dir, trust_weights=trust_weights, bootstrap=bootstrap)
    cfg.protocols.update(protocols or {})
    for m, opts in (metric_options or {}).items():
        cfg.metric_options.setdefault(m, {}).update(opts)
    session = Session.open(cfg, ROBUSTNESS, out or f"runs/robustness-{cfg.dataset}", echo, methods=False,
                           builtin=False, progress=progress)
    evaluators, unavailable = session.evaluators, session.unavailable
    for name, why in unavailable.items():
        echo(f"metric {name} unavailable: {why}")
    if not evaluators:
        raise MetricInputError("no metric can be computed" + (f" (unavailable: {', '.join(unavailable)})"
                                                              if unavailable else ""))
    for name, ev in evaluators.items():
        for note in ev.notes:
            echo(f"warning: metric {name}: {note}")
    if any(p.name == "h265" for p in chosen) and hevc_codec()[0] is None:
        echo(f"perturbation h265 skipped: {hevc_codec()[1]}")
    if not session.clips:
        raise MetricInputError(f"dataset {cfg.dataset} split {cfg.split} has no clips")
    started = time.time()
    with session.locked():
        clips, failures = _run_clips(session, chosen)
        report = build_report(cfg, session.scan, clips, failures, chosen, evaluators, unavailable, command)
        report["timings"] = {"seconds": session.timer.as_dict(), "wall": round(time.time() - started, 1)}
        session.write_json(REPORT_JSON, report)
        session.write_text(REPORT_MD, markdown(report))
    return RobustnessResult(session.dir.root, report, failures)


def _run_clips(session, chosen: list[Perturbation]) -> tuple[dict[str, dict], list[dict[str, Any]]]:
    cfg, folder, timer = session.cfg, session.dir.root, session.timer
    per_clip: dict[str, dict] = {}
    failures: list[dict[str, Any]] = []
    bar = session.progress(session.clips, "robustness", "clip")

    def step(cid: str, what: str) -> None:
        bar.set_postfix(clip=cid[:24], step=what, failed=len(failures))

    for clip in bar:
        cid = clip.clip_id
        try:
            step(cid, "stage")
            with timer.timed("stage"):
                clean, wav, _ = session.stage(clip)
            step(cid, "perturb")
            with timer.timed("perturb"):
                made = make_perturbations(cid, clean, wav, folder / "perturbed" / cid,
                                          [p.name for p in chosen], cfg.seed, session.store, cfg.tracking)
            for m in made.values():
                if m.status == "failed":
                    failures.append({"clip": cid, "perturbation": m.name, "metric": None, "reason": m.reason})
            step(cid, "score")
            scored = score_videos(clip, clean, {n: m.path for n, m in made.items() if m.status == "ok"},
                                  session.evaluators, session.store, cfg.tracking, timer)
        except EadbenchError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - one clip's bug must not lose the others
            if is_out_of_memory(exc):
                raise
            reason = f"internal error: {short_reason(exc)}"
        else:
            reason = None
        if reason is not None:
            per_clip[cid] = {"status": "failed", "reason": reason}
            failures.append({"clip": cid, "perturbation": None, "metric": None, "reason": reason})
            continue
        for label, by_metric in scored.items():
            for name, sc in by_metric.items():
                if sc.status == "failed" and not sc.reused:
                    failures.append({"clip": cid, "perturbation": label, "metric": name, "reason": sc.reason})
        per_clip[cid] = {"status": "ok", "made": made, "scored": scored, "emotion": clip.emotion}
    bar.close()
    return per_clip, failures
