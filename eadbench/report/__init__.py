"""Run folders -> paper tables (Markdown, LaTeX, CSV), figures and an HTML comparison page."""

from __future__ import annotations

from pathlib import Path

from eadbench.atomic import atomic_write_text
from eadbench.report import figures as figures_mod
from eadbench.report import tables as tables_mod
from eadbench.report.html import write_page
from eadbench.run.layout import load_run

FORMATS = ("md", "latex", "csv", "html")


def write_report(run_dirs: list[str | Path], out: str | Path, formats: tuple[str, ...] = FORMATS,
                 metrics: list[str] | None = None, with_ci: bool = False, copy_videos: bool = False,
                 max_clips: int | None = None, figures: bool = True) -> dict[str, list[Path]]:
    bad = set(formats) - set(FORMATS)
    if bad:
        from eadbench.errors import EadbenchError

        raise EadbenchError(f"unknown report format(s) {', '.join(sorted(bad))}; choose from {', '.join(FORMATS)}")
    from eadbench.locking import claim_folder

    runs = [load_run(p) for p in run_dirs]  # bad runs: one line, before --out is created
    with claim_folder(out, "eadbench report", "report") as folder:
        return _write(runs, folder, formats, metrics, with_ci, copy_videos, max_clips, figures)


def _write(runs, out: Path, formats: tuple[str, ...], metrics: list[str] | None, with_ci: bool, copy_videos: bool,
           max_clips: int | None, figures: bool) -> dict[str, list[Path]]:
    tables = [tables_mod.main_table(runs, metrics, with_ci)]
    for run in runs:
        for by in ("emotion", "intensity"):
            t = tables_mod.breakdown_table(run, by)
            if t is not None:
                tables.append(t)
    written: dict[str, list[Path]] = {}
    names = ["main"] + [t.title.split(" (")[0].lower().replace(" ", "_").replace("-", "_") + f"_{i}"
                        for i, t in enumerate(tables[1:], 1)]
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
