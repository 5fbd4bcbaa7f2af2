"""Paper tables from run folders: the main comparison (per-group breakdowns: ``report.groups``).

A table is built once as a ``Table`` (cells with their numeric values and ranks) and rendered
to Markdown, LaTeX (booktabs) and CSV, so the three formats always agree. Best value per
column in bold, second underlined, among the compared methods; the controls (``CONTROLS``: the
real video, the real video with its audio shifted, a still face) are shown, marked "(control)",
and never ranked: they bound what a method can reach, they do not compete with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from eadbench.run.layout import RunRecord


class _Columns(Mapping):
    """metric/output -> (column label, decimals, scale), in column order: every registered metric's
    declared ``columns`` (``MetricInfo``; a metric that declares none shows its value under its output's
    name, 3 decimals), metrics by their ``order``. Read from the registry on first use, so importing the
    report does not import the metrics."""

    def __init__(self) -> None:
        self._columns: dict[str, tuple[str, int, float]] = {}
        self._of: tuple[str, ...] | None = None  # the metrics they were read from

    def _all(self) -> dict[str, tuple[str, int, float]]:
        from eadbench.metrics import METRICS
        from eadbench.metrics.base import Column

        if self._of != tuple(METRICS.names()):  # again when a metric was registered since (a plugin)
            infos = sorted((info for _, info in METRICS.items()), key=lambda i: (i.order, i.name))
            self._columns = {f"{i.name}/{c.output}": (c.label, c.decimals, c.scale) for i in infos
                             for c in i.columns or (Column(i.outputs[0], i.outputs[0], 3),)}
            self._of = tuple(METRICS.names())
        return self._columns

    def __getitem__(self, key: str) -> tuple[str, int, float]:
        return self._all()[key]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


#: metric/output -> (column label, decimals, scale). Order = column order.
DISPLAY: Mapping[str, tuple[str, int, float]] = _Columns()
#: methods that are controls, not contenders: the ground truth (the real video: the upper bound of
#: every fidelity metric), shifted (the real video with its audio offset: perfect frames, broken
#: sync) and static (a still face: the lower bound of motion). Shown, marked, never ranked.
CONTROLS = {
    "ground_truth": "the real video (upper bound)",
    "shifted": "the real video with its audio shifted (sync control)",
    "static": "a still face (lower bound)",
}


@dataclass
class Cell:
    value: float | None
    text: str
    rank: int | None = None  # 1 best, 2 second


@dataclass
class Table:
    title: str
    columns: list[tuple[str, str]]  # (group, header)
    rows: list[tuple[str, list[Cell]]]
    footnotes: list[str] = field(default_factory=list)
    #: row names that are controls (rendered with a "(control)" mark, never ranked)
    controls: tuple[str, ...] = ()


def row_label(t: Table, name: str) -> str:
    """A row's name as rendered: controls carry "(control)"."""
    return f"{name} (control)" if name in t.controls else name


def _fmt(v: float | None, decimals: int, scale: float, ci: list[float] | None = None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    s = f"{v * scale:.{decimals}f}"
    if ci:
        s += f" ± {(ci[1] - ci[0]) * scale / 2:.{decimals}f}"
    return s


def _arrow(direction: str | None) -> str:
    return {"higher": "↑", "lower": "↓"}.get(direction or "", "")


def direction_of(run: RunRecord, key: str) -> str | None:
    """A metric output's direction (higher / lower / None) as the run's summary records it."""
    metric, out = key.split("/")
    for m in run.summary["methods"].values():
        d = m.get(metric, {}).get(out, {}).get("direction")
        if d:
            return d
    return None


def _rank(cells: list[Cell], methods: list[str], direction: str | None) -> None:
    if direction not in ("higher", "lower"):
        return
    scored = [(c.value, i) for i, c in enumerate(cells)
              if c.value is not None and math.isfinite(c.value) and methods[i] not in CONTROLS]
    if len(scored) < 2:
        return
    scored.sort(reverse=direction == "higher")
    cells[scored[0][1]].rank = 1
    cells[scored[1][1]].rank = 2


def main_table(runs: list[RunRecord], metrics: list[str] | None = None, with_ci: bool = False) -> Table:
    methods: list[str] = []
    for r in runs:
        for m in r.summary["methods"]:
            if m not in methods:
                methods.append(m)
    columns: list[tuple[str, str]] = []
    col_cells: list[list[Cell]] = []
    footnotes: list[str] = []
    for run in runs:
        keys = [k for k in DISPLAY if _has(run, k) and (metrics is None or k.split("/")[0] in metrics
                                                        or k in metrics)]
        for key in keys:
            metric, out = key.split("/")
            label, dec, scale = DISPLAY[key]
            entries = [run.summary["methods"].get(m, {}).get(metric, {}).get(out, {}) for m in methods]
            direction = next((e.get("direction") for e in entries if e.get("direction")), None)
            proto = next((e.get("protocol") for e in entries if e.get("protocol")), "")
            cells = [Cell(e.get("value"), _fmt(e.get("value"), dec, scale, e.get("ci95") if with_ci else None))
                     for e in entries]
            _rank(cells, methods, direction)
            unstable = metric == "fvd" and any(e.get("stable") is False for e in entries if e.get("value") is not None)
            columns.append((run.label, f"{label} {_arrow(direction)}".strip() + (" †" if unstable else "")))
            col_cells.append(cells)
            if proto:
                footnotes.append(f"{run.label} {label}: protocol {proto}")
            if metric == "fvd":
                footnotes.append(_fvd_note(run, entries, unstable))
        footnotes.append(_split_note(run))
        footnotes.extend(_n_notes(run, methods))
    rows = [(m, [col[i] for col in col_cells]) for i, m in enumerate(methods)]
    controls = tuple(m for m in methods if m in CONTROLS)
    if controls:
        footnotes.append("controls, shown for reference and never ranked: "
                         + "; ".join(f"{m}: {CONTROLS[m]}" for m in controls))
    return Table("Main comparison", columns, rows, _dedupe(footnotes), controls)


def _fvd_note(run: RunRecord, entries: list[dict], unstable: bool) -> str:
    """What an FVD value was computed from: clips per side, frames, resolution, stride, network."""
    e = next((x for x in entries if x.get("n_clips_fake") is not None), {})
    if not e:
        return f"{run.label} FVD: no value"
    n_fake = sorted({x.get("n_clips_fake") for x in entries if x.get("n_clips_fake") is not None})
    sha = str(e.get("weights_sha256") or "")[:12]
    note = (f"{run.label} FVD: {'/'.join(map(str, n_fake))} generated vs {e.get('n_clips_real')} real clips of "
            f"{e.get('frames_per_clip')} frames at {e.get('resolution')}x{e.get('resolution')}, stride "
            f"{e.get('stride')}, {e.get('clips_per_video')} per video, {e.get('feature_network')}"
            + (f" (weights sha256 {sha}...)" if sha else ""))
    if unstable:
        from eadbench.metrics.fvd import MIN_STABLE_CLIPS

        note += f"; † n too small for a stable FVD (fewer than {MIN_STABLE_CLIPS} clips per side)"
    return note


def _has(run: RunRecord, key: str) -> bool:
    metric, out = key.split("/")
    return any(out in run.summary["methods"][m].get(metric, {}) for m in run.summary["methods"])


def _split_note(run: RunRecord) -> str:
    s = run.summary
    classifier = ""
    for d in run.details:
        if d.get("metric") == "emotion" and d.get("classifier"):
            classifier = f"; emotion classifier {d['classifier']}"
            break
    source = ("; methods driven from each speaker's neutral clip (--source neutral)"
              if s.get("source") == "neutral" else "")
    return (f"{run.label}: split {s.get('split')} ({s.get('split_name') or 'default'}, hash "
            f"{s.get('split_hash')}), {s.get('n_clips')} clips{classifier}{source}")


def _coverage_note(run: RunRecord, methods: list[str]) -> str | None:
    s = run.summary
    dropped = {}
    for m in methods:
        for metric, outs in s["methods"].get(m, {}).items():
            n = max((e.get("n_dropped") or 0) for e in outs.values())
            if n:
                dropped.setdefault(m, []).append(f"{metric} {n}")
    if s.get("coverage", "intersection") == "all":
        return (f"{run.label}: coverage all: each method over the clips it scored"
                + ("; not like with like where they differ" if dropped else ""))
    if not dropped:
        return None
    return (f"{run.label}: coverage intersection: values over the clips every method scored; clips dropped: "
            + "; ".join(f"{m} ({', '.join(v)})" for m, v in dropped.items()))


def _builtin_model_notes(run: RunRecord, methods: list[str]) -> list[str]:
    """Say so when a method is the built-in tiny EAD-Net: the one shipped in eadbench/builtin/ or
    one retrained at first use (``--retrain-builtin``)."""
    notes = []
    for m in methods:
        spec = (run.manifest.get("methods") or {}).get(m) or {}
        ckpt = str((spec.get("config") or {}).get("checkpoint", "")).replace("\\", "/")
        if spec.get("method") != "eadnet":
            continue
        if ckpt.endswith("/builtin/eadnet_tiny.safetensors"):
            notes.append(f"{run.label} {m}: the tiny EAD-Net preset (2.0 M parameters, 64x64) shipped with eadbench, "
                         "trained once on CPU on the built-in training split (eadbench/builtin/eadnet.recipe.json), "
                         "not the paper model")
        elif "/builtin/eadnet-tiny-" in ckpt:
            notes.append(f"{run.label} {m}: the tiny EAD-Net preset (2.0 M parameters, 64x64) trained on CPU on the "
                         "built-in training split at first use (--retrain-builtin), not the paper model")
    return notes


def _n_notes(run: RunRecord, methods: list[str]) -> list[str]:
    notes = [n] if (n := _coverage_note(run, methods)) else []
    notes.extend(_builtin_model_notes(run, methods))
    for m in methods:
        ms = run.summary["methods"].get(m, {})
        used = [e.get("n_used", 0) for outs in ms.values() for e in outs.values()]
        failed = [e.get("n_failed", 0) for outs in ms.values() for e in outs.values()]
        excl = [e.get("n_excluded", 0) for outs in ms.values() for e in outs.values()]
        if used:
            notes.append(f"{run.label} {m}: n used {min(used)}–{max(used)}, n failed {max(failed)}"
                         + (f", n excluded {max(excl)}" if max(excl) else ""))
    return notes


def _dedupe(items: list[str]) -> list[str]:
    seen, out = set(), []
    for i in items:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def confusion(run: RunRecord, method: str) -> pd.DataFrame | None:
    """Target vs predicted emotion counts for one method (from the emotion metric's details)."""
    recs = [d for d in run.details if d.get("metric") == "emotion" and d.get("method") == method
            and d.get("pred") is not None and d.get("emotion")]
    if not recs:
        return None
    df = pd.DataFrame([(d["emotion"], d["pred"]) for d in recs], columns=["target", "predicted"])
    return pd.crosstab(df["target"], df["predicted"])


# ------------------------------------------------------------------------------------------
# renderers
# ------------------------------------------------------------------------------------------
def to_markdown(t: Table) -> str:
    groups = [g for g, _ in t.columns]
    multi = len(set(groups)) > 1
    header = ["Method"] + [f"{g} {h}" if multi else h for g, h in t.columns]
    lines = [f"### {t.title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * len(t.columns)) + "|"]
    for name, cells in t.rows:
        out = []
        for c in cells:
            s = c.text
            if c.rank == 1:
                s = f"**{s}**"
            elif c.rank == 2:
                s = f"<u>{s}</u>"
            out.append(s)
        lines.append("| " + " | ".join([_md_escape(row_label(t, name))] + out) + " |")
    if t.footnotes:
        lines.append("")
        lines += [f"- {f}" for f in t.footnotes]
    return "\n".join(lines) + "\n"


def _md_escape(s: str) -> str:
    return s.replace("_", r"\_")


def _tex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        s = s.replace(a, b)
    return s.replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$").replace("±", r"$\pm$")


def _tex_header(h: str) -> str:
    # headers may carry math ($...$) on purpose: escape only outside it
    parts = h.split("$")
    return "$".join(_tex_escape(p) if i % 2 == 0 else p for i, p in enumerate(parts))


def to_latex(t: Table) -> str:
    n = len(t.columns)
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * n + "}", r"\toprule"]
    groups = [g for g, _ in t.columns]
    if len(set(groups)) > 1:
        spans, start = [], 0
        for i in range(1, n + 1):
            if i == n or groups[i] != groups[start]:
                spans.append((groups[start], start, i))
                start = i
        lines.append(" & " + " & ".join(rf"\multicolumn{{{b - a}}}{{c}}{{{_tex_escape(g)}}}" for g, a, b in spans)
                     + r" \\")
        lines.append("".join(rf"\cmidrule(lr){{{a + 2}-{b + 1}}}" for _, a, b in spans))
    lines.append("Method & " + " & ".join(_tex_header(h) for _, h in t.columns) + r" \\")
    lines.append(r"\midrule")
    for name, cells in t.rows:
        out = []
        for c in cells:
            s = _tex_escape(c.text)
            if c.rank == 1:
                s = rf"\textbf{{{s}}}"
            elif c.rank == 2:
                s = rf"\underline{{{s}}}"
            out.append(s)
        lines.append(_tex_escape(row_label(t, name)) + " & " + " & ".join(out) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex_escape(t.title)}.}}"]
    if t.footnotes:
        lines.append(r"\par\footnotesize " + r"\\ ".join(_tex_escape(f) for f in t.footnotes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_csv(t: Table) -> str:
    groups = [g for g, _ in t.columns]
    multi = len(set(groups)) > 1
    header = ["method"] + [f"{g} {h}" if multi else h for g, h in t.columns]
    df = pd.DataFrame([[name] + [c.value for c in cells] for name, cells in t.rows], columns=header)
    return df.to_csv(index=False)
