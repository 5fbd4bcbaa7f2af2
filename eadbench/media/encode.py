"""Encoding video and audio on PyAV: every encoder setting and every atomic mp4/wav write.

Every encoder setting lives here (``Codec``: H.264 for the videos eadbench writes, lossless
H.264 RGB and HEVC for the robustness study's re-encodes), with the one stream setup and frame
loop they share and ``rewrite``, which re-encodes a file's frames or audio while copying the
packets of its other streams. Nothing else in eadbench adds a stream or hands a frame to an
encoder (``tests/test_layout_once.py``).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import numpy as np

from eadbench.atomic import atomic_path
from eadbench.errors import MediaError, MetricInputError, short_reason
from eadbench.media.constants import AUDIO_RATE, VIDEO_FPS
from eadbench.media.decode import _open, _video_stream, iter_frames


@dataclass(frozen=True)
class Codec:
    """A video encoder and its settings: FFmpeg encoder name, pixel format, encoder options
    (in the order they are set)."""

    name: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...]


def h264(crf: int = 18) -> Codec:
    """H.264 (libx264, yuv420p) at ``crf``: what eadbench writes its videos with. One encoder
    thread, so the same frames give the same bytes."""
    return Codec("libx264", "yuv420p", (("crf", str(crf)), ("preset", "veryfast"), ("threads", "1")))


#: lossless: H.264 in RGB at QP 0 decodes to exactly the frames written
LOSSLESS = Codec("libx264rgb", "rgb24", (("qp", "0"), ("preset", "veryfast"), ("threads", "1")))
HEVC_CRF = 28  # x265's default, about H.264 CRF 23
_HEVC_NAMES = ("libx265", "hevc")
_hevc_cache: list[tuple[Codec | None, str]] = []


def hevc_codec() -> tuple[Codec | None, str]:
    """(the HEVC encoder at CRF ``HEVC_CRF``, "") when the bundled FFmpeg can encode a test frame
    with one, else (None, the reason). Probed once per process."""
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
                vs = add_video_stream(c, codec, VIDEO_FPS, (64, 64, 3))
                encode_frames(c, vs, [np.full((64, 64, 3), 128, np.uint8)] * 8)
            found = (codec, "")
            break
        except (av.FFmpegError, ValueError, av.codec.codec.UnknownCodecError) as exc:
            reasons.append(f"{name}: {short_reason(exc, 80)}")
    _hevc_cache.append(found or (None, "the bundled FFmpeg has no usable HEVC encoder ("
                                 + "; ".join(reasons) + ")"))
    return _hevc_cache[0]


def add_video_stream(container, codec: Codec, fps: float, shape: tuple[int, ...]):
    """A video stream of ``container`` encoding (H, W, ...) frames with ``codec`` at ``fps``."""
    vs = container.add_stream(codec.name, rate=Fraction(fps).limit_denominator(1001))
    vs.width, vs.height = shape[1], shape[0]
    vs.pix_fmt = codec.pix_fmt
    vs.options = dict(codec.options)
    return vs


def encode_frame(container, vs, frame: np.ndarray, pts: int) -> None:
    """Encode one RGB uint8 frame as frame number ``pts`` of stream ``vs`` and mux its packets."""
    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24")
    vf.pts = pts
    vf.time_base = 1 / vs.average_rate
    for pkt in vs.encode(vf):
        container.mux(pkt)


def flush(container, stream) -> None:
    """Drain an encoder at the end of its stream."""
    for pkt in stream.encode(None):
        container.mux(pkt)


def encode_frames(container, vs, frames: Iterable[np.ndarray]) -> int:
    """Encode every frame into ``vs``, then drain the encoder; returns how many were written."""
    n = 0
    for frame in frames:
        encode_frame(container, vs, frame, n)
        n += 1
    flush(container, vs)
    return n


def encode_pcm16(container, astream, pcm: np.ndarray, sr: int = AUDIO_RATE) -> None:
    """Encode int16 mono samples into a PCM stream as one frame, then drain it."""
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm, dtype=np.int16)[None], format="s16",
                                       layout="mono")
    frame.sample_rate = sr
    frame.pts = 0
    frame.time_base = Fraction(1, sr)
    for pkt in astream.encode(frame):
        container.mux(pkt)
    flush(container, astream)


def rewrite(dest: Path, source: Path, frames: Iterable[np.ndarray] | None = None, fps: float = VIDEO_FPS,
            codec: Codec | None = None, pcm: np.ndarray | None = None, what: str = "video") -> Path:
    """``dest`` (.mp4, or .mov for PCM audio), atomically: ``frames`` encoded with ``codec`` (None:
    ``LOSSLESS``; ``frames`` None: the video packets of ``source`` copied) and ``pcm`` int16
    samples as PCM (None: the audio packets of ``source`` copied, when it has audio). Every
    stream is declared before the first packet. ``what`` names the file in the error."""
    fmt = "mov" if dest.suffix == ".mov" else "mp4"
    try:
        with atomic_path(dest) as tmp, av.open(str(source)) as src, av.open(tmp, mode="w", format=fmt) as out:
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
                vs = add_video_stream(out, codec or LOSSLESS, fps, first.shape)
            if pcm is not None:
                astream = out.add_stream("pcm_s16le", rate=AUDIO_RATE, layout="mono")
            elif src.streams.audio:
                ain = src.streams.audio[0]
                copies[ain.index] = out.add_stream_from_template(ain)
            if vs is not None:
                encode_frames(out, vs, itertools.chain([first], frames))
            if astream is not None:
                encode_pcm16(out, astream, pcm)
            if copies:
                for pkt in src.demux(*[s for s in src.streams if s.index in copies]):
                    if pkt.dts is None:
                        continue
                    pkt.stream = copies[pkt.stream.index]
                    out.mux(pkt)
    except av.FFmpegError as exc:
        why = exc.strerror or type(exc).__name__
        raise MediaError(dest, f"cannot write the {what} ({why})") from None
    return dest


def _even(frame: np.ndarray) -> np.ndarray:
    """H.264 4:2:0 needs even sides: pad one edge row/column by replication when odd."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


class VideoWriter:
    """Write RGB uint8 frames one at a time as H.264 (yuv420p) mp4, with mono AAC audio muxed
    when given; used as a context manager. The file appears under its name only when the
    block ends normally (a crash never leaves a half-written file). Encoder threads are pinned
    to 1 so the same frames give the same bytes."""

    def __init__(self, path: str | Path, fps: float = VIDEO_FPS, audio: np.ndarray | None = None,
                 sr: int = AUDIO_RATE, crf: int = 18):
        self.dest = Path(path)
        self.rate = Fraction(fps).limit_denominator(1001)
        self.fps, self.sr, self.crf = fps, sr, crf
        self.audio = None if audio is None else np.asarray(audio, dtype=np.float32).reshape(-1)
        self.n = 0

    def __enter__(self) -> "VideoWriter":
        self._atomic = atomic_path(self.dest)
        self._tmp = self._atomic.__enter__()
        self.c = av.open(self._tmp, mode="w", format="mp4")
        self.vs = self.astream = None
        self.a_pos = 0
        return self

    def write(self, frame: np.ndarray) -> None:
        frame = _even(np.ascontiguousarray(frame, dtype=np.uint8))
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise MediaError(self.dest, f"frames must be (H, W, 3) RGB, got {frame.shape}")
        if self.vs is None:
            self.vs = add_video_stream(self.c, h264(self.crf), self.fps, frame.shape)
            if self.audio is not None:
                self.astream = self.c.add_stream("aac", rate=self.sr, layout="mono")
                self.astream.options = {"b": "96k"}
        encode_frame(self.c, self.vs, frame, self.n)
        self.n += 1
        if self.astream is not None:
            self.a_pos = _encode_audio(self.c, self.astream, self.audio, self.a_pos,
                                       int(round(self.n / self.fps * self.sr)), self.sr)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                if self.vs is None:
                    raise MediaError(self.dest, "no frames to write")
                flush(self.c, self.vs)
                if self.astream is not None:
                    self.a_pos = _encode_audio(self.c, self.astream, self.audio, self.a_pos, len(self.audio), self.sr)
                    for pkt in self.astream.encode(None):
                        self.c.mux(pkt)
        finally:
            self.c.close()
        if exc_type is None:
            self._atomic.__exit__(None, None, None)
        else:
            self._atomic.__exit__(exc_type, exc, tb)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = VIDEO_FPS,
                audio: np.ndarray | None = None, sr: int = AUDIO_RATE, crf: int = 18) -> Path:
    """Write RGB uint8 frames as H.264 (yuv420p) mp4, with mono AAC audio muxed when given
    (``VideoWriter`` over an iterable)."""
    with VideoWriter(path, fps, audio, sr, crf) as w:
        for frame in frames:
            w.write(frame)
    return Path(path)


def mux_audio(video: str | Path, audio: np.ndarray, dest: str | Path, max_frames: int | None = None,
              sr: int = AUDIO_RATE) -> Path:
    """``dest``: the frames of ``video`` (an mp4 eadbench wrote, no audio) with ``audio`` muxed as
    mono AAC. The video packets are copied, not re-encoded, unless ``max_frames`` cuts the
    video (then its first frames are re-encoded)."""
    if max_frames is not None:
        return write_video(dest, iter_frames(video, fps=None, max_frames=max_frames), audio=audio, sr=sr)
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    with atomic_path(dest) as tmp:
        with _open(video) as src, av.open(tmp, mode="w", format="mp4") as out:
            vin = _video_stream(src, video)
            vout = out.add_stream_from_template(vin)
            astream = out.add_stream("aac", rate=sr, layout="mono")
            astream.options = {"b": "96k"}
            for pkt in src.demux(vin):
                if pkt.dts is None:
                    continue
                pkt.stream = vout
                out.mux(pkt)
            _encode_audio(out, astream, audio, 0, len(audio), sr)
            for pkt in astream.encode(None):
                out.mux(pkt)
    return Path(dest)


def _encode_audio(c, astream, audio: np.ndarray, start: int, stop: int, sr: int, chunk: int = 1024) -> int:
    stop = min(stop, len(audio))
    while start < stop:
        end = min(start + chunk, stop)
        af = av.AudioFrame.from_ndarray(audio[None, start:end], format="flt", layout="mono")
        af.sample_rate = sr
        af.pts = start
        af.time_base = Fraction(1, sr)
        for pkt in astream.encode(af):
            c.mux(pkt)
        start = end
    return start


def write_wav(path: str | Path, audio: np.ndarray, sr: int = AUDIO_RATE) -> Path:
    """16-bit PCM mono wav, written atomically."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1, 1), sr,
                 subtype="PCM_16", format="WAV")
    return Path(path)


def write_audio(path: str | Path, audio: np.ndarray, sr: int = AUDIO_RATE) -> Path:
    """Audio file by extension: .wav (PCM16) or .m4a/.aac/.mp4 (AAC), atomically."""
    p = Path(path)
    if p.suffix.lower() == ".wav":
        return write_wav(p, audio, sr)
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    with atomic_path(p) as tmp, av.open(tmp, mode="w", format="ipod" if p.suffix.lower() == ".m4a" else "mp4") as c:
        astream = c.add_stream("aac", rate=sr, layout="mono")
        _encode_audio(c, astream, audio, 0, len(audio), sr)
        for pkt in astream.encode(None):
            c.mux(pkt)
    return p
