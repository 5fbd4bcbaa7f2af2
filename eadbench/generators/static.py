"""The reference frame repeated for the whole clip: the lower bound (no motion, no lip-sync)."""

from __future__ import annotations

import time

import numpy as np

from eadbench import media
from eadbench.generators.base import GenerationRequest, GenerationResult, Generator, register_generator


@register_generator
class Static(Generator):
    name = "static"
    description = "the first reference frame repeated, with the driving audio (lower bound)"

    def generate(self, req: GenerationRequest) -> GenerationResult:
        t = time.perf_counter()
        first = next(media.iter_frames(req.reference_video, max_frames=1))
        audio = media.read_audio(req.audio)
        n = req.n_frames or int(len(audio) / media.AUDIO_RATE * media.VIDEO_FPS)
        frames = np.broadcast_to(first, (n, *first.shape))
        media.write_video(req.out, frames, audio=audio[: int(round(n / media.VIDEO_FPS * media.AUDIO_RATE))])
        return GenerationResult(req.out, time.perf_counter() - t)
