"""`eadbench builtin list/train`: the models shipped in eadbench/builtin/ (the default run's
tiny EAD-Net and sync experts), and retraining them from scratch with their recorded recipe.

The default run loads the shipped files and trains nothing; this is how anyone checks that the
recipe still makes them (`train`, compared with the shipped file) or replaces them (`--install`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from eadbench.cli.common import count, fail, friendly, group, split_csv

app = group("The built-in models shipped in eadbench/builtin/: list them, retrain them with their recipe.")


@app.command("list")
@friendly
def list_models(as_json: bool = typer.Option(False, "--json", help="JSON instead of lines.")):
    """Each shipped model: file, size, sha256 (checked against the weight table), seed, steps and
    its final figures from the recipe beside it."""
    from eadbench.builtin import MODELS, _figures, recipe_path, shipped

    rows = []
    for name in MODELS:
        path = shipped(name)  # raises, one line, when a file does not match the table
        recipe = json.loads(recipe_path(name).read_text())
        rows.append({"name": name, "file": str(path), "size": path.stat().st_size, "sha256": recipe["sha256"],
                     "seed": recipe.get("seed"), "steps": recipe["config"].get("steps"),
                     "threads": recipe["environment"].get("threads"), "figures": _figures(recipe)})
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        figs = ", ".join(f"{k} {v:.4g}" for k, v in r["figures"].items())
        typer.echo(f"{r['name']}: {r['file']} ({r['size']:,} bytes, sha256 {r['sha256'][:16]}..., hash ok), "
                   f"{r['steps']} steps, seed {r['seed']}, {r['threads']} threads; {figs}")


@app.command("train")
@friendly
def train(
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated: eadnet, lse, face256 (default all). "
                                       "eadnet trains its face256 sync expert first, as its recipe does."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the retrained files and recipes "
                                       "(default $EADBENCH_CACHE/builtin-train). Never the shipped folder."),
    steps: Optional[int] = count(None, "--steps", help="Override every recipe's step count (a quick check: the "
                                 "result is then not the recipe's, and --install refuses it)."),
    install: bool = typer.Option(False, "--install", help="Replace the shipped files with the retrained ones "
                                 "and pin their sha256 and size in the weight table (eadbench/weights/table.py)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
):
    """Retrain built-in models from scratch with their recipe (the built-in data's training split,
    2 torch threads) and print how each compares with the shipped file: the recipe's figures side
    by side and the largest weight difference."""
    from eadbench import builtin
    from eadbench.weights import eadbench_cache

    names = split_csv(only) or list(builtin.MODELS)
    for n in names:
        if n not in builtin.MODELS:
            fail(f"--only: unknown built-in model {n!r}; choose from {', '.join(builtin.MODELS)}")
    if install and steps is not None:
        fail("--install ships only models trained with their recipe's steps; drop --steps")
    folder = Path(out) if out is not None else eadbench_cache() / "builtin-train"
    if folder.resolve() == builtin.HERE:
        fail(f"{folder}: that is the shipped folder; write elsewhere and use --install to replace the shipped files")
    from eadbench.locking import folder_lock

    with folder_lock(folder, "eadbench builtin train"):
        compared = builtin.train(names, folder, steps=steps, echo=lambda s: typer.echo(s, err=True),
                                 progress=not quiet)
        for n in compared:
            typer.echo(builtin.format_comparison(builtin.compare(n, folder)))
        if install:
            for n in compared:
                typer.echo(f"installed {builtin.install(n, folder)} (weight table updated)")
    typer.echo(f"retrained files and recipes in {folder}")
