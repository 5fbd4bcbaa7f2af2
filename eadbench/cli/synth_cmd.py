"""`eadbench synth`: write the built-in synthetic dataset in a real layout."""

from __future__ import annotations

from pathlib import Path

import typer

from eadbench.cli.common import friendly


@friendly
def synth(
    layout: str = typer.Option("mead", "--layout", help="mead, hdtf or ravdess: the real loaders read it unchanged."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write: new, empty, or an earlier `eadbench "
                             "synth` output (replaced whole, atomically). Any other folder is refused."),
    speakers: int = typer.Option(4, "--speakers", help="Speakers (distinct real face photos and voices)."),
    clips: int = typer.Option(2, "--clips", help="Clips per speaker (emotions and levels cycle)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same data."),
    seconds: float = typer.Option(3.0, "--seconds", help="Clip length in seconds."),
    size: int = typer.Option(256, "--size", help="Frame size in pixels (even)."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty folder that eadbench did not "
                               "write, in place: same-named files are replaced, nothing is deleted."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Talking faces (animated scikit-image face photos) with real speech (espeak-ng, or a
    built-in synthesiser), lip-synced by construction, expression following emotion and
    intensity; ground truth per clip in _groundtruth/."""
    from eadbench.synth import write_dataset_atomic

    write_dataset_atomic(out, force=force, note=lambda s: typer.echo(s, err=True), layout=layout,
                         speakers=speakers, clips=clips, seed=seed, seconds=seconds, size=size, progress=not quiet)
    typer.echo(f"wrote {speakers * clips} {layout}-layout clips to {out}")
