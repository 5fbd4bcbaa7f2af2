"""Run folders -> paper tables (Markdown, LaTeX, CSV), figures and an HTML comparison page.

The main comparison (``tables.main_table``), one per-group breakdown per grouping column
(``groups``: speaker, emotion, intensity and any user CSV's columns), confusion matrices, the
figures (``figures``, plus one per grouping) and ``index.html`` (``html``: every clip's videos with
its scores, sortable worst first)."""

from __future__ import annotations

from pathlib import Path

from eadbench.atomic import atomic_write_text
from eadbench.report import figures as figures_mod
from eadbench.report import groups as groups_mod
from eadbench.report import tables as tables_mod
from eadbench.report.html import write_page
from eadbench.run.layout import load_run

FORMATS = ("md", "latex", "csv", "html")


def write_report(run_dirs: list[str | Path], out: str | Path, formats: tuple[str, ...] = FORMATS,
                 metrics: list[str] | None = None, with_ci: bool = False, copy_videos: bool = False,
                 max_clips: int | None = None, figures: bool = True, by: list[str] | None = None,
                 groups: str | Path | None = None, min_group_n: int = groups_mod.MIN_N) -> dict[str, list[Path]]:
    """``by``: the grouping columns to break every per-clip metric down by (default: every column
    the runs provide, and the ``groups`` CSV's); ``groups``: a CSV of group labels joined on
    clip_id (``groups.load_groups``); groups with fewer than ``min_group_n`` clips are flagged."""
    bad = set(formats) - set(FORMATS)
    if bad:
        from eadbench.errors import EadbenchError

        raise EadbenchError(f"unknown report format(s) {', '.join(sorted(bad))}; choose from {', '.join(FORMATS)}")
    from eadbench.locking import claim_folder

    runs = [load_run(p) for p in run_dirs]  # bad runs: one line, before --out is created
    labels = groups_mod.load_groups(groups) if groups is not None else None
    if by:
        known = set().union(*(groups_mod.grouping_columns(r, labels) for r in runs))
        unknown = [b for b in by if b not in known]
        if unknown:
            from eadbench.errors import ChoiceError

            raise ChoiceError(f"cannot group by {', '.join(unknown)}: the runs provide "
                              f"{', '.join(sorted(known)) or 'no grouping column'} (add others with --groups FILE.csv)")
    with claim_folder(out, "eadbench report", "report") as folder:
        return _write(runs, folder, formats, metrics, with_ci, copy_videos, max_clips, figures, by, labels,
                      min_group_n)


def _write(runs, out: Path, formats: tuple[str, ...], metrics: list[str] | None, with_ci: bool, copy_videos: bool,
           max_clips: int | None, figures: bool, by: list[str] | None, labels, min_group_n: int
           ) -> dict[str, list[Path]]:
    tables = [tables_mod.main_table(runs, metrics, with_ci)]
    names = ["main"]
    breakdowns: list[tuple[object, str]] = []  # (run, column)
    for run in runs:
        for col in by or groups_mod.grouping_columns(run, labels):
            t = groups_mod.group_table(run, col, labels, min_group_n)
            if t is not None:
                tables.append(t)
                names.append(f"per_{col}" + (f"_{run.path.name}" if len(runs) > 1 else ""))
                breakdowns.append((run, col))
    written: dict[str, list[Path]] = {}
    for fmt, render, ext in (("md", tables_mod.to_markdown, "md"), ("latex", tables_mod.to_latex, "tex"),
                             ("csv", tables_mod.to_csv, "csv")):
        if fmt in formats:
            for name, t in zip(names, tables):
                p = out / f"{name}.{ext}"
                atomic_write_text(p, render(t))
                written.setdefault(fmt, []).append(p)
    if "md" in formats:
        conf = []
        for run in runs:
            for m in run.summary["methods"]:
                cm = tables_mod.confusion(run, m)
                if cm is not None:
                    conf.append(f"### Emotion confusion ({run.label}, {m}): rows target, columns predicted\n\n"
                                + _md_matrix(cm) + "\n")
        if conf:
            p = out / "confusion.md"
            atomic_write_text(p, "\n".join(conf))
            written["md"].append(p)
    figs: list[Path] = []
    if figures:
        for run in runs:
            fig_dir = out / "figures" / (run.path.name if len(runs) > 1 else "")
            for make in figures_mod.ALL_FIGURES:
                figs += make(run, fig_dir)
            for r, col in breakdowns:
                if r is run:
                    figs += groups_mod.group_figure(run, col, fig_dir, labels, min_group_n)
        written["figures"] = figs
    if "html" in formats:
        written["html"] = [write_page(out, runs, tables, figs, copy_videos, max_clips)]
    return written


def _md_matrix(cm) -> str:
    cols = [str(c) for c in cm.columns]
    lines = ["| target \\ predicted | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for idx, row in cm.iterrows():
        lines.append(f"| {idx} | " + " | ".join(str(int(v)) for v in row.to_numpy()) + " |")
    return "\n".join(lines)
