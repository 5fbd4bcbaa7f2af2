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

Only the perturbation differs from the clean video: frame edits are written losslessly (H.264
RGB at QP 0, decoding to the exact edited frames) with the clean audio packets copied; audio
edits copy the clean video packets and store the audio as PCM (so each audio shift also carries
the AAC -> PCM change, itself measured as a harmless perturbation).

Every perturbed video is scored against the clean one with the clip driver ``eadbench score``
and ``eadbench run`` use (paired metrics: the clean video as the real side; fake-only metrics
such as LSE and emotion read the perturbed video, with the audio of its own container); the
clean video scored the same way is the baseline. A metric's change under a perturbation is
``value(perturbed) - value(clean)`` per clip, summarised by its mean over clips with a 95%
percentile bootstrap CI (set-level FVD: the FVD between the perturbed and the clean clips minus
the FVD of the clean clips with themselves, with clips resampled jointly for the CI).

The flag, per metric output with a direction (``FLAG_RULE``): judged over the perturbations the
metric can see (audio edits only count for metrics that read audio), a metric is flagged when
its largest mean |change| under a harmless perturbation exceeds its smallest mean degradation
(the change signed so that positive means worse) under a harmful one. A harmful perturbation
under which the metric does not get worse at all is listed as one it is blind to.

Memory: one clip's frames are held while its perturbations are written (a permutation needs
them all); talking-head clips are seconds long.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable

import av
import numpy as np

from eadbench import media
from eadbench.errors import ChoiceError, EadbenchError, MediaError, MetricInputError, is_out_of_memory, short_reason
from eadbench.media import SAMPLES_PER_FRAME

HARMLESS = "harmless"
HARMFUL = "harmful"
#: what a perturbation changes: the frames, the audio, or only how the frames are stored
VIDEO, AUDIO, CONTAINER = "video", "audio", "container"
#: the label of the clean video among a clip's scored videos (never a perturbation's name)
CLEAN = "clean"
JITTER_PX = 2
HEVC_CRF = 28  # x265's default, about H.264 CRF 23
#: bump when a perturbation's recipe changes: cached perturbed files are then written again
RECIPE_VERSION = 1
#: changes within this of each other count as equal (identical inputs give identical values)
EPS = 1e-9
FLAG_RULE = (
    "Per metric output with a direction, over the perturbations the metric can see (audio edits only "
    "for metrics that read audio): change = value(perturbed) - value(clean) per clip; degradation = the "
    "change signed so that positive means worse (-change for higher-is-better outputs). FLAGGED when the "
    "largest mean |change| over clips under a harmless perturbation is greater than the smallest mean "
    "degradation under a harmful one (a harmful perturbation that leaves the metric unchanged or better "
    "has degradation <= 0). 'clear' when the 95% CI of that harmless mean |change| lies wholly above the "
    "95% CI of that harmful mean degradation. 'blind to': harmful perturbations with mean degradation "
    "<= 0. Set-level metrics (FVD) use the one set-level change in place of a mean over clips."
)


@dataclass(frozen=True)
class Perturbation:
    name: str
    kind: str  # HARMLESS or HARMFUL
    changes: str  # VIDEO, AUDIO or CONTAINER
    description: str
    shift_frames: int = 0  # audio delay in video frames (audio shifts only)


PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("h264-crf18", HARMLESS, VIDEO, "re-encoded with H.264 (libx264, yuv420p) at CRF 18"),
    Perturbation("h264-crf28", HARMLESS, VIDEO, "re-encoded with H.264 (libx264, yuv420p) at CRF 28"),
    Perturbation("h265", HARMLESS, VIDEO, f"re-encoded with H.265 (libx265, yuv420p) at CRF {HEVC_CRF}"),
    Perturbation("audio-pcm", HARMLESS, AUDIO, "audio stored as 16-bit PCM (pcm_s16le, .mov) instead of AAC"),
    Perturbation("fps50-doubled", HARMLESS, CONTAINER, "a 50 fps container with every frame written twice"),
    Perturbation("jitter-2px", HARMLESS, VIDEO,
                 f"every frame shifted by a random offset of up to {JITTER_PX} px in x and y, edges "
                 "replicated"),
    *(Perturbation(f"audio-shift-{k}", HARMFUL, AUDIO,
                   f"audio delayed by {k} frame{'s' * (k > 1)} ({k * SAMPLES_PER_FRAME} samples, "
                   f"{40 * k} ms), as PCM", k)
      for k in (1, 2, 3)),
    Perturbation("shuffle", HARMFUL, VIDEO, "frames in a random order"),
    Perturbation("mouth-frozen", HARMFUL, VIDEO,
                 "the lower half of the face box (box centre to bottom) of every frame replaced by the first "
                 "frame's"),
)
_BY_NAME = {p.name: p for p in PERTURBATIONS}


def get_perturbation(name: str) -> Perturbation:
    if name not in _BY_NAME:
        raise ChoiceError(f"unknown perturbation {name!r}; choose {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def applies_to(p: Perturbation, info) -> bool:
    """Whether metric ``info`` can see perturbation ``p``: audio edits only reach metrics that read audio."""
    return p.changes != AUDIO or "audio" in info.needs


# -- encoders ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Codec:
    name: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...]


H264 = {crf: Codec("libx264", "yuv420p", (("crf", str(crf)), ("preset", "veryfast"), ("threads", "1")))
        for crf in (18, 28)}
#: lossless: H.264 in RGB at QP 0 decodes to exactly the frames written
LOSSLESS = Codec("libx264rgb", "rgb24", (("qp", "0"), ("preset", "veryfast"), ("threads", "1")))
_HEVC_NAMES = ("libx265", "hevc")
_hevc_cache: list[tuple[Codec | None, str]] = []


def hevc_codec() -> tuple[Codec | None, str]:
    """(the HEVC encoder, "") when the bundled FFmpeg can encode a test frame with one, else
    (None, the reason)."""
    if _hevc_cache:
        return _hevc_cache[0]
    reasons = []
    found: tuple[Codec | None, str] | None = None
    for name in _HEVC_NAMES:
        codec = Codec(name, "yuv420p", (("crf", str(HEVC_CRF)), ("preset", "veryfast"),
                                        ("x265-params", "log-level=none:pools=1:frame-threads=1")))
        try:
            av.codec.Codec(name, "w")
            buf = io.BytesIO()
            with av.open(buf, mode="w", format="mp4") as c:
                vs = _video_stream(c, codec, media.VIDEO_FPS, (64, 64, 3))
                _encode_video(c, vs, [np.full((64, 64, 3), 128, np.uint8)] * 8)
            found = (codec, "")
            break
        except (av.FFmpegError, ValueError, av.codec.codec.UnknownCodecError) as exc:
            reasons.append(f"{name}: {short_reason(exc, 80)}")
    _hevc_cache.append(found or (None, "the bundled FFmpeg has no usable HEVC encoder ("
                                 + "; ".join(reasons) + ")"))
    return _hevc_cache[0]


def _video_stream(container, codec: Codec, fps: float, shape: tuple[int, ...]):
    vs = container.add_stream(codec.name, rate=Fraction(fps).limit_denominator(1001))
    vs.width, vs.height = shape[1], shape[0]
    vs.pix_fmt = codec.pix_fmt
    vs.options = dict(codec.options)
    return vs


def _encode_video(container, vs, frames: Iterable[np.ndarray]) -> int:
    n = 0
    for frame in frames:
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24")
        vf.pts = n
        vf.time_base = 1 / vs.average_rate
        for pkt in vs.encode(vf):
            container.mux(pkt)
        n += 1
    for pkt in vs.encode(None):
        container.mux(pkt)
    return n


def _encode_pcm(container, astream, pcm: np.ndarray, sr: int = media.AUDIO_RATE) -> None:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm, dtype=np.int16)[None], format="s16",
                                       layout="mono")
    frame.sample_rate = sr
    frame.pts = 0
    frame.time_base = Fraction(1, sr)
    for pkt in astream.encode(frame):
        container.mux(pkt)
    for pkt in astream.encode(None):
        container.mux(pkt)


def write_perturbed(dest: Path, clean: Path, frames: Iterable[np.ndarray] | None = None,
                    fps: float = media.VIDEO_FPS, codec: Codec | None = None,
                    pcm: np.ndarray | None = None) -> Path:
    """``dest`` (.mp4, or .mov for PCM audio), atomically: ``frames`` encoded with ``codec`` (None:
    the clean video's packets copied) and ``pcm`` int16 samples as PCM (None: the clean audio's
    packets copied, when it has audio). Every stream is declared before the first packet."""
    from eadbench.atomic import atomic_path

    fmt = "mov" if dest.suffix == ".mov" else "mp4"
    try:
        with atomic_path(dest) as tmp, av.open(str(clean)) as src, av.open(tmp, mode="w", format=fmt) as out:
            copies = {}
            vs = astream = None
            if frames is None:
                vin = src.streams.video[0]
                copies[vin.index] = out.add_stream_from_template(vin)
            else:
                frames = iter(frames)
                first = next(frames, None)
                if first is None:
                    raise MetricInputError(f"{dest}: no frames to write")
                vs = _video_stream(out, codec or LOSSLESS, fps, first.shape)
            if pcm is not None:
                astream = out.add_stream("pcm_s16le", rate=media.AUDIO_RATE, layout="mono")
            elif src.streams.audio:
                ain = src.streams.audio[0]
                copies[ain.index] = out.add_stream_from_template(ain)
            if vs is not None:
                _encode_video(out, vs, itertools.chain([first], frames))
            if astream is not None:
                _encode_pcm(out, astream, pcm)
            if copies:
                for pkt in src.demux(*[s for s in src.streams if s.index in copies]):
                    if pkt.dts is None:
                        continue
                    pkt.stream = copies[pkt.stream.index]
                    out.mux(pkt)
    except av.FFmpegError as exc:
        why = exc.strerror or type(exc).__name__
        raise MediaError(dest, f"cannot write the perturbed video ({why})") from None
    return dest


# -- the edits themselves (plain arrays: what the tests check) ---------------------------------------------

def doubled(frames: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    for f in frames:
        yield f
        yield f


def jitter_offsets(n: int, rng: np.random.Generator, px: int = JITTER_PX) -> np.ndarray:
    """(n, 2) integer offsets (dx, dy), each in [-px, px]."""
    return rng.integers(-px, px + 1, size=(n, 2))


def shift_frame(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The frame moved right by ``dx`` and down by ``dy`` pixels, the uncovered edge replicated:
    ``out[y, x] = frame[clip(y - dy), clip(x - dx)]``."""
    h, w = frame.shape[:2]
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return frame[ys][:, xs]


def shuffle_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation of range(n) that moves at least one frame (when n > 1)."""
    order = rng.permutation(n)
    while n > 1 and np.array_equal(order, np.arange(n)):
        order = rng.permutation(n)
    return order


def mouth_regions(geo: np.ndarray, height: int, width: int) -> np.ndarray:
    """(T, 4) integer rows/columns ``top, bottom, left, right`` of the lower face in every frame:
    from the centre of the smoothed face box (about the nose) to its bottom (the chin), across
    its width, clipped to the frame. ``geo``: the track's (T, 3) centre x, centre y, half-size."""
    cx, cy, s = geo[:, 0], geo[:, 1], geo[:, 2]
    top = np.clip(np.round(cy), 0, height - 1)
    bottom = np.clip(np.round(cy + s), top + 1, height)
    left = np.clip(np.round(cx - s), 0, width - 1)
    right = np.clip(np.round(cx + s), left + 1, width)
    return np.stack([top, bottom, left, right], axis=1).astype(int)


def freeze_mouth(frame: np.ndarray, first: np.ndarray, region: np.ndarray,
                 first_region: np.ndarray) -> np.ndarray:
    """``frame`` with its lower-face ``region`` replaced by the first frame's lower face (resized
    when the two regions differ in size)."""
    import cv2

    top, bottom, left, right = (int(v) for v in region)
    t0, b0, l0, r0 = (int(v) for v in first_region)
    patch = first[t0:b0, l0:r0]
    if patch.shape[:2] != (bottom - top, right - left):
        patch = cv2.resize(patch, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    out = frame.copy()
    out[top:bottom, left:right] = patch
    return out


def shift_audio(pcm: np.ndarray, k: int) -> np.ndarray:
    """The samples delayed by ``k`` video frames (k * 640 samples of silence first; k < 0: advanced,
    the silence last), same length."""
    n = min(len(pcm), abs(k) * SAMPLES_PER_FRAME)
    if k < 0:
        return np.concatenate([pcm[n:], np.zeros(n, pcm.dtype)])
    return np.concatenate([np.zeros(n, pcm.dtype), pcm[: len(pcm) - n]])


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32768), -32768, 32767).astype(np.int16)


# -- a clip's perturbed videos -----------------------------------------------------------------------------

@dataclass
class Made:
    """One perturbed video of a clip: its file and the parameters drawn for it, or why it is missing."""

    name: str
    path: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | skipped (the perturbation cannot be made here) | failed
    reason: str | None = None


def clip_rng(seed: int, clip_id: str, name: str) -> np.random.Generator:
    """The random draws of one perturbation of one clip: fixed by the seed, the clip and the name."""
    return np.random.default_rng([seed, zlib.crc32(clip_id.encode()), zlib.crc32(name.encode())])


def _file_key(path: Path) -> str:
    from eadbench.weights import file_sha256

    return file_sha256(path)


def _geometry(clean: Path, frames: np.ndarray, store, tracking: str | None) -> np.ndarray:
    from eadbench.faces.track import DEFAULT_TRACKING, TRACKING, track_clip
    from eadbench.streams import cached_track

    proto = TRACKING.get(tracking or DEFAULT_TRACKING)
    track = cached_track(clean, proto, store)
    if track is None or track.n_frames != len(frames):
        track = track_clip(frames, source=str(clean), protocol=proto.name, store=store)
    return track.smoothed()


def make_perturbations(clip_id: str, clean: Path, wav: Path, folder: Path, names: list[str], seed: int = 0,
                       store=None, tracking: str | None = None) -> dict[str, Made]:
    """Write every named perturbation of a clip into ``folder`` (``<name>.mp4`` or ``.mov``, with
    ``<name>.json``: the parameters drawn and the key of what it was made from); a file whose key
    is unchanged is reused. One that cannot be made is returned with its reason, never dropped."""
    from eadbench.jsonio import atomic_write_json

    folder.mkdir(parents=True, exist_ok=True)
    base = {"clean": _file_key(clean), "audio": _file_key(wav), "seed": seed, "recipe": RECIPE_VERSION}
    frames: np.ndarray | None = None
    pcm: np.ndarray | None = None
    made: dict[str, Made] = {}
    for name in names:
        p = get_perturbation(name)
        dest = folder / f"{name}{'.mov' if p.changes == AUDIO else '.mp4'}"
        side = dest.with_suffix(".json")
        codec = None
        if name == "h265":
            codec, why = hevc_codec()
            if codec is None:
                made[name] = Made(name, status="skipped", reason=why)
                continue
        key = {**base, "name": name, "codec": None if codec is None else [codec.name, list(codec.options)],
               "tracking": tracking if name == "mouth-frozen" else None}
        old = _load_side(side)
        if old is not None and old.get("key") == key and dest.exists():
            made[name] = Made(name, dest, old.get("params", {}))
            continue
        try:
            if p.changes == AUDIO:
                if pcm is None:
                    pcm = to_pcm16(media.read_audio(wav))
                params = {"shift_samples": p.shift_frames * SAMPLES_PER_FRAME}
                write_perturbed(dest, clean, pcm=shift_audio(pcm, p.shift_frames))
            else:
                if frames is None:
                    frames = media.read_frames(clean)
                rng = clip_rng(seed, clip_id, name)
                params = _write_video_perturbation(p, dest, clean, frames, rng, store, tracking)
        except EadbenchError as exc:
            made[name] = Made(name, status="failed", reason=str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - one perturbation's bug must not lose the clip
            if is_out_of_memory(exc):
                raise
            made[name] = Made(name, status="failed", reason=f"internal error: {short_reason(exc)}")
            continue
        atomic_write_json(side, {"key": key, "params": params, "description": p.description})
        made[name] = Made(name, dest, params)
    return made


def _load_side(path: Path) -> dict | None:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def _write_video_perturbation(p: Perturbation, dest: Path, clean: Path, frames: np.ndarray,
                              rng: np.random.Generator, store, tracking) -> dict[str, Any]:
    if p.name in ("h264-crf18", "h264-crf28"):
        crf = int(p.name[-2:])
        write_perturbed(dest, clean, frames, codec=H264[crf])
        return {"codec": "libx264", "crf": crf}
    if p.name == "h265":
        codec, _ = hevc_codec()
        write_perturbed(dest, clean, frames, codec=codec)
        return {"codec": codec.name, "crf": HEVC_CRF}
    if p.name == "fps50-doubled":
        write_perturbed(dest, clean, doubled(frames), fps=2 * media.VIDEO_FPS)
        return {"fps": 2 * media.VIDEO_FPS, "frames_written": 2 * len(frames)}
    if p.name == "jitter-2px":
        offsets = jitter_offsets(len(frames), rng)
        moved = (shift_frame(f, int(dx), int(dy)) for f, (dx, dy) in zip(frames, offsets))
        write_perturbed(dest, clean, moved)
        return {"offsets_dx_dy": offsets.tolist()}
    if p.name == "shuffle":
        order = shuffle_order(len(frames), rng)
        write_perturbed(dest, clean, (frames[i] for i in order))
        return {"order": order.tolist()}
    if p.name == "mouth-frozen":
        regions = mouth_regions(_geometry(clean, frames, store, tracking), *frames.shape[1:3])
        frozen = (freeze_mouth(f, frames[0], r, regions[0]) for f, r in zip(frames, regions))
        write_perturbed(dest, clean, frozen)
        return {"regions_top_bottom_left_right": regions.tolist()}
    raise ChoiceError(f"no recipe for perturbation {p.name}")


# -- scoring -----------------------------------------------------------------------------------------------

@dataclass
class Scored:
    """One metric on one video of a clip."""

    status: str  # ok | failed | excluded
    values: dict[str, float | None] = field(default_factory=dict)
    features: np.ndarray | None = None  # set-level metrics
    reason: str | None = None
    #: the clean video's output, taken for a file whose video stream is byte-identical to it
    reused: bool = False


def video_stream_key(path: Path) -> str:
    """sha256 of the video stream's packet bytes: equal keys decode to the same frames."""
    h = hashlib.sha256()
    try:
        with av.open(str(path)) as c:
            for pkt in c.demux(c.streams.video[0]):
                if pkt.dts is not None:
                    h.update(bytes(pkt))
    except (av.FFmpegError, IndexError):
        raise MediaError(path, "cannot read its video stream") from None
    return h.hexdigest()


def score_videos(clip, clean: Path, videos: dict[str, Path], evaluators: dict[str, Any], store,
                 tracking: str | None = None, timer=None) -> dict[str, dict[str, Scored]]:
    """label -> metric -> Scored for the clean video (label ``CLEAN``) and every perturbed one, each
    scored against the clean video with the shared clip driver.

    Fake-only metrics that read audio (LSE) take the audio of the file they score, so videos are
    scored in one pass per distinct audio. A perturbed file whose video packets are byte-identical
    to the clean video's (the audio edits) decodes to the clean frames: its metrics that do not
    read audio take the clean video's outputs (marked ``reused``), and the metrics that do read
    audio stream the clean file's frames with the perturbed file's audio (the same computation)."""
    from eadbench.metrics.base import ClipMeta
    from eadbench.run.driver import ClipScoring, Job, score_clip
    from eadbench.streams import Timer

    timer = timer or Timer()
    clean_key = video_stream_key(clean)
    groups: dict[bytes, tuple[np.ndarray | None, list[Job]]] = {}
    same_video: list[str] = []
    for label, path in {CLEAN: clean, **videos}.items():
        try:
            audio = media.read_audio(path)
        except MediaError:
            audio = None
        evs = dict(evaluators)
        video = path
        if label != CLEAN and video_stream_key(path) == clean_key:
            same_video.append(label)
            evs = {n: ev for n, ev in evaluators.items() if "audio" in ev.info.needs}
            video = clean
        if not evs:
            continue
        key = b"none" if audio is None else hashlib.sha256(audio.tobytes()).digest()
        groups.setdefault(key, (audio, []))[1].append(Job(label, video, evs))
    result: dict[str, dict[str, Scored]] = {}
    for audio, jobs in groups.values():
        meta = ClipMeta(clip.clip_id, audio=audio, emotion=clip.emotion, intensity=clip.intensity_scalar,
                        extras={"speaker": clip.speaker})
        try:
            outcomes, _ = score_clip(ClipScoring(meta, clean, jobs, store, tracking, timer))
        except EadbenchError as exc:
            for job in jobs:
                result[job.label] = {n: Scored("failed", reason=str(exc)) for n in job.evaluators}
            continue
        for job in jobs:
            result[job.label] = {n: _scored(outcomes.get((job.label, n)), ev)
                                 for n, ev in job.evaluators.items()}
    for label in same_video:
        for name in evaluators:
            if name not in result.setdefault(label, {}):
                c = result[CLEAN][name]
                result[label][name] = Scored(c.status, c.values, c.features, c.reason, reused=True)
    return result


def _scored(oc, ev) -> Scored:
    if oc is None:
        return Scored("failed", reason="not scored")
    if oc.status != "ok":
        return Scored(oc.status, reason=oc.error)
    if ev.info.level == "set":
        return Scored("ok", features=np.asarray(oc.output["features"]))
    return Scored("ok", {o: _number(oc.output.get(o)) for o in ev.outputs})


def _number(v) -> float | None:
    if v is None or isinstance(v, (str, bool)):
        return None if not isinstance(v, bool) else float(v)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# -- statistics and the flag -------------------------------------------------------------------------------

def degradation_sign(direction: str | None) -> int:
    """+1 when a larger value is worse (lower-is-better outputs), -1 when it is better; 0: no direction."""
    from eadbench.metrics.base import HIGHER, LOWER

    return {LOWER: 1, HIGHER: -1}.get(direction, 0)


def clip_cell(deltas: list[float], direction: str | None, n_resamples: int = 1000,
              seed: int = 0) -> dict[str, Any]:
    """Summary of per-clip changes: mean change, mean |change|, mean degradation, each with its
    95% bootstrap CI (None below 2 clips)."""
    from eadbench.results import bootstrap_ci

    x = np.asarray(deltas, dtype=np.float64)
    sign = degradation_sign(direction)
    cell: dict[str, Any] = {"n": int(len(x))}
    if not len(x):
        return {**cell, "mean_change": None, "ci95": None, "mean_abs_change": None, "abs_ci95": None,
                "mean_degradation": None, "degradation_ci95": None}
    ci = bootstrap_ci(list(x), n_resamples, seed) if n_resamples > 0 else None
    abs_ci = bootstrap_ci(list(np.abs(x)), n_resamples, seed) if n_resamples > 0 else None
    cell.update(mean_change=float(x.mean()), ci95=_pair(ci), mean_abs_change=float(np.abs(x).mean()),
                abs_ci95=_pair(abs_ci))
    if sign:
        deg_ci = None if ci is None else sorted((sign * ci[0], sign * ci[1]))
        cell.update(mean_degradation=float(sign * x.mean()), degradation_ci95=_pair(deg_ci))
    else:
        cell.update(mean_degradation=None, degradation_ci95=None)
    return cell


def _pair(ci) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def frechet_small(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance of Gaussian fits of two feature sets with few rows (n << d), exactly:
    with centred, scaled rows A (S1 = A^T A) and B, Tr sqrt(S1 S2) is the nuclear norm of A B^T
    (n x n), so no d x d matrix is formed. Used for bootstrap resamples; equals
    ``eadbench.metrics.frechet.frechet_distance`` up to round-off."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ca = (a - a.mean(0)) / math.sqrt(len(a) - 1)
    cb = (b - b.mean(0)) / math.sqrt(len(b) - 1)
    diff = a.mean(0) - b.mean(0)
    nuclear = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    d = float(diff @ diff + (ca * ca).sum() + (cb * cb).sum() - 2 * nuclear)
    return max(d, 0.0) if d > -1e-3 else d


def set_cell(fake: list[np.ndarray], real: list[np.ndarray], direction: str | None, n_resamples: int = 1000,
             seed: int = 0) -> dict[str, Any]:
    """A set-level metric's change: FD(perturbed clips, clean clips) - FD(clean clips, clean clips),
    per-clip features paired; CI by resampling clips jointly (percentile bootstrap)."""
    from eadbench.metrics.fvd import fvd_from_features

    n = len(fake)
    cell: dict[str, Any] = {"n": n}
    if n < 2:
        raise MetricInputError(f"a set-level change needs at least 2 clips scored on both sides, got {n}")
    f, r = np.concatenate(fake), np.concatenate(real)
    value = fvd_from_features(f, r)
    base = fvd_from_features(r, r)
    delta = value - base
    sign = degradation_sign(direction)
    ci = abs_ci = None
    if n_resamples > 0:
        rng = np.random.default_rng(seed)
        deltas = []
        for _ in range(n_resamples):
            idx = rng.integers(0, n, n)
            fb, rb = np.concatenate([fake[i] for i in idx]), np.concatenate([real[i] for i in idx])
            deltas.append(frechet_small(fb, rb) - frechet_small(rb, rb))
        d = np.asarray(deltas)
        ci = tuple(np.quantile(d, [0.025, 0.975]))
        abs_ci = tuple(np.quantile(np.abs(d), [0.025, 0.975]))
    cell.update(value=value, clean_value=base, mean_change=delta, ci95=_pair(ci), mean_abs_change=abs(delta),
                abs_ci95=_pair(abs_ci))
    if sign:
        cell.update(mean_degradation=sign * delta,
                    degradation_ci95=None if ci is None else sorted([sign * ci[0], sign * ci[1]]))
    else:
        cell.update(mean_degradation=None, degradation_ci95=None)
    return cell


def flag(cells: dict[str, dict[str, Any]], perturbations: Iterable[Perturbation], direction: str | None,
         applicable: Callable[[Perturbation], bool] = lambda p: True) -> dict[str, Any]:
    """The flag of one metric output (``FLAG_RULE``) from its cells (perturbation name -> cell with
    ``mean_abs_change``, ``mean_degradation`` and their CIs)."""
    if not degradation_sign(direction):
        return {"status": "not judged", "reason": "output has no better/worse direction", "flagged": False}
    harmless, harmful = [], []
    for p in perturbations:
        c = cells.get(p.name)
        if not c or not c.get("n") or not applicable(p):
            continue
        if p.kind == HARMLESS and c.get("mean_abs_change") is not None:
            harmless.append((c["mean_abs_change"], p.name, c.get("abs_ci95")))
        elif p.kind == HARMFUL and c.get("mean_degradation") is not None:
            harmful.append((c["mean_degradation"], p.name, c.get("degradation_ci95")))
    if not harmless or not harmful:
        side = "harmless" if not harmless else "harmful"
        return {"status": "not judged", "reason": f"no {side} perturbation it can see was scored",
                "flagged": False}
    worst = max(harmless, key=lambda t: t[0])
    weakest = min(harmful, key=lambda t: t[0])
    flagged = worst[0] > weakest[0] + EPS
    clear = bool(flagged and worst[2] is not None and weakest[2] is not None and worst[2][0] > weakest[2][1])
    return {
        "status": "flagged" if flagged else "ok", "flagged": flagged, "clear": clear,
        "largest_harmless": {"perturbation": worst[1], "mean_abs_change": worst[0], "abs_ci95": worst[2]},
        "smallest_harmful": {"perturbation": weakest[1], "mean_degradation": weakest[0],
                             "degradation_ci95": weakest[2]},
        "blind_to": sorted(name for deg, name, _ in harmful if deg <= EPS),
    }


# -- the whole study ---------------------------------------------------------------------------------------

@dataclass
class RobustnessResult:
    out: Path
    report: dict[str, Any]
    failures: list[dict[str, Any]]


def robustness(metrics: list[str] | None = None, dataset: str = "synth", root: str | None = None,
               split: str | None = None, split_file: str | None = None, limit: int | None = None,
               out: str | Path | None = None, perturbations: list[str] | None = None, seed: int = 0,
               bootstrap: int = 1000, device: str = "auto", tracking: str | None = None,
               protocols: dict[str, str] | None = None,
               metric_options: dict[str, dict[str, Any]] | None = None,
               weights_dir: str | None = None, trust_weights: bool = False, progress: bool = True,
               command: str | None = None, echo: Callable[[str], None] = print) -> RobustnessResult:
    """Stage each clip, write its perturbations, score them against the clean video, and write
    ``robustness.json`` and ``robustness.md`` into ``out`` (default ``runs/robustness-<dataset>``).
    ``metrics``: None = every metric whose weights are present (as ``eadbench run``)."""
    from eadbench import config as config_mod
    from eadbench.atomic import atomic_write_text
    from eadbench.jsonio import atomic_write_json
    from eadbench.locking import claim_folder, wrote
    from eadbench.run.inputs import scan_dataset
    from eadbench.run.shard import build_evaluators
    from eadbench.streams import Timer
    from eadbench.weights import WeightStore, exact_metrics_mode

    names = list(perturbations) if perturbations else [p.name for p in PERTURBATIONS]
    chosen = [get_perturbation(n) for n in dict.fromkeys(names)]
    if bootstrap < 0:
        raise ChoiceError("--bootstrap must be 0 or more")
    cfg = config_mod.resolve(None, dataset=dataset, root=root, split=split, split_file=split_file,
                             limit=limit, metrics=metrics, seed=seed, device=device, tracking=tracking,
                             weights_dir=weights_dir, trust_weights=trust_weights, bootstrap=bootstrap)
    cfg.protocols.update(protocols or {})
    for m, opts in (metric_options or {}).items():
        cfg.metric_options.setdefault(m, {}).update(opts)
    config_mod.check_metric_settings(cfg)
    store = WeightStore(cfg.weights_dir, cfg.trust_weights, cfg.device)
    exact_metrics_mode(store.device)
    evaluators, unavailable = build_evaluators(cfg, store)
    for name, why in unavailable.items():
        echo(f"metric {name} unavailable: {why}")
    if not evaluators:
        raise MetricInputError("no metric can be computed" + (f" (unavailable: {', '.join(unavailable)})"
                                                              if unavailable else ""))
    for name, ev in evaluators.items():
        for note in ev.notes:
            echo(f"warning: metric {name}: {note}")
    if any(p.name == "h265" for p in chosen) and hevc_codec()[0] is None:
        echo(f"perturbation h265 skipped: {hevc_codec()[1]}")
    scan = scan_dataset(cfg)
    if not scan.clips:
        raise MetricInputError(f"dataset {cfg.dataset} split {cfg.split} has no clips")
    folder = Path(out or f"runs/robustness-{cfg.dataset}")
    timer = Timer()
    started = time.time()
    with claim_folder(folder, "eadbench robustness", "robustness", note=echo,
                      legacy=wrote("robustness.json", "perturbations")):
        clips, failures = _run_clips(scan.clips, folder, chosen, evaluators, store, cfg, progress, timer)
        report = _report(cfg, scan, clips, failures, chosen, evaluators, unavailable, command)
        report["timings"] = {"seconds": timer.as_dict(), "wall": round(time.time() - started, 1)}
        atomic_write_json(folder / "robustness.json", report)
        atomic_write_text(folder / "robustness.md", markdown(report))
    return RobustnessResult(folder, report, failures)


def _run_clips(clips, folder: Path, chosen: list[Perturbation], evaluators, store, cfg, progress: bool,
               timer) -> tuple[dict[str, dict], list[dict[str, Any]]]:
    from tqdm import tqdm

    from eadbench.run.inputs import stage_inputs
    from eadbench.run.layout import RunDir

    run = RunDir(folder)
    per_clip: dict[str, dict] = {}
    failures: list[dict[str, Any]] = []
    bar = tqdm(clips, desc="robustness", unit="clip", disable=not progress or None, dynamic_ncols=True)

    def step(cid: str, what: str) -> None:
        bar.set_postfix(clip=cid[:24], step=what, failed=len(failures))

    for clip in bar:
        cid = clip.clip_id
        try:
            step(cid, "stage")
            with timer.timed("stage"):
                clean, wav, _ = stage_inputs(clip, run, cfg.strict_av_length)
            step(cid, "perturb")
            with timer.timed("perturb"):
                made = make_perturbations(cid, clean, wav, folder / "perturbed" / cid,
                                          [p.name for p in chosen], cfg.seed, store, cfg.tracking)
            for m in made.values():
                if m.status == "failed":
                    failures.append({"clip": cid, "perturbation": m.name, "metric": None, "reason": m.reason})
            step(cid, "score")
            scored = score_videos(clip, clean, {n: m.path for n, m in made.items() if m.status == "ok"},
                                  evaluators, store, cfg.tracking, timer)
        except EadbenchError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - one clip's bug must not lose the others
            if is_out_of_memory(exc):
                raise
            reason = f"internal error: {short_reason(exc)}"
        else:
            reason = None
        if reason is not None:
            per_clip[cid] = {"status": "failed", "reason": reason}
            failures.append({"clip": cid, "perturbation": None, "metric": None, "reason": reason})
            continue
        for label, by_metric in scored.items():
            for name, sc in by_metric.items():
                if sc.status == "failed" and not sc.reused:
                    failures.append({"clip": cid, "perturbation": label, "metric": name, "reason": sc.reason})
        per_clip[cid] = {"status": "ok", "made": made, "scored": scored, "emotion": clip.emotion}
    bar.close()
    return per_clip, failures


def _report(cfg, scan, clips: dict[str, dict], failures, chosen: list[Perturbation], evaluators, unavailable,
            command: str | None) -> dict[str, Any]:
    skipped = {}
    for rec in clips.values():
        for m in rec.get("made", {}).values():
            if m.status == "skipped":
                skipped[m.name] = m.reason
    perturbations = [{"name": p.name, "kind": p.kind, "changes": p.changes, "description": p.description,
                      "status": "skipped" if p.name in skipped else "ok", "reason": skipped.get(p.name)}
                     for p in chosen]
    rows = []
    flags = []
    for name, ev in evaluators.items():
        info = ev.info
        for output in ev.outputs if info.level == "clip" else ev.outputs[:1]:
            direction = info.direction_of(output)
            cells, clean_values = {}, []
            for p in chosen:
                if p.name in skipped:
                    cells[p.name] = {"n": 0, "skipped": skipped[p.name]}
                    continue
                cells[p.name] = _cell(clips, name, output, p.name, info, direction, cfg.bootstrap, cfg.seed)
                cells[p.name]["applicable"] = applies_to(p, info)
            for rec in clips.values():
                sc = rec.get("scored", {}).get(CLEAN, {}).get(name)
                if sc is not None and sc.status == "ok" and sc.values.get(output) is not None:
                    clean_values.append(sc.values[output])
            row = {"metric": name, "output": output, "direction": direction, "level": info.level,
                   "protocol": ev.protocol.key, "facts": ev.facts(),
                   "clean_mean": float(np.mean(clean_values)) if clean_values else None, "cells": cells}
            rows.append(row)
            flags.append({"metric": name, "output": output,
                          **flag(cells, [p for p in chosen if p.name not in skipped], direction,
                                 lambda p, info=info: applies_to(p, info))})
    return {
        "command": command,
        "settings": {"dataset": cfg.dataset, "root": cfg.root, "split": cfg.split,
                     "split_file": cfg.split_file, "limit": cfg.limit, "n_clips": len(clips),
                     "seed": cfg.seed, "bootstrap": cfg.bootstrap,
                     "device": cfg.device, "tracking": cfg.tracking, "protocols": dict(cfg.protocols),
                     "metric_options": {k: {a: str(b) for a, b in v.items()}
                                        for k, v in cfg.metric_options.items()},
                     "split_hash": scan.split_hash()},
        "metrics": sorted(evaluators), "unavailable_metrics": dict(unavailable),
        "perturbations": perturbations, "flag_rule": FLAG_RULE, "rows": rows, "flags": flags,
        "n_failures": len(failures), "failures": failures,
        "clips": {cid: _clip_record(rec, evaluators) for cid, rec in clips.items()},
    }


def _cell(clips, metric: str, output: str, pert: str, info, direction, n_resamples: int, seed: int) -> dict:
    missing: dict[str, str] = {}
    if info.level == "set":
        fake, real = [], []
        for cid, rec in clips.items():
            clean, other = _pair_scores(rec, metric, pert, missing, cid)
            if clean is not None:
                fake.append(other.features)
                real.append(clean.features)
        try:
            cell = set_cell(fake, real, direction, n_resamples, seed)
        except EadbenchError as exc:
            cell = {"n": 0, "mean_change": None, "error": str(exc)}
    else:
        deltas = []
        for cid, rec in clips.items():
            clean, other = _pair_scores(rec, metric, pert, missing, cid)
            if clean is None:
                continue
            a, b = clean.values.get(output), other.values.get(output)
            if a is None or b is None:
                missing[cid] = "no value (clean or perturbed)"
                continue
            deltas.append(b - a)
        cell = clip_cell(deltas, direction, n_resamples, seed)
    cell["not_used"] = missing
    return cell


def _pair_scores(rec: dict, metric: str, pert: str, missing: dict[str, str], cid: str):
    if rec.get("status") != "ok":
        missing[cid] = f"clip failed: {rec.get('reason')}"
        return None, None
    made = rec["made"].get(pert)
    if made is None or made.status != "ok":
        missing[cid] = f"perturbation {made.status}: {made.reason}" if made else "perturbation not made"
        return None, None
    clean = rec["scored"].get(CLEAN, {}).get(metric)
    other = rec["scored"].get(pert, {}).get(metric)
    if clean is None or clean.status != "ok":
        missing[cid] = f"clean video {clean.status}: {clean.reason}" if clean else "clean video not scored"
        return None, None
    if other is None or other.status != "ok":
        missing[cid] = f"{other.status}: {other.reason}" if other else "not scored"
        return None, None
    return clean, other


def _clip_record(rec: dict, evaluators) -> dict[str, Any]:
    if rec.get("status") != "ok":
        return {"status": rec.get("status"), "reason": rec.get("reason")}
    scores = {}
    for label, by_metric in rec["scored"].items():
        scores[label] = {}
        for n, sc in by_metric.items():
            entry: dict[str, Any] = {"status": sc.status}
            if sc.values:
                entry["values"] = sc.values
            if sc.reason:
                entry["reason"] = sc.reason
            if sc.reused:
                entry["reused"] = True
            scores[label][n] = entry
    return {"status": "ok", "emotion": rec.get("emotion"),
            "perturbations": {n: {"status": m.status, "reason": m.reason,
                                  "file": None if m.path is None else str(m.path)}
                              for n, m in rec["made"].items()},
            "scores": scores}


# -- tables ------------------------------------------------------------------------------------------------

def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.{digits}g}" if v else "0"


def _arrow(direction: str | None) -> str:
    return {"higher": " (higher better)", "lower": " (lower better)"}.get(direction or "", "")


def format_table(report: dict[str, Any]) -> str:
    """The terminal table: mean change per metric output (rows) and perturbation (columns), then
    the flags."""
    perts = report["perturbations"]
    head = ["metric", "clean"] + [p["name"] + ("*" if p["kind"] == HARMFUL else "") for p in perts]
    lines = [head]
    for row in report["rows"]:
        label = row["metric"] if row["output"] == row["metric"] else f"{row['metric']}.{row['output']}"
        cells = [label, "set" if row["level"] == "set" else _fmt(row["clean_mean"], 4).lstrip("+")]
        for p in perts:
            c = row["cells"].get(p["name"], {})
            cells.append("skip" if c.get("skipped") else _fmt(c.get("mean_change")))
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
           for r in lines]
    out.append("mean change (perturbed - clean) over clips; * harmful perturbation")
    for f in report["flags"]:
        out.append(_flag_line(f))
    return "\n".join(out)


def _flag_line(f: dict[str, Any]) -> str:
    label = f["metric"] if f["output"] == f["metric"] else f"{f['metric']}.{f['output']}"
    if f["status"] == "not judged":
        return f"{label}: not judged ({f['reason']})"
    h, w = f["largest_harmless"], f["smallest_harmful"]
    verdict = ("FLAGGED" + (" (clear)" if f["clear"] else " (within the CIs)")) if f["flagged"] else "ok"
    blind = f"; blind to {', '.join(f['blind_to'])}" if f["blind_to"] else ""
    return (f"{label}: {verdict}: largest harmless mean |change| {_fmt(h['mean_abs_change']).lstrip('+')} "
            f"({h['perturbation']}) vs smallest harmful degradation {_fmt(w['mean_degradation'])} "
            f"({w['perturbation']}){blind}")


def _ci(ci) -> str:
    return "" if not ci else f" [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def markdown(report: dict[str, Any]) -> str:
    """``robustness.md``: settings, perturbations, the table with CIs, the flags, the failures."""
    s = report["settings"]
    lines = ["# Metric robustness", ""]
    if report.get("command"):
        lines += ["```", report["command"], "```", ""]
    lines += [(f"Dataset {s['dataset']} split {s['split']} (hash {s['split_hash']}), {s['n_clips']} clips; "
               f"seed {s['seed']}, {s['bootstrap']} bootstrap resamples; "
               f"tracking {s['tracking'] or 'default'}."), ""]
    if report["unavailable_metrics"]:
        gone = report["unavailable_metrics"]
        lines += ["Unavailable metrics: " + "; ".join(f"{k}: {v}" for k, v in gone.items()), ""]
    lines += ["## Perturbations", "", "| name | kind | changes | what | status |",
              "| --- | --- | --- | --- | --- |"]
    for p in report["perturbations"]:
        status = "ok" if p["status"] == "ok" else f"skipped: {p['reason']}"
        lines.append(f"| {p['name']} | {p['kind']} | {p['changes']} | {p['description']} | {status} |")
    lines += ["", "## Mean change (perturbed - clean) over clips, 95% bootstrap CI", "",
              "Rows: metric output (clean mean); columns: perturbations (harmful ones marked *). "
              "n/a: not scored (see failures); cells of audio edits for metrics that do not read audio "
              "are shown in italics and do not enter the flag.", ""]
    perts = report["perturbations"]
    lines.append("| metric | clean | " + " | ".join(p["name"] + ("*" if p["kind"] == HARMFUL else "")
                                                 for p in perts) + " |")
    lines.append("| --- | ---: | " + " | ".join("---:" for _ in perts) + " |")
    for row in report["rows"]:
        label = row["metric"] if row["output"] == row["metric"] else f"{row['metric']}.{row['output']}"
        clean = "set" if row["level"] == "set" else _fmt(row["clean_mean"], 4).lstrip("+")
        cells = []
        for p in perts:
            c = row["cells"].get(p["name"], {})
            if c.get("skipped"):
                cells.append("skipped")
                continue
            text = _fmt(c.get("mean_change")) + _ci(c.get("ci95"))
            if c.get("not_used"):
                text += f" (n={c['n']})"
            cells.append(text if c.get("applicable", True) else f"*{text}*")
        lines.append(f"| {label}{_arrow(row['direction'])} | {clean} | " + " | ".join(cells) + " |")
    lines += ["", "## Flags", "", report["flag_rule"], ""]
    lines += [f"- {_flag_line(f)}" for f in report["flags"]]
    lines += ["", f"## Failures ({report['n_failures']})", ""]
    if not report["failures"]:
        lines.append("None.")
    for f in report["failures"]:
        where = "/".join(x for x in (f["clip"], f["perturbation"], f["metric"]) if x)
        lines.append(f"- {where}: {f['reason']}")
    return "\n".join(lines) + "\n"
