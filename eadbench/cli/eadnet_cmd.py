"""`eadbench eadnet train|infer|params`: the EAD-Net reference model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from eadbench.cli.common import count, device_option, fail, friendly, group

app = group("EAD-Net, the reference model: train, generate, inspect.")


def _config(config: Optional[Path], preset: str, sets: list[str] | None):
    from eadnet.config import EADNetConfig

    overrides = {}
    for item in sets or []:
        if "=" not in item:
            fail(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        import yaml

        overrides[k.strip()] = yaml.safe_load(v)
    try:
        if config:
            cfg = EADNetConfig.load(config)
            for k, v in overrides.items():
                setattr(cfg, k, tuple(v) if isinstance(v, list) else v)
            return cfg
        return EADNetConfig.preset_config(preset, **overrides)
    except ValueError as exc:
        fail(str(exc))


def _torch(device: str | None) -> str | None:
    """--device as EAD-Net takes it: auto -> None (devices.auto_device; the rank's GPU under torchrun)."""
    return None if device == "auto" else device


@app.command("train")
@friendly
def train(
    data: Path = typer.Option(..., "--data", help="Prepared clips (`eadbench prepare ... --protocols face256`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoint.pt, metrics.csv, config.json."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (preset + overrides)."),
    preset: str = typer.Option("tiny", "--preset", help="tiny (CPU, pixel space) or paper (LatentSync scale)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a config key, e.g. --set stda=false."),
    steps: int = count(1000, "--steps", help="Optimiser steps."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from OUT/checkpoint.pt (exact)."),
    device: Optional[str] = device_option(None),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Train (also under `torchrun --nproc-per-node K -m eadbench.cli.main eadnet train ...`).

    The sync loss (w_sync > 0 in both presets) needs a sync expert for face256 crops: train
    one with `eadbench syncnet train --data PREP --out sync256.pt --crop face256` and pass
    `--set syncnet_path=sync256.pt`, or turn the loss off with `--set w_sync=0`. The LPIPS and
    TREPA losses need their pretrained weights (`eadbench weights list`) or `--set w_lpips=0
    --set w_trepa=0`. `eadbench ablate --syncnet auto` does all of this on the built-in data."""
    import os
    from contextlib import nullcontext

    from eadnet.train import train as run

    from eadbench.locking import check_owner, claim_folder, wrote

    cfg = _config(config, preset, set_)
    legacy = wrote("config.json", "stda")  # a training folder written before owner markers
    check_owner(out, "eadbench eadnet train", legacy)
    rank0 = int(os.environ.get("RANK", 0)) == 0  # under torchrun rank 0 owns and locks the folder
    with claim_folder(out, "eadbench eadnet train", "training", legacy=legacy) if rank0 else nullcontext():
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / "config.json")
        tr = run(cfg, data, out, steps, resume=resume, device=_torch(device), progress=not quiet)
    if tr.rank == 0:
        typer.echo(f"trained {tr.step} steps -> {out / 'checkpoint.pt'}")


@app.command("infer")
@friendly
def infer(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="checkpoint.pt from `eadbench eadnet train`."),
    video: Path = typer.Option(..., "--video", help="Reference video (identity)."),
    audio: Path = typer.Option(..., "--audio", help="Driving audio (any format PyAV reads)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output mp4 (25 fps, driving audio muxed)."),
    emotion: Optional[str] = typer.Option(None, "--emotion", help="Target emotion (canonical label)."),
    intensity: Optional[float] = typer.Option(None, "--intensity", help="Emotion intensity in [0, 1] (any value)."),
    text: Optional[str] = typer.Option(None, "--text", help="Emotion description (instead of --emotion/--intensity)."),
    steps: Optional[int] = count(None, "--steps", help="DDIM steps."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Classifier-free guidance scale."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed (the same seed gives the same video)."),
    device: Optional[str] = device_option(None),
    reference: str = typer.Option("self", "--reference", help="Identity reference frames: self (the frames "
                                  "regenerated, for dubbing) or offset (half a clip away, as in training: for "
                                  "evaluation, where the original mouth must not be visible)."),
):
    """Generate a talking-head video for one reference video and one audio."""
    from eadnet.inference import EADNetPipeline

    from eadbench import media
    from eadbench.labels import canonical

    if intensity is not None and not 0.0 <= intensity <= 1.0:
        fail("--intensity must be within [0, 1]")
    pipe = EADNetPipeline.from_checkpoint(checkpoint, _torch(device))
    frames = media.read_frames(video)
    wav = media.read_audio(audio)
    res = pipe.generate(frames, wav, canonical(emotion) if emotion else None, intensity, text, steps, guidance, seed,
                        reference)
    media.write_video(out, res, audio=wav[: int(round(len(res) / 25 * 16000))])
    typer.echo(f"wrote {out} ({len(res)} frames)")


@app.command("params")
@friendly
def params(
    preset: str = typer.Option("tiny", "--preset", help="tiny or paper."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a config key."),
):
    """Parameter counts per part (U-Net, self-attention, TFRM, cross-attention, conditioning)."""
    from eadnet.model import EADNet

    rep = EADNet(_config(None, preset, set_)).parameter_report()
    for k, v in rep.items():
        typer.echo(f"{k:<26} {v:>12,}")


probe_app = group("Behaviour probes of a checkpoint on prepared clips: does it follow its audio "
                  "(lipsync), its emotion text (emotion)?")
app.add_typer(probe_app, name="probe")


_CHECKPOINT_HELP = "checkpoint.pt from `eadbench eadnet train`."
_DATA_HELP = "Prepared clips with face256 crops (output of `eadbench prepare`)."


@probe_app.command("lipsync")
@friendly
def probe_lipsync(
    checkpoint: Path = typer.Option(..., "--checkpoint", help=_CHECKPOINT_HELP),
    data: Path = typer.Option(..., "--data", help=_DATA_HELP),
    reference: str = typer.Option("offset", "--reference", help="offset (the mouth must come from the audio) "
                                  "or self (the model also sees the real mouth)."),
    min_margin: Optional[float] = typer.Option(None, "--min-margin", help="Exit 1 when r(own) - r(other) is "
                                               "below this (a CI gate for the audio path)."),
    steps: int = count(4, "--steps", help="DDIM steps."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the result as JSON."),
    device: Optional[str] = device_option(None),
):
    """Does the mouth follow the audio? Regenerate each clip with its own audio, another clip's
    and silence; print how closely the generated mouth follows the real one (Pearson r of the
    mouth box's brightness, frame by frame); margin = r(own) - r(other)."""
    from eadnet.inference import EADNetPipeline
    from eadnet.probe import lipsync_probe

    if reference not in ("offset", "self"):
        fail(f"--reference must be offset or self, not {reference!r}")
    pipe = EADNetPipeline.from_checkpoint(checkpoint, _torch(device))
    res = lipsync_probe(pipe, data, reference, steps=steps)
    for audio, rs in res.per_clip.items():
        typer.echo(f"r({audio:6s}) {res.mean(audio):+.3f}   per clip: {' '.join(f'{r:+.2f}' for r in rs)}")
    typer.echo(f"margin r(own) - r(other): {res.margin:+.3f} (reference={reference})")
    failed = []
    if min_margin is not None and res.margin < min_margin:
        failed.append(f"margin {res.margin:+.3f} < {min_margin}: the mouth does not follow the audio")
    _finish_probe(res, json_out, failed)


@probe_app.command("emotion")
@friendly
def probe_emotion(
    checkpoint: Path = typer.Option(..., "--checkpoint", help=_CHECKPOINT_HELP),
    data: Path = typer.Option(..., "--data", help=_DATA_HELP),
    min_effect: Optional[float] = typer.Option(None, "--min-effect", help="Exit 1 when the text or the "
                                               "intensity changes the lower face by less than this (levels; "
                                               "a cut path gives 0)."),
    min_shift: Optional[float] = typer.Option(None, "--min-shift", help="Exit 1 when switching the text "
                                              "produces less than this fraction of the real expression change."),
    steps: int = count(4, "--steps", help="DDIM steps."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the result as JSON."),
    device: Optional[str] = device_option(None),
):
    """Does the lower face follow the emotion text? Regenerate each clip with references from the
    same speaker's clip of another emotion, once with its own emotion text and once with that
    clip's (its own intensity both times), and once with the intensity moved by 0.5; effect = how
    much the text changes the lower face (levels; exactly 0 when the text never reaches the
    output), intensity effect the same for the intensity, shift = the fraction of the real
    expression difference that switching the text reproduces."""
    from eadnet.inference import EADNetPipeline
    from eadnet.probe import emotion_probe

    pipe = EADNetPipeline.from_checkpoint(checkpoint, _torch(device))
    res = emotion_probe(pipe, data, steps=steps)
    for clip, e in res.per_clip.items():
        typer.echo(f"{clip}: text effect {e['effect']:.2f}, intensity effect {e['intensity_effect']:.2f}, shift "
                   f"{e['shift']:+.3f} (vs {e['partner']}); lower-face error {e['error_own_text']:.2f} own text, "
                   f"{e['error_partner_text']:.2f} other")
    typer.echo(f"text effect {res.effect:.3f} levels, intensity effect {res.intensity_effect:.3f} levels, "
               f"expression shift {res.shift:+.3f}")
    failed = []
    for what, value in (("text", res.effect), ("intensity", res.intensity_effect)):
        if min_effect is not None and value < min_effect:
            failed.append(f"{what} effect {value:.3f} < {min_effect}: the emotion {what} does not reach the output")
    if min_shift is not None and res.shift < min_shift:
        failed.append(f"shift {res.shift:+.3f} < {min_shift}: the expression does not follow the emotion text")
    _finish_probe(res, json_out, failed)


def _finish_probe(res, json_out: Optional[Path], failed: list[str]) -> None:
    from eadbench.jsonio import dumps

    if json_out:
        json_out.write_text(dumps(res.to_dict(), sort_keys=False))
    for reason in failed:
        typer.echo(f"FAILED: {reason}")
    if failed:
        raise typer.Exit(1)


@app.command("describe")
@friendly
def describe(
    data: Path = typer.Option(..., "--data", help="Prepared clips (`eadbench prepare --protocols face256`)."),
    describer: str = typer.Option(
        "face", "--describer", help="face (facial actions measured on the face256 crop, offline), template "
        "(the label's template sentence) or vlm (a vision-language model)."),
    model: Optional[str] = typer.Option(
        None, "--model", help="vlm only: a model folder or a Hugging Face name in the local cache (default "
        "HuggingFaceTB/SmolVLM-256M-Instruct)."),
    device: str = device_option(),
    limit: Optional[int] = count(None, "--limit", help="Only the first N clips (by clip id)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Write each prepared clip's emotion description into its emotion.txt (what training reads).

    A clip whose video, describer and describer version/weights are unchanged is skipped; a clip
    that cannot be described is listed in DATA/describe_failures.jsonl and the others go on. Exit 2
    when no clip has a description afterwards (every clip failed)."""
    from eadnet.describe import FAILURES_FILE, build, describe_prepared, prepared_clips

    from eadbench.errors import EadbenchError

    if limit is not None and limit < 1:
        fail("--limit must be at least 1")
    prepared_clips(data)  # bad --data: one line before any model loads
    try:
        d = build(describer, model, device)
    except EadbenchError as exc:
        fail(str(exc), exc.exit_code)
    rep = describe_prepared(data, d, limit=limit, progress=not quiet)
    typer.echo(f"described {len(rep.described)}, unchanged {len(rep.cached)}, failed {len(rep.failed)} "
               f"({describer}; texts in <clip>/emotion.txt)")
    for clip_id, reason in rep.failed:
        typer.echo(f"  failed {clip_id}: {reason}", err=True)
    if not rep.described and not rep.cached:
        fail(f"nothing described: all {len(rep.failed)} clip(s) failed (listed in {data / FAILURES_FILE})")
