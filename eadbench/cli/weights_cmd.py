"""`eadbench weights ...` (stub: implemented in issue 3)."""

from __future__ import annotations

import typer

from eadbench.cli.common import not_implemented

app = typer.Typer(help="Not implemented yet (issue 3).", no_args_is_help=True)


@app.command("todo")
def _todo():
    """Not implemented yet."""
    not_implemented("weights", 3)
