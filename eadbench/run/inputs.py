"""The clips of a run: the dataset scanned (the built-in synthetic data generated on first use),
and each clip's inputs staged once: its real video at 25 fps and its 16 kHz driving audio,
fitted to one length (a video trimmed to a shorter audio is recorded)."""

from __future__ import annotations

import json
from pathlib import Path

from eadbench import __version__, media
from eadbench.atomic import atomic_write_text
from eadbench.config import RunConfig
from eadbench.datasets.base import Clip, ScanResult
from eadbench.errors import EadbenchError
from eadbench.generators.base import fingerprint_hash
from eadbench.jsonio import atomic_write_json
from eadbench.run.layout import RunDir


def builtin_synth_root(cfg: RunConfig, renders: str | None = None) -> Path:
    """The built-in synthetic dataset, generated once into the cache for these settings.
    ``renders="train"``: instead, every training clip rendered in every emotion (counterfactual
    renders aligned frame by frame, ``eadbench.synth.generate.every_expression``; test speakers
    are never rendered), for EAD-Net's emotion work (``ref_clip: twin``)."""
    from eadbench.synth import write_dataset_atomic
    from eadbench.synth.generate import RENDER_VERSION
    from eadbench.weights import eadbench_cache

    s = {**RunConfig().synth, **cfg.synth}
    extra = {"renders": renders} if renders else {}
    key = fingerprint_hash({"synth": s, "version": __version__, "render": RENDER_VERSION, **extra})
    root = eadbench_cache() / "synth" / f"{s['layout']}-{'renders-' if renders else ''}{key}"
    if (root / "eadbench-synth.json").exists():
        return root
    return write_dataset_atomic(root, layout=s["layout"], speakers=int(s["speakers"]), clips=int(s["clips"]),
                                seed=int(s["seed"]), seconds=float(s["seconds"]), size=int(s["size"]), **extra)


def scan_dataset(cfg: RunConfig) -> ScanResult:
    from eadbench import datasets

    root = cfg.root
    if root is None:
        if cfg.dataset != "synth":
            raise EadbenchError(f"--root is required for dataset {cfg.dataset} (only synth has built-in data)")
        root = str(builtin_synth_root(cfg))
        cfg.root = root
    options = {k: v for k, v in (("split_file", cfg.split_file), ("view", cfg.view), ("calm", cfg.calm))
               if v is not None}
    sel = datasets.scan(cfg.dataset, root, split=cfg.split or None, **options)
    sel.clips = sorted(sel.clips, key=lambda c: c.clip_id)
    if cfg.limit:
        sel.clips = sel.clips[: cfg.limit]
    return sel


def _source_key(clip: Clip) -> str:
    parts = []
    for p in (clip.video, clip.audio):
        if p is not None and Path(p).exists():
            st = Path(p).stat()
            parts.append((str(p), st.st_size, st.st_mtime_ns))
    return fingerprint_hash({"sources": parts})


def stage_inputs(clip: Clip, run: RunDir, strict_av: bool = False) -> tuple[Path, Path, str]:
    """The clip's real video at 25 fps (driving audio muxed) and 16 kHz wav, cached by source.

    The video is streamed from the source to the staged file (never held whole); video and audio
    are fitted to one length (``media.fit_audio_to_video``); a video trimmed to a shorter audio
    is recorded in ``inputs/<clip>/input.json`` and in the run summary."""
    key = fingerprint_hash({"src": _source_key(clip), "strict_av": strict_av})
    real, wav, keyfile = run.real_video(clip.clip_id), run.audio(clip.clip_id), run.input_key(clip.clip_id)
    if keyfile.exists() and keyfile.read_text() == key and real.exists() and wav.exists():
        return real, wav, key
    audio = media.read_audio(clip.audio_source)  # a bad audio file fails before any video work
    silent = real.with_name(".video-only.mp4")
    with media.VideoWriter(silent) as w:  # the source is decoded once: to 25 fps, counted as written
        for frame in media.iter_frames(clip.video):
            w.write(frame)
    n_source = w.n
    fit = media.fit_audio_to_video(clip.audio_source, audio, n_source, strict=strict_av)
    try:
        media.mux_audio(silent, fit.audio, real, None if fit.n_frames == n_source else fit.n_frames)
    finally:
        silent.unlink(missing_ok=True)
    media.write_wav(wav, fit.audio)
    atomic_write_json(run.input_info(clip.clip_id), {
        "source_frames": n_source, "frames": fit.n_frames, "trimmed_seconds": fit.trimmed_seconds,
        "padded_seconds": fit.padded_seconds, "note": fit.note()})
    atomic_write_text(keyfile, key)
    return real, wav, key


def neutral_partners(scan_all: ScanResult) -> dict[str, Clip]:
    """speaker -> that speaker's neutral clip (the first by id), for ``--source neutral``."""
    out: dict[str, Clip] = {}
    for c in sorted(scan_all.clips, key=lambda c: c.clip_id):
        if c.emotion == "neutral" and c.speaker not in out:
            out[c.speaker] = c
    return out


def neutral_map(cfg: RunConfig) -> dict[str, Clip]:
    """The neutral partners of ``--source neutral`` (empty otherwise), from every split."""
    if cfg.source != "neutral":
        return {}
    from eadbench import datasets

    options = {k: v for k, v in (("split_file", cfg.split_file), ("view", cfg.view), ("calm", cfg.calm))
               if v is not None}
    return neutral_partners(datasets.scan(cfg.dataset, cfg.root, split=None, **options))


def stage_source(clip: Clip, neutral: Clip, run: RunDir, n_frames: int, wav: Path, strict_av: bool) -> Path:
    """``inputs/<clip>/source.mp4``: the speaker's neutral clip at 25 fps, looped (or trimmed) to the
    clip's ``n_frames``, with the clip's driving audio: what every method is driven from under
    ``--source neutral``. Cached by both sources."""
    key = fingerprint_hash({"neutral": _source_key(neutral), "clip": _source_key(clip), "n": n_frames,
                            "strict_av": strict_av})
    dest = run.inputs(clip.clip_id) / "source.mp4"
    keyfile = dest.with_suffix(".key")
    if keyfile.exists() and keyfile.read_text() == key and dest.exists():
        return dest
    neutral_real, _, _ = stage_inputs(neutral, run, strict_av)
    audio = media.read_audio(wav)

    def looped():
        emitted = 0
        while emitted < n_frames:
            for f in media.iter_frames(neutral_real):
                if emitted >= n_frames:
                    return
                yield f
                emitted += 1

    media.write_video(dest, looped(), audio=audio)
    atomic_write_text(keyfile, key)
    return dest


def input_note(run: RunDir, clip_id: str) -> str | None:
    try:
        return json.loads(run.input_info(clip_id).read_text()).get("note")
    except (OSError, ValueError, AttributeError):
        return None
