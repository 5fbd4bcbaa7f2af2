"""Collection and summary (rank 0 / the main process): the per-clip records the shards wrote ->
rows, per-clip details, set-level values, summary.json, the manifest, and the terminal table."""

from __future__ import annotations

import math
import platform
import time
from pathlib import Path
from typing import Any

from eadbench import __version__
from eadbench.config import RunConfig
from eadbench.datasets.base import Clip, ScanResult
from eadbench.errors import EadbenchError
from eadbench.jsonio import atomic_write_json
from eadbench.run.layout import RunDir


def collect(run: RunDir, clips: list[Clip], labels: list[str], evaluators: dict[str, Any],
            coverage: str = "intersection"):
    """Rows, per-clip details and set-level values (over the clips every method scored, with
    ``coverage="intersection"``; also over each method's own clips) from the shards' files."""
    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    set_values: dict[tuple[str, str], dict[str, Any]] = {}
    set_values_all: dict[tuple[str, str], dict[str, Any]] = {}
    features: dict[tuple[str, str], dict[str, tuple[dict, dict]]] = {}
    for label in labels:
        for clip in clips:
            base = {"method": label, "clip_id": clip.clip_id, "speaker": clip.speaker,
                    "emotion": clip.emotion, "intensity": clip.intensity}
            gen = run.generation(label, clip.clip_id)
            if gen.get("status") not in ("ok", "excluded"):  # excluded: its metric rows say why
                rows.append({**base, "metric": "generate", "output": "video", "value": None,
                             "status": "failed", "reason": gen.get("error")})
            for name, ev in evaluators.items():
                info = ev.info
                rec = run.load_output(run.score(label, clip.clip_id, name))
                if rec is None:
                    rec = {"status": "failed", "error": "not scored", "output": {}}
                status, reason, output = rec["status"], rec.get("error"), rec.get("output") or {}
                if info.level == "set":
                    real = run.load_output(run.real_score(clip.clip_id, name)) if status == "ok" else None
                    if status == "ok" and (real is None or real.get("status") != "ok"):
                        status = "failed"
                        reason = f"real side: {real.get('error') if real else 'not scored'}"
                    rows.append({**base, "metric": name, "output": ev.outputs[0], "value": None,
                                 "status": status, "reason": reason})
                    if status == "ok":
                        features.setdefault((label, name), {})[clip.clip_id] = (output, real["output"])
                    continue
                for o in ev.outputs:
                    v = output.get(o)
                    ok = status == "ok" and isinstance(v, (int, float)) and v is not None
                    rows.append({**base, "metric": name, "output": o,
                                 "value": float(v) if ok else None,
                                 "status": status if status != "ok" or ok else "failed",
                                 "reason": reason if status != "ok" else (None if ok else f"no value for {o}")})
                extra = {k: v for k, v in output.items() if k not in ev.outputs}
                if extra or status != "ok":
                    details.append({**base, "metric": name, "status": status, "reason": reason, **extra})
    from eadbench.results import common_clips

    set_metrics = {n for n, ev in evaluators.items() if ev.info.level == "set"}
    common = common_clips(rows, set_metrics)
    for (label, name), by_clip in features.items():
        ev = evaluators[name]
        keep = sorted(by_clip) if coverage == "all" else [c for c in sorted(by_clip)
                                                          if c in common[(name, ev.outputs[0])]]
        set_values[(label, name)] = _reduce(ev, [by_clip[c] for c in keep])
        if len(keep) < len(by_clip):
            set_values_all[(label, name)] = _reduce(ev, [by_clip[c] for c in sorted(by_clip)])
    for label in labels:  # a method that scored no clip of a set-level metric still gets its reason
        for name in set_metrics:
            set_values.setdefault((label, name), {evaluators[name].outputs[0]: None,
                                                  "reason": "needs at least 2 scored clips, got 0"})
    return rows, details, set_values, set_values_all


def _reduce(ev, pairs: list[tuple[dict, dict]]) -> dict[str, Any]:
    """A set-level metric over (generated, real) outputs of clips, in clip order."""
    if len(pairs) < 2:
        return {ev.outputs[0]: None, "reason": f"needs at least 2 scored clips, got {len(pairs)}"}
    try:
        return ev.reduce([f for f, _ in pairs], [r for _, r in pairs])
    except EadbenchError as exc:
        return {ev.outputs[0]: None, "reason": str(exc)}


def write_manifest(run: RunDir, cfg: RunConfig, scan: ScanResult, methods: dict[str, Any],
                   evaluators: dict[str, Any], unavailable: dict[str, str], started: float,
                   finished: float | None = None, store=None) -> None:
    import torch

    from eadbench.faces.track import DEFAULT_TRACKING, TRACKING
    from eadbench.weights import WEIGHTS

    weights: dict[str, str] = {}
    for ev in evaluators.values():
        weights.update(ev.weights_used())
    tracking = TRACKING.get(cfg.tracking or DEFAULT_TRACKING)
    atomic_write_json(run.manifest, {
        "eadbench_version": __version__,
        "git_commit": _own_commit(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": store.device if store is not None else cfg.device,
        "config": cfg.to_dict(),
        "dataset": {"name": cfg.dataset, "root": cfg.root, "split": cfg.split, "split_name": scan.split_name,
                    "split_hash": scan.split_hash(), "clips": len(scan.clips),
                    "skipped": [{"path": sk.path, "reason": sk.reason} for sk in scan.skipped]},
        "protocols": {n: {"protocol": ev.protocol.name, "version": ev.protocol.version,
                          "selected": ev.ctx.protocol, "parameters": ev.protocol.to_dict()}
                      for n, ev in evaluators.items()},
        "tracking": {"protocol": tracking.key, "description": tracking.description, "parameters": tracking.to_dict()},
        "weights": {k: {"sha256": v, "file": WEIGHTS.get(k).filename if k in WEIGHTS else None}
                    for k, v in sorted(weights.items())},
        "methods": {label: g.provenance() for label, g in methods.items()},
        "unavailable_metrics": unavailable,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)) if finished else None,
    })


def _own_commit() -> str | None:
    from eadbench.generators.subprocess_job import git_commit

    return git_commit(Path(__file__).resolve().parents[2])


def format_summary(summary: dict[str, Any]) -> str:
    """A compact text table of the summary for the terminal."""
    lines = []
    for method, metrics in summary.get("methods", {}).items():
        cells = []
        for metric, outs in metrics.items():
            for o, e in outs.items():
                v = e.get("value")
                if v is None or (isinstance(v, float) and not math.isfinite(v)):
                    cells.append(f"{o}=n/a")
                else:
                    cells.append(f"{o}={v:.4g}")
                if e.get("classifier"):
                    cells[-1] += f" [{e['classifier']}]"
        lines.append(f"  {method:<14} " + "  ".join(cells))
    return "\n".join(lines)
