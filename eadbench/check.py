"""`eadbench check`: a regression gate comparing a run folder with a baseline file.

A value regresses only when it moved in the *bad* direction of its metric (a lower FID is an
improvement) by more than its tolerance; with ``bootstrap`` on, a per-clip metric must also
have a paired-bootstrap 95% interval of the mean change that lies wholly on the bad side, so
clip noise does not fail CI. Comparing across splits or protocols is refused (exit 2).

Orderings are what must hold on any machine when absolute values may not: a metric computed by a
network trained at first use (the built-in sync expert) lands elsewhere on another CPU, whose
float rounding sends training down another path, but the ground truth must still beat the static
control on it by a margin. Each ordering is checked on the run alone and reported as one row.

Baseline file (JSON)::

    {"format": "eadbench-baseline/1", "dataset": ..., "split_name": ..., "split_hash": ...,
     "tolerance": {"default": {"rel": 0.05}, "fvd": {"abs": 25}, "lse_c": {"abs": 0.3}},
     "bootstrap": true,
     "orderings": [{"metric": "lse/lse_c", "better": "ground_truth", "worse": "static",
                    "margin": 0.05, "why": "..."}],
     "values": {"<method>": {"<metric>/<output>": {"value": v, "direction": "higher",
                                                  "protocol": "...", "per_clip": {clip: v}}}}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eadbench.errors import CheckInputError
from eadbench.jsonio import atomic_write_json, load_json
from eadbench.registry import unknown_name_message
from eadbench.run import layout

FORMAT = "eadbench-baseline/1"
DEFAULT_TOLERANCE = {"rel": 0.05}


@dataclass
class Verdict:
    method: str
    key: str
    baseline: float | None
    current: float | None
    change: float | None
    tolerance: str
    verdict: str  # ok | improved | REGRESSED
    note: str = ""


def load_run_summary(run_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, float]]]]:
    """(summary, method -> "metric/output" -> clip -> value) of a finished run folder."""
    rec = layout.load_run(run_dir)
    return rec.summary, rec.per_clip_values()


def validate_baseline(data: dict[str, Any], path: Path | str) -> dict[str, Any]:
    if data.get("format") != FORMAT:
        raise CheckInputError(f"{path} is not an eadbench baseline file (format {data.get('format')!r}, "
                              f"expected {FORMAT!r})")
    values = data.get("values")
    ok = isinstance(values, dict) and all(
        isinstance(entries, dict) and all(isinstance(b, dict) and isinstance(b.get("value"), (int, float))
                                          and "/" in key for key, b in entries.items())
        for entries in values.values())
    if not ok or not isinstance(data.get("tolerance", {}), dict):
        raise CheckInputError(f"{path} is wrongly shaped: expected values -> method -> 'metric/output' -> "
                              "{value: number, ...} and a tolerance mapping")
    for method, entries in values.items():
        for key, b in entries.items():
            problem = _entry_problem(b)
            if problem:
                raise CheckInputError(f"{path}: values.{method}.{key}.{problem}")
    for key, t in data.get("tolerance", {}).items():
        if not isinstance(t, dict) or any(not isinstance(v, (int, float)) or v < 0 for v in t.values()):
            raise CheckInputError(f"{path}: tolerance {key!r} must map abs/rel to numbers >= 0")
    check_tolerance_names(data["tolerance"], data, f"{path}: tolerance", registered=True)
    orderings = data.get("orderings", [])
    if not isinstance(orderings, list) or not all(
            isinstance(o, dict) and all(isinstance(o.get(k), str) for k in ("metric", "better", "worse"))
            and "/" in o["metric"] and isinstance(o.get("margin", 0), (int, float)) and o.get("margin", 0) >= 0
            for o in orderings):
        raise CheckInputError(f"{path}: orderings must be a list of {{metric: 'metric/output', better: method, "
                              "worse: method, margin: number >= 0}")
    return data


def _entry_problem(b: dict[str, Any]) -> str | None:
    """What is wrong with one baseline value entry (``field is ...``), or None."""
    if b.get("direction") not in (None, "higher", "lower"):
        return f"direction is {b['direction']!r}, not higher, lower or null"
    per_clip = b.get("per_clip")
    if per_clip is not None and not (isinstance(per_clip, dict) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in per_clip.values())):
        return f"per_clip is {str(per_clip)[:40]!r}, not a mapping of clip to number or null"
    if not isinstance(b.get("protocol"), (str, type(None))):
        return f"protocol is {b['protocol']!r}, not a name or null"
    n = b.get("n_used")
    if n is not None and not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
        return f"n_used is {n!r}, not a count"
    return None


def tolerance_names(baseline: dict[str, Any], registered: bool = False) -> set[str]:
    """What a tolerance may be keyed by: ``default``, and each ``metric/output``, output or metric the
    baseline compares (with ``registered``, those of every metric, so a file's tolerance for a metric
    its values no longer hold stays valid)."""
    keys = {k for entries in baseline.get("values", {}).values() for k in entries}
    if registered:
        from eadbench.metrics.base import METRICS

        keys |= {f"{name}/{o}" for name, info in METRICS.items() for o in info.outputs}
    return {"default"} | keys | {k.partition("/")[0] for k in keys} | {k.partition("/")[2] for k in keys}


def check_tolerance_names(tolerances: dict[str, Any], baseline: dict[str, Any], what: str,
                          registered: bool = False) -> None:
    known = tolerance_names(baseline, registered)
    for name in tolerances:
        if name not in known:
            raise CheckInputError(f"{what}: " + unknown_name_message("metric or output", name, known))


def baseline_from_run(run_dir: Path, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    summary, per_clip = load_run_summary(run_dir)
    values: dict[str, Any] = {}
    for method, metrics in summary["methods"].items():
        for metric, outs in metrics.items():
            for out, e in outs.items():
                if e.get("value") is None:
                    continue
                values.setdefault(method, {})[f"{metric}/{out}"] = {
                    "value": e["value"], "direction": e.get("direction"), "protocol": e.get("protocol"),
                    "n_used": e.get("n_used"), "per_clip": per_clip.get(method, {}).get(f"{metric}/{out}"),
                }
    prev = previous or {}
    return {
        "format": FORMAT, "dataset": summary.get("dataset"), "split": summary.get("split"),
        "split_name": summary.get("split_name"), "split_hash": summary.get("split_hash"),
        "tolerance": prev.get("tolerance", {"default": DEFAULT_TOLERANCE}),
        "bootstrap": prev.get("bootstrap", True),
        "comment": prev.get("comment", ""),
        **({"orderings": prev["orderings"]} if prev.get("orderings") else {}),
        "values": values,
    }


def parse_tolerances(items: list[str]) -> dict[str, dict[str, float]]:
    """``metric=0.5`` (absolute) or ``metric=5%`` (relative)."""
    out: dict[str, dict[str, float]] = {}
    for item in items:
        if "=" not in item:
            raise CheckInputError(f"--tolerance expects metric=value or metric=value%, got {item!r}")
        k, v = item.split("=", 1)
        try:
            t = {"rel": float(v[:-1]) / 100} if v.endswith("%") else {"abs": float(v)}
        except ValueError:
            raise CheckInputError(f"--tolerance {item!r}: not a number") from None
        if not all(math.isfinite(x) and x >= 0 for x in t.values()):
            raise CheckInputError(f"--tolerance {item!r}: a tolerance must be a number >= 0")
        out[k.strip()] = t
    return out


def _tolerance_for(key: str, tol: dict[str, Any]) -> dict[str, float]:
    metric, _, output = key.partition("/")
    for k in (key, output, metric):
        if k in tol:
            return tol[k]
    return tol.get("default", DEFAULT_TOLERANCE)


def _paired_bootstrap(base: dict[str, float], cur: dict[str, float], seed: int = 0,
                      n: int = 2000) -> tuple[float, float] | None:
    common = sorted(set(base) & set(cur))
    if len(common) < 3:
        return None
    d = np.array([cur[c] - base[c] for c in common], dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 3:
        return None
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n, len(d)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def compare(run_dir: Path, baseline: dict[str, Any], tolerances: dict[str, dict[str, float]] | None = None,
            bootstrap: bool | None = None) -> list[Verdict]:
    validate_baseline(baseline, "baseline")
    summary, per_clip = load_run_summary(run_dir)
    if tolerances:
        check_tolerance_names(tolerances, baseline, "--tolerance")
    for field in ("dataset", "split", "split_name", "split_hash"):
        if (field in baseline or field in ("dataset", "split_hash")) and baseline.get(field) != summary.get(field):
            raise CheckInputError(
                f"run and baseline differ in {field} (run {summary.get(field)!r}, baseline {baseline.get(field)!r}): "
                "results on different data are not comparable")
    tol = {**baseline.get("tolerance", {}), **(tolerances or {})}
    use_boot = baseline.get("bootstrap", True) if bootstrap is None else bootstrap
    verdicts: list[Verdict] = []
    for method, entries in sorted(baseline["values"].items()):
        for key, b in sorted(entries.items()):
            metric, _, output = key.partition("/")
            cur_e = summary["methods"].get(method, {}).get(metric, {}).get(output)
            if cur_e is None or cur_e.get("value") is None:
                raise CheckInputError(f"the run has no value for {method} {key} that the baseline has "
                                      "(metric missing or unavailable in this run)")
            if b.get("protocol") and cur_e.get("protocol") and b["protocol"] != cur_e["protocol"]:
                raise CheckInputError(f"{method} {key}: protocol {cur_e['protocol']} in the run vs "
                                      f"{b['protocol']} in the baseline; comparing across protocols is refused")
            bv, cv = float(b["value"]), float(cur_e["value"])
            direction = b.get("direction") or cur_e.get("direction")
            t = _tolerance_for(key, tol)
            allowed = t.get("abs", 0.0) + t.get("rel", 0.0) * abs(bv)
            tol_s = (f"±{t['abs']:g}" if "abs" in t else "") + (f"±{100 * t['rel']:g}%" if "rel" in t else "")
            change = cv - bv
            worse = -change if direction == "higher" else change if direction == "lower" else abs(change)
            verdict, note = "ok", ""
            n_base, n_cur = b.get("n_used"), cur_e.get("n_used")
            if not math.isfinite(cv):
                verdict, note = "REGRESSED", "value is not finite"
            elif isinstance(n_base, int) and isinstance(n_cur, int) and n_cur < n_base:
                verdict, note = "REGRESSED", f"coverage fell from {n_base} to {n_cur} clips"
            elif worse > allowed:
                verdict = "REGRESSED"
                if use_boot and b.get("per_clip") and key in per_clip.get(method, {}):
                    ci = _paired_bootstrap(b["per_clip"], per_clip[method][key])
                    if ci is not None:
                        bad_side = ci[1] < 0 if direction == "higher" else ci[0] > 0
                        note = f"paired bootstrap CI of change [{ci[0]:.4g}, {ci[1]:.4g}]"
                        if not bad_side:
                            verdict, note = "ok", note + ": within clip noise"
            elif worse < -allowed:
                verdict = "improved"
            verdicts.append(Verdict(method, key, bv, cv, change, tol_s, verdict, note))
    verdicts += [_ordering(o, summary, baseline["values"]) for o in baseline.get("orderings", [])]
    return verdicts


def _ordering(o: dict[str, Any], summary: dict[str, Any], base_values: dict[str, Any]) -> Verdict:
    """One ordering row: baseline and current are the gap (better minus worse, in the metric's good
    direction); it regresses when the run's gap is below the margin."""
    metric, _, output = o["metric"].partition("/")
    entries = []
    for method in (o["better"], o["worse"]):
        e = summary["methods"].get(method, {}).get(metric, {}).get(output)
        if e is None or e.get("value") is None:
            raise CheckInputError(f"the run has no value for {method} {o['metric']} that an ordering of the "
                                  "baseline compares")
        entries.append(e)
    direction = entries[0].get("direction")
    if direction not in ("higher", "lower"):
        raise CheckInputError(f"ordering on {o['metric']}: the metric has no better direction")
    sign = 1.0 if direction == "higher" else -1.0

    def gap(better: Any, worse: Any) -> float | None:
        return None if better is None or worse is None else sign * (float(better) - float(worse))

    cur = gap(entries[0]["value"], entries[1]["value"])
    base = gap(*(base_values.get(m, {}).get(o["metric"], {}).get("value") for m in (o["better"], o["worse"])))
    margin = float(o.get("margin", 0.0))
    verdict, note = "ok", ""
    if not math.isfinite(cur) or cur < margin:
        verdict = "REGRESSED"
        note = (f"{o['better']} no longer beats {o['worse']} on {output} by {margin:g}"
                + (f": {o['why']}" if o.get("why") else ""))
    change = None if base is None else cur - base
    return Verdict(f"{o['better']} > {o['worse']}", o["metric"], base, cur, change, f"gap≥{margin:g}",
                   verdict, note)


def format_table(verdicts: list[Verdict]) -> str:
    w = max([14, *(len(v.method) for v in verdicts)])

    def num(x: float | None, fmt: str) -> str:
        return f"{'-':>10}" if x is None else format(x, fmt)

    head = f"{'method':<{w}} {'metric':<22} {'baseline':>10} {'current':>10} {'change':>10} {'tol':>9}  verdict"
    lines = [head, "-" * len(head)]
    for v in verdicts:
        lines.append(f"{v.method:<{w}} {v.key:<22} {num(v.baseline, '>10.4g')} {num(v.current, '>10.4g')} "
                     f"{num(v.change, '>+10.4g')} {v.tolerance:>9}  {v.verdict}"
                     f"{'  (' + v.note + ')' if v.note else ''}")
    return "\n".join(lines)


def update_baseline(run_dir: Path, baseline_path: Path) -> dict[str, Any]:
    previous = load_json(baseline_path, "baseline") if baseline_path.exists() else None
    data = baseline_from_run(run_dir, previous)
    atomic_write_json(baseline_path, data)
    return data
