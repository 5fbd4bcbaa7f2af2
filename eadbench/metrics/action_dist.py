"""Facial action-vector distance, protocol ``action-vector@1``: does the generated face make the
real face's expressions, frame by frame, whatever its head pose?

LMD measures where landmarks are, in crop pixels, so head pose and face shape weigh in. This reads
what the face does: per frame, the facial action vector of ``eadbench.faces.actions.action_vector`` (eleven
actions, ``VECTOR``: brows, eyes, lip corners, lip stretch and press, upper lip, jaw, nose wrinkle,
lip-corner asymmetry) from the 3-D face mesh of the ``face256`` crop, made pose-free (rigid points
Kabsch-aligned to the frontal template, inter-ocular distance as the unit) and each action scaled by
its clear-action size (``Action.scale``), so one unit is one clearly visible action.

* frame cost: the root mean square over the eleven actions of the generated minus the real vector;
* ``action_dist`` (lower is better, 0 for the real face's own actions): the mean frame cost over the
  frames paired 1:1 (the shorter clip sets the length; frames without a face on either side are left
  out and counted, as LMD does).

Its time-tolerant partner is ``action_dist_dtw`` (the same cost after DTW within a band).
"""

from __future__ import annotations

import numpy as np

from eadbench.faces.actions import VECTOR, action_vector
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import PairedLandmarksEvaluator
from eadbench.metrics.lmd_dtw import paired_frames

#: what every action-vector protocol pins
ACTION_PARAMS = (("landmarks", "mediapipe-468 3-D, rigid points Kabsch-aligned to the frontal template"),
                 ("vector", ",".join(VECTOR)), ("units", "clear-action scales (faces.actions.ACTIONS)"),
                 ("frame_cost", "rms over the actions of generated - real"))
PROTOCOL = MetricProtocol("action-vector", "1", "face256", ACTION_PARAMS,
                          "RMS facial action-vector difference per frame, mean over frames paired 1:1")


def frame_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m, K) generated and real action vectors -> (m,) RMS differences over the K actions."""
    return np.sqrt(((a - b) ** 2).mean(axis=1))


def paired_vectors(fake: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(generated, real, dropped) action vectors of (T, 468, 3) mesh landmarks, paired as LMD pairs."""
    return paired_frames(action_vector(fake), action_vector(real))


def action_dist_from_landmarks(fake: np.ndarray, real: np.ndarray) -> dict:
    """The clip's outputs from (T, 468, 3) generated and real mesh landmarks (NaN rows: no face)."""
    n = min(len(fake), len(real))
    f, r, dropped = paired_vectors(fake[:n], real[:n])
    return {"action_dist": float(frame_cost(f, r).mean()), "frames_used": len(f), "frames_dropped": dropped}


def action_dist(fake_crops: np.ndarray, real_crops: np.ndarray, store=None) -> dict:
    """Functional twin on face256 crops (T, 256, 256, 3) uint8 of the generated and real clip."""
    from eadbench.nets.face_mesh import face_mesh

    m = face_mesh(store)
    return action_dist_from_landmarks(m.series(fake_crops), m.series(real_crops))


@register_metric(
    name="action_dist", direction=LOWER, level="clip", outputs=("action_dist",), needs=("real",),
    weights=("face-mesh",), protocols=(PROTOCOL,),
    description="facial action-vector distance to the real frames, frame by frame (pose-free, clear-action units)",
    functional=action_dist, order=100, columns=(Column("action_dist", "Action dist.", 3),),
    torchmetric=TorchMetric("ActionDist", "update(fake_face256, real_face256)",
                            clip_outputs=lambda store, fake, real: action_dist(fake, real, store)),
)
class ActionDistEvaluator(PairedLandmarksEvaluator):
    dims = 3

    def score(self, fake: np.ndarray, real: np.ndarray) -> dict:
        return action_dist_from_landmarks(fake, real)
