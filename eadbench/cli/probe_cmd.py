"""`eadbench probe`: behaviour probes of the compared methods (today: the silent-mouth probe).
A thin layer over ``eadbench.probes``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from eadbench.cli.common import TRACKING_HELP, count, device_option, friendly, group, split_csv, weights_dir_option
from eadbench.jsonio import dumps

app = group("Behaviour probes of the compared methods.")


@app.command("lipleak")
@friendly
def lipleak(
    dataset: str = typer.Option("synth", "--dataset", "-d", help="hdtf, mead, ravdess or synth (built-in data "
                                "when --root is omitted)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset root (omit for the built-in data)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to use (default test)."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="Your own split list (HDTF)."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Comma-separated methods (default: the run's "
                                          "defaults for the dataset)."),
    eadnet_checkpoint: Optional[Path] = typer.Option(None, "--eadnet-checkpoint", help="Checkpoint for the eadnet "
                                                     "method (the built-in data trains one when omitted)."),
    limit: Optional[int] = count(4, "--limit", help="Only the first N clips by id (0: all).", min=0),
    out: Path = typer.Option(Path("runs/lipleak-probe"), "--out", "-o", help="Folder for lipleak_probe.json, the "
                             "probe's audio and the methods' videos."),
    device: str = device_option(),
    tracking: Optional[str] = typer.Option(None, "--tracking", help=TRACKING_HELP),
    weights_dir: Optional[Path] = weights_dir_option(),
    as_json: bool = typer.Option(False, "--json", help="Print lipleak_probe.json instead of the table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Silent-mouth probe: drive every method with silence, and with each clip's audio silenced
    from its middle frame, and measure lipleak (the fraction of silent frames whose mouth is open
    or moving; lower is better) on what it makes. A method that follows its audio keeps the mouth
    closed and still; one that replays or invents talking motion leaks. ground_truth copies the
    real video whatever the audio, so it leaks as any method that ignores the audio must."""
    from eadbench import config as config_mod
    from eadbench.probes.lipleak import format_table, probe_dataset

    cfg = config_mod.resolve(None, dataset=dataset, root=None if root is None else str(root), split=split,
                             split_file=None if split_file is None else str(split_file), quiet=quiet,
                             device=device, tracking=tracking, limit=limit or None,
                             weights_dir=None if weights_dir is None else str(weights_dir),
                             methods=split_csv(methods) if methods else None)
    if eadnet_checkpoint:
        for spec in (m for m in cfg.methods if m.method == "eadnet"):
            spec.options["checkpoint"] = str(eadnet_checkpoint)
    report = probe_dataset(cfg, out, echo=lambda s: typer.echo(s, err=True), progress=not quiet)
    typer.echo(dumps(report, lenient=True, sort_keys=False) if as_json else format_table(report))
    for f in report["failures"][:20]:
        typer.echo(f"  {f['clip']}/{f.get('method') or '-'}/{f.get('case') or '-'}: {f['reason']}", err=True)
    typer.echo(f"results in {out}", err=True)
