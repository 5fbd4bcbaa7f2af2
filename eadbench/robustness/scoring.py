"""Scoring a clip's clean and perturbed videos for the robustness study, with the clip driver
``eadbench score`` and ``eadbench run`` use: paired metrics take the clean video as the real
side; fake-only metrics such as LSE and emotion read the perturbed video, with the audio of its
own container. The result per metric and video is a ``Scored``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eadbench import media
from eadbench.errors import EadbenchError, MediaError
from eadbench.media import video_stream_key
from eadbench.robustness.perturbations import CLEAN


@dataclass
class Scored:
    """One metric on one video of a clip."""

    status: str  # ok | failed | excluded
    values: dict[str, float | None] = field(default_factory=dict)
    features: np.ndarray | None = None  # set-level metrics
    reason: str | None = None
    #: the clean video's output, taken for a file whose video stream is byte-identical to it
    reused: bool = False


def score_videos(clip, clean: Path, videos: dict[str, Path], evaluators: dict[str, Any], store,
                 tracking: str | None = None, timer=None) -> dict[str, dict[str, Scored]]:
    """label -> metric -> Scored for the clean video (label ``CLEAN``) and every perturbed one, each
    scored against the clean video with the shared clip driver.

    Fake-only metrics that read audio (LSE) take the audio of the file they score, so videos are
    scored in one pass per distinct audio. A perturbed file whose video packets are byte-identical
    to the clean video's (the audio edits) decodes to the clean frames: its metrics that do not
    read audio take the clean video's outputs (marked ``reused``), and the metrics that do read
    audio stream the clean file's frames with the perturbed file's audio (the same computation)."""
    from eadbench.metrics.base import ClipMeta
    from eadbench.run.driver import ClipScoring, Job, score_clip
    from eadbench.streams import Timer

    timer = timer or Timer()
    clean_key = video_stream_key(clean)
    groups: dict[bytes, tuple[np.ndarray | None, list[Job]]] = {}
    same_video: list[str] = []
    for label, path in {CLEAN: clean, **videos}.items():
        try:
            audio = media.read_audio(path)
        except MediaError:
            audio = None
        evs = dict(evaluators)
        video = path
        if label != CLEAN and video_stream_key(path) == clean_key:
            same_video.append(label)
            evs = {n: ev for n, ev in evaluators.items() if "audio" in ev.info.needs}
            video = clean
        if not evs:
            continue
        key = b"none" if audio is None else hashlib.sha256(audio.tobytes()).digest()
        groups.setdefault(key, (audio, []))[1].append(Job(label, video, evs))
    result: dict[str, dict[str, Scored]] = {}
    for audio, jobs in groups.values():
        meta = ClipMeta(clip.clip_id, audio=audio, emotion=clip.emotion, intensity=clip.intensity_scalar,
                        extras={"speaker": clip.speaker})
        try:
            outcomes, _ = score_clip(ClipScoring(meta, clean, jobs, store, tracking, timer))
        except EadbenchError as exc:
            for job in jobs:
                result[job.label] = {n: Scored("failed", reason=str(exc)) for n in job.evaluators}
            continue
        for job in jobs:
            result[job.label] = {n: _scored(outcomes.get((job.label, n)), ev)
                                 for n, ev in job.evaluators.items()}
    for label in same_video:
        for name in evaluators:
            if name not in result.setdefault(label, {}):
                c = result[CLEAN][name]
                result[label][name] = Scored(c.status, c.values, c.features, c.reason, reused=True)
    return result


def _scored(oc, ev) -> Scored:
    if oc is None:
        return Scored("failed", reason="not scored")
    if oc.status != "ok":
        return Scored(oc.status, reason=oc.error)
    if ev.info.level == "set":
        return Scored("ok", features=np.asarray(oc.output["features"]))
    return Scored("ok", {o: _number(oc.output.get(o)) for o in ev.outputs})


def _number(v) -> float | None:
    if v is None or isinstance(v, (str, bool)):
        return None if not isinstance(v, bool) else float(v)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
