"""`eadbench score`: any metric on images or videos you already have."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from eadbench.cli.common import (
    TRACKING_HELP,
    device_option,
    echo_timings,
    fail,
    friendly,
    split_csv,
    weights_dir_option,
)
from eadbench.jsonio import dumps, finite


@friendly
def score(
    metric: str = typer.Option(..., "--metric", "-m", help="Metric name(s), comma-separated: ssim, psnr, lpips, "
                               "fid, fvd, lse, emotion, lmd, csim."),
    fake: Path = typer.Option(..., "--fake", help="Generated: image folder, video, or folder of videos."),
    real: Optional[Path] = typer.Option(None, "--real", help="Real counterpart (paired by sorted name / file name)."),
    audio: Optional[Path] = typer.Option(None, "--audio", help="Audio for LSE (default: the video's own track)."),
    emotion: Optional[str] = typer.Option(None, "--emotion", help="Target emotion for emotion accuracy."),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="Metric protocol: NAME for the metric(s) "
                                           "scored, e.g. latentsync for FVD, or METRIC=NAME[,METRIC=NAME]."),
    crop: str = typer.Option("auto", "--crop", help="auto, none, or a crop protocol (syncnet, face256, face224)."),
    weights_dir: Optional[Path] = weights_dir_option(),
    trust_weights: bool = typer.Option(False, "--trust-weights", help="Allow unpickling unknown-hash model files."),
    allow_length_mismatch: bool = typer.Option(False, "--allow-length-mismatch", help="Score paired videos "
                                               "whose frame counts differ by more than 2 (their first frames "
                                               "are compared); refused by default."),
    device: str = device_option(),
    tracking: Optional[str] = typer.Option(None, "--tracking", help=TRACKING_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object, or a list for several metrics)."),
    profile: bool = typer.Option(False, "--profile", help="Print every stage's wall and CPU seconds, frames and "
                                 "frames/s (on stderr)."),
):
    """Score files with one or more metrics. Every metric is reported, even when another one
    fails. Exit 0 when every metric has a value; 2 when a metric has none (n/a: its reason is
    printed, e.g. every clip excluded as too short), bad arguments or unreadable input (after
    printing the others); 3 a needed weight file is missing. --json is always valid JSON: a
    metric without a value has "value": null and a "reason"."""
    from eadbench.scoring import score as run_score
    from eadbench.streams import Timer, cpu_seconds

    names = split_csv(metric) or []
    if not names:
        fail("--metric names no metric")
    timer, started, started_cpu = Timer(), time.perf_counter(), cpu_seconds()
    res = run_score(names, fake, real, audio, emotion, protocol, crop, str(weights_dir) if weights_dir else None,
                    trust_weights, allow_length_mismatch, device, tracking, timer=timer)
    if profile or not as_json:  # stderr, but kept out of --json output read through pipes that merge them
        echo_timings({"stages": timer.table(), "wall": time.perf_counter() - started,
                      "cpu_seconds": cpu_seconds() - started_cpu}, profile)
    for r in res:
        for note in r["notes"]:
            typer.echo(f"warning: {r['metric']}: {note}", err=True)
    for w in dict.fromkeys(w for r in res for w in r.get("warnings", [])):  # once per video, not per metric
        typer.echo(f"warning: {w}", err=True)
    code = max([r.get("exit_code", 2) for r in res if r.get("error")], default=0)
    if as_json:
        clean = [{k: r.get(k) for k in ("metric", "value", "reason", "protocol", "n", "per_item", "weights",
                                        "values", "n_failed", "failures", "excluded", "warnings", "facts",
                                        "error")} for r in res]
        typer.echo(dumps(clean[0] if len(clean) == 1 else clean, lenient=True, sort_keys=False))
        raise typer.Exit(code)
    for r in res:
        if r["protocol"] is None:
            continue  # never computed: said once, on stderr, below
        v = r["value"]
        shown = "n/a" if v is None else f"{v:.6g}"
        extra = "  ".join(f"{k}={_fmt(x)}" for k, x in r["values"].items() if k != r["metric"] and
                          isinstance(x, (int, float)) and finite(x) is not None)
        facts = "".join(f", {k} {v}" for k, v in r["facts"].items())
        typer.echo(f"{r['metric']}: {shown}  ({r['protocol']}{facts}, n={r['n']}"
                   + (f", failed={r['n_failed']}" if r["n_failed"] else "") + f")  {extra}".rstrip())
        for item, why in r["failures"].items():
            typer.echo(f"  not scored {item}: {why}", err=True)
        for item, why in r["excluded"].items():
            typer.echo(f"  excluded {item}: {why}", err=True)
    for r in res:
        if r.get("error"):
            typer.echo(f"error: {r['metric']}: {r['error']}", err=True)
    raise typer.Exit(code)


def _fmt(x):
    return f"{x:.6g}" if isinstance(x, float) else str(x)
