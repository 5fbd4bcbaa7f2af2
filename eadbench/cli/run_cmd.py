"""`eadbench run`: generate with every method on a dataset split and score with the metric suite."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperCommand

from eadbench.cli.common import (
    TRACKING_HELP,
    count,
    device_option,
    echo_timings,
    friendly,
    split_csv,
    weights_dir_option,
)


class RunCommand(TyperCommand):
    """`run --help` ends with the registered methods and metrics (looked up only for --help)."""

    def format_epilog(self, ctx, formatter) -> None:
        from eadbench import generators
        from eadbench.metrics import METRICS

        with formatter.section("Methods (--methods; options in --config)"):
            formatter.write_dl([(n, cls.description) for n, cls in generators.GENERATORS.items()])
        with formatter.section("Metrics (--metrics; --protocol METRIC=NAME picks another protocol)"):
            formatter.write_dl([(n, f"{i.description} [{', '.join(p.key for p in i.protocols)}]")
                                for n, i in METRICS.items()])
        super().format_epilog(ctx, formatter)


@friendly
def run(
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="hdtf, mead, ravdess or synth "
                                           "(built-in data; the default)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset root. Omit for synth: the built-in "
                                        "synthetic data is generated into the cache."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to evaluate (default test)."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="Your own split list (HDTF)."),
    methods: Optional[str] = typer.Option(None, "--methods", "-m", help="Comma-separated methods, e.g. "
                                          "eadnet,wav2lip,ground_truth,static (options per method in --config)."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated metrics (default: every "
                                          "metric whose weights are present)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML run config; command-line "
                                          "options override it."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/<dataset>-<split>)."),
    limit: Optional[int] = count(None, "--limit", help="Only the first N clips (sorted by id)."),
    workers: Optional[int] = count(None, "--workers", "-j", help="Local worker processes over clips."),
    resume: Optional[bool] = typer.Option(None, "--resume/--no-resume", help="Reuse finished videos and "
                                          "scores whose inputs are unchanged (default on)."),
    strict: Optional[bool] = typer.Option(None, "--strict/--no-strict", help="Exit 1 when any clip failed."),
    strict_av_length: Optional[bool] = typer.Option(None, "--strict-av-length", help="Fail a clip whose audio "
                                                    "ends more than 80 ms before its video (default: trim the "
                                                    "video to the audio and record it)."),
    weights_dir: Optional[Path] = weights_dir_option(),
    trust_weights: Optional[bool] = typer.Option(None, "--trust-weights", help="Allow full unpickling of "
                                                 "weight files with unknown hashes (HSEmotion)."),
    protocol: Optional[List[str]] = typer.Option(None, "--protocol", help="METRIC=NAME: a metric's protocol, "
                                                 "e.g. fvd=latentsync (repeatable; `eadbench metrics list`)."),
    metric_option: Optional[List[str]] = typer.Option(None, "--metric-option", help="METRIC.KEY=VALUE: a "
                                                      "metric option, e.g. fvd.clips_per_video=2 or "
                                                      "lse.syncnet_path=sync.pt (repeatable)."),
    device: Optional[str] = device_option(None),
    source: Optional[str] = typer.Option(None, "--source", help="Identity video every method is driven "
                                         "from: self (the clip; default) or neutral (the speaker's neutral "
                                         "clip, EAT's emotion-editing protocol; the ground truth stays the clip)."),
    coverage: Optional[str] = typer.Option(None, "--coverage", help="intersection (default): every method's "
                                           "value over the clips every method scored, so they compare like "
                                           "with like; all: each over the clips it scored (footnoted)."),
    tracking: Optional[str] = typer.Option(None, "--tracking", help=TRACKING_HELP),
    fvd_protocol: Optional[str] = typer.Option(None, "--fvd-protocol", help="Alias of --protocol fvd=NAME "
                                               "(kept for one release)."),
    fvd_clips_per_video: Optional[int] = count(None, "--fvd-clips-per-video", help="Alias of "
                                                      "--metric-option fvd.clips_per_video=N (kept for one release)."),
    syncnet: Optional[str] = typer.Option(None, "--syncnet", help="A sync expert for LSE: a file from "
                                          "`eadbench syncnet train`, or auto (the built-in data only: the "
                                          "expert shipped in eadbench/builtin/, trained on its training split; "
                                          "the default there when syncnet_v2.model is absent). Its LSE is "
                                          "reported under the expert's own protocol name, never as syncnet_v2's."),
    retrain_builtin: Optional[bool] = typer.Option(None, "--retrain-builtin", help="Built-in data: train the "
                                                   "built-in sync expert and tiny EAD-Net from scratch with their "
                                                   "recipe (once, cached: minutes) instead of loading the shipped "
                                                   "ones (`eadbench builtin list`)."),
    eadnet_checkpoint: Optional[Path] = typer.Option(None, "--eadnet-checkpoint", help="EAD-Net checkpoint; "
                                                     "adds method eadnet when --methods does not name it."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for generation and bootstrap CIs."),
    quiet: Optional[bool] = typer.Option(None, "--quiet", "-q", help="No progress bar (CI logs)."),
    profile: bool = typer.Option(False, "--profile", help="Print every stage's wall and CPU seconds, frames and "
                                 "frames/s (as timings.json)."),
):
    """Generate videos with each method for every clip of a split and score them.

    Writes manifest.json, per_clip.csv/.parquet, summary.json, failures.csv and
    videos/<method>/<clip>.mp4 into the run folder. A killed run resumes where it stopped.
    Under torchrun each rank takes its shard of clips and rank 0 writes the results.
    """
    from eadbench import config as config_mod
    from eadbench import run as run_mod
    from eadbench.run.collect import format_summary
    from eadbench.run.layout import RunDir

    cfg = config_mod.resolve(
        config, dataset=dataset, root=_s(root),
        split=split, split_file=_s(split_file), methods=split_csv(methods),
        metrics=split_csv(metrics), out=_s(out), limit=limit, workers=workers, resume=resume,
        strict=strict, strict_av_length=strict_av_length, weights_dir=_s(weights_dir),
        trust_weights=trust_weights, seed=seed, quiet=quiet, device=device, tracking=tracking, source=source,
        coverage=coverage, retrain_builtin=retrain_builtin,
    )
    config_mod.apply_metric_flags(cfg, protocol or [], metric_option or [])
    if eadnet_checkpoint:
        from eadbench.config import MethodSpec

        spec = next((m for m in cfg.methods if m.method == "eadnet"), None)
        if spec is None:
            cfg.methods.append(MethodSpec("eadnet", "eadnet", {"checkpoint": str(eadnet_checkpoint)}))
        else:
            spec.options["checkpoint"] = str(eadnet_checkpoint)
    if fvd_protocol:
        cfg.protocols["fvd"] = fvd_protocol
    if fvd_clips_per_video:
        cfg.metric_options.setdefault("fvd", {})["clips_per_video"] = fvd_clips_per_video
    if syncnet:
        cfg.metric_options.setdefault("lse", {})["syncnet_path"] = str(syncnet)
    result = run_mod.run(cfg, echo=lambda s: typer.echo(s, err=True))
    if not result.summary:
        return
    typer.echo(format_summary(result.summary))
    echo_timings(result.timings, profile)
    if result.failures:
        typer.echo(f"{len(result.failures)} failure(s) (see {RunDir(result.out).failures}):", err=True)
        for f in result.failures[:20]:
            typer.echo(f"  {f}", err=True)
        if len(result.failures) > 20:
            typer.echo(f"  ... and {len(result.failures) - 20} more", err=True)
    typer.echo(f"results in {result.out}")
    raise typer.Exit(run_mod.failures_exit_code(result, cfg.strict))


def _s(p):
    return None if p is None else str(p)
