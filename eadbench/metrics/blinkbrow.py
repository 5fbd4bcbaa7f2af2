"""Blinks and brows, protocol ``blink-brow@1``: does the generated face blink and move its brows like the real one?

A generated face that never blinks, or whose brows are frozen, is wrong in a way lip and image
metrics do not see. Per clip, on ``face256`` crops at 25 fps, generated and real paired 1:1 (the
shorter clip sets the length):

* eye opening: per frame, the mean of the two eyes' aspect ratios from the MediaPipe iris model's
  eye contour (``eadbench.nets.eye_contour``: the lid gap over the corner distance in an eye crop
  placed by the face mesh's eye corners); NaN where no face. The mesh's own lids barely close in a
  blink (that module says by how much), so they are not used for blinks;
* blinks: the clip's own open-eye level is the median eye opening over its frames with a face; a
  frame is closed when its opening is below ``CLOSED`` (0.6) of that level; closed runs separated
  by at most ``MERGE`` (2) open frames are one blink; a blink lasts at least ``MIN_BLINK`` (2)
  closed frames (80 ms). No smoothing: the run length is the filter. On 19 real clips (HDTF,
  video-retalking, LivePortrait, LatentSync, MuseTalk, MEAD; first 250 frames) an H.264 crf-28
  re-encoding found the same number of blinks as the clip in every clip at these settings; at 0.5
  two clips lost two shallow blinks each, at 0.7 two clips' counts moved by one and one
  re-encoding's count no longer matched its clip's; a 3-frame minimum dropped real blinks;
* blink rate: blinks per minute of frames with a face;
* brows: per frame, (outer brow height, inner brow height, inner brow gap) in IOD units in the
  pose-free frontal frame (``eadbench.faces.actions``: head rotation removed), each smoothed by the
  head-motion metric's centred 9-frame moving mean (``eadbench.metrics.headmotion.smooth``; the
  mesh's frame-to-frame noise), differenced; brow energy = the mean squared velocity length.

Outputs (``n``, ``n_real`` the blink counts; ``E``, ``E_real`` the brow energies):

* ``blinkbrow_gap`` (the value, lower is better): the mean of ``blink_gap`` and ``brow_gap``, or
  ``brow_gap`` alone when neither clip blinks; 0 ideal, 1 for a still face when the real one blinks;
* ``blink_gap`` (lower is better) = 1 - min(n, n_real) / max(n, n_real): 0 for as many blinks (0
  when neither blinks), 1 when one side never blinks and the other does;
* ``brow_gap`` (lower is better) = 1 - min(E, E_real) / max(E, E_real), as ``headmotion_gap``;
* ``blink_rate`` and ``blink_rate_real``: blinks per minute (no direction);
* ``brow_energy`` = E / E_real (1.0 = as lively, 0 frozen; no direction); None when E_real is 0.

A clip with fewer than ``MIN_SAMPLES`` brow velocity samples on either side is excluded with the
reason (about 1.4 s of frames with a face in a row).
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.faces.actions import measure
from eadbench.metrics.base import LOWER, Chunk, ClipMeta, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import PairedLandmarksEvaluator
from eadbench.metrics.headmotion import FPS, MIN_SAMPLES, SMOOTH, smooth

#: a frame is closed below this fraction of the clip's median eye opening
CLOSED = 0.6
#: closed runs separated by at most this many open frames are one blink
MERGE = 2
#: closed frames a blink needs (80 ms at 25 fps)
MIN_BLINK = 2
BROWS = ("outer_brow_height", "inner_brow_height", "inner_brow_gap")

PROTOCOL = MetricProtocol(
    "blink-brow", "1", "face256",
    (("eyes", "iris_landmark eye contour: mean of both eyes' lid gap / corner distance, eye crop 2.3x corners"),
     ("open_level", "median eye opening of the clip's frames with a face"),
     ("closed", f"opening < {CLOSED} x open level"), ("merge", f"closed runs <= {MERGE} open frames apart"),
     ("min_blink", f"{MIN_BLINK} closed frames"), ("smooth_eyes", "none"),
     ("brows", "outer and inner brow height, inner brow gap; frontalised mesh, IOD units"),
     ("smooth_brows", f"centred {SMOOTH}-frame moving mean, windows with a face in every frame"),
     ("brow_energy", "mean squared velocity length"),
     ("gap", "mean of 1 - min/max of blink counts (when either blinks) and of brow energies"),
     ("min_samples", MIN_SAMPLES), ("fps", FPS)),
    "blink count and brow-motion energy of the generated clip relative to the real one")


def blinks(eyes: np.ndarray) -> list[tuple[int, int]]:
    """(T,) or (T, 2) eye openings (NaN: no face) -> the blinks as [start, end) frame ranges."""
    e = np.asarray(eyes, dtype=np.float64)
    e = e.mean(axis=1) if e.ndim == 2 else e
    ok = np.isfinite(e)
    if not ok.any():
        return []
    closed = ok & (e < CLOSED * np.median(e[ok]))
    runs: list[list[int]] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], closed.astype(np.int8), [0]])))
    for s, t in zip(edges[::2], edges[1::2]):
        if runs and s - runs[-1][1] <= MERGE:
            runs[-1][1] = int(t)
        else:
            runs.append([int(s), int(t)])
    return [(s, t) for s, t in runs if t - s >= MIN_BLINK]


def blink_rate(eyes: np.ndarray) -> float:
    """Blinks per minute of frames with a face."""
    e = np.asarray(eyes, dtype=np.float64)
    n = int(np.isfinite(e.mean(axis=1) if e.ndim == 2 else e).sum())
    return 0.0 if n == 0 else len(blinks(e)) * 60.0 * FPS / n


def brow_velocities(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 3) mesh landmarks -> (N, 3) smoothed brow velocities (IOD units per frame), only the
    samples that have one."""
    m = measure(landmarks) if len(landmarks) else {k: np.zeros(0) for k in BROWS}
    v = np.diff(smooth(np.stack([m[k] for k in BROWS], axis=1)), axis=0)
    return v[np.isfinite(v).all(axis=1)]


def _ratio_gap(a: float, b: float) -> float:
    top = max(a, b)
    return 0.0 if top == 0 else 1.0 - min(a, b) / top


def blinkbrow_from_series(fake_eyes: np.ndarray, real_eyes: np.ndarray, fake_marks: np.ndarray,
                          real_marks: np.ndarray) -> dict:
    """The clip's outputs from its generated and real eye openings (T, 2) and mesh landmarks (T, 468, 3)."""
    n = min(len(fake_eyes), len(real_eyes), len(fake_marks), len(real_marks))
    energies = []
    for side, marks in (("generated", fake_marks), ("real", real_marks)):
        v = brow_velocities(marks[:n])
        if len(v) < MIN_SAMPLES:
            raise MetricInputError(f"blinks and brows need {MIN_SAMPLES} smoothed brow velocity samples of the {side} "
                                   f"clip ({MIN_SAMPLES + SMOOTH} frames with a face in a row), got {len(v)}")
        energies.append(float((v ** 2).sum(axis=1).mean()))
    e, e_real = energies
    nb, nb_real = len(blinks(fake_eyes[:n])), len(blinks(real_eyes[:n]))
    blink_gap, brow_gap = _ratio_gap(nb, nb_real), _ratio_gap(e, e_real)
    return {"blinkbrow_gap": brow_gap if nb == nb_real == 0 else (blink_gap + brow_gap) / 2,
            "blink_gap": blink_gap, "brow_gap": brow_gap,
            "blink_rate": blink_rate(fake_eyes[:n]), "blink_rate_real": blink_rate(real_eyes[:n]),
            "brow_energy": None if e_real == 0 else e / e_real, "blinks": nb, "blinks_real": nb_real}


def blinkbrow(fake_crops: np.ndarray, real_crops: np.ndarray, store=None) -> dict:
    """Functional twin on face256 crops (T, 256, 256, 3) uint8 of the generated and real clip."""
    from eadbench.nets.eye_contour import eye_contour
    from eadbench.nets.face_mesh import face_mesh

    m, ec = face_mesh(store), eye_contour(store)
    marks = [m.series(c) for c in (fake_crops, real_crops)]
    return blinkbrow_from_series(ec.series(fake_crops, marks[0]), ec.series(real_crops, marks[1]), *marks)


@register_metric(
    name="blinkbrow", direction=LOWER, level="clip",
    outputs=("blinkbrow_gap", "blink_gap", "brow_gap", "blink_rate", "blink_rate_real", "brow_energy"),
    output_directions=(("blink_gap", LOWER), ("brow_gap", LOWER)),
    needs=("real",), weights=("face-mesh", "iris-landmark"), protocols=(PROTOCOL,),
    description="blink count and brow-motion energy vs the real clip (gap 0 = as lively; rates per minute)",
    functional=blinkbrow, order=180,
    columns=(Column("blinkbrow_gap", "Blink/brow gap", 3), Column("blink_rate", "Blinks/min", 1),
             Column("brow_energy", "Brow energy (1 = real)", 2)),
    torchmetric=TorchMetric("BlinkBrow", "update(fake_face256, real_face256)",
                            clip_outputs=lambda store, fake, real: blinkbrow(fake, real, store)),
)
class BlinkBrowEvaluator(PairedLandmarksEvaluator):
    dims = 3

    def __init__(self, ctx):
        super().__init__(ctx)
        from eadbench.nets.eye_contour import eye_contour

        self.eyes = eye_contour(self.store)

    def begin(self, meta: ClipMeta) -> dict:
        return {"fake": [], "real": [], "fake_eyes": [], "real_eyes": []}

    def update(self, state: dict, chunk: Chunk) -> None:
        for side, crops, ok in (("fake", chunk.fake, chunk.fake_ok), ("real", chunk.real, chunk.real_ok)):
            marks = self.mesh.series(crops, ok)
            state[side].append(marks)
            state[side + "_eyes"].append(self.eyes.series(crops, marks))

    def end(self, state: dict) -> dict:
        if not state["fake"]:
            raise MetricInputError("no frames to compare")
        return blinkbrow_from_series(*(np.concatenate(state[k]) for k in ("fake_eyes", "real_eyes", "fake", "real")))
