"""`eadbench score`: any metric on images or videos you already have."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from eadbench.cli.common import friendly, split_csv


@friendly
def score(
    metric: str = typer.Option(..., "--metric", "-m", help="Metric name(s), comma-separated: ssim, psnr, lpips, "
                               "fid, fvd, lse, emotion, lmd, csim."),
    fake: Path = typer.Option(..., "--fake", help="Generated: image folder, video, or folder of videos."),
    real: Optional[Path] = typer.Option(None, "--real", help="Real counterpart (paired by sorted name / file name)."),
    audio: Optional[Path] = typer.Option(None, "--audio", help="Audio for LSE (default: the video's own track)."),
    emotion: Optional[str] = typer.Option(None, "--emotion", help="Target emotion for emotion accuracy."),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="Metric protocol, e.g. latentsync for FVD."),
    crop: str = typer.Option("auto", "--crop", help="auto, none, or a crop protocol (syncnet, face256, face224)."),
    weights_dir: Optional[Path] = typer.Option(None, "--weights-dir", envvar="EADBENCH_WEIGHTS",
                                               help="Folder with weight files."),
    trust_weights: bool = typer.Option(False, "--trust-weights", help="Allow unpickling unknown-hash model files."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object, or a list for several metrics)."),
):
    """Score files with one or more metrics. Exit 0 ok, 2 bad arguments or unreadable input,
    3 a needed weight file is missing."""
    from eadbench.score import score as run_score

    res = run_score(split_csv(metric) or [], fake, real, audio, emotion, protocol, crop,
                    str(weights_dir) if weights_dir else None, trust_weights)
    if as_json:
        clean = [{k: r[k] for k in ("metric", "value", "protocol", "n", "per_item", "weights", "values",
                                    "n_failed", "failures")} for r in res]
        typer.echo(json.dumps(clean[0] if len(clean) == 1 else clean, indent=2, default=_plain))
        return
    for r in res:
        v = r["value"]
        shown = "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"
        extra = "  ".join(f"{k}={_fmt(x)}" for k, x in r["values"].items() if k != r["metric"] and
                          isinstance(x, (int, float)))
        typer.echo(f"{r['metric']}: {shown}  ({r['protocol']}, n={r['n']}"
                   + (f", failed={r['n_failed']}" if r["n_failed"] else "") + f")  {extra}".rstrip())


def _fmt(x):
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _plain(o):
    try:
        import numpy as np

        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
    except ImportError:
        pass
    return str(o)
