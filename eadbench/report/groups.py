"""Per-group tables and figures: every per-clip metric broken down by any column of the clips.

Why: a method's mean hides where it fails (one speaker, one emotion, the strongest intensity). The
groups come from the per-clip table's own columns (``GROUP_COLUMNS``: speaker, emotion, intensity,
where the dataset provides them) and from any user CSV joined on ``clip_id`` (``load_groups``:
one row per clip, every other column a grouping, e.g. ``lighting``, ``head_pose_bin``).

What a cell is. For one (metric output, group), the clips every method scored (as the main table's
intersection coverage: methods are compared on the same clips), the mean over them, and the 95%
percentile bootstrap CI of that mean (``results.bootstrap_ci``: 1000 resamples, seed 0). ``n`` is
the number of those clips. A group with fewer than ``MIN_N`` clips is flagged (⚠ beside n, and in
the figure), never hidden: its CI is wide or absent, and a reader must see that. Set-level metrics
(FID, FVD, head-velocity FD) have no per-clip value and are not broken down (said in a footnote).
Within a group the compared methods are ranked (best bold, second underlined); controls are
shown and never ranked, as in the main table.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from eadbench.errors import GroupsFileError
from eadbench.report.tables import CONTROLS, DISPLAY, Cell, Table, _arrow, _fmt, _rank, _split_note, direction_of
from eadbench.results import bootstrap_ci
from eadbench.run.layout import RunRecord

#: the per-clip table's own grouping columns (results.ROW_FIELDS)
GROUP_COLUMNS = ("speaker", "emotion", "intensity")
#: groups with fewer clips than this are flagged
MIN_N = 5
FLAG = "⚠"


def load_groups(path: str | Path) -> pd.DataFrame:
    """A user CSV of group labels: a ``clip_id`` column, one row per clip, any other columns as
    groupings (read as text). Raises ``GroupsFileError`` with one line when it cannot be used."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise GroupsFileError(f"{path}: no such group-label file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise GroupsFileError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    if "clip_id" not in df.columns:
        raise GroupsFileError(f"{path}: needs a clip_id column (found: {', '.join(df.columns) or 'none'})")
    extra = [c for c in df.columns if c != "clip_id"]
    if not extra:
        raise GroupsFileError(f"{path}: no group column besides clip_id")
    clash = [c for c in extra if c in GROUP_COLUMNS or c in ("method", "metric", "output", "value", "status")]
    if clash:
        raise GroupsFileError(f"{path}: column(s) {', '.join(clash)} would shadow the run's own; rename them")
    dup = df["clip_id"][df["clip_id"].duplicated()].unique()
    if len(dup):
        raise GroupsFileError(f"{path}: clip_id {dup[0]!r} appears more than once ({len(dup)} duplicated)")
    return df.replace("", np.nan)


def _values(run: RunRecord, groups: pd.DataFrame | None) -> pd.DataFrame:
    """The scored per-clip values (ok, finite, per-clip metrics of DISPLAY) with the group columns."""
    df = run.per_clip
    if df is None or df.empty:
        return pd.DataFrame()
    df = df[(df["status"] == "ok") & df["value"].notna() & (df["metric"] != "generate")].copy()
    df["key"] = df["metric"] + "/" + df["output"]
    df = df[df["key"].isin(list(DISPLAY))]
    df["clip_id"] = df["clip_id"].astype(str)
    if groups is not None:
        df = df.merge(groups, on="clip_id", how="left")
    return df


def grouping_columns(run: RunRecord, groups: pd.DataFrame | None = None) -> list[str]:
    """The columns a run can be broken down by: its own (where any clip has a value) and the CSV's."""
    df = run.per_clip
    own = [c for c in GROUP_COLUMNS if df is not None and not df.empty and c in df and df[c].notna().any()]
    return own + ([c for c in groups.columns if c != "clip_id"] if groups is not None else [])


def _order(values) -> list[str]:
    vals = list(values)
    try:
        return [v for _, v in sorted((float(v), v) for v in vals)]
    except ValueError:
        return sorted(vals)


def group_stats(run: RunRecord, by: str, groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (group, method, metric output): mean, CI, n (intersection over the methods)."""
    df = _values(run, groups)
    if df.empty or by not in df:
        return pd.DataFrame(columns=["group", "method", "key", "mean", "lo", "hi", "n"])
    df = df[df[by].notna()]
    df = df.assign(group=df[by].map(lambda v: f"{v:g}" if isinstance(v, float) else str(v)))
    rows = []
    for (key, group), sub in df.groupby(["key", "group"], sort=False):
        wide = sub.pivot_table(index="clip_id", columns="method", values="value", aggfunc="first")
        wide = wide.dropna()  # the clips every method scored
        for method in wide.columns:
            v = wide[method].to_list()
            ci = bootstrap_ci(v)
            rows.append({"group": group, "method": method, "key": key, "mean": float(np.mean(v)) if v else None,
                         "lo": ci[0] if ci else None, "hi": ci[1] if ci else None, "n": len(v)})
    return pd.DataFrame(rows, columns=["group", "method", "key", "mean", "lo", "hi", "n"])


def group_table(run: RunRecord, by: str, groups: pd.DataFrame | None = None, min_n: int = MIN_N,
                with_ci: bool = True) -> Table | None:
    """Rows: group x method; columns: n and every per-clip metric (mean ± half the 95% CI)."""
    stats = group_stats(run, by, groups)
    if stats.empty:
        return None
    keys = [k for k in DISPLAY if k in set(stats["key"])]
    methods = [m for m in run.summary["methods"] if m in set(stats["method"])]
    direction = {k: direction_of(run, k) for k in keys}
    columns = [("", "n")] + [("", f"{DISPLAY[k][0]} {_arrow(direction[k])}".strip()) for k in keys]
    rows, controls, small = [], [], []
    idx = stats.set_index(["group", "method", "key"])
    for g in _order(stats["group"].unique()):
        block = []
        for m in methods:
            n = int(max((idx.loc[(g, m, k), "n"] for k in keys if (g, m, k) in idx.index), default=0))
            cells = [Cell(float(n), f"{n} {FLAG}" if n < min_n else str(n))]
            for k in keys:
                if (g, m, k) in idx.index:
                    r = idx.loc[(g, m, k)]
                    ci = [r["lo"], r["hi"]] if with_ci and r["lo"] is not None and not pd.isna(r["lo"]) else None
                    _, dec, scale = DISPLAY[k]
                    cells.append(Cell(r["mean"], _fmt(r["mean"], dec, scale, ci)))
                else:
                    cells.append(Cell(None, "–"))
            name = f"{g} · {m}"
            if m in CONTROLS:
                controls.append(name)
            if n < min_n and g not in small:
                small.append(g)
            block.append((name, m, cells))
        for j in range(len(keys)):  # rank the compared methods within the group
            col = [cells[1 + j] for _, _, cells in block]
            _rank(col, [m for _, m, _ in block], direction[keys[j]])
        rows += [(name, cells) for name, _, cells in block]
    notes = [f"{by}: means over the clips every method scored in the group (n)"
             + (", ± half the 95% bootstrap CI (1000 resamples, seed 0)" if with_ci else ""),
             f"{FLAG}: fewer than {min_n} clips in the group" + (f" ({', '.join(small)})" if small else " (none)")
             + ": shown, not hidden; read their values with care",
             "set-level metrics (FID, FVD, head-velocity FD) have no per-clip value and are not broken down",
             _split_note(run)]
    if controls:
        notes.append("controls, shown for reference and never ranked: "
                     + "; ".join(f"{m}: {CONTROLS[m]}" for m in CONTROLS if m in methods))
    return Table(f"Per-{by} breakdown ({run.label})", columns, rows, notes, tuple(controls))


def group_figure(run: RunRecord, by: str, out: Path, groups: pd.DataFrame | None = None,
                 min_n: int = MIN_N, max_metrics: int = 6) -> list[Path]:
    """``per_<by>.png/.pdf``: one panel per metric (the first ``max_metrics``), bars per group and
    method with their 95% CIs; flagged groups carry ⚠ and their n in the axis label."""
    from eadbench.report.figures import _save, plt

    stats = group_stats(run, by, groups)
    if stats.empty:
        return []
    keys = [k for k in DISPLAY if k in set(stats["key"])][:max_metrics]
    methods = [m for m in run.summary["methods"] if m in set(stats["method"])]
    order = _order(stats["group"].unique())
    n_of = stats.groupby("group")["n"].max().to_dict()
    labels = [f"{g}\n{FLAG} n={n_of[g]}" if n_of[g] < min_n else f"{g}\nn={n_of[g]}" for g in order]
    cols = min(2, len(keys))
    rows_ = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(max(4.0, 0.6 * len(order) * len(methods) / 2) * cols,
                                                  2.6 * rows_), squeeze=False)
    width = 0.8 / max(1, len(methods))
    idx = stats.set_index(["group", "method", "key"])
    for ax, key in zip(axes.flat, keys):
        label, _, scale = DISPLAY[key]
        for j, m in enumerate(methods):
            vals, err = [], [[], []]
            for g in order:
                r = idx.loc[(g, m, key)] if (g, m, key) in idx.index else None
                v = np.nan if r is None or r["mean"] is None else r["mean"] * scale
                vals.append(v)
                ok = r is not None and r["lo"] is not None and not pd.isna(r["lo"])
                err[0].append(v - r["lo"] * scale if ok else 0.0)
                err[1].append(r["hi"] * scale - v if ok else 0.0)
            x = np.arange(len(order)) + (j - (len(methods) - 1) / 2) * width
            ax.bar(x, vals, width, yerr=np.array(err), capsize=2, label=m, edgecolor="black", linewidth=0.4,
                   hatch="//" if m in CONTROLS else None, alpha=0.6 if m in CONTROLS else 1.0)
        ax.set_xticks(range(len(order)), labels, fontsize=7)
        ax.set_title(f"{label} {_arrow(direction_of(run, key))}".strip())
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, ncol=min(4, len(methods)))
    fig.suptitle(f"Per-{by} breakdown ({run.label}); hatched: controls; {FLAG}: fewer than {min_n} clips")
    return _save(fig, out, f"per_{by}")
