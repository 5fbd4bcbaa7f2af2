"""The robustness study's perturbations (issue 17): what each one is, the array edits themselves
(plain functions of frames and samples, what the tests check), and the writing of a clip's
perturbed videos into its folder, cached by the key of what each was made from.

Only the perturbation differs from the clean video: frame edits are written losslessly
(``media.LOSSLESS``, decoding to the exact edited frames) with the clean audio packets copied;
audio edits copy the clean video packets and store the audio as PCM (so each audio shift also
carries the AAC -> PCM change, itself measured as a harmless perturbation). The encoders are
``eadbench.media``'s.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from eadbench import media
from eadbench.errors import ChoiceError, EadbenchError, is_out_of_memory, short_reason
from eadbench.media import HEVC_CRF, SAMPLES_PER_FRAME, hevc_codec

HARMLESS = "harmless"
HARMFUL = "harmful"
#: what a perturbation changes: the frames, the audio, or only how the frames are stored
VIDEO, AUDIO, CONTAINER = "video", "audio", "container"
#: the label of the clean video among a clip's scored videos (never a perturbation's name)
CLEAN = "clean"
JITTER_PX = 2
#: bump when a perturbation's recipe changes: cached perturbed files are then written again
RECIPE_VERSION = 1


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
#: the re-encodes of the clean frames, by CRF
H264 = {crf: media.h264(crf) for crf in (18, 28)}


def get_perturbation(name: str) -> Perturbation:
    if name not in _BY_NAME:
        raise ChoiceError(f"unknown perturbation {name!r}; choose {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def applies_to(p: Perturbation, info) -> bool:
    """Whether metric ``info`` can see perturbation ``p``: audio edits only reach metrics that read audio."""
    return p.changes != AUDIO or "audio" in info.needs


def write_perturbed(dest: Path, clean: Path, frames: Iterable[np.ndarray] | None = None,
                    fps: float = media.VIDEO_FPS, codec: media.Codec | None = None,
                    pcm: np.ndarray | None = None) -> Path:
    """``dest``: the clean video with its frames or its audio replaced (``media.rewrite``)."""
    return media.rewrite(dest, clean, frames, fps, codec, pcm, what="perturbed video")


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
