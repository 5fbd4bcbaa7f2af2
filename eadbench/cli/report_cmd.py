"""`eadbench report`: paper tables, figures and an HTML comparison page from run folders."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from eadbench.cli.common import count, friendly, split_csv


@friendly
def report(
    run_dirs: List[Path] = typer.Argument(..., help="One or more run folders (several datasets side by side)."),
    out: Path = typer.Option(Path("reports/latest"), "--out", "-o", help="Report folder."),
    format: str = typer.Option("md,latex,csv,html", "--format", "-f", help="Comma-separated: md, latex, csv, html."),
    metrics: Optional[str] = typer.Option(None, "--metrics",
                                          help="Only these metrics (e.g. ssim,fid,fvd,lse,emotion)."),
    ci: bool = typer.Option(False, "--ci", help="Add ± half-width of the 95% bootstrap CI to table cells."),
    copy_videos: bool = typer.Option(False, "--copy-videos", help="Copy videos into the report folder so it "
                                     "travels alone (default: link to the run folders)."),
    max_clips: Optional[int] = count(None, "--max-clips", help="At most N clips on the HTML page."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the matplotlib figures."),
    by: Optional[str] = typer.Option(None, "--by", help="Break every per-clip metric down by these columns "
                                     "(comma-separated; default: every one the run provides: speaker, emotion, "
                                     "intensity, and the --groups file's columns)."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="CSV of your own group labels: a clip_id "
                                          "column and any others (e.g. lighting,pose), joined on clip_id."),
    min_group_n: int = count(5, "--min-group-n", help="Flag groups with fewer clips than this (shown, "
                             "never hidden)."),
):
    """Write the main comparison table (best in bold, second underlined), per-group breakdowns
    (speaker, emotion, intensity, your own labels) with n and 95% CIs, confusion matrices, figures
    (PNG+PDF) and index.html (every clip's videos with its scores, sortable worst first)."""
    from eadbench.report import write_report

    written = write_report(run_dirs, out, tuple(split_csv(format) or ()), split_csv(metrics), ci, copy_videos,
                           max_clips, figures=not no_figures, by=split_csv(by), groups=groups,
                           min_group_n=min_group_n)
    for kind, paths in written.items():
        typer.echo(f"{kind}: {len(paths)} file(s)")
    main_md = out / "main.md"
    if main_md.exists():
        typer.echo(main_md.read_text())
    if (out / "index.html").exists():
        typer.echo(f"open {out / 'index.html'}")
