"""`eadbench synth`: write the built-in synthetic dataset in a real layout."""

from __future__ import annotations

from pathlib import Path

import typer

from eadbench.cli.common import friendly


@friendly
def synth(
    layout: str = typer.Option("mead", "--layout", help="mead, hdtf or ravdess: the real loaders read it unchanged."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (replaced atomically)."),
    speakers: int = typer.Option(4, "--speakers", help="Speakers (distinct real face photos and voices)."),
    clips: int = typer.Option(2, "--clips", help="Clips per speaker (emotions and levels cycle)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same data."),
    seconds: float = typer.Option(3.0, "--seconds", help="Clip length in seconds."),
    size: int = typer.Option(256, "--size", help="Frame size in pixels (even)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Talking faces (animated scikit-image face photos) with real speech (espeak-ng, or a
    built-in synthesiser), lip-synced by construction, expression following emotion and
    intensity; ground truth per clip in _groundtruth/."""
    from eadbench.errors import EadbenchError
    from eadbench.synth import write_dataset_atomic

    if layout not in ("mead", "hdtf", "ravdess"):
        raise EadbenchError(f"--layout must be mead, hdtf or ravdess, got {layout!r}")
    if speakers < 1 or clips < 1 or seconds <= 0.5:
        raise EadbenchError("--speakers and --clips must be at least 1 and --seconds above 0.5")
    write_dataset_atomic(out, layout=layout, speakers=speakers, clips=clips, seed=seed, seconds=seconds,
                         size=size, progress=not quiet)
    typer.echo(f"wrote {speakers * clips} {layout}-layout clips to {out}")
