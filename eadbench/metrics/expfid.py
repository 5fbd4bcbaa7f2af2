"""Expression distance, protocol ``action-frechet@1``: do the generated faces make the real set's expressions?

An offline E-FID: a Frechet distance between the distributions of per-frame facial action vectors
of the generated and the real set. Set-level, like FID: each video contributes one vector per
frame of its ``face256`` crops (25 fps) where the 468-point face mesh found a face; the real side
once per clip.

* landmarks: the face mesh's 3-D points (``eadbench.nets.face_mesh``), put in the pose-free frontal
  frame of ``eadbench.faces.actions.frontalise`` (the rigid points Kabsch-aligned to the frontal
  template: head pitch, yaw and roll removed; origin between the eyes; unit = the inter-ocular
  distance, IOD);
* features (``FEATURES``, 12 per frame; ``eadbench.faces.actions.measure_frontal``): brows (outer
  and inner height, inner gap, brow-to-nose), eyes (right and left lid gap), lips (corner height,
  corner asymmetry, mouth width, red-lip thickness, nose to upper lip) and jaw (inner-lip gap);
* normalisation: each measure, in IOD units, divided by the fixed scale of a clear action of it
  (``SCALES``: ``eadbench.faces.actions.ACTIONS``' scales, pinned here; the two eyes take the eye
  opening's): one unit is one clear action on every axis. Nothing is estimated from the data, so a
  value means the same thing on every set;
* value ``expfid_fd`` (lower is better): the Frechet distance between the Gaussian fits of the
  generated and the real feature sets (``eadbench.metrics.frechet``, as FID), in squared
  clear-action units; 0 for two identical sets.

Expressions are not identity-free: the measures carry each face's own shape (the generated clip
is meant to keep the real speaker's, so a change of face shape counts too). A video with no frame
with a face contributes nothing; the value needs at least 2 frames per side.
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.faces.actions import frontalise, measure_frontal
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import SetLandmarksEvaluator
from eadbench.metrics.frechet import frechet_distance_from_features
from eadbench.nets.face_mesh import face_mesh

#: per-frame features and the IOD size of a clear action of each (the divisor)
SCALES = (("outer_brow_height", 0.03), ("inner_brow_height", 0.03), ("inner_brow_gap", 0.015),
          ("brow_to_nose", 0.03), ("eye_opening_right", 0.012), ("eye_opening_left", 0.012),
          ("lip_corner_height", 0.025), ("lip_corner_asymmetry", 0.012), ("mouth_width", 0.05),
          ("lip_thickness", 0.03), ("nose_to_upper_lip", 0.015), ("mouth_opening", 0.08))
FEATURES = tuple(k for k, _ in SCALES)

PROTOCOL = MetricProtocol(
    "action-frechet", "1", "face256",
    (("mesh", "mediapipe-468 3-D, frontalised: rigid points Kabsch-aligned to the frontal template, IOD units"),
     ("features", ", ".join(FEATURES)),
     ("normalisation", "each measure / its pinned clear-action scale: " + ", ".join(f"{s:g}" for _, s in SCALES)),
     ("frames", "every frame with a face, 25 fps"),
     ("distance", "Frechet distance of Gaussian fits, squared clear-action units")),
    "Frechet distance between generated and real per-frame facial-action distributions (offline E-FID)")


def expfid_features(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 3) mesh landmarks of one video -> (N, 12) normalised action vectors, one per frame
    with a face."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if len(lm) == 0:
        return np.zeros((0, len(FEATURES)))
    m = measure_frontal(frontalise(lm))
    f = np.stack([m[k] / s for k, s in SCALES], axis=1)
    return f[np.isfinite(f).all(axis=1)]


def expfid_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    for name, f in (("generated", fake), ("real", real)):
        if len(f) < 2:
            raise MetricInputError(f"expression distance needs at least 2 {name} frames with a face, got {len(f)}")
    return frechet_distance_from_features(fake, real)


def expfid(fake_videos: list[np.ndarray], real_videos: list[np.ndarray], store=None) -> float:
    """Functional twin: the distance between two lists of face256 crop videos (T, 256, 256, 3) uint8."""
    m = face_mesh(store)
    feats = [np.concatenate([expfid_features(m.series(v)) for v in side]) for side in (fake_videos, real_videos)]
    return expfid_from_features(*feats)


@register_metric(
    name="expfid", direction=LOWER, level="set", outputs=("expfid_fd",), needs=("real",), weights=("face-mesh",),
    protocols=(PROTOCOL,),
    description="Frechet distance of pose-free facial-action vectors (brows, eyes, lips, jaw), generated vs real set",
    functional=expfid, order=170, columns=(Column("expfid_fd", "Expression FD", 2),),
    torchmetric=TorchMetric("ExpFID", "update(face256_video, real=bool)", nets=lambda store, protocol: face_mesh(store),
                            features=lambda mesh, video: expfid_features(mesh.series(video)),
                            distance=expfid_from_features),
)
class ExpFIDEvaluator(SetLandmarksEvaluator):
    output, counted, feature_dim = "expfid_fd", "frames", len(FEATURES)

    def features(self, marks: np.ndarray) -> np.ndarray:
        return expfid_features(marks)

    def distance(self, fake: np.ndarray, real: np.ndarray) -> float:
        return expfid_from_features(fake, real)
