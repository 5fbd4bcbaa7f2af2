"""Emotion accuracy (Acc_emo), protocol ``video-mean-prob`` (v1).

Per clip: classifier probabilities of every face frame (crop protocol ``face256``, centre
``FACE_FRACTION`` of it = the face box plus a small margin, as fer crops), mean over frames,
argmax, mapped to the canonical labels through eadbench.labels; compared with the clip's
target emotion. A target the classifier cannot output (contempt for the 7-class fer model,
calm for every classifier) is excluded and counted, never compared.
"""

from __future__ import annotations

import numpy as np
import torch

from eadbench.errors import MetricInputError
from eadbench.metrics import emotion_classifiers
from eadbench.metrics.base import HIGHER, ClipInput, Evaluator, register_metric, torchmetrics_classes
from eadbench.weights import file_sha256, locate

FACE_FRACTION = 0.72


def face_box(crops: np.ndarray) -> np.ndarray:
    """Centre of face256 crops (1.5x the box) that covers the box plus a ~8% margin."""
    s = crops.shape[1]
    m = int(round(s * (1 - FACE_FRACTION) / 2))
    return crops[:, m:s - m, m:s - m]


def video_prediction(probs: np.ndarray, classifier) -> tuple[str, dict[str, float]]:
    mean = probs.mean(axis=0)
    canon = {classifier.to_canonical[lab]: float(p) for lab, p in zip(classifier.labels, mean)}
    return classifier.to_canonical[classifier.labels[int(np.argmax(mean))]], canon


def judge(target: str | None, pred: str, classifier) -> dict:
    can = set(classifier.to_canonical.values())
    if target is None:
        return {"acc_emo": None, "excluded": "clip has no target emotion"}
    if target not in can:
        return {"acc_emo": None, "excluded": f"{target} not in the {classifier.name} label set"}
    return {"acc_emo": 1.0 if pred == target else 0.0}


def emotion_accuracy(videos_faces: list[np.ndarray], targets: list[str], classifier) -> tuple[float, int]:
    """Functional twin: (accuracy over judged clips, number excluded)."""
    correct, judged, excluded = 0, 0, 0
    for faces, target in zip(videos_faces, targets):
        pred, _ = video_prediction(classifier.probs(faces), classifier)
        j = judge(target, pred, classifier)
        if j["acc_emo"] is None:
            excluded += 1
            continue
        judged += 1
        correct += int(j["acc_emo"])
    return (correct / judged if judged else float("nan")), excluded


class _EmotionAccuracy:
    higher_is_better = True
    full_state_update = False

    def __init__(self, classifier=None, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier or emotion_classifiers.build("fer")
        for s in ("correct", "judged", "excluded"):
            self.add_state(s, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, faces: np.ndarray, target: str) -> None:
        pred, _ = video_prediction(self.classifier.probs(faces), self.classifier)
        j = judge(target, pred, self.classifier)
        if j["acc_emo"] is None:
            self.excluded += 1
        else:
            self.judged += 1
            self.correct += int(j["acc_emo"])

    def compute(self) -> torch.Tensor:
        return self.correct.double() / self.judged


@register_metric(
    name="emotion", direction=HIGHER, level="clip", outputs=("acc_emo",), needs=("emotion",),
    weights=("hsemotion-enet-b0-8", "fer-mini-xception"), protocol="video-mean-prob", protocol_version="1",
    face=True, crop_protocol="face256",
    description="emotion accuracy: video-level prediction (mean of frame probabilities) vs target emotion",
)
class EmotionEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.classifier = emotion_classifiers.build(ctx.options.get("classifier"), ctx.weights_dir,
                                                    ctx.trust_weights, self.notes)
        self.sha = file_sha256(locate(self.classifier.weight_name, ctx.weights_dir).path)

    def facts(self):
        return {"classifier": f"{self.classifier.name} ({len(self.classifier.labels)} classes)"}

    def weights_used(self):
        return {self.classifier.weight_name: self.sha}

    def clip(self, item: ClipInput) -> dict:
        if item.faces is None:
            raise MetricInputError("emotion accuracy needs face crops")
        faces = face_box(item.faces("fake", "face256"))
        pred, probs = video_prediction(self.classifier.probs(faces), self.classifier)
        out = judge(item.emotion, pred, self.classifier)
        out.update(pred=pred, probs=probs, classifier=f"{self.classifier.name} ({len(self.classifier.labels)} classes)")
        return out

    def reduce(self, outputs: list[dict]) -> dict:
        judged = [o["acc_emo"] for o in outputs if o.get("acc_emo") is not None]
        return {"acc_emo": float(np.mean(judged)) if judged else float("nan"),
                "n_excluded": sum(1 for o in outputs if o.get("excluded"))}


__getattr__ = torchmetrics_classes(__name__, EmotionAccuracy=_EmotionAccuracy)
