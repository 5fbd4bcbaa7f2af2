"""`eadbench check`: the CI regression gate over a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from eadbench.cli.common import fail, friendly
from eadbench.jsonio import dumps


@friendly
def check(
    run_dir: Path = typer.Argument(..., help="Run folder written by `eadbench run`."),
    baseline: Path = typer.Option(..., "--baseline", "-b", help="Baseline JSON (e.g. reports/baselines/synth.json)."),
    tolerance: Optional[List[str]] = typer.Option(None, "--tolerance", "-t", help="metric=value (absolute) or "
                                                  "metric=value% (relative); repeatable; overrides the file."),
    bootstrap: Optional[bool] = typer.Option(None, "--bootstrap/--no-bootstrap", help="Paired bootstrap test "
                                             "on per-clip metrics before calling a change a regression."),
    update: bool = typer.Option(False, "--update", help="Rewrite the baseline from this run (intentional change)."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdicts as JSON."),
):
    """Compare a run with a baseline: exit 0 if nothing regressed, 1 if something did,
    2 on bad input (missing metric, different split or protocol)."""
    from eadbench import check as chk

    tolerances = chk.parse_tolerances(tolerance or [])  # bad values: one line, before anything else
    if update:
        data = chk.update_baseline(run_dir, baseline)
        n = sum(len(v) for v in data["values"].values())
        typer.echo(f"baseline {baseline} updated from {run_dir} ({n} values)")
        raise typer.Exit(0)
    from eadbench.jsonio import load_json

    if not baseline.exists():
        fail(f"baseline {baseline} does not exist (create it with --update)", 2)
    data = chk.validate_baseline(load_json(baseline, "baseline"), baseline)
    verdicts = chk.compare(run_dir, data, tolerances, bootstrap)
    regressed = [v for v in verdicts if v.verdict == "REGRESSED"]
    if as_json:
        typer.echo(dumps([v.__dict__ for v in verdicts], sort_keys=False))
    else:
        typer.echo(chk.format_table(verdicts))
        typer.echo(f"{len(regressed)} regression(s) in {len(verdicts)} values" if regressed
                   else f"no regression in {len(verdicts)} values")
    raise typer.Exit(1 if regressed else 0)
