"""`eadbench ablate`: the EAD-Net ablation table (STDA / TFRM / text switches, and the text-source axis)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from eadbench.cli.common import count, friendly, split_csv


@friendly
def ablate(
    dataset: str = typer.Option("synth", "--dataset", help="Only the built-in synthetic data is supported here."),
    variants: Optional[str] = typer.Option(None, "--variants", help="Comma-separated: baseline,+stda,+tfrm,+text,"
                                           "full,no-stda,no-tfrm,no-text (default: the paper's rows)."),
    grid: bool = typer.Option(False, "--grid", help="All 2^3 switch combinations."),
    train_steps: int = count(300, "--train-steps", help="Training steps per variant."),
    infer_steps: int = count(8, "--infer-steps", help="DDIM steps when generating the test clips."),
    checkpoints: Optional[Path] = typer.Option(None, "--checkpoints", help="Load DIR/<variant>/checkpoint.pt "
                                               "instead of training."),
    out: Path = typer.Option(Path("runs/ablate-synth"), "--out", "-o", help="Output folder."),
    limit: Optional[int] = count(None, "--limit", help="Only the first N test clips."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Metrics (default: every available one)."),
    syncnet: Optional[str] = typer.Option(None, "--syncnet", help="Enables the sync loss (the tiny preset's "
                                          "w_sync 0.02; change with --set w_sync=...) with this expert, trained by "
                                          "`eadbench syncnet train --crop face256`; 'auto' trains one on the "
                                          "training clips first."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="EAD-Net config override key=value (all variants)."),
    text_source: Optional[str] = typer.Option(
        None, "--text-source", help="Comma-separated sources of the emotion texts, each variant trained once "
        "per source: template (the label's sentence) and/or face (per-clip descriptions measured on the "
        "video, `eadbench eadnet describe`). Default: template only, rows unchanged."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
):
    """Train (or load) EAD-Net per switch set with the same seed and data order, generate the
    synthetic test clips, score them, and print the ablation table (also in OUT/ablation.md)."""
    import yaml

    from eadbench.ablate import ablate as run
    from eadbench.errors import EadbenchError

    if dataset != "synth":
        raise EadbenchError("eadbench ablate runs on the built-in synthetic data (--dataset synth); for a real "
                            "dataset train variants with `eadbench eadnet train` and compare them with `eadbench run`")
    overrides = {}
    for item in set_ or []:
        k, _, v = item.partition("=")
        val = yaml.safe_load(v)
        overrides[k.strip()] = tuple(val) if isinstance(val, list) else val
    res = run(out, split_csv(variants), grid, train_steps, infer_steps, checkpoints, overrides, None, limit,
              split_csv(metrics), syncnet, echo=lambda s: typer.echo(s, err=True),
              progress=not quiet, text_source=split_csv(text_source))
    typer.echo(res.table)
