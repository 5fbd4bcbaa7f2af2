"""Head-motion energy, protocol ``head-pose@1``: is the generated head as lively as the real one?

A talking head that freezes its head (or shakes it) is wrong in a way that lip and image metrics
do not see. Per clip, on ``face256`` crops at 25 fps, generated and real paired 1:1 (the shorter
clip sets the length):

* rotation: the head's rotation per frame from the 3-D face mesh (``eadbench.faces.headpose``:
  Kabsch alignment of the rigid mesh points to the frontal template), as pitch, yaw and roll in
  degrees relative to the clip's mean rotation; NaN where no face is known or found;
* smoothing: each angle's centred ``SMOOTH``-frame (0.36 s) moving mean, kept only where all the
  frames of the window have a face. Why: the mesh's frame-to-frame pose noise alone is about
  0.5-1 degree per frame; on the first 5 s of four real HDTF / video-retalking clips a copy whose
  head is frozen while the mouth moves kept 20-59 % of the real clip's raw energy, and 12-35 %
  after this smoothing (head motion in speech lives below ~1.5 Hz, which it passes);
* velocity: the difference of consecutive smoothed samples (pitch, yaw, roll), degrees per frame;
* energy: the mean squared velocity length over the samples that have one.

Outputs (``E`` the generated clip's energy, ``E_real`` the real clip's):

* ``headmotion_gap`` (the value, lower is better) = 1 - min(E, E_real) / max(E, E_real): 0 for a
  head exactly as lively as the real one, 1 for a still head; symmetric in scale (half and twice
  the real energy both give 0.5), bounded, and 0 when both heads are still;
* ``headmotion_energy`` = E / E_real (no direction: 1.0 is ideal, a still head gives 0, a shaking
  head above 1); absent (None) when the real head never moves;
* ``headmotion_speed`` and ``headmotion_speed_real``: the RMS angular speed, degrees per second
  (no direction; what the energy is made of).

Translation is not measured (``eadbench.faces.headpose`` says why): the crops follow the face
track. Set-level: ``eadbench.metrics.headvel`` compares the velocity distributions of whole sets.
A clip with fewer than ``MIN_SAMPLES`` velocity samples on either side is excluded with the reason.
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.faces.headpose import head_angles, head_rotations
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import PairedLandmarksEvaluator

#: frames of the centred moving mean applied to each angle before differencing (0.36 s at 25 fps)
SMOOTH = 9
#: velocity samples a clip needs on each side (1 s at 25 fps)
MIN_SAMPLES = 25
FPS = 25

_POSE = (("mesh", "mediapipe-468 3-D, rigid points Kabsch-aligned to the frontal template"),
         ("angles", "pitch, yaw, roll (deg) relative to the clip's mean rotation"),
         ("translation", "not measured (face256 crops follow the face track)"),
         ("smooth", f"centred {SMOOTH}-frame moving mean, windows with a face in every frame"),
         ("velocity", "difference of consecutive smoothed samples, deg per frame at 25 fps"))
PROTOCOL = MetricProtocol(
    "head-pose", "1", "face256",
    _POSE + (("energy", "mean squared velocity length"),
             ("gap", "1 - min(E, E_real) / max(E, E_real)"), ("min_samples", MIN_SAMPLES)),
    "head rotation energy of the generated clip relative to the real one (1 - min/max ratio)")


def pose_series(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 3) mesh landmarks -> (T, 3) pitch, yaw, roll in degrees relative to the clip's mean
    rotation (NaN rows where no face)."""
    from scipy.spatial.transform import Rotation

    q = head_rotations(landmarks)
    ok = np.isfinite(q).all(axis=(1, 2))
    if not ok.any():
        return np.full((len(q), 3), np.nan)
    mean = Rotation.from_matrix(q[ok]).mean().as_matrix()
    return head_angles(q @ mean.T)


def smooth(angles: np.ndarray, width: int = SMOOTH) -> np.ndarray:
    """(T, k) series -> (T - width + 1, k) centred moving means; NaN where the window misses a frame.
    Each window is summed on its own (no running sum), so a still head gives exactly equal means."""
    from numpy.lib.stride_tricks import sliding_window_view

    a = np.asarray(angles, dtype=np.float64)
    if len(a) < width:
        return np.zeros((0,) + a.shape[1:])
    return sliding_window_view(a, width, axis=0).mean(axis=-1)


def velocities(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 3) mesh landmarks -> (N, 3) smoothed head velocities (pitch, yaw, roll; degrees per
    frame), only the samples that have one."""
    v = np.diff(smooth(pose_series(landmarks)), axis=0)
    return v[np.isfinite(v).all(axis=1)]


def energy(v: np.ndarray, side: str) -> float:
    """Mean squared velocity length of (N, 3) velocities, or a one-line error with too few samples."""
    if len(v) < MIN_SAMPLES:
        raise MetricInputError(f"head motion needs {MIN_SAMPLES} smoothed velocity samples of the {side} clip "
                               f"({MIN_SAMPLES + SMOOTH} frames with a face in a row), got {len(v)}")
    return float((np.asarray(v, dtype=np.float64) ** 2).sum(axis=1).mean())


def headmotion_from_velocities(fake: np.ndarray, real: np.ndarray) -> dict:
    """The clip's outputs from its (N, 3) generated and real velocities."""
    e, e_real = energy(fake, "generated"), energy(real, "real")
    top = max(e, e_real)
    return {"headmotion_gap": 0.0 if top == 0 else 1.0 - min(e, e_real) / top,
            "headmotion_energy": None if e_real == 0 else e / e_real,
            "headmotion_speed": float(np.sqrt(e)) * FPS, "headmotion_speed_real": float(np.sqrt(e_real)) * FPS,
            "samples": int(len(fake)), "samples_real": int(len(real))}


def headmotion_from_landmarks(fake: np.ndarray, real: np.ndarray) -> dict:
    n = min(len(fake), len(real))
    return headmotion_from_velocities(velocities(fake[:n]), velocities(real[:n]))


def headmotion(fake_crops: np.ndarray, real_crops: np.ndarray, store=None) -> dict:
    """Functional twin on face256 crops (T, 256, 256, 3) uint8 of the generated and real clip."""
    from eadbench.nets.face_mesh import face_mesh

    m = face_mesh(store)
    return headmotion_from_landmarks(m.series(fake_crops), m.series(real_crops))


@register_metric(
    name="headmotion", direction=LOWER, level="clip",
    outputs=("headmotion_gap", "headmotion_energy", "headmotion_speed", "headmotion_speed_real"),
    needs=("real",), weights=("face-mesh",), protocols=(PROTOCOL,),
    description="head-rotation energy vs the real clip (gap 0 = as lively, 1 = still head; energy ratio 1 = ideal)",
    functional=headmotion, order=150,
    columns=(Column("headmotion_gap", "Head-motion gap", 3),
             Column("headmotion_energy", "Head-motion energy (1 = real)", 2)),
    torchmetric=TorchMetric("HeadMotion", "update(fake_face256, real_face256)",
                            clip_outputs=lambda store, fake, real: headmotion(fake, real, store)),
)
class HeadMotionEvaluator(PairedLandmarksEvaluator):
    dims = 3

    def score(self, fake: np.ndarray, real: np.ndarray) -> dict:
        return headmotion_from_landmarks(fake, real)
