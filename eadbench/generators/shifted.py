"""The sync negative control: the real clip with its frames delayed by a fixed number of frames
against the driving audio (the first frame held at the start). Everything but lip-sync is the
ground truth's, so a lip-sync metric must rank it below the ground truth and recover the shift
as an offset; quality metrics that compare frames one to one see a small temporal misalignment."""

from __future__ import annotations

import time

from eadbench import media
from eadbench.errors import ChoiceError
from eadbench.generators.base import GenerationRequest, GenerationResult, Generator, register_generator

DEFAULT_SHIFT = 8  # frames (320 ms): well outside any sync tolerance, inside LSE's +-15 search


@register_generator
class Shifted(Generator):
    name = "shifted"
    description = f"the real clip delayed by {DEFAULT_SHIFT} frames against its audio (sync negative control)"
    options = {"frames": f"delay in frames (default {DEFAULT_SHIFT}; negative: video ahead of the audio)",
               "label": "name shown in tables"}

    def __init__(self, **config):
        super().__init__(**config)
        try:
            self.shift = int(config.get("frames", DEFAULT_SHIFT))
        except (TypeError, ValueError):
            raise ChoiceError(f"method shifted: frames must be a whole number, got {config['frames']!r}") from None

    def generate(self, req: GenerationRequest) -> GenerationResult:
        t = time.perf_counter()
        src = req.real_video or req.reference_video
        audio = media.read_audio(req.audio)
        n = req.n_frames or media.probe(src).n_frames
        k = self.shift

        def frames():
            held = None
            window: list = []
            emitted = 0
            for i, f in enumerate(media.iter_frames(src)):
                if held is None:
                    held = f
                    if k > 0:  # the video starts k frames late: its first frame is held meanwhile
                        for _ in range(min(k, n)):
                            yield f
                            emitted += 1
                if k >= 0:
                    if emitted < n:
                        yield f
                        emitted += 1
                elif i >= -k:
                    yield f
                    emitted += 1
                    window.append(f)
                    window = window[-1:]
            while emitted < n:  # a video ahead of its audio: its last frame is held at the end
                yield window[-1] if window else held
                emitted += 1

        media.write_video(req.out, frames(), audio=audio[: int(round(n / media.VIDEO_FPS * media.AUDIO_RATE))])
        return GenerationResult(req.out, time.perf_counter() - t, info={"shift_frames": k})
