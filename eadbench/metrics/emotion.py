"""Emotion accuracy (Acc_emo), protocol ``video-mean-prob`` (v1).

Per clip: classifier probabilities of every face frame (crop protocol ``face256``, centre
``FACE_FRACTION`` of it = the face box plus a small margin, as fer crops), mean over frames,
argmax, mapped to the canonical labels through eadbench.labels; compared with the clip's
target emotion. A target the classifier cannot output (contempt for the 7-class fer model,
calm for every classifier) is excluded and counted, never compared. The classifier actually
used is recorded next to every value (``facts``).
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.faces.crop import FACE_FRACTION, face_box
from eadbench.metrics.base import (
    HIGHER,
    Chunk,
    ClipMeta,
    Column,
    Evaluator,
    MetricOption,
    MetricProtocol,
    TorchMetric,
    register_metric,
)
from eadbench.nets import emotion as classifiers
from eadbench.nets.emotion import video_prediction

PROTOCOL = MetricProtocol("video-mean-prob", "1", "face256", (("face_fraction", FACE_FRACTION),
                                                              ("aggregate", "mean of frame probabilities")),
                          "mean of frame probabilities, argmax, explicit label maps")


def judge(target: str | None, pred: str, classifier) -> dict:
    can = set(classifier.to_canonical.values())
    if target is None:
        return {"acc_emo": None, "excluded": "clip has no target emotion"}
    if target not in can:
        return {"acc_emo": None, "excluded": f"{target} not in the {classifier.name} label set"}
    return {"acc_emo": 1.0 if pred == target else 0.0}


def judge_clip(classifier, faces: np.ndarray, target: str | None) -> dict:
    """One video's judgement (``acc_emo`` 1, 0 or None with the reason) from its face256 crops."""
    pred, _ = video_prediction(classifier.probs(face_box(np.asarray(faces))), classifier)
    return judge(target, pred, classifier)


def classifier_for(store, protocol: MetricProtocol, classifier=None):
    """The classifier the EmotionAccuracy class uses: a built one as given, else by name (None: auto)."""
    return classifier if classifier is not None and not isinstance(classifier, str) else \
        classifiers.build(classifier, store)


def emotion_accuracy(videos_faces: list[np.ndarray], targets: list[str], classifier=None) -> tuple[float, int]:
    """Functional twin: (accuracy over judged clips, number excluded) of videos given as their
    face256 crops, each with its target emotion."""
    classifier = classifier or classifiers.build()
    correct, judged, excluded = 0, 0, 0
    for faces, target in zip(videos_faces, targets):
        j = judge_clip(classifier, faces, target)
        if j["acc_emo"] is None:
            excluded += 1
            continue
        judged += 1
        correct += int(j["acc_emo"])
    return (correct / judged if judged else float("nan")), excluded


@register_metric(
    name="emotion", direction=HIGHER, level="clip", outputs=("acc_emo",), needs=("emotion",),
    weights=("hsemotion-enet-b0-8", "fer-mini-xception"), protocols=(PROTOCOL,),
    options=(MetricOption("classifier", "auto (HSEmotion when its weights load, else fer), hsemotion or fer",
                          choices=classifiers.CLASSIFIERS),),
    description="emotion accuracy: video-level prediction (mean of frame probabilities) vs target emotion",
    functional=emotion_accuracy, order=70, columns=(Column("acc_emo", "Acc_emo (%)", 2, 100.0),),
    torchmetric=TorchMetric("EmotionAccuracy", "update(face256_crops, target)", nets=classifier_for,
                            clip_outputs=judge_clip),
)
class EmotionEvaluator(Evaluator):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.classifier = classifiers.build(ctx.options.get("classifier"), self.store, self.notes)

    def weights_used(self):
        return {self.classifier.weight_name: self.store.sha256(self.classifier.weight_name)}

    def facts(self):
        return {"classifier": f"{self.classifier.name} ({len(self.classifier.labels)} classes)"}

    def begin(self, meta: ClipMeta) -> dict:
        return {"target": meta.emotion, "probs": []}

    def update(self, state: dict, chunk: Chunk) -> None:
        state["probs"].append(self.classifier.probs(face_box(chunk.fake)))

    def end(self, state: dict) -> dict:
        if not state["probs"]:
            raise MetricInputError("no frames to classify")
        pred, probs = video_prediction(np.concatenate(state["probs"]), self.classifier)
        out = judge(state["target"], pred, self.classifier)
        out.update(pred=pred, probs=probs, classifier=self.facts()["classifier"])
        return out

    def reduce(self, outputs: list[dict], real=None) -> dict:
        judged = [o["acc_emo"] for o in outputs if o.get("acc_emo") is not None]
        return {"acc_emo": float(np.mean(judged)) if judged else float("nan"),
                "n_excluded": sum(1 for o in outputs if o.get("excluded"))}
