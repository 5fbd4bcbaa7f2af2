"""How the offline emotion metric reads a synthetic clip, through the metric's own steps.

The Acc_emo metric (``eadbench.metrics.emotion``) tracks the face (MTCNN), crops every frame
with protocol ``face256``, keeps the centre ``face_box``, averages the classifier's
probabilities over the frames and takes the argmax. ``read_clip`` does exactly that on frames
in memory, so that tests and ``benchmarks/synth_emotions.py`` measure what a run would score,
plus the probability of the target emotion and the frames where no face was found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reading:
    target: str
    pred: str
    probs: dict  # canonical emotion -> mean probability over frames
    judged: bool  # False when the classifier cannot output the target (contempt for fer)
    missing: tuple  # frame indices without a detected face
    n_frames: int

    @property
    def correct(self) -> bool | None:
        return (self.pred == self.target) if self.judged else None

    @property
    def target_prob(self) -> float | None:
        return self.probs.get(self.target) if self.judged else None


def read_clip(frames: np.ndarray, target: str, classifier) -> Reading:
    """The metric's reading of one clip (frames (T, H, W, 3) uint8 RGB)."""
    from eadbench import faces
    from eadbench.faces.crop import face_box
    from eadbench.metrics.emotion import judge, video_prediction

    track = faces.track_clip(frames)
    crops = faces.crop_clip(frames, "face256", track).frames
    pred, probs = video_prediction(classifier.probs(face_box(crops)), classifier)
    judged = judge(target, pred, classifier).get("acc_emo") is not None
    return Reading(target, pred, probs, judged, tuple(track.missing), len(frames))


def classifier(name: str = "fer"):
    """The offline classifier the metric uses by default (``fer``: 7 classes, no contempt)."""
    from eadbench.nets import emotion as classifiers

    return classifiers.build(name)
