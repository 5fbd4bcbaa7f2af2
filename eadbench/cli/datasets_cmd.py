"""`eadbench datasets list|inspect`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from eadbench.cli.common import friendly, group
from eadbench.jsonio import dumps

app = group("List the registered datasets and inspect a dataset tree.")


@app.command("list")
@friendly
def list_():
    """The registered datasets with a one-line description each."""
    from eadbench.datasets import DATASETS

    for name, adapter in DATASETS.items():
        typer.echo(f"{name:<9} {adapter.description}")


@app.command("inspect")
@friendly
def inspect(
    dataset: str = typer.Option(..., "--dataset", "-d", help="hdtf, mead, ravdess or synth."),
    root: Path = typer.Option(..., "--root", help="Dataset root folder."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split (train/test)."),
    view: Optional[str] = typer.Option(None, "--view", help="MEAD camera view (default front)."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="HDTF: your own split list."),
    calm: Optional[str] = typer.Option(None, "--calm", help="RAVDESS calm: keep, neutral or exclude."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Scan a tree: counts per split, speaker, emotion and intensity, and every skipped file with its reason."""
    from eadbench import datasets

    options = {k: v for k, v in (("view", view), ("split_file", split_file), ("calm", calm)) if v is not None}
    res = datasets.scan(dataset, root, split=split, **options)
    s = res.summary()
    if as_json:
        typer.echo(dumps(s, sort_keys=False))
        return
    typer.echo(f"{s['dataset']} at {s['root']}: {s['clips']} clips"
               + (f" in split {split}" if split else "") + f" (split list {s['split_name']})")
    for key in ("by_split", "by_emotion", "by_intensity", "by_speaker"):
        typer.echo(f"  {key[3:]:<10} " + ", ".join(f"{k}: {v}" for k, v in s[key].items()))
    typer.echo(f"  skipped    {len(s['skipped'])} file(s)")
    for sk in s["skipped"]:
        typer.echo(f"    {sk['path']}: {sk['reason']}")
