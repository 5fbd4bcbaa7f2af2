"""Robustness of the metrics themselves (issue 17): does a metric stay put under perturbations
that leave a video's quality unchanged, and move under ones that damage it?

Each clip's ground-truth video is staged as ``eadbench run`` stages it (25 fps, its audio fitted
and muxed as AAC; the 16 kHz audio beside it as a wav) and perturbed:

* harmless: re-encoded with H.264 at CRF 18 and CRF 28 and with H.265 (when the bundled FFmpeg
  has an HEVC encoder; otherwise skipped with the reason recorded); the audio stored as 16-bit
  PCM instead of AAC; a container declaring 50 fps with every frame written twice (eadbench
  reads at 25 fps); a crop jitter (every frame shifted by a random offset of up to 2 px in x and
  y, edge-replicated);
* harmful: the audio delayed by 1, 2 and 3 frames (640 samples each, 40/80/120 ms); the frames
  shuffled in time; the mouth frozen (the lower half of the face box, from the box centre down,
  of every frame replaced by the first frame's).

Every perturbed video is scored against the clean one with the shared clip driver; a metric is
flagged when a harmless perturbation moves it more than a harmful one degrades it
(``FLAG_RULE``). The package, one module per job:

* ``perturbations``: what each perturbation is, the edits, writing a clip's perturbed videos;
* ``scoring``: the clean and perturbed videos through the clip driver;
* ``statistics``: changes, bootstrap CIs and the flag;
* ``report``: robustness.json's content, the terminal table, robustness.md;
* ``study``: the whole study (``robustness()``).

The encoders are ``eadbench.media``'s and the few-row Frechet distance is
``eadbench.metrics.frechet``'s. Everything public is importable from ``eadbench.robustness``.
"""

from __future__ import annotations

from eadbench.media import HEVC_CRF, LOSSLESS, Codec, hevc_codec, video_stream_key
from eadbench.metrics.frechet import frechet_small
from eadbench.robustness.perturbations import (
    AUDIO,
    CLEAN,
    CONTAINER,
    H264,
    HARMFUL,
    HARMLESS,
    JITTER_PX,
    PERTURBATIONS,
    RECIPE_VERSION,
    VIDEO,
    Made,
    Perturbation,
    applies_to,
    clip_rng,
    doubled,
    freeze_mouth,
    get_perturbation,
    jitter_offsets,
    make_perturbations,
    mouth_regions,
    shift_audio,
    shift_frame,
    shuffle_order,
    to_pcm16,
    write_perturbed,
)
from eadbench.robustness.report import build_report, format_table, markdown
from eadbench.robustness.scoring import Scored, score_videos
from eadbench.robustness.statistics import EPS, FLAG_RULE, clip_cell, degradation_sign, flag, set_cell
from eadbench.robustness.study import RobustnessResult, robustness

__all__ = [
    "AUDIO", "CLEAN", "CONTAINER", "EPS", "FLAG_RULE", "H264", "HARMFUL", "HARMLESS", "HEVC_CRF", "JITTER_PX",
    "LOSSLESS", "PERTURBATIONS", "RECIPE_VERSION", "VIDEO", "Codec", "Made", "Perturbation",
    "RobustnessResult", "Scored", "applies_to", "build_report", "clip_cell", "clip_rng", "degradation_sign",
    "doubled", "flag", "format_table", "freeze_mouth", "frechet_small", "get_perturbation", "hevc_codec",
    "jitter_offsets", "make_perturbations", "markdown", "mouth_regions", "robustness", "score_videos",
    "set_cell", "shift_audio", "shift_frame", "shuffle_order", "to_pcm16", "video_stream_key",
    "write_perturbed",
]
