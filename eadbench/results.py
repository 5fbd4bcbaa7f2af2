"""Per-clip records -> per_clip.csv/.parquet, failures.csv and summary.json.

Schema of a per-clip row (one per method x clip x metric output):
``method, clip_id, speaker, emotion, intensity, metric, output, value, status, reason``
where status is ``ok``, ``failed`` (generation or scoring failed: reason says why) or
``excluded`` (the metric cannot judge this clip, e.g. a contempt clip with a 7-class
classifier; reason says why). Nothing is ever dropped without a row.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from eadbench.atomic import atomic_path, atomic_write_text

ROW_FIELDS = ("method", "clip_id", "speaker", "emotion", "intensity", "metric", "output", "value",
              "status", "reason")


def bootstrap_ci(values: list[float], n_resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean over clips (deterministic for a seed)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(x) < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_resamples, len(x)))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _round(v: Any) -> Any:
    """Round floats to 6 significant digits (more than any paper reports) so summaries compare
    byte-for-byte across worker counts, whose thread counts change float summation order in
    the last bits of network features."""
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.6g}")
    return v


def write_tables(out: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from eadbench.run.layout import RunDir

    run = RunDir(out)
    df = pd.DataFrame(rows, columns=list(ROW_FIELDS))
    df = df.sort_values(["method", "clip_id", "metric", "output"], kind="stable").reset_index(drop=True)
    df["value"] = df["value"].map(lambda v: _round(v) if isinstance(v, float) else v).astype("float64")
    atomic_write_text(run.per_clip_csv, df.to_csv(index=False))
    with atomic_path(run.per_clip_parquet) as tmp:
        df.to_parquet(tmp, index=False)
    fails = df[df["status"] != "ok"].drop_duplicates(["method", "clip_id", "metric", "status", "reason"])
    atomic_write_text(run.failures,
                      fails[["method", "clip_id", "metric", "status", "reason"]].to_csv(index=False))


COVERAGES = ("intersection", "all")


def _scored(r: dict[str, Any], set_level: bool) -> bool:
    return r["status"] == "ok" and (set_level or r["value"] is not None)


def common_clips(rows: list[dict[str, Any]], set_metrics: set[str]) -> dict[tuple[str, str], set[str]]:
    """(metric, output) -> the clips every compared method scored. A method that scored no clip
    of a metric has no value to compare and does not shrink the set."""
    per: dict[tuple[str, str], dict[str, set[str]]] = {}
    for r in rows:
        if r["metric"] == "generate":
            continue
        clips = per.setdefault((r["metric"], r["output"]), {}).setdefault(r["method"], set())
        if _scored(r, r["metric"] in set_metrics):
            clips.add(r["clip_id"])
    out = {}
    for key, by_method in per.items():
        sets = [c for c in by_method.values() if c]
        out[key] = set.intersection(*sets) if sets else set()
    return out


def summarise(rows: list[dict[str, Any]], set_values: dict[tuple[str, str], dict[str, Any]],
              metric_infos: dict[str, Any], n_resamples: int, seed: int,
              facts: dict[str, dict[str, Any]] | None = None, coverage: str = "intersection",
              set_values_all: dict[tuple[str, str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """summary.json content: per method and metric output: value, n used, n failed, CI, the
    metric's run-wide ``facts`` (e.g. the emotion classifier actually used), and its coverage.

    ``coverage="intersection"`` (the default): every method's value is computed over the clips
    that every compared method scored, so values compare like with like; ``n_dropped`` counts the
    clips a method scored but others did not, and ``value_all``/``n_all`` keep the value over all
    of its own clips. ``"all"``: each method over the clips it scored (``set_values`` must then be
    the all-clips values)."""
    summary: dict[str, Any] = {}
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    set_metrics = {m for m, i in metric_infos.items() if i is not None and i.level == "set"}
    common = common_clips(rows, set_metrics)
    for r in rows:
        if r["metric"] in ("generate",):
            continue
        by_key.setdefault((r["method"], r["metric"], r["output"]), []).append(r)
    for (method, metric, output), rs in sorted(by_key.items()):
        info = metric_infos.get(metric)
        set_level = info is not None and info.level == "set"
        scored = [r for r in rs if _scored(r, set_level)]
        ok = scored if coverage == "all" else [r for r in scored if r["clip_id"] in common[(metric, output)]]
        entry: dict[str, Any] = {
            "n_used": len(ok),
            "coverage": coverage,
            "n_dropped": len(scored) - len(ok),
            "n_failed": sum(r["status"] == "failed" for r in rs),
            "n_excluded": sum(r["status"] == "excluded" for r in rs),
            "direction": info.direction_of(output) if info else None,
            "protocol": info.default_protocol.key if info else None,
            "level": info.level if info else None,
            **(facts or {}).get(metric, {}),
        }
        if info is not None and info.level == "set":
            sv = set_values.get((method, metric), {})
            entry["value"] = _round(sv.get(output))
            entry["ci95"] = None
            entry.update({k: _round(v) for k, v in sv.items() if k != output and not isinstance(v, (list, dict))})
            if entry["n_dropped"] and set_values_all:
                entry.update(value_all=_round(set_values_all.get((method, metric), {}).get(output)), n_all=len(scored))
        else:
            vals = [float(r["value"]) for r in ok]
            fin = [v for v in vals if math.isfinite(v)]
            entry["value"] = _round(float(np.mean(fin))) if fin else None
            ci = bootstrap_ci(vals, n_resamples, seed)
            entry["ci95"] = [_round(ci[0]), _round(ci[1])] if ci else None
            if entry["n_dropped"]:
                every = [float(r["value"]) for r in scored if math.isfinite(float(r["value"]))]
                entry.update(value_all=_round(float(np.mean(every))) if every else None, n_all=len(scored))
        summary.setdefault(method, {}).setdefault(metric, {})[output] = entry
    return summary
