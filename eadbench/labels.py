"""Canonical emotion labels and the explicit maps to and from every label set we meet.

Canonical labels are MEAD's eight plus RAVDESS's ``calm``. Classifiers speak their own
vocabularies; a clip is compared with a classifier's prediction only through these maps, and
a canonical label a classifier cannot output (``contempt`` for the 7-class fer model,
``calm`` for every classifier) is *excluded and counted*, never silently matched.
"""

from __future__ import annotations

from eadbench.errors import ChoiceError

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
        raise ChoiceError(f"unknown emotion {label!r}; expected one of {', '.join(ALL_EMOTIONS)}")
    return key


def apply_calm_policy(label: str, policy: str) -> str | None:
    """Map RAVDESS ``calm`` per policy: to ``neutral``, to None (exclude), or keep it."""
    if policy not in CALM_POLICIES:
        raise ChoiceError(f"calm policy must be one of {CALM_POLICIES}, got {policy!r}")
    if label != "calm":
        return label
    return {"neutral": "neutral", "exclude": None, "keep": "calm"}[policy]


def classifier_labels(classifier_to_canonical: dict[str, str]) -> set[str]:
    """Canonical labels a classifier can predict (anything else must be excluded and counted)."""
    return set(classifier_to_canonical.values())


EMOTION_LOOKS = {
    "neutral": "with a relaxed, neutral face", "calm": "calmly, with a soft relaxed face",
    "happy": "smiling, with raised mouth corners", "sad": "with lowered mouth corners and raised inner brows",
    "angry": "frowning, with lowered brows", "fear": "with raised brows and wide eyes, stretched lips",
    "disgusted": "with a raised upper lip and wrinkled nose", "surprised": "with raised brows, wide eyes, open mouth",
    "contempt": "with one mouth corner raised",
}


def describe_emotion(emotion: str | None, intensity: float | None, who: str = "a person") -> str:
    """Template emotion text (what a vision-language model might say of the clip), used when a
    clip has no description file: the same wording for the synthetic data and for EAD-Net."""
    if not emotion:
        return f"{who} speaking"
    i = 0.5 if intensity is None else intensity
    level = "slightly" if i < 0.4 else "clearly" if i < 0.8 else "intensely"
    return f"{who} speaking, {level} {emotion}, {EMOTION_LOOKS.get(emotion, '')}".rstrip(", ")
