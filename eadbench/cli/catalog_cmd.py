"""`eadbench metrics list` and `eadbench methods list`: what is registered, read from the
registries themselves (the metric table and the generator classes), never from a copy."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from eadbench.cli.common import friendly, group, weights_dir_option
from eadbench.jsonio import dumps

metrics_app = group("The registered metrics: direction, needs, protocols, weights.")
methods_app = group("The registered methods (generators) and their options.")


@metrics_app.command("list")
@friendly
def metrics_list(weights_dir: Optional[Path] = weights_dir_option(),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Every metric: level, direction of each output, what it needs, its protocols (the first is
    the default; choose another with `run --protocol METRIC=NAME`), options, its weight
    files with whether they are present here, and its torchmetrics class and functional twin."""
    from eadbench.metrics import METRICS
    from eadbench.weights import is_available

    rows = []
    for name, info in METRICS.items():
        rows.append({
            "name": name, "level": info.level, "description": info.description,
            "outputs": {o: info.direction_of(o) for o in info.outputs}, "needs": list(info.needs),
            "protocols": [{"key": p.key, "crop": p.crop, "parameters": dict(p.params),
                           "outputs": list(info.outputs_of(p))} for p in info.protocols],
            "options": {o.name: o.help for o in info.options},
            "weights": {w: is_available(w, weights_dir) for w in info.weights},
            "python": {"class": f"eadbench.metrics.{info.torchmetric.name}" if info.torchmetric else None,
                       "functional": f"eadbench.metrics.functional.{info.functional.__name__}"
                       if info.functional else None},
        })
    if as_json:
        typer.echo(dumps(rows, lenient=True, sort_keys=False))
        return
    for r in rows:
        arrows = " ".join(f"{o}{'↑' if d == 'higher' else '↓' if d == 'lower' else ''}"
                           for o, d in r["outputs"].items())
        weights = ", ".join(f"{w} ({'present' if ok else 'MISSING'})" for w, ok in r["weights"].items()) or "none"
        typer.echo(f"{r['name']:<8} {r['level']:<5} {arrows}")
        typer.echo(f"         {r['description']}")
        typer.echo(f"         needs: {', '.join(r['needs']) or 'the generated video only'}; protocols: "
                   + ", ".join(p["key"] + (f" (crop {p['crop']})" if p["crop"] else "")
                               + (f" [value {p['outputs'][0]}]" if len(r["protocols"]) > 1
                                  and len({q["outputs"][0] for q in r["protocols"]}) > 1 else "")
                               for p in r["protocols"]))
        if r["options"]:
            typer.echo("         options: " + "; ".join(f"{k}: {v}" for k, v in r["options"].items()))
        typer.echo(f"         weights: {weights}")
        python = [v for v in r["python"].values() if v]
        if python:
            typer.echo(f"         python: {', '.join(python)}")


@methods_app.command("list")
@friendly
def methods_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Every method `run --methods` accepts (and third-party ones registered through the
    ``eadbench.methods`` entry point), with the options each takes in a run config."""
    from eadbench import generators

    rows = [{"name": n, "description": cls.description, "options": cls.option_help(),
             "module": cls.__module__} for n, cls in generators.GENERATORS.items()]
    if as_json:
        typer.echo(dumps(rows, sort_keys=False))
        return
    for r in rows:
        typer.echo(f"{r['name']:<13} {r['description']}")
        for k, v in r["options"].items():
            typer.echo(f"    {k}: {v}")
