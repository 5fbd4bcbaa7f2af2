"""Facial action-vector distance after time warping, protocol ``action-vector-dtw-band@1``: the
expressions of the real face, forgiven a lag of a few frames.

``action_dist`` (``eadbench.metrics.action_dist``, ``action-vector@1``) compares generated frame t
with real frame t. Here the two action-vector trajectories are aligned first by plain DTW inside a
band of ``BAND`` frames (``eadbench.metrics._dtw``: steps (1,0) (0,1) (1,1), value = the cheapest
path's summed cost / n paired frames) with the same frame cost (RMS over the eleven actions, in
clear-action units), on the same pairing (shorter clip, frames without a face on either side left
out of both):

* ``action_dist_dtw`` (lower is better): never above ``action_dist`` (the diagonal is a path), equal
  to it for a still face, near 0 for the real face a few frames late;
* ``action_dist_dtw_lag`` (not an output; the clip's record): the path's mean lag, frames (> 0: late).
"""

from __future__ import annotations

import numpy as np

from eadbench.metrics._dtw import BAND, PARAMS, dtw
from eadbench.metrics.action_dist import ACTION_PARAMS, frame_cost, paired_vectors
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.metrics.evaluators import PairedLandmarksEvaluator

PROTOCOL = MetricProtocol("action-vector-dtw-band", "1", "face256", ACTION_PARAMS + PARAMS,
                          f"RMS facial action-vector difference after plain DTW within +-{BAND} frames, "
                          "summed path cost / paired frames")


def action_dist_dtw_from_landmarks(fake: np.ndarray, real: np.ndarray) -> dict:
    """The clip's outputs from (T, 468, 3) generated and real mesh landmarks (NaN rows: no face)."""
    n = min(len(fake), len(real))
    f, r, dropped = paired_vectors(fake[:n], real[:n])
    w = dtw(f, r, frame_cost)
    return {"action_dist_dtw": w.value, "action_dist_dtw_lag": w.lag, "frames_used": len(f),
            "frames_dropped": dropped}


def action_dist_dtw(fake_crops: np.ndarray, real_crops: np.ndarray, store=None) -> dict:
    """Functional twin on face256 crops (T, 256, 256, 3) uint8 of the generated and real clip."""
    from eadbench.nets.face_mesh import face_mesh

    m = face_mesh(store)
    return action_dist_dtw_from_landmarks(m.series(fake_crops), m.series(real_crops))


@register_metric(
    name="action_dist_dtw", direction=LOWER, level="clip", outputs=("action_dist_dtw",), needs=("real",),
    weights=("face-mesh",), protocols=(PROTOCOL,),
    description=f"facial action-vector distance after aligning the clips in time (DTW, +-{BAND} frames)",
    functional=action_dist_dtw, order=110, columns=(Column("action_dist_dtw", "Action dist. (DTW)", 3),),
    torchmetric=TorchMetric("ActionDistDTW", "update(fake_face256, real_face256)",
                            clip_outputs=lambda store, fake, real: action_dist_dtw(fake, real, store)),
)
class ActionDistDTWEvaluator(PairedLandmarksEvaluator):
    dims = 3

    def score(self, fake: np.ndarray, real: np.ndarray) -> dict:
        return action_dist_dtw_from_landmarks(fake, real)
