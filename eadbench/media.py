"""Video and audio I/O on PyAV: streaming reads, 25 fps / 16 kHz resampling, atomic mp4 writes.

Every encoder setting lives here (``Codec``: H.264 for the videos eadbench writes, lossless
H.264 RGB and HEVC for the robustness study's re-encodes), with the one stream setup and frame
loop they share and ``rewrite``, which re-encodes a file's frames or audio while copying the
packets of its other streams.

Everything that can go wrong with a user's file (missing, empty, truncated, not a video, no
frames, no audio, audio shorter than the video, unknown container) surfaces as a MediaError
naming the file and the problem, never as a codec traceback.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from eadbench.atomic import atomic_path
from eadbench.errors import MediaError, MetricInputError, short_reason

VIDEO_FPS = 25.0
AUDIO_RATE = 16000
#: audio samples per video frame (16 kHz / 25 fps = 640, 40 ms): frame t's audio is [t * 640, (t + 1) * 640)
SAMPLES_PER_FRAME = AUDIO_RATE // int(VIDEO_FPS)
#: the view of a video that is its whole frames (the other views are face-crop protocol names)
FRAMES = "frames"
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".flv", ".mpg", ".mpeg")
AUDIO_EXTENSIONS = (".wav", ".m4a", ".mp3", ".aac", ".flac", ".ogg", ".opus")

av.logging.set_level(av.logging.PANIC)  # our errors say what went wrong; silence FFmpeg's chatter


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


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``items`` in a background thread, ``depth`` ahead: decoding (FFmpeg releases the
    GIL) overlaps the networks consuming the previous items. Exceptions surface in order."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    done = object()
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put((item, None))
            q.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            q.put((done, exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)


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
