"""`eadbench ablate`: the EAD-Net ablation table (STDA / TFRM / text switches, and the text-source axis)."""

from __future__ import annotations

import shlex
import sys
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
    recipe: str = typer.Option("default", "--recipe", help="default: the tiny preset on the training split "
                               "(300 steps, 8 DDIM steps, sync loss only with --syncnet); builtin: the shipped "
                               "EAD-Net's recipe (eadbench/builtin/eadnet.recipe.json: the training clips rendered "
                               "in every emotion, the shipped face256 expert, its steps and threads)."),
    train_steps: Optional[int] = count(None, "--train-steps", help="Training steps per variant (default: the "
                                       "recipe's)."),
    infer_steps: Optional[int] = count(None, "--infer-steps", help="DDIM steps when generating the test clips "
                                       "(default: the recipe's)."),
    steps_for: Optional[str] = typer.Option(None, "--steps-for", help="Comma-separated VARIANT=STEPS: a shorter "
                                            "recipe for those variants (the report says so)."),
    checkpoint_for: Optional[str] = typer.Option(None, "--checkpoint-for", help="Comma-separated VARIANT=FILE: "
                                                 "that variant's weights from FILE instead of training (builtin: "
                                                 "the shipped model, the full variant of --recipe builtin)."),
    source: Optional[str] = typer.Option(None, "--source", help="neutral: drive every test clip from its "
                                         "speaker's neutral clip (EAT's editing protocol; what shows the emotion "
                                         "text's effect)."),
    probe: bool = typer.Option(False, "--probe", help="Also run the emotion probe (eadbench eadnet probe "
                               "emotion) on the training split for every variant."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the ablation report (Markdown, LaTeX, "
                                          "figure, JSON) into this folder, e.g. reports/ablation."),
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
              progress=not quiet, text_source=split_csv(text_source), recipe=recipe,
              steps_for={k: _positive(k, v) for k, v in _pairs("--steps-for", steps_for).items()},
              checkpoint_for=_pairs("--checkpoint-for", checkpoint_for), source=source, probe=probe,
              report=report, command=shlex.join(["eadbench", *sys.argv[1:]]))
    typer.echo(res.table)


def _pairs(flag: str, text: Optional[str]) -> dict[str, str]:
    """``a=1,b=2`` -> {"a": "1", "b": "2"}; one-line error (exit 2) for anything else."""
    from eadbench.errors import ConfigError

    out = {}
    for item in split_csv(text) or []:
        k, sep, v = item.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise ConfigError(f"{flag} expects VARIANT=VALUE pairs separated by commas, got {item!r}")
        out[k.strip()] = v.strip()
    return out


def _positive(name: str, value: str) -> int:
    from eadbench.errors import ConfigError

    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--steps-for {name}: steps must be a positive whole number, got {value!r}")
    return int(value)
