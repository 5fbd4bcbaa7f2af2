"""The real video itself: the upper bound, and the sanity check every metric must pass."""

from __future__ import annotations

import shutil
import time

from eadbench.atomic import atomic_path
from eadbench.generators.base import GenerationRequest, GenerationResult, Generator, register_generator


@register_generator
class GroundTruth(Generator):
    name = "ground_truth"
    description = "the real clip (upper bound; every metric's sanity check)"

    def generate(self, req: GenerationRequest) -> GenerationResult:
        t = time.perf_counter()
        with atomic_path(req.out) as tmp:  # the clip itself, whatever the identity source is
            shutil.copyfile(req.real_video or req.reference_video, tmp)
        return GenerationResult(req.out, time.perf_counter() - t)
