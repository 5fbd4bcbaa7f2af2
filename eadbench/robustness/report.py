"""The robustness study's report: ``robustness.json`` (settings, the perturbations, one row of
cells per metric output, the flags, every failure, every clip's scores), the terminal table and
``robustness.md``. Pure functions of what the study collected; they write nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eadbench.errors import EadbenchError
from eadbench.robustness.perturbations import CLEAN, HARMFUL, Perturbation, applies_to
from eadbench.robustness.statistics import FLAG_RULE, clip_cell, flag, set_cell


def build_report(cfg, scan, clips: dict[str, dict], failures, chosen: list[Perturbation], evaluators,
                 unavailable, command: str | None) -> dict[str, Any]:
    """``robustness.json``'s content (less its timings) from the per-clip records the study
    collected (``{"status": "ok", "made", "scored", "emotion"}`` or ``{"status": "failed",
    "reason"}``)."""
    skipped = {}
    for rec in clips.values():
        for m in rec.get("made", {}).values():
            if m.status == "skipped":
                skipped[m.name] = m.reason
    perturbations = [{"name": p.name, "kind": p.kind, "changes": p.changes, "description": p.description,
                      "status": "skipped" if p.name in skipped else "ok", "reason": skipped.get(p.name)}
                     for p in chosen]
    rows = []
    flags = []
    for name, ev in evaluators.items():
        info = ev.info
        for output in ev.outputs if info.level == "clip" else ev.outputs[:1]:
            direction = info.direction_of(output)
            cells, clean_values = {}, []
            for p in chosen:
                if p.name in skipped:
                    cells[p.name] = {"n": 0, "skipped": skipped[p.name]}
                    continue
                cells[p.name] = _cell(clips, name, output, p.name, info, direction, cfg.bootstrap, cfg.seed)
                cells[p.name]["applicable"] = applies_to(p, info)
            for rec in clips.values():
                sc = rec.get("scored", {}).get(CLEAN, {}).get(name)
                if sc is not None and sc.status == "ok" and sc.values.get(output) is not None:
                    clean_values.append(sc.values[output])
            row = {"metric": name, "output": output, "direction": direction, "level": info.level,
                   "protocol": ev.protocol.key, "facts": ev.facts(),
                   "clean_mean": float(np.mean(clean_values)) if clean_values else None, "cells": cells}
            rows.append(row)
            flags.append({"metric": name, "output": output,
                          **flag(cells, [p for p in chosen if p.name not in skipped], direction,
                                 lambda p, info=info: applies_to(p, info))})
    return {
        "command": command,
        "settings": {"dataset": cfg.dataset, "root": cfg.root, "split": cfg.split,
                     "split_file": cfg.split_file, "limit": cfg.limit, "n_clips": len(clips),
                     "seed": cfg.seed, "bootstrap": cfg.bootstrap,
                     "device": cfg.device, "tracking": cfg.tracking, "protocols": dict(cfg.protocols),
                     "metric_options": {k: {a: str(b) for a, b in v.items()}
                                        for k, v in cfg.metric_options.items()},
                     "split_hash": scan.split_hash()},
        "metrics": sorted(evaluators), "unavailable_metrics": dict(unavailable),
        "perturbations": perturbations, "flag_rule": FLAG_RULE, "rows": rows, "flags": flags,
        "n_failures": len(failures), "failures": failures,
        "clips": {cid: _clip_record(rec, evaluators) for cid, rec in clips.items()},
    }


def _cell(clips, metric: str, output: str, pert: str, info, direction, n_resamples: int, seed: int) -> dict:
    missing: dict[str, str] = {}
    if info.level == "set":
        fake, real = [], []
        for cid, rec in clips.items():
            clean, other = _pair_scores(rec, metric, pert, missing, cid)
            if clean is not None:
                fake.append(other.features)
                real.append(clean.features)
        try:
            cell = set_cell(fake, real, direction, n_resamples, seed)
        except EadbenchError as exc:
            cell = {"n": 0, "mean_change": None, "error": str(exc)}
    else:
        deltas = []
        for cid, rec in clips.items():
            clean, other = _pair_scores(rec, metric, pert, missing, cid)
            if clean is None:
                continue
            a, b = clean.values.get(output), other.values.get(output)
            if a is None or b is None:
                missing[cid] = "no value (clean or perturbed)"
                continue
            deltas.append(b - a)
        cell = clip_cell(deltas, direction, n_resamples, seed)
    cell["not_used"] = missing
    return cell


def _pair_scores(rec: dict, metric: str, pert: str, missing: dict[str, str], cid: str):
    if rec.get("status") != "ok":
        missing[cid] = f"clip failed: {rec.get('reason')}"
        return None, None
    made = rec["made"].get(pert)
    if made is None or made.status != "ok":
        missing[cid] = f"perturbation {made.status}: {made.reason}" if made else "perturbation not made"
        return None, None
    clean = rec["scored"].get(CLEAN, {}).get(metric)
    other = rec["scored"].get(pert, {}).get(metric)
    if clean is None or clean.status != "ok":
        missing[cid] = f"clean video {clean.status}: {clean.reason}" if clean else "clean video not scored"
        return None, None
    if other is None or other.status != "ok":
        missing[cid] = f"{other.status}: {other.reason}" if other else "not scored"
        return None, None
    return clean, other


def _clip_record(rec: dict, evaluators) -> dict[str, Any]:
    if rec.get("status") != "ok":
        return {"status": rec.get("status"), "reason": rec.get("reason")}
    scores = {}
    for label, by_metric in rec["scored"].items():
        scores[label] = {}
        for n, sc in by_metric.items():
            entry: dict[str, Any] = {"status": sc.status}
            if sc.values:
                entry["values"] = sc.values
            if sc.reason:
                entry["reason"] = sc.reason
            if sc.reused:
                entry["reused"] = True
            scores[label][n] = entry
    return {"status": "ok", "emotion": rec.get("emotion"),
            "perturbations": {n: {"status": m.status, "reason": m.reason,
                                  "file": None if m.path is None else str(m.path)}
                              for n, m in rec["made"].items()},
            "scores": scores}


# -- tables ------------------------------------------------------------------------------------------------

def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.{digits}g}" if v else "0"


def _arrow(direction: str | None) -> str:
    return {"higher": " (higher better)", "lower": " (lower better)"}.get(direction or "", "")


def format_table(report: dict[str, Any]) -> str:
    """The terminal table: mean change per metric output (rows) and perturbation (columns), then
    the flags."""
    perts = report["perturbations"]
    head = ["metric", "clean"] + [p["name"] + ("*" if p["kind"] == HARMFUL else "") for p in perts]
    lines = [head]
    for row in report["rows"]:
        label = row["metric"] if row["output"] == row["metric"] else f"{row['metric']}.{row['output']}"
        cells = [label, "set" if row["level"] == "set" else _fmt(row["clean_mean"], 4).lstrip("+")]
        for p in perts:
            c = row["cells"].get(p["name"], {})
            cells.append("skip" if c.get("skipped") else _fmt(c.get("mean_change")))
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
           for r in lines]
    out.append("mean change (perturbed - clean) over clips; * harmful perturbation")
    for f in report["flags"]:
        out.append(_flag_line(f))
    return "\n".join(out)


def _flag_line(f: dict[str, Any]) -> str:
    label = f["metric"] if f["output"] == f["metric"] else f"{f['metric']}.{f['output']}"
    if f["status"] == "not judged":
        return f"{label}: not judged ({f['reason']})"
    h, w = f["largest_harmless"], f["smallest_harmful"]
    verdict = ("FLAGGED" + (" (clear)" if f["clear"] else " (within the CIs)")) if f["flagged"] else "ok"
    blind = f"; blind to {', '.join(f['blind_to'])}" if f["blind_to"] else ""
    return (f"{label}: {verdict}: largest harmless mean |change| {_fmt(h['mean_abs_change']).lstrip('+')} "
            f"({h['perturbation']}) vs smallest harmful degradation {_fmt(w['mean_degradation'])} "
            f"({w['perturbation']}){blind}")


def _ci(ci) -> str:
    return "" if not ci else f" [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def markdown(report: dict[str, Any]) -> str:
    """``robustness.md``: settings, perturbations, the table with CIs, the flags, the failures."""
    s = report["settings"]
    lines = ["# Metric robustness", ""]
    if report.get("command"):
        lines += ["```", report["command"], "```", ""]
    lines += [(f"Dataset {s['dataset']} split {s['split']} (hash {s['split_hash']}), {s['n_clips']} clips; "
               f"seed {s['seed']}, {s['bootstrap']} bootstrap resamples; "
               f"tracking {s['tracking'] or 'default'}."), ""]
    if report["unavailable_metrics"]:
        gone = report["unavailable_metrics"]
        lines += ["Unavailable metrics: " + "; ".join(f"{k}: {v}" for k, v in gone.items()), ""]
    lines += ["## Perturbations", "", "| name | kind | changes | what | status |",
              "| --- | --- | --- | --- | --- |"]
    for p in report["perturbations"]:
        status = "ok" if p["status"] == "ok" else f"skipped: {p['reason']}"
        lines.append(f"| {p['name']} | {p['kind']} | {p['changes']} | {p['description']} | {status} |")
    lines += ["", "## Mean change (perturbed - clean) over clips, 95% bootstrap CI", "",
              "Rows: metric output (clean mean); columns: perturbations (harmful ones marked *). "
              "n/a: not scored (see failures); cells of audio edits for metrics that do not read audio "
              "are shown in italics and do not enter the flag.", ""]
    perts = report["perturbations"]
    lines.append("| metric | clean | " + " | ".join(p["name"] + ("*" if p["kind"] == HARMFUL else "")
                                                 for p in perts) + " |")
    lines.append("| --- | ---: | " + " | ".join("---:" for _ in perts) + " |")
    for row in report["rows"]:
        label = row["metric"] if row["output"] == row["metric"] else f"{row['metric']}.{row['output']}"
        clean = "set" if row["level"] == "set" else _fmt(row["clean_mean"], 4).lstrip("+")
        cells = []
        for p in perts:
            c = row["cells"].get(p["name"], {})
            if c.get("skipped"):
                cells.append("skipped")
                continue
            text = _fmt(c.get("mean_change")) + _ci(c.get("ci95"))
            if c.get("not_used"):
                text += f" (n={c['n']})"
            cells.append(text if c.get("applicable", True) else f"*{text}*")
        lines.append(f"| {label}{_arrow(row['direction'])} | {clean} | " + " | ".join(cells) + " |")
    lines += ["", "## Flags", "", report["flag_rule"], ""]
    lines += [f"- {_flag_line(f)}" for f in report["flags"]]
    lines += ["", f"## Failures ({report['n_failures']})", ""]
    if not report["failures"]:
        lines.append("None.")
    for f in report["failures"]:
        where = "/".join(x for x in (f["clip"], f["perturbation"], f["metric"]) if x)
        lines.append(f"- {where}: {f['reason']}")
    return "\n".join(lines) + "\n"
