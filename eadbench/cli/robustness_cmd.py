"""`eadbench robustness`: do the metrics stay put under harmless edits of a video and move under
harmful ones? A thin layer over ``eadbench.robustness``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from eadbench.cli.common import TRACKING_HELP, count, device_option, friendly, split_csv, weights_dir_option
from eadbench.jsonio import dumps


@friendly
def robustness(
    metrics: Optional[str] = typer.Option(None, "--metrics", "-m", help="Comma-separated metrics (default: "
                                          "every metric whose weights are present)."),
    dataset: str = typer.Option("synth", "--dataset", "-d", help="hdtf, mead, ravdess or synth (built-in "
                                "data; the default)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset root. Omit for synth: the built-in "
                                        "synthetic data is generated into the cache."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to use (default test)."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="Your own split list (HDTF)."),
    limit: Optional[int] = count(None, "--limit", help="Only the first N clips (sorted by id)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder for robustness.json/.md, the "
                                      "staged clips and the perturbed videos (default "
                                      "runs/robustness-<dataset>)."),
    perturbations: Optional[str] = typer.Option(None, "--perturbations", "-p", help="Comma-separated "
                                                "perturbations (default all): h264-crf18, h264-crf28, h265, "
                                                "audio-pcm, fps50-doubled, jitter-2px, audio-shift-1, "
                                                "audio-shift-2, audio-shift-3, shuffle, mouth-frozen."),
    seed: int = typer.Option(0, "--seed", help="Seed for the random edits (jitter, shuffle) and the "
                             "bootstrap."),
    bootstrap: int = count(1000, "--bootstrap", help="Bootstrap resamples for the 95% CIs (0: none).", min=0),
    protocol: Optional[List[str]] = typer.Option(None, "--protocol", help="METRIC=NAME: a metric's protocol, "
                                                 "e.g. fvd=latentsync (repeatable)."),
    metric_option: Optional[List[str]] = typer.Option(None, "--metric-option", help="METRIC.KEY=VALUE: a "
                                                      "metric option, e.g. lse.syncnet_path=sync.pt "
                                                      "(repeatable)."),
    device: str = device_option(),
    tracking: Optional[str] = typer.Option(None, "--tracking", help=TRACKING_HELP),
    weights_dir: Optional[Path] = weights_dir_option(),
    trust_weights: bool = typer.Option(False, "--trust-weights", help="Allow full unpickling of weight files "
                                       "with unknown hashes (HSEmotion)."),
    as_json: bool = typer.Option(False, "--json", help="Print robustness.json instead of the table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Perturb each clip's ground-truth video in ways that should not change its quality (re-encodes,
    PCM audio, a 50 fps container, a 2 px crop jitter) and ways that should (audio shifted by 1-3
    frames, frames shuffled, mouth frozen), score every perturbed video against the clean one, and
    flag a metric that moves more under a harmless perturbation than under a harmful one.
    Writes robustness.json and robustness.md into --out. Exit 0 when at least one clip was scored,
    2 when none could be."""
    from eadbench import config as config_mod
    from eadbench.robustness import format_table
    from eadbench.robustness import robustness as run_robustness

    flags = config_mod.RunConfig(protocols={}, metric_options={})
    config_mod.apply_metric_flags(flags, protocol or [], metric_option or [])
    argv = sys.argv[1:]
    command = "eadbench " + shlex.join(argv) if argv[:1] == ["robustness"] else None
    res = run_robustness(
        split_csv(metrics), dataset=dataset, root=_s(root), split=split, split_file=_s(split_file),
        limit=limit, out=out, perturbations=split_csv(perturbations), seed=seed, bootstrap=bootstrap,
        device=device, tracking=tracking, protocols=flags.protocols, metric_options=flags.metric_options,
        weights_dir=_s(weights_dir), trust_weights=trust_weights, progress=not quiet, command=command,
        echo=lambda s: typer.echo(s, err=True))
    report = res.report
    if as_json:
        typer.echo(dumps(report, lenient=True, sort_keys=False))
    else:
        typer.echo(format_table(report))
    if res.failures:
        typer.echo(f"{len(res.failures)} failure(s) (recorded in robustness.json):", err=True)
        for f in res.failures[:20]:
            where = "/".join(x for x in (f["clip"], f["perturbation"], f["metric"]) if x)
            typer.echo(f"  {where}: {f['reason']}", err=True)
        if len(res.failures) > 20:
            typer.echo(f"  ... and {len(res.failures) - 20} more", err=True)
    typer.echo(f"results in {res.out}", err=True)
    scored = [c for c in report["clips"].values() if c.get("status") == "ok"]
    if not scored:
        first = next(iter(report["clips"].values()), {}).get("reason", "no clip")
        typer.echo(f"error: no clip could be scored; first reason: {first}", err=True)
        raise typer.Exit(2)


def _s(p):
    return None if p is None else str(p)
