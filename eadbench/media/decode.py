"""Decoding and probing video and audio on PyAV: streaming reads, 25 fps / 16 kHz resampling,
fitting a clip's audio and video to one length, images.

Everything that can go wrong with a user's file (missing, empty, truncated, not a video, no
frames, no audio, audio shorter than the video, unknown container) surfaces as a MediaError
naming the file and the problem, never as a codec traceback.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from eadbench.errors import MediaError
from eadbench.media.constants import AUDIO_RATE, VIDEO_FPS


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    n_frames: int  # container's count, or duration * fps when the container has none
    width: int
    height: int
    duration: float
    has_audio: bool
    audio_rate: int | None


def _open(path: str | Path):
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file does not exist")
    if p.is_dir():
        raise MediaError(p, "is a folder, expected a media file")
    if p.stat().st_size == 0:
        raise MediaError(p, "empty file (0 bytes)")
    try:
        return av.open(str(p))
    except av.error.InvalidDataError:
        raise MediaError(p, "not a readable media file: truncated, corrupt, or unknown container") from None
    except av.FFmpegError as exc:
        raise MediaError(p, f"cannot open ({exc.strerror or type(exc).__name__})") from None


def _video_stream(container, path):
    if not container.streams.video:
        raise MediaError(path, "has no video stream")
    return container.streams.video[0]


def probe(path: str | Path) -> VideoInfo:
    with _open(path) as c:
        vs = _video_stream(c, path)
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif c.duration is not None:
            duration = c.duration / 1_000_000
        else:
            duration = 0.0
        n = vs.frames or int(round(duration * fps))
        audio = c.streams.audio[0] if c.streams.audio else None
        return VideoInfo(str(path), fps, int(n), vs.codec_context.width, vs.codec_context.height,
                         duration, audio is not None, audio.rate if audio else None)


def _decoded(path) -> Iterator[tuple[float, av.VideoFrame]]:
    """(time in seconds from the first frame, frame) for every decodable source frame."""
    with _open(path) as c:
        vs = _video_stream(c, path)
        t0 = None
        n = 0
        try:
            for frame in c.decode(vs):
                t = frame.time if frame.time is not None else n / float(vs.average_rate or VIDEO_FPS)
                if t0 is None:
                    t0 = t
                n += 1
                yield t - t0, frame
        except av.FFmpegError as exc:
            if n == 0:
                raise MediaError(path, f"no decodable video frame ({exc.strerror or 'decoder error'})") from None
            raise MediaError(path, f"decoding failed after {n} frames: file truncated or corrupt") from None
        if n == 0:
            raise MediaError(path, "video stream has no frames")


def iter_frames(path: str | Path, fps: float | None = VIDEO_FPS,
                max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Stream RGB uint8 frames; with ``fps`` set, resample by nearest timestamp (as ffmpeg's fps filter)."""
    emitted = 0
    if fps is None:
        for _, frame in _decoded(path):
            if max_frames is not None and emitted >= max_frames:
                return
            yield frame.to_ndarray(format="rgb24")
            emitted += 1
        return
    step = 1.0 / fps
    prev: tuple[float, av.VideoFrame] | None = None
    prev_rgb = None
    src_step = None
    for t, frame in _decoded(path):
        if prev is not None:
            src_step = t - prev[0]
            midpoint = (prev[0] + t) / 2
            # every output instant closer to prev than to this frame gets prev
            while emitted * step < midpoint - 1e-9:
                if max_frames is not None and emitted >= max_frames:
                    return
                if prev_rgb is None:
                    prev_rgb = prev[1].to_ndarray(format="rgb24")
                yield prev_rgb
                emitted += 1
        prev, prev_rgb = (t, frame), None
    if prev is None:
        return
    end = prev[0] + (src_step if src_step else step)
    while emitted * step < end - step / 2 - 1e-9 or emitted == 0:
        if max_frames is not None and emitted >= max_frames:
            return
        if prev_rgb is None:
            prev_rgb = prev[1].to_ndarray(format="rgb24")
        yield prev_rgb
        emitted += 1


def read_frames(path: str | Path, fps: float | None = VIDEO_FPS, max_frames: int | None = None) -> np.ndarray:
    frames = list(iter_frames(path, fps=fps, max_frames=max_frames))
    if not frames:
        raise MediaError(path, "video stream has no frames")
    return np.stack(frames)


def read_audio(path: str | Path, sr: int = AUDIO_RATE) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at ``sr`` from a video's track or an audio file."""
    with _open(path) as c:
        if not c.streams.audio:
            raise MediaError(path, "has no audio track")
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        chunks: list[np.ndarray] = []
        try:
            for frame in c.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            if not chunks:
                raise MediaError(path, f"audio track cannot be decoded ({exc.strerror or 'decoder error'})") from None
            raise MediaError(path, "audio decoding failed part-way: file truncated or corrupt") from None
    if not chunks:
        raise MediaError(path, "audio track has no samples")
    return np.clip(np.concatenate(chunks).astype(np.float32), -1.0, 1.0)


#: Audio may end this much before the video without consequence: AAC priming and container
#: rounding differ by a few tens of milliseconds (it is padded with silence).
AV_SLACK_SECONDS = 0.08


@dataclass(frozen=True)
class AVFit:
    """The outcome of fitting a clip's video and driving audio to one length."""

    n_frames: int  # video frames kept (25 fps)
    audio: np.ndarray  # audio of exactly n_frames / fps seconds
    trimmed_seconds: float  # video cut from the end because the audio stopped early
    padded_seconds: float  # silence appended to the audio (within AV_SLACK_SECONDS)

    def note(self) -> str | None:
        if self.trimmed_seconds > 0:
            return (f"video trimmed by {self.trimmed_seconds:.2f} s to the end of the audio "
                    f"({self.n_frames} frames kept)")
        return None


def fit_audio_to_video(path: str | Path, audio: np.ndarray, n_frames: int, fps: float = VIDEO_FPS,
                       sr: int = AUDIO_RATE, strict: bool = False) -> AVFit:
    """Give a clip one length: the audio cut to the video, or, when the audio ends early, padded
    with silence (up to AV_SLACK_SECONDS) or the video trimmed to the audio (recorded).
    ``strict`` refuses a gap above the slack instead (MediaError naming the file)."""
    have = len(audio) / sr
    video = n_frames / fps
    n = n_frames
    if have < video - AV_SLACK_SECONDS:
        if strict:
            raise MediaError(path, f"audio is shorter than the video ({have:.2f} s of audio for {video:.2f} s "
                                   "of video; without --strict-av-length the video is trimmed to the audio)")
        n = int(np.floor(have * fps + 1e-6))
        if n < 1:
            raise MediaError(path, f"audio too short to drive a frame ({have:.3f} s)")
    need = int(round(n / fps * sr))
    padded = max(0, need - len(audio))
    out = np.concatenate([audio[:need], np.zeros(padded, np.float32)]) if padded else audio[:need]
    return AVFit(n, out.astype(np.float32, copy=False), round(video - n / fps, 4), round(padded / sr, 4))


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


def read_image(path: str | Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file does not exist")
    try:
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError):
        raise MediaError(p, "not a readable image") from None
