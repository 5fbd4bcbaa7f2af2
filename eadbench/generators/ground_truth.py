"""The real video itself: the upper bound, and the sanity check every metric must pass."""

from __future__ import annotations

import shutil
import time

from eadbench.generators.base import GenerationRequest, GenerationResult, Generator, register_generator


@register_generator
class GroundTruth(Generator):
    name = "ground_truth"
    description = "the real clip (upper bound; every metric's sanity check)"

    def generate(self, req: GenerationRequest) -> GenerationResult:
        t = time.perf_counter()
        req.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = req.out.with_suffix(".part.mp4")
        shutil.copyfile(req.reference_video, tmp)
        tmp.replace(req.out)
        return GenerationResult(req.out, time.perf_counter() - t)
