"""Canonical emotion labels and the explicit maps to and from every label set we meet.

Canonical labels are MEAD's eight plus RAVDESS's ``calm``. Classifiers speak their own
vocabularies; a clip is compared with a classifier's prediction only through these maps, and
a canonical label a classifier cannot output (``contempt`` for the 7-class fer model,
``calm`` for every classifier) is *excluded and counted*, never silently matched.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised",
)
#: Canonical set including RAVDESS's extra label.
ALL_EMOTIONS: tuple[str, ...] = EMOTIONS + ("calm",)

#: MEAD folder names are the canonical names themselves.
MEAD_TO_CANONICAL = {e: e for e in EMOTIONS}

#: RAVDESS emotion code (3rd field of the file name) -> canonical label.
RAVDESS_CODE_TO_CANONICAL = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fear", "07": "disgusted", "08": "surprised",
}

#: Classifier label sets, in the classifiers' own output order.
FER7_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
HSEMOTION8_LABELS = (
    "Anger", "Contempt", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise",
)

FER7_TO_CANONICAL = {
    "angry": "angry", "disgust": "disgusted", "fear": "fear", "happy": "happy",
    "sad": "sad", "surprise": "surprised", "neutral": "neutral",
}
HSEMOTION8_TO_CANONICAL = {
    "Anger": "angry", "Contempt": "contempt", "Disgust": "disgusted", "Fear": "fear",
    "Happiness": "happy", "Neutral": "neutral", "Sadness": "sad", "Surprise": "surprised",
}

CALM_POLICIES = ("neutral", "exclude", "keep")


def canonical(label: str) -> str:
    """Normalise a user-typed label ("Happy", "fearful", "disgust") to the canonical name."""
    key = label.strip().lower()
    aliases = {
        "anger": "angry", "disgust": "disgusted", "fearful": "fear", "happiness": "happy",
        "sadness": "sad", "surprise": "surprised",
    }
    key = aliases.get(key, key)
    if key not in ALL_EMOTIONS:
        raise ValueError(f"unknown emotion {label!r}; expected one of {', '.join(ALL_EMOTIONS)}")
    return key


def apply_calm_policy(label: str, policy: str) -> str | None:
    """Map RAVDESS ``calm`` per policy: to ``neutral``, to None (exclude), or keep it."""
    if policy not in CALM_POLICIES:
        raise ValueError(f"calm policy must be one of {CALM_POLICIES}, got {policy!r}")
    if label != "calm":
        return label
    return {"neutral": "neutral", "exclude": None, "keep": "calm"}[policy]


def classifier_labels(classifier_to_canonical: dict[str, str]) -> set[str]:
    """Canonical labels a classifier can predict (anything else must be excluded and counted)."""
    return set(classifier_to_canonical.values())
