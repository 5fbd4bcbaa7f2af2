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
):
    """Write the main comparison table (best in bold, second underlined), per-emotion and
    per-intensity breakdowns, confusion matrices, figures (PNG+PDF) and index.html."""
    from eadbench.report import write_report

    written = write_report(run_dirs, out, tuple(split_csv(format) or ()), split_csv(metrics), ci, copy_videos,
                           max_clips, figures=not no_figures)
    for kind, paths in written.items():
        typer.echo(f"{kind}: {len(paths)} file(s)")
    main_md = out / "main.md"
    if main_md.exists():
        typer.echo(main_md.read_text())
    if (out / "index.html").exists():
        typer.echo(f"open {out / 'index.html'}")
