"""Silent-mouth leak, protocol ``silent-mouth`` (v1): how often a generated mouth is open or
moving while the driving audio is silent (lower is better). A method that animates the mouth
from anything but the speech (a replayed talking video, a generic talking motion, noise in
the audio features) leaks; a real speaker mostly does not.

Per clip, on 25 fps video and 16 kHz audio (640 samples per video frame):

* mouth: the inner-lip gap of each ``face256`` crop, as ``avsync`` reads it (IOD units);
* silent frames: Silero VAD probability < 0.35 (the package's threshold for leaving speech)
  over the frame's centred 40 ms, no speech frame (probability >= 0.5) within ``MARGIN`` = 6
  frames (240 ms) on either side (on the real clips the mouth opened up to 6 frames before the
  VAD's speech onset, as speakers do before a phrase), and a measured mouth;
* a silent frame leaks when the mouth is open, opening - rest > ``OPEN_MAX`` with rest = the 5th
  percentile of the clip's measured openings (its own most closed mouth: identities and the
  mesh differ by up to 0.06 IOD in how a closed mouth measures, from -0.006 to 0.059 on the
  real clips), or moving, the range (max - min) of the opening over the silent frames among
  t-2..t+2 > ``MOTION_MAX``;
* ``lipleak`` = leaking silent frames / silent frames. A clip with fewer than ``MIN_SILENT`` = 10
  silent frames is excluded with the reason (most real talking clips have too few pauses).

Calibration (``calibrate``; constants stored here, remeasured by tests/test_lipleak.py): the
95th percentiles, over the pooled silent frames of the real talking clips in the shared data
(WDA_AlexandriaOcasioCortez_000, WDA_KatieHill_000, retalking_1..5; face256 crops of an MTCNN
track detected every 8th frame), of the opening above rest and of its 5-frame range: 48 silent
frames from 4 pauses in 3 clips (the other four have none), so the constants are rough. About
5-10 % of a real speaker's silent frames count as leaking, by construction.

Blind spot: a mouth held open and still through the whole clip sets its own rest level and
does not leak (a still mouth, e.g. the ``static`` method, never does); the numbers and the
commands are in docs/notes/avsync-lipleak.md.
"""

from __future__ import annotations

import numpy as np

from eadbench.metrics.avsync import MouthEvaluator, MouthState, audio_frames, check_audio, mouth_series, voice_probs
from eadbench.metrics.base import LOWER, Column, MetricProtocol, TorchMetric, register_metric
from eadbench.nets import vad

MARGIN = 6
WINDOW = 5
MIN_SILENT = 10
QUANTILE = 95.0
REST_PERCENTILE = 5.0
#: calibrated on the real clips (see the module docstring): IOD units
OPEN_MAX = 0.047
MOTION_MAX = 0.032

PROTOCOL = MetricProtocol(
    "silent-mouth", "1", "face256",
    (("mouth", "inner-lip gap of the 3-D face mesh, pose removed, IOD units"),
     ("silent", (f"silero-vad 6.2.3 p < {vad.SILENCE_THRESHOLD}, no p >= {vad.SPEECH_THRESHOLD} "
                 f"within {MARGIN} frames")),
     ("rest", f"q{REST_PERCENTILE:g} of the clip's openings"), ("open_max", OPEN_MAX),
     ("motion_max", MOTION_MAX), ("motion_window", WINDOW),
     ("calibration", f"q{QUANTILE:g} of real silent frames (HDTF WDA x2, video-retalking x5)"),
     ("min_silent", MIN_SILENT)),
    "fraction of silent frames whose mouth is open or moving; thresholds from real silent frames")


def silent_frames(probs: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    """Frames the VAD calls silent, at least ``margin`` + 1 frames away from any speech frame."""
    p = np.asarray(probs, dtype=np.float64)
    speech = p >= vad.SPEECH_THRESHOLD
    near = np.zeros(len(p), dtype=bool)
    for d in range(-margin, margin + 1):
        lo, hi = max(0, d), len(p) + min(0, d)
        near[lo - d:hi - d] |= speech[lo:hi]
    return (p < vad.SILENCE_THRESHOLD) & ~near


def motion(mouth: np.ndarray, frames: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Range (max - min) of the opening over the centred ``window`` frames, counting only the
    frames in ``frames`` (silent, measured: motion next to a pause is speech, not leak); NaN
    outside ``frames``."""
    m = np.asarray(mouth, dtype=np.float64)
    use = np.asarray(frames, dtype=bool) & np.isfinite(m)
    h = window // 2
    out = np.full(len(m), np.nan)
    for t in np.flatnonzero(use):
        w = m[max(0, t - h):t + h + 1][use[max(0, t - h):t + h + 1]]
        out[t] = w.max() - w.min()
    return out


def rest_level(mouth: np.ndarray) -> float:
    """The clip's own closed-mouth opening: the ``REST_PERCENTILE`` of its measured frames."""
    m = np.asarray(mouth, dtype=np.float64)
    m = m[np.isfinite(m)]
    return float(np.percentile(m, REST_PERCENTILE)) if len(m) else float("nan")


def lipleak_from_series(mouth: np.ndarray, probs: np.ndarray, open_max: float = OPEN_MAX,
                        motion_max: float = MOTION_MAX) -> dict:
    """The clip's outputs from its per-frame mouth opening and per-frame speech probabilities."""
    m = np.asarray(mouth, dtype=np.float64)
    n = min(len(m), len(probs))
    m = m[:n]
    sil = silent_frames(np.asarray(probs)[:n]) & np.isfinite(m)
    count = int(sil.sum())
    if count < MIN_SILENT:
        return {"lipleak": None, "silent_frames": count,
                "excluded": f"only {count} silent frames with a measured mouth (need {MIN_SILENT})"}
    opened = sil & (m - rest_level(m) > open_max)
    moving = sil & (motion(m, sil) > motion_max)
    leak = opened | moving
    return {"lipleak": float(leak.sum() / count), "silent_frames": count, "open_frames": int(opened.sum()),
            "moving_frames": int(moving.sum())}


def lipleak(crops: np.ndarray, audio: np.ndarray, sample_rate: int = 16000, store=None) -> dict:
    """Functional twin: the outputs of one clip held in memory (``face256`` crops, mono audio)."""
    from eadbench.nets.face_mesh import face_mesh

    x = check_audio(audio, sample_rate, "lipleak")
    m = mouth_series(face_mesh(store), crops)
    return lipleak_from_series(m, voice_probs(x, min(len(m), audio_frames(x)), store))


def calibrate(clips: list[tuple[np.ndarray, np.ndarray]], quantile: float = QUANTILE) -> dict:
    """The thresholds from real clips, each (mouth series, per-frame speech probabilities): the
    ``quantile`` of the opening and of its 5-frame range over their pooled silent frames."""
    opening, ranges = [], []
    for mouth, probs in clips:
        m = np.asarray(mouth, dtype=np.float64)
        n = min(len(m), len(probs))
        m = m[:n]
        sil = silent_frames(np.asarray(probs)[:n]) & np.isfinite(m)
        opening.append(m[sil] - rest_level(m))
        ranges.append(motion(m, sil)[sil])
    o, r = np.concatenate(opening), np.concatenate(ranges)
    return {"open_max": float(np.percentile(o, quantile)), "motion_max": float(np.percentile(r, quantile)),
            "silent_frames": len(o)}


@register_metric(
    name="lipleak", direction=LOWER, level="clip", outputs=("lipleak",), needs=("audio",),
    weights=("face-mesh", "silero-vad"), protocols=(PROTOCOL,),
    description="silent-mouth leak: fraction of silent frames (VAD) whose mouth is open or moving",
    functional=lipleak, order=140, columns=(Column("lipleak", "Silent-mouth leak (%)", 1, 100.0),),
    torchmetric=TorchMetric("LipLeak", "update(face256_crops, audio_16k)",
                            clip_outputs=lambda store, crops, audio: lipleak(crops, audio, store=store)),
)
class LipLeakEvaluator(MouthEvaluator):
    def end(self, state: MouthState) -> dict:
        m = state.series()
        n = min(len(m), audio_frames(state.audio))
        return lipleak_from_series(m, voice_probs(state.audio, n, self.store))
