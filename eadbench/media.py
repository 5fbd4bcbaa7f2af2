"""Video and audio I/O on PyAV: streaming reads, 25 fps / 16 kHz resampling, atomic mp4 writes.

Everything that can go wrong with a user's file (missing, empty, truncated, not a video, no
frames, no audio, audio shorter than the video, unknown container) surfaces as a MediaError
naming the file and the problem, never as a codec traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from eadbench.atomic import atomic_path
from eadbench.errors import MediaError

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
            self.vs = self.c.add_stream("libx264", rate=self.rate)
            self.vs.width, self.vs.height = frame.shape[1], frame.shape[0]
            self.vs.pix_fmt = "yuv420p"
            self.vs.options = {"crf": str(self.crf), "preset": "veryfast", "threads": "1"}
            if self.audio is not None:
                self.astream = self.c.add_stream("aac", rate=self.sr, layout="mono")
                self.astream.options = {"b": "96k"}
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = self.n
        vf.time_base = 1 / self.rate
        for pkt in self.vs.encode(vf):
            self.c.mux(pkt)
        self.n += 1
        if self.astream is not None:
            self.a_pos = _encode_audio(self.c, self.astream, self.audio, self.a_pos,
                                       int(round(self.n / self.fps * self.sr)), self.sr)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                if self.vs is None:
                    raise MediaError(self.dest, "no frames to write")
                for pkt in self.vs.encode(None):
                    self.c.mux(pkt)
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
