"""`eadbench prepare`: 25 fps video, 16 kHz audio and pinned face crops per clip, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from eadbench.cli.common import TRACKING_HELP, count, device_option, fail, friendly, split_csv


@friendly
def prepare(
    dataset: str = typer.Option(..., "--dataset", "-d", help="hdtf, mead, ravdess or synth."),
    root: Path = typer.Option(..., "--root", help="Dataset root."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (clips go to OUT/<dataset>/<clip_id>/)."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split."),
    protocols: str = typer.Option("syncnet,face256", "--protocols", help="Crop protocols to write."),
    limit: Optional[int] = count(None, "--limit", help="Only the first N clips."),
    view: Optional[str] = typer.Option(None, "--view", help="MEAD view (default front)."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="HDTF split list."),
    strict_av_length: bool = typer.Option(False, "--strict-av-length", help="Fail a clip whose audio ends more "
                                          "than 80 ms before its video (default: trim the video to the audio, "
                                          "recorded in meta.json)."),
    device: str = device_option(),
    tracking: Optional[str] = typer.Option(None, "--tracking", help=TRACKING_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Preprocess every clip (finished clips are skipped; an interrupted clip is redone). A clip
    that cannot be prepared (corrupt video, no face) is recorded in failures.jsonl and the rest go on."""
    from eadbench.prepare import prepare_dataset

    opts = {k: v for k, v in (("view", view), ("split_file", split_file)) if v is not None}
    rep = prepare_dataset(dataset, root, out, split, tuple(split_csv(protocols) or ()), limit, not quiet,
                          strict_av_length, device, tracking, **opts)
    typer.echo(f"prepared {len(rep.prepared)}, skipped {len(rep.skipped)} (already done), failed {len(rep.failed)}")
    for cid, why in rep.failed:
        typer.echo(f"  failed {cid}: {why}", err=True)
    if not rep.prepared and not rep.skipped:
        fail("no clip could be prepared", 2)
