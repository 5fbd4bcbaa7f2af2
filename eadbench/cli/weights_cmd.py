"""`eadbench weights list|fetch|verify`: the pretrained files, where they are, whether they check."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from eadbench.cli.common import friendly, group, weights_dir_option
from eadbench.jsonio import dumps

app = group("Pretrained weight files: list, download (when online), verify.")


@app.command("list")
@friendly
def list_(weights_dir: Optional[Path] = weights_dir_option(),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Every weight file eadbench and EAD-Net use: present or not, where, and whether its hash checks."""
    from eadbench.weights import WEIGHTS, status

    rows = [status(n, weights_dir) for n in WEIGHTS.names()]
    if as_json:
        typer.echo(dumps(rows, sort_keys=False))
        return
    for r in rows:
        mark = "ok " if r["present"] and r["hash_ok"] is not False and not r.get("problem") else "-- "
        h = {True: "hash ok", False: "HASH MISMATCH", None: f"no published hash, {r.get('check')}"}[r["hash_ok"]] \
            if r["present"] else ""
        if r.get("problem"):
            mark, h = "!! ", f"BROKEN: {r['problem']}"
        typer.echo(f"{mark}{r['name']:<22} {r['file']:<40} {', '.join(r['used_by']):<22} "
                   + (f"{r['source']}: {r['path']} ({h})" if r["present"] else "missing"))
        if r["present"] and r.get("no_hash_reason"):
            typer.echo(f"   {'':<22} why no hash: {r['no_hash_reason']}")
    missing = [r for r in rows if not r["present"]]
    if missing:
        typer.echo(f"\n{len(missing)} missing; `eadbench weights fetch NAME` downloads when online, or place "
                   "the file in --weights-dir / $EADBENCH_WEIGHTS.")


@app.command("fetch")
@friendly
def fetch(names: Optional[List[str]] = typer.Argument(None, help="Entries to fetch (default: all missing)."),
          weights_dir: Optional[Path] = weights_dir_option()):
    """Download missing files from their official addresses (hash-checked, atomic)."""
    from eadbench.errors import EadbenchError
    from eadbench.weights import WEIGHTS, is_available
    from eadbench.weights import fetch as do_fetch

    for n in names or []:
        WEIGHTS.get(n)  # an unknown name is bad input (exit 2), as for `weights verify`
    targets = names or [n for n in WEIGHTS.names() if not is_available(n, weights_dir)]
    failed = 0
    for n in targets:
        try:
            loc = do_fetch(n, weights_dir)
            typer.echo(f"ok  {n}: {loc.path}")
        except EadbenchError as exc:
            failed += 1
            typer.echo(f"--  {n}: {exc}", err=True)
    raise typer.Exit(3 if failed else 0)


@app.command("verify")
@friendly
def verify(names: Optional[List[str]] = typer.Argument(None, help="Entries to verify (default: all present)."),
           weights_dir: Optional[Path] = weights_dir_option()):
    """Check the sha256 of present files against the published values; exit 3 on a mismatch."""
    from eadbench.weights import WEIGHTS, status

    for n in names or []:
        WEIGHTS.get(n)  # an unknown name is bad input (exit 2), as for `weights fetch`
    bad = 0
    for n in names or WEIGHTS.names():
        r = status(n, weights_dir)
        if not r["present"]:
            if names:
                typer.echo(f"--  {n}: missing ({r.get('fix')})")
                bad += 1
            continue
        if r["hash_ok"] is False:
            bad += 1
            typer.echo(f"BAD {n}: {r['path']} does not match its published hash")
        elif r.get("problem"):
            bad += 1
            typer.echo(f"BAD {n}: {r['path']}: {r['problem']}")
        else:
            typer.echo(f"ok  {n}: {'hash ok' if r['hash_ok'] else 'no published hash, ' + r['check']}")
    raise typer.Exit(3 if bad else 0)
