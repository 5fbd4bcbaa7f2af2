"""`eadbench syncnet train`: a sync expert for LSE and EAD-Net's sync loss on your data."""

from __future__ import annotations

from pathlib import Path

import typer

from eadbench.cli.common import count, fail, friendly, group

app = group("Train a SyncNet sync expert on prepared clips.")


@app.command("train")
@friendly
def train(
    data: Path = typer.Option(..., "--data", help="Prepared clips (output of `eadbench prepare`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Weights file to write (use with `eadbench run --syncnet`)."),
    steps: int = count(1500, "--steps", help="Training steps (batches of 64 windows)."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation and batch sampling."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from OUT.ckpt when present."),
    crop: str = typer.Option("syncnet", "--crop", help="Crop protocol to learn from: syncnet (for LSE with "
                             "`eadbench run --syncnet`) or face256 (for EAD-Net's sync loss, which sees the "
                             "lower half of face256 crops)."),
    holdout: float = typer.Option(0.25, "--holdout", help="Fraction of speakers held out for the printed "
                                  "accuracies; 0 trains on every clip (the accuracies are then training-set figures)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Contrastive training on in-sync vs shifted 5-frame windows (small CPU variant); prints the
    held-out sync accuracy and offset accuracy."""
    from eadbench.syncnet_train import train as run

    if not 0.0 <= holdout < 1.0:
        fail("--holdout must be in [0, 1)")
    run(data, out, steps=steps, seed=seed, resume=resume, progress=not quiet, echo=typer.echo, crop=crop,
        holdout=holdout)
