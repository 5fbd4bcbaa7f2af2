"""The generator contract: (reference, driving audio, emotion) -> a 25 fps mp4 with that audio.

Every method the harness compares (the reference model, wrapped official repositories, a
user's command line, precomputed outputs, and the ground-truth / static bounds) implements
``Generator.generate``. The harness owns caching and failure recording; a generator only
produces one video or raises an EadbenchError whose message becomes the recorded reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eadbench import media
from eadbench.datasets.base import Clip
from eadbench.errors import EadbenchError, GenerationError
from eadbench.registry import Registry


@dataclass
class GenerationRequest:
    clip: Clip
    reference_video: Path  # identity source at 25 fps: the clip's real video, or (--source neutral)
    # the speaker's neutral clip fitted to the audio's length
    audio: Path  # driving audio, 16 kHz mono wav
    out: Path  # where the final mp4 must be written
    workdir: Path  # a private, empty temporary folder for this job
    emotion: str | None = None
    intensity: float | None = None  # in [0, 1]
    text: str | None = None
    n_frames: int | None = None  # length of the real clip at 25 fps
    size: tuple[int, int] | None = None  # (height, width) of the real clip
    real_video: Path | None = None  # the clip's own real video at 25 fps (what the ground truth is)
    source: str = "self"  # what reference_video is: the clip itself (self) or its speaker's neutral clip


@dataclass
class GenerationResult:
    path: Path
    seconds: float = 0.0
    command: list[str] | None = None
    log_tail: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Generator:
    """Base class. Subclasses set ``name`` and ``description`` and implement ``generate``."""

    name: str = ""
    description: str = ""
    #: Options this generator accepts (name -> help), shown by `eadbench methods list`.
    options: dict[str, str] = {}

    @classmethod
    def option_help(cls) -> dict[str, str]:
        """Every option a run config may give this method, with its help."""
        return dict(cls.options)

    def __init__(self, **config: Any):
        unknown = set(config) - set(self.options)
        if unknown:
            raise EadbenchError(f"method {self.name}: unknown option(s) {', '.join(sorted(unknown))}; "
                                f"known: {', '.join(sorted(self.options)) or 'none'}")
        self.config = config

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this method's outputs: a change here regenerates the videos."""
        return {"method": self.name, "config": {k: str(v) for k, v in sorted(self.config.items())}}

    def provenance(self) -> dict[str, Any]:
        """Recorded in the run manifest (commit, checkpoint hashes, interpreter...)."""
        return self.fingerprint()

    def generate(self, req: GenerationRequest) -> GenerationResult:
        raise NotImplementedError


GENERATORS: Registry[type[Generator]] = Registry("method")


def register_generator(cls: type[Generator]) -> type[Generator]:
    GENERATORS.add(cls.name, cls)
    return cls


def fingerprint_hash(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def normalise_output(src: Path, req: GenerationRequest, dest: Path | None = None,
                     hold_tail: int | None = None) -> Path:
    """Bring any method's video to the harness convention: 25 fps, the real clip's size, the
    driving audio muxed, at most as long as the driving audio.

    ``hold_tail`` (wrapped programs): the output must cover the driving audio; a video shorter
    by at most this many frames (a method that by design stops early, e.g. Wav2Lip's last mel
    window) gets its last frame held to the audio's length, a shorter one is a GenerationError.
    ``None`` keeps a short video and cuts the audio to it."""
    import cv2

    dest = dest or req.out
    try:
        frames = media.read_frames(src, fps=media.VIDEO_FPS)
    except EadbenchError as exc:
        raise GenerationError(f"output unreadable: {exc}") from None
    audio = media.read_audio(req.audio)
    n_audio = int(len(audio) / media.AUDIO_RATE * media.VIDEO_FPS + 1e-6)
    if hold_tail is not None and len(frames) < n_audio:
        if len(frames) + hold_tail < n_audio:
            raise GenerationError(f"output has {len(frames)} frames at 25 fps, shorter than the driving audio "
                                  f"({n_audio} frames, {len(audio) / media.AUDIO_RATE:.2f} s)")
        frames = np.concatenate([frames, np.repeat(frames[-1:], n_audio - len(frames), axis=0)])
    frames = frames[: max(1, min(len(frames), n_audio))]
    if req.size is not None and frames.shape[1:3] != tuple(req.size):
        h, w = req.size
        frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    audio = audio[: int(round(len(frames) / media.VIDEO_FPS * media.AUDIO_RATE))]
    return media.write_video(dest, frames, fps=media.VIDEO_FPS, audio=audio)
