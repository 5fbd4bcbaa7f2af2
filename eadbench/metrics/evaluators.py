"""Evaluator shapes that several metrics share, built on the contract in ``eadbench.metrics.base``.

* ``FrameValues``: a clip's per-frame scores (one number per frame, small for any video);
* ``FrameMeanEvaluator``: the clip's value is the mean of a per-frame score (SSIM, PSNR, LPIPS);
* ``PairedLandmarksEvaluator``: a per-clip score of the face mesh's landmarks of the generated and
  the real crops (LMD and its DTW twin, the action distances, head motion, blinks and brows);
* ``SetLandmarksEvaluator``: a set-level distance between the generated and the real videos'
  per-frame landmark features (head velocities, expressions).

A metric whose clip state is none of these subclasses ``Evaluator`` itself.
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.metrics.base import Chunk, ClipMeta, Evaluator


class FrameValues:
    """Per-clip accumulator of a per-frame score (one number per frame: small even for long
    videos); the clip's value is their mean, reduced by torch in the values' own dtype."""

    def __init__(self) -> None:
        self.values: list[np.ndarray] = []

    def add(self, v) -> None:
        self.values.append(np.asarray(v).reshape(-1))

    def all(self) -> np.ndarray:
        if not self.values:
            raise MetricInputError("no frames to compare")
        return np.concatenate(self.values)

    def mean(self) -> float:
        import torch

        return float(torch.from_numpy(self.all()).mean())



class FrameMeanEvaluator(Evaluator):
    """A clip-level evaluator whose value is the mean of a per-frame score over the clip's frames
    (SSIM, PSNR, LPIPS): a subclass sets ``frame_values(fake, real)`` on a chunk's paired frames."""

    def frame_values(self, fake: np.ndarray, real: np.ndarray):
        raise NotImplementedError

    def begin(self, meta: ClipMeta) -> FrameValues:
        return FrameValues()

    def update(self, state: FrameValues, chunk: Chunk) -> None:
        state.add(np.asarray(self.frame_values(chunk.fake, chunk.real)))

    def end(self, state: FrameValues) -> dict:
        return {self.outputs[0]: state.mean()}


class PairedLandmarksEvaluator(Evaluator):
    """A clip-level evaluator over the face mesh's landmarks of the generated and the real crops,
    read chunk by chunk (LMD, head motion): a subclass sets ``dims`` (2: x, y; 3: with depth) and
    ``score(fake, real)`` on the whole clip's (T, 468, dims) arrays (NaN rows: no face). The mesh
    runs once per chunk for all such metrics (``FaceMesh.series``)."""

    dims = 3

    def __init__(self, ctx):
        super().__init__(ctx)
        from eadbench.nets.face_mesh import face_mesh

        self.mesh = face_mesh(self.store)

    def score(self, fake: np.ndarray, real: np.ndarray) -> dict:
        raise NotImplementedError

    def begin(self, meta: ClipMeta) -> dict:
        return {"fake": [], "real": []}

    def update(self, state: dict, chunk: Chunk) -> None:
        state["fake"].append(self.mesh.series(chunk.fake, chunk.fake_ok)[:, :, :self.dims])
        state["real"].append(self.mesh.series(chunk.real, chunk.real_ok)[:, :, :self.dims])

    def end(self, state: dict) -> dict:
        if not state["fake"]:
            raise MetricInputError("no frames to compare")
        return self.score(np.concatenate(state["fake"]), np.concatenate(state["real"]))


class SetLandmarksEvaluator(Evaluator):
    """A set-level evaluator over per-frame features of the face mesh's landmarks (head velocities,
    facial-action vectors): each generated and real video's mesh is read chunk by chunk, one video
    at a time (the driver runs the real side once per clip), turned into features by ``features``
    ((T, 468, 3) -> (N, K)), and the generated set is compared with the real set by ``distance``.
    A subclass sets ``output`` (the value's name), ``counted`` (what a feature row is, for the
    ``n_<counted>_fake/real`` outputs) and ``feature_dim`` (K)."""

    output = ""
    counted = "frames"
    feature_dim = 0

    def __init__(self, ctx):
        super().__init__(ctx)
        from eadbench.nets.face_mesh import face_mesh

        self.mesh = face_mesh(self.store)

    def features(self, marks: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def distance(self, fake: np.ndarray, real: np.ndarray) -> float:
        raise NotImplementedError

    def views(self):
        return super().views()[0], None

    def begin(self, meta: ClipMeta) -> list[np.ndarray]:
        return []

    def update(self, state: list[np.ndarray], chunk: Chunk) -> None:
        state.append(self.mesh.series(chunk.fake, chunk.fake_ok))

    def end(self, state: list[np.ndarray]) -> dict:
        marks = np.concatenate(state) if state else np.zeros((0, 468, 3))
        return {"features": self.features(marks)}

    def reduce(self, outputs: list[dict], real: list[dict] | None = None) -> dict:
        empty = np.zeros((0, self.feature_dim))
        fake = np.concatenate([o["features"] for o in outputs]) if outputs else empty
        ref = np.concatenate([o["features"] for o in real]) if real else empty
        return {self.output: self.distance(fake, ref), f"n_{self.counted}_fake": len(fake),
                f"n_{self.counted}_real": len(ref)}


__all__ = ["FrameMeanEvaluator", "FrameValues", "PairedLandmarksEvaluator", "SetLandmarksEvaluator"]
