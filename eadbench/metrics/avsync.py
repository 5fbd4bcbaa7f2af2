"""AV-sync, protocols ``mouth-envelope@2`` (the default) and ``mouth-envelope@1``: a training-free
lip-sync score that needs only weights that ship in pip packages (the face mesh, the Silero
voice-activity detector). It is not LSE and is never reported as LSE: SyncNet's learned embedding
is replaced by the plain agreement of the mouth with the loudness of the speech.

Per clip, on 25 fps video and 16 kHz audio (640 samples per video frame), both versions read:

* mouth: ``eadbench.faces.actions.mouth_opening`` of each ``face256`` crop (inner-lip gap of the
  3-D face mesh, pose removed, inter-ocular-distance units); NaN where no face is known;
* envelope: the audio band-passed to 1-4 kHz (4th-order Butterworth, zero phase), then the RMS
  of the 640 samples centred on each frame's instant (t * 640);
* both series minus their own centred 11-frame (0.44 s) moving mean, which keeps the syllable
  rhythm (above ~2 Hz) where mouth and loudness move together and drops phrase-level drifts
  (head pose, breath, loudness of a whole sentence);
* voiced audio frames: Silero VAD (``eadbench.nets.vad``) probability >= 0.5 over the frame's
  centred 40 ms;
* r(k): Pearson correlation of a mouth series at t with an audio series at t - k over the frames
  t whose audio frame t - k is voiced and whose mouth is measured (k > 0: the audio leads the
  video by k frames, LSE's sign); undefined with fewer than 25 such frames (1 s).

``mouth-envelope@1`` correlates the opening with the envelope. Outputs: ``avsync_r`` = r(0)
(higher is better), ``avsync_offset`` = the k in -15..+15 with the largest r (ties: the smallest
|k|), ``avsync_r_best`` = r there. On real footage r(0) is not a safe headline: real speakers'
mouths lead their sound by up to 3 frames, and there r(0) can be negative (both HDTF clips of
the shared data: -0.22 and -0.21 over 8 s), below a still face's 0.

``mouth-envelope@2`` (issue: rank real speech above a still face on real footage) correlates
the *velocities* of both detrended series (central differences: the mouth opening and closing
against the loudness rising and falling; on the real clips they ranked the in-sync audio above
its shifted copies more often than the openings did, 8 of 9 against 7 of 9), and reports a peak
prominence in the spirit of LSE-C:

* ``avsync_peak`` (its value, higher is better) = the largest r(k) over the articulatory window
  k = -3..+1 (the mouth up to 120 ms before its sound, 40 ms after) minus the median of r(k)
  over k = -15..+15. A still mouth gives 0 (r = 0 everywhere); in-sync speech a clear positive
  peak; audio moved out of the window leaves only the flanks of the peak in it; a mouth that
  moves without following its audio still scores above 0 (a maximum minus a median: 0.09-0.27
  on average on the real clips with other clips' audio);
* ``avsync_offset`` = the k in -15..+15 with the largest velocity r (LSE's AV offset: a shifted
  copy moves it by exactly the shift);
* ``avsync_r`` = ``mouth-envelope@1``'s r(0), the same number under the same name, kept for
  comparison (the clip's details keep both curves, ``curve`` of the velocities and
  ``curve_opening``, and @1's best offset and r there, ``offset_opening``, ``r_best_opening``).

Why (docs/avsync-lipleak.md has the per-clip table and ``benchmarks/avsync_validation.py`` the
command): on the nine real clips of the shared data whose audio is their own in-sync speech, the
velocity curve peaks at -3, -3, +1, -1, -1, +1, +1, -1, -1; the window holds every one of them.
r(0) of the opening ranked the real video above a still face on 7 of them. ``avsync_peak`` ranks
it above the still face on all, and above copies with the audio shifted 5-6 frames either way;
a 3-4-frame shift of a clip whose own peak sits at the window's edge lands inside the window
(a tie the offset output tells apart). The window was chosen on these same clips; the synthetic
faces (in sync by construction) did not take part.

A mouth that does not move at all (a still image) correlates with nothing: r = 0 at every offset,
the offset is 0 by the tie rule and the clip's details say ``mouth_still`` (a number, not a
failure: the harness records a missing output as one). A clip with fewer than 25 voiced,
measured frames is excluded with the reason.

Why the @1 settings (docs/avsync-lipleak.md has the table and the command): on the first 5 s
of the seven real HDTF / video-retalking clips, with the audio shifted by -6..+6 frames, the
recovered offset was within a frame of the shift on 64 of 91 (clip, shift) pairs and within a
frame of the shift plus the clip's own offset on 89 of 91; the whole band gave 39 and 89, the
whole band without detrending 27 and 63, log-RMS (which after detrending makes the small
loudness dips of quiet voiced frames count as much as syllable peaks) 52 and 84.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.media import SAMPLES_PER_FRAME
from eadbench.metrics.base import (
    HIGHER,
    Chunk,
    ClipMeta,
    Column,
    Evaluator,
    MetricProtocol,
    TorchMetric,
    register_metric,
)
from eadbench.nets import vad

SAMPLE_RATE = 16000
BAND_HZ = (1000.0, 4000.0)
DETREND_FRAMES = 11
MAX_OFFSET = 15
MIN_VOICED = 25
#: a mouth whose opening varies less than this (IOD units, std after detrending) does not move
STILL_STD = 1e-6

#: ``mouth-envelope@2``'s articulatory window (offsets k, audio-leads sign): the mouth up to 3
#: frames (120 ms) before its sound and 1 frame (40 ms) after
WINDOW = (-3, 1)

_COMMON = (("mouth", "inner-lip gap of the 3-D face mesh, pose removed, IOD units"),
           ("envelope", "RMS of the 1-4 kHz band over 40 ms centred on each frame"),
           ("detrend", f"minus the centred {DETREND_FRAMES}-frame moving mean, both series"),
           ("vad", f"silero-vad 6.2.3 (16 kHz safetensors), p >= {vad.SPEECH_THRESHOLD}"),
           ("max_offset", MAX_OFFSET), ("min_voiced", MIN_VOICED), ("offset_sign", "+ = audio leads"))

PROTOCOL_V1 = MetricProtocol(
    "mouth-envelope", "1", "face256", _COMMON,
    "mouth opening vs 1-4 kHz loudness on voiced frames, Pearson r at offset 0; not LSE",
    outputs=("avsync_r", "avsync_offset", "avsync_r_best"))
PROTOCOL_V2 = MetricProtocol(
    "mouth-envelope", "2", "face256",
    _COMMON + (("series", "central-difference velocity of both detrended series"),
               ("window", f"{WINDOW[0]}..{WINDOW[1]}"), ("score", "max r in window - median r over offsets")),
    "velocity of mouth opening vs of 1-4 kHz loudness: peak r in the articulatory window minus the median "
    "over offsets; not LSE",
    outputs=("avsync_peak", "avsync_offset", "avsync_r"))
#: the default first; ``mouth-envelope@1`` stays selectable by its full name
PROTOCOLS = (PROTOCOL_V2, PROTOCOL_V1)
PROTOCOL = PROTOCOL_V2


# ------------------------------------------------------------------ the two series

def check_audio(audio: np.ndarray | None, sample_rate: int, metric: str) -> np.ndarray:
    if audio is None or len(audio) == 0:
        raise MetricInputError(f"{metric} needs audio: the clip has none")
    if sample_rate != SAMPLE_RATE:
        raise MetricInputError(f"{metric} needs 16 kHz audio, got {sample_rate} Hz")
    return np.asarray(audio, dtype=np.float64).reshape(-1)


def audio_frames(audio: np.ndarray) -> int:
    """Whole 40 ms frames of audio (the audio side's length in video frames)."""
    return len(audio) // SAMPLES_PER_FRAME


def envelope(audio: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """(n_frames,) RMS of the 1-4 kHz band over the 640 samples centred on each frame's instant."""
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = audio_frames(x) if n_frames is None else n_frames
    if len(x) > 27:  # sosfiltfilt's padding needs a few samples
        sos = butter(4, [BAND_HZ[0] / (SAMPLE_RATE / 2), BAND_HZ[1] / (SAMPLE_RATE / 2)], btype="band",
                     output="sos")
        x = sosfiltfilt(sos, x)
    sq = np.concatenate([[0.0], np.cumsum(x * x)])
    centre = np.arange(n) * SAMPLES_PER_FRAME
    lo = np.clip(centre - SAMPLES_PER_FRAME // 2, 0, len(x))
    hi = np.clip(centre + SAMPLES_PER_FRAME // 2, 0, len(x))
    width = np.maximum(hi - lo, 1)
    return np.sqrt(np.maximum(sq[hi] - sq[lo], 0.0) / width)


def voice_probs(audio: np.ndarray, n_frames: int | None = None, store=None) -> np.ndarray:
    """(n_frames,) Silero speech probability of each frame's centred 40 ms."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    n = audio_frames(x) if n_frames is None else n_frames
    return vad.frame_probs(vad.speech_probs(x, SAMPLE_RATE, store), n, SAMPLES_PER_FRAME)


def detrend(x: np.ndarray, width: int = DETREND_FRAMES) -> np.ndarray:
    """x minus its centred moving mean over ``width`` frames (NaN frames left out of the means and
    kept NaN; the window shrinks at the ends)."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    v = np.where(ok, x, 0.0)
    cs = np.concatenate([[0.0], np.cumsum(v)])
    cn = np.concatenate([[0], np.cumsum(ok)])
    h = width // 2
    idx = np.arange(len(x))
    lo, hi = np.clip(idx - h, 0, len(x)), np.clip(idx + h + 1, 0, len(x))
    cnt = cn[hi] - cn[lo]
    mean = np.where(cnt > 0, (cs[hi] - cs[lo]) / np.maximum(cnt, 1), np.nan)
    return np.where(ok, x - mean, np.nan)


# ------------------------------------------------------------------ the score

def correlation_at(mouth: np.ndarray, env: np.ndarray, voiced: np.ndarray, k: int) -> tuple[float, int]:
    """(Pearson r of mouth[t] and env[t - k] over voiced, measured pairs, number of pairs);
    r is NaN with fewer than MIN_VOICED pairs, 0 when either side is constant."""
    t = np.arange(max(0, k), min(len(mouth), len(env) + k))
    s = t - k
    keep = voiced[s] & np.isfinite(mouth[t]) & np.isfinite(env[s])
    a, b = mouth[t[keep]], env[s[keep]]
    if len(a) < MIN_VOICED:
        return float("nan"), len(a)
    if a.std() < STILL_STD or b.std() < 1e-12:
        return 0.0, len(a)
    return float(np.corrcoef(a, b)[0, 1]), len(a)


def velocity(x: np.ndarray) -> np.ndarray:
    """Central difference (x[t+1] - x[t-1]) / 2 per frame; NaN at both ends and next to a NaN."""
    x = np.asarray(x, dtype=np.float64)
    v = np.full(len(x), np.nan)
    if len(x) > 2:
        v[1:-1] = (x[2:] - x[:-2]) / 2
    return v


def _curve(mouth: np.ndarray, env: np.ndarray, voiced: np.ndarray) -> dict[int, tuple[float, int]]:
    return {k: correlation_at(mouth, env, voiced, k) for k in range(-MAX_OFFSET, MAX_OFFSET + 1)}


def _best(curve: dict[int, tuple[float, int]]) -> int:
    """The offset of the largest finite r (ties: the smallest |k|)."""
    return max((k for k in curve if np.isfinite(curve[k][0])), key=lambda k: (curve[k][0], -abs(k)))


def _listed(curve: dict[int, tuple[float, int]]) -> list[float | None]:
    return [None if not np.isfinite(curve[k][0]) else round(curve[k][0], 4) for k in sorted(curve)]


def peak_prominence(curve: dict[int, tuple[float, int]], window: tuple[int, int] = WINDOW) -> float:
    """``mouth-envelope@2``'s score of an r(k) curve: the largest r over the window's offsets minus the
    median r over all offsets (finite values; NaN when the window has none)."""
    inside = [curve[k][0] for k in range(window[0], window[1] + 1) if k in curve and np.isfinite(curve[k][0])]
    every = [r for r, _ in curve.values() if np.isfinite(r)]
    return float(max(inside) - np.median(every)) if inside else float("nan")


def avsync_from_series(mouth: np.ndarray, audio: np.ndarray, probs: np.ndarray | None = None,
                       store=None, version: str = PROTOCOL.version) -> dict:
    """The clip's outputs under ``mouth-envelope@<version>`` ("2", the default, or "1") from its
    per-frame mouth opening (NaN: no face) and its 16 kHz audio (``probs``: per-frame speech
    probabilities when already computed)."""
    if version not in ("1", "2"):
        raise MetricInputError(f"avsync has no protocol version {version!r} (known: 1, 2)")
    mouth = np.asarray(mouth, dtype=np.float64)
    n_audio = audio_frames(audio)
    probs = voice_probs(audio, n_audio, store) if probs is None else np.asarray(probs)[:n_audio]
    voiced = probs >= vad.SPEECH_THRESHOLD
    m, e = detrend(mouth), detrend(envelope(audio, n_audio))
    opening = _curve(m, e, voiced)
    r0, n0 = opening[0]
    ms = m[np.isfinite(m)]
    still = bool(ms.std() < STILL_STD) if len(ms) else True
    if version == "1":
        if not np.isfinite(r0):
            return {"avsync_r": None, "avsync_offset": None, "avsync_r_best": None, "voiced_frames": n0,
                    "excluded": f"only {n0} voiced frames with a measured mouth (need {MIN_VOICED})"}
        best = _best(opening)
        return {"avsync_r": r0, "voiced_frames": n0, "mouth_still": still, "curve": _listed(opening),
                "avsync_offset": int(best), "avsync_r_best": opening[best][0]}
    speed = _curve(velocity(m), velocity(e), voiced)
    v0, nv = speed[0]
    if not np.isfinite(v0) or not np.isfinite(r0):
        n = min(n0, nv)
        return {"avsync_peak": None, "avsync_offset": None, "avsync_r": None, "voiced_frames": n,
                "excluded": f"only {n} voiced frames with a measured mouth (need {MIN_VOICED})"}
    best, best_opening = _best(speed), _best(opening)
    return {"avsync_peak": peak_prominence(speed), "avsync_offset": int(best), "avsync_r": r0,
            "voiced_frames": nv, "mouth_still": still, "r_velocity_best": speed[best][0],
            "curve": _listed(speed), "curve_opening": _listed(opening),
            "offset_opening": int(best_opening), "r_best_opening": opening[best_opening][0]}


def avsync(crops: np.ndarray, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, store=None,
           protocol: str | None = None) -> dict:
    """Functional twin: the outputs of one clip held in memory (``face256`` crops, mono audio) under
    ``protocol`` (``mouth-envelope@2``, the default, or ``mouth-envelope@1``)."""
    from eadbench.nets.face_mesh import face_mesh

    p = AVSyncEvaluator.info.protocol(protocol)
    x = check_audio(audio, sample_rate, "avsync")
    return avsync_from_series(mouth_series(face_mesh(store), crops), x, store=store, version=p.version)


def mouth_series(mesh, crops: np.ndarray, ok: np.ndarray | None = None) -> np.ndarray:
    """Per-frame mouth opening of face crops with the given mesh (NaN: no face known or found)."""
    from eadbench.faces.actions import mouth_opening

    marks = mesh.series(crops, ok)
    return np.asarray(mouth_opening(marks), dtype=np.float64).reshape(-1) if len(crops) else np.zeros(0)


@dataclass
class MouthState:
    """What a mouth-reading evaluator keeps per clip: the audio and one number per frame."""

    audio: np.ndarray
    mouth: list[np.ndarray] = field(default_factory=list)

    def series(self) -> np.ndarray:
        if not self.mouth:
            raise MetricInputError("no frames to measure")
        return np.concatenate(self.mouth)


class MouthEvaluator(Evaluator):
    """Shared by ``avsync`` and ``lipleak``: streams ``face256`` crops into a mouth series."""

    def __init__(self, ctx):
        super().__init__(ctx)
        from eadbench.nets.face_mesh import face_mesh

        self.mesh = face_mesh(self.store)
        vad.silero_vad(self.store)  # missing or damaged weights: unavailable at once

    def begin(self, meta: ClipMeta) -> MouthState:
        return MouthState(check_audio(meta.audio, meta.sample_rate, self.info.name))

    def update(self, state: MouthState, chunk: Chunk) -> None:
        state.mouth.append(mouth_series(self.mesh, chunk.fake, chunk.fake_ok))


@register_metric(
    name="avsync", direction=HIGHER, level="clip",
    outputs=("avsync_peak", "avsync_offset", "avsync_r", "avsync_r_best"),
    needs=("audio",), weights=("face-mesh", "silero-vad"), protocols=PROTOCOLS,
    output_directions=(("avsync_r", HIGHER), ("avsync_r_best", HIGHER)),
    description="AV-sync: mouth vs 1-4 kHz loudness on voiced frames; @2 peak prominence in the articulatory "
                "window (avsync_peak), @1 r at offset 0 (avsync_r); training-free, not LSE",
    functional=avsync, order=130,
    columns=(Column("avsync_peak", "AV-sync peak", 3), Column("avsync_r", "AV-sync r", 3)),
    torchmetric=TorchMetric(
        "AVSync", "update(face256_crops, audio_16k)", nets=lambda store, protocol: (store, protocol.key),
        clip_outputs=lambda nets, crops, audio: avsync(crops, audio, store=nets[0], protocol=nets[1])),
)
class AVSyncEvaluator(MouthEvaluator):
    def end(self, state: MouthState) -> dict:
        return avsync_from_series(state.series(), state.audio, store=self.store, version=self.protocol.version)
