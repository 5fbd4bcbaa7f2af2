"""One pass over a video: decoded once, its face tracked once, frames and crops in chunks.

``stream_video`` is how every consumer reads a video (``run``, ``score``, ``prepare``): frames
are decoded in a background thread (FFmpeg works while the networks run), face crops of every
requested protocol are cut from the same decoded frames with the track's smoothed boxes, and
everything flows on in chunks of ``CHUNK`` frames, so memory does not grow with the video's
length. A video's track is looked up first in the track cache (keyed by the video's content
hash, the detector's weights and the tracking protocol): ``run``, ``score`` and ``prepare``
share it, and the ground-truth copy of a reference is never tracked twice.

``STATS`` counts decodes and tracker runs per file (the tests check "once per video").
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from eadbench import media
from eadbench.faces.crop import CROP_PROTOCOLS
from eadbench.faces.track import DEFAULT_TRACKING, TRACKING, StreamTracker, Track, TrackingProtocol
from eadbench.media import FRAMES
from eadbench.prefetch import prefetch
from eadbench.weights import WeightStore, eadbench_cache, file_sha256

#: glibc's mmap threshold, fixed (see ``_bounded_malloc``)
MMAP_THRESHOLD = 128 * 1024
#: the threshold inside ``heap_temporaries`` (the largest glibc accepts on 64-bit)
BURST_THRESHOLD = 32 * 1024 * 1024
#: glibc's trim threshold inside ``heap_temporaries`` (free heap top kept) and outside (its default)
TRIM_HELD, TRIM_DEFAULT = 512 * 1024 * 1024, 128 * 1024


def _bounded_malloc() -> None:
    """Keep glibc from hoarding freed frames. glibc serves allocations above its mmap threshold
    with mmap and returns them at once, but it raises that threshold each time such a block is
    freed, after which video frames (0.2-6 MB) come from the heap and fragment it: scoring a
    60 s clip grew the resident set by 1 GB. A fixed threshold keeps every frame mmapped, so
    memory stays flat whatever the video's length.

    The price is kernel time: every large temporary (a convolution's activations, a chunk of
    frames) is a fresh mapping whose pages are faulted in and zeroed. eadbench's own hot paths
    reuse their buffers (SSIM's planes, the detector's integral images), so what is left is
    torch's. Measured alternative (issue 24, ``benchmarks/memory_bench.py``, 2 shared cores): a
    32 MB threshold with ``malloc_trim`` after every chunk cut system time by about 40% but the
    resident set grew with the video (1.020 GB for 30 s, 1.283 GB for 5 minutes: 1.26x; every 4
    chunks 1.23x at 2 minutes), where 128 KB stays flat (0.860 vs 0.867 GB, 20 s vs 2 minutes)."""
    global _LIBC
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD: fixed, so never raised
        _LIBC = libc
    except (OSError, AttributeError):
        pass


_LIBC = None


@contextmanager
def heap_temporaries():
    """A burst of large, short-lived allocations (a generator's networks on one clip: EAD-Net's
    U-Net and VAE fault in about 150 000 fresh pages per generated frame under the 128 KB
    threshold) served from glibc's heap, where they are reused, instead of fresh mappings; after
    the block the threshold is back and the heap's free pages are returned (``malloc_trim``), so
    nothing is hoarded between clips. Nothing else streams frames meanwhile (generation runs
    before a clip is scored)."""
    if _LIBC is None:
        yield
        return
    _LIBC.mallopt(-3, BURST_THRESHOLD)  # M_MMAP_THRESHOLD
    _LIBC.mallopt(-1, TRIM_HELD)  # M_TRIM_THRESHOLD: keep the heap's free top for the next temporary
    try:
        yield
    finally:
        _LIBC.mallopt(-3, MMAP_THRESHOLD)
        _LIBC.mallopt(-1, TRIM_DEFAULT)
        _LIBC.malloc_trim(0)


_bounded_malloc()
#: frames per chunk: the batch the image networks see (FID's Inception batch is 32 too)
CHUNK = 32
STATS: dict[str, Counter] = {"decodes": Counter(), "tracks": Counter()}


def cpu_seconds() -> float:
    """CPU time of this process (every thread) and of its children that have finished (a
    generator's subprocess)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


class Timer:
    """Per stage (decode, detect, generate, each metric), summed over a run: wall seconds, CPU
    seconds and frames. CPU seconds are this process's CPU time (every thread: torch's pool, the
    frame pool; and finished child processes) while the stage ran, less what background decoder
    threads spent meanwhile; the decoders' own CPU time (``background``) is the decode stage's.
    Thread-safe."""

    def __init__(self) -> None:
        self.stages: dict[str, list[float]] = {}  # stage -> [wall, cpu, frames]
        self._background = 0.0
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float, cpu: float = 0.0, frames: int = 0) -> None:
        with self._lock:
            row = self.stages.setdefault(stage, [0.0, 0.0, 0])
            row[0] += seconds
            row[1] += cpu
            row[2] += frames

    def background(self, stage: str, seconds: float, cpu: float, frames: int = 0) -> None:
        """Time a background thread spent on ``stage`` (its CPU time measured there with thread_time)."""
        with self._lock:
            self._background += cpu
        self.add(stage, seconds, cpu, frames)

    def timed(self, stage: str, frames: int = 0):
        timer = self

        class _Block:
            def __enter__(self):
                self.t, self.cpu, self.bg = time.perf_counter(), cpu_seconds(), timer._background

            def __exit__(self, *exc):
                cpu = cpu_seconds() - self.cpu - (timer._background - self.bg)
                timer.add(stage, time.perf_counter() - self.t, max(0.0, cpu), frames)

        return _Block()

    def table(self) -> dict[str, dict[str, float]]:
        """stage -> {seconds (wall), cpu_seconds, frames, fps (frames per wall second)}."""
        return {k: {"seconds": round(w, 3), "cpu_seconds": round(c, 3), "frames": int(n),
                    "fps": round(n / w, 2) if n and w >= 1e-3 else None,
                    "fps_per_cpu": round(n / c, 2) if n and c >= 1e-3 else None}
                for k, (w, c, n) in sorted(self.stages.items())}

    def merge(self, other: dict[str, dict[str, float]]) -> None:
        """Add another process's ``table()``."""
        for k, row in other.items():
            self.add(k, row["seconds"], row["cpu_seconds"], row["frames"])

    def clear(self) -> None:
        with self._lock:
            self.stages.clear()

    def as_dict(self) -> dict[str, float]:
        """stage -> wall seconds."""
        return {k: row["seconds"] for k, row in self.table().items()}


def stages_line(timings: dict) -> str:
    """One line for the end of a run: totals and each stage's CPU seconds, the costliest first."""
    stages = sorted(timings.get("stages", {}).items(), key=lambda kv: -kv[1]["cpu_seconds"])
    parts = ", ".join(f"{k} {r['cpu_seconds']:.2f}" for k, r in stages if r["frames"] or r["cpu_seconds"])
    setup = timings.get("setup_wall") or {}
    before = (f"; before the clips (wall s): {', '.join(f'{k} {v:.1f}' for k, v in setup.items())}"
              if setup else "")
    return (f"time: {timings.get('wall', 0):.1f} s wall, {timings.get('cpu_seconds', 0):.1f} CPU-s" + before
            + (f"; CPU-s by stage: {parts}" if parts else "") + " (--profile: the table)")


def format_stages(table: dict[str, dict[str, float]]) -> str:
    """The stage table as text: wall and CPU seconds, frames and frames/s per stage (``--profile``)."""
    lines = [f"{'stage':<24}{'wall s':>9}{'CPU s':>9}{'frames':>8}{'frames/s':>10}{'frames/CPU-s':>14}"]
    for k, r in table.items():
        fps, per_cpu = (f"{r[x]:.1f}" if r.get(x) else "-" for x in ("fps", "fps_per_cpu"))
        lines.append(f"{k:<24}{r['seconds']:>9.2f}{r['cpu_seconds']:>9.2f}{r['frames']:>8}{fps:>10}{per_cpu:>14}")
    return "\n".join(lines)


def track_cache_path(video: Path, protocol: TrackingProtocol, store: WeightStore) -> Path:
    from eadbench.nets.mtcnn import WEIGHTS

    detector = "-".join(store.sha256(n)[:8] for n in WEIGHTS)
    return eadbench_cache() / "tracks" / f"{file_sha256(video)}-{protocol.name}-v{protocol.version}-{detector}.npz"


def cached_track(video: Path, protocol: TrackingProtocol, store: WeightStore) -> Track | None:
    path = track_cache_path(video, protocol, store)
    if not path.exists():
        return None
    try:
        track = Track.load(path)
    except (OSError, ValueError, KeyError):  # a damaged entry is recomputed
        return None
    return track if track.geo is not None else None


@dataclass
class StreamResult:
    """Filled in while a stream runs: frames seen, the track, and why crops failed (if they did)."""

    frames: int = 0
    track: Track | None = None
    failure: str | None = None
    from_cache: bool = False
    info: dict = field(default_factory=dict)


@dataclass
class VideoChunk:
    start: int
    frames: np.ndarray | None  # (n, H, W, 3) when "frames" was asked for
    crops: dict[str, np.ndarray]  # protocol -> (n, S, S, 3)
    ok: np.ndarray | None  # (n,) a face box was known for the frame (crop views only)


def stream_video(path: str | Path, views: set[str] | frozenset[str], store: WeightStore | None = None,
                 tracking: str | None = None, chunk: int = CHUNK, max_frames: int | None = None,
                 result: StreamResult | None = None, timer: Timer | None = None) -> Iterator[VideoChunk]:
    """Chunks of the video at ``path`` in the requested ``views`` ("frames" and/or crop protocol
    names). ``result`` receives the frame count, the track and a tracking failure's reason."""
    path = Path(path)
    store = store or WeightStore()
    result = result if result is not None else StreamResult()
    timer = timer or Timer()
    crops = sorted(v for v in views if v != FRAMES)
    protos = {c: CROP_PROTOCOLS.get(c) for c in crops}
    tracker = None
    geo = None
    if crops:
        proto = TRACKING.get(tracking or DEFAULT_TRACKING)
        track = cached_track(path, proto, store)
        if track is not None and (max_frames is None or track.n_frames >= max_frames):
            geo, result.track, result.from_cache = track.geo, track, True
        else:
            tracker = StreamTracker(proto, store, source=str(path))
            STATS["tracks"][str(path)] += 1
    STATS["decodes"][str(path)] += 1

    def decoded() -> Iterator[np.ndarray]:  # runs in the prefetch thread: its CPU time is decoding's
        frames = media.iter_frames(path, max_frames=max_frames)
        while True:
            t, cpu = time.perf_counter(), time.thread_time()
            frame = next(frames, None)
            if frame is None:
                return
            timer.background("decode", time.perf_counter() - t, time.thread_time() - cpu, 1)
            yield frame

    buffer: list[tuple[int, np.ndarray, np.ndarray | None]] = []

    def emit(items, final: bool = False) -> Iterator[VideoChunk]:
        buffer.extend(items)
        while len(buffer) >= chunk or (final and buffer):
            part, buffer[:] = buffer[:chunk], buffer[chunk:]
            yield _make_chunk(part, views, protos)

    n = 0
    frames_iter = prefetch(decoded(), depth=4)
    t0 = time.perf_counter()
    for frame in frames_iter:
        timer.add("decode-wait", time.perf_counter() - t0)
        if tracker is not None:
            with timer.timed("detect", frames=1):
                released = tracker.push(frame)
        elif crops:
            g = geo[n] if n < len(geo) else np.full(3, np.nan)
            released = [(n, frame, g)]
        else:
            released = [(n, frame, None)]
        n += 1
        yield from emit(released)
        t0 = time.perf_counter()
    result.frames = n
    if tracker is not None:
        with timer.timed("detect"):
            released = tracker.finish()
        result.failure = tracker.failure
        result.track = tracker.track()
        if tracker.failure is None and max_frames is None:
            result.track.save(track_cache_path(path, tracker.protocol, store))
        yield from emit(released, final=True)
    else:
        if result.track is not None and n < result.track.n_frames and max_frames is None:
            result.failure = f"{path}: the cached track has {result.track.n_frames} frames, the video {n}"
        yield from emit([], final=True)
    if result.track is not None:
        result.info = result.track.summary()


def _make_chunk(part: list, views, protos: dict) -> VideoChunk:
    start = part[0][0]
    frames = np.stack([f for _, f, _ in part]) if FRAMES in views else None
    crops, ok = {}, None
    if protos:
        flags = []
        for name, proto in protos.items():
            cut = [proto.crop_or_blank(f, g) for _, f, g in part]
            crops[name] = np.stack([c for c, _ in cut])
            flags = [k for _, k in cut]
        ok = np.asarray(flags, dtype=bool)
    return VideoChunk(start, frames, crops, ok)


def read_view(path: str | Path, view: str, store: WeightStore | None = None, tracking: str | None = None,
              max_frames: int | None = None) -> np.ndarray:
    """A whole video in one view, in memory (for small clips, tests and EAD-Net inference)."""
    parts = [c.frames if view == FRAMES else c.crops[view]
             for c in stream_video(path, {view}, store, tracking, max_frames=max_frames)]
    return np.concatenate(parts)
