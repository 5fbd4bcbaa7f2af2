"""Head-velocity distance, protocol ``head-velocity-fd@1``: do the generated heads move like the real ones?

Set-level, like FID: each video contributes its smoothed head velocities (``eadbench.metrics.
headmotion``'s ``head-pose@1`` series: rotation from the 3-D face mesh of ``face256`` crops,
pitch/yaw/roll relative to the clip's mean rotation, a centred 9-frame moving mean, consecutive
differences), in degrees per second at 25 fps, one 3-vector per sample; the real side once per
clip. The value ``headvel_fd`` (lower is better) is the Frechet distance between the Gaussian fits
of the generated and the real velocity sets, (deg/s)^2, computed as FID's
(``eadbench.metrics.frechet``): 0 for two identical sets; for a still head it is the real
velocities' total variance plus their squared mean. Why a Frechet distance: for Gaussians it is
the squared 2-Wasserstein distance, it sees both how fast (the covariance's size) and along which
axes (nodding vs turning vs tilting) heads move, and the robustness report's set-level changes
(``eadbench.robustness.set_cell``) compute exactly this from the same per-clip features.

A video with no velocity sample contributes nothing; the value needs at least 2 samples per side.
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import SetLandmarksEvaluator
from eadbench.metrics.frechet import frechet_distance_from_features
from eadbench.metrics.headmotion import _POSE, FPS, velocities
from eadbench.nets.face_mesh import face_mesh

PROTOCOL = MetricProtocol(
    "head-velocity-fd", "1", "face256",
    _POSE + (("features", "smoothed (pitch, yaw, roll) velocity, deg/s"),
             ("distance", "Frechet distance of Gaussian fits, (deg/s)^2")),
    "Frechet distance between generated and real head-velocity distributions")


def headvel_features(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 3) mesh landmarks of one video -> (N, 3) head velocities in degrees per second."""
    return velocities(landmarks) * FPS


def headvel_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    for name, f in (("generated", fake), ("real", real)):
        if len(f) < 2:
            raise MetricInputError(f"head-velocity distance needs at least 2 {name} velocity samples, got {len(f)}")
    return frechet_distance_from_features(fake, real)


def headvel(fake_videos: list[np.ndarray], real_videos: list[np.ndarray], store=None) -> float:
    """Functional twin: the distance between two lists of face256 crop videos (T, 256, 256, 3) uint8."""
    m = face_mesh(store)
    feats = [np.concatenate([headvel_features(m.series(v)) for v in side]) for side in (fake_videos, real_videos)]
    return headvel_from_features(*feats)


@register_metric(
    name="headvel", direction=LOWER, level="set", outputs=("headvel_fd",), needs=("real",), weights=("face-mesh",),
    protocols=(PROTOCOL,),
    description="Frechet distance of head-rotation velocities, generated vs real set (deg/s)^2",
    functional=headvel, order=160, columns=(Column("headvel_fd", "Head-velocity FD", 1),),
    torchmetric=TorchMetric("HeadVel", "update(face256_video, real=bool)",
                            nets=lambda store, protocol: face_mesh(store),
                            features=lambda mesh, video: headvel_features(mesh.series(video)),
                            distance=headvel_from_features),
)
class HeadVelEvaluator(SetLandmarksEvaluator):
    output, counted, feature_dim = "headvel_fd", "samples", 3

    def features(self, marks: np.ndarray) -> np.ndarray:
        return headvel_features(marks)

    def distance(self, fake: np.ndarray, real: np.ndarray) -> float:
        return headvel_from_features(fake, real)
