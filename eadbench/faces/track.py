"""Face tracking: one box per frame, smoothed over time, misses and extra faces counted.

A named, versioned **tracking protocol** says how the detector is run (recorded with every
result that uses face crops):

* ``mtcnn-full`` (v1): MTCNN on every frame at full resolution, batches of 32 (eadbench's
  original tracking);
* ``mtcnn-fast`` (v1): the frame downscaled (area) so its longer side is at most 384 px before
  detection, boxes mapped back; cheaper on 512x512 to 1920x1080 footage (the README gives its
  measured differences from ``mtcnn-full`` on real clips);
* ``mtcnn-track`` (v1): full MTCNN only on key frames (every 25th frame, a scene cut, a face
  lost or unsure), with a pyramid whose smallest face is a fifth of the frame's shorter side;
  the previous frame's faces refined by MTCNN's R-Net and O-Net in between
  (``eadbench.faces.video``; about a tenth of the cost, docs/tracking.md gives the measured
  differences from ``mtcnn-full`` on every real clip).

All pick, per frame, the detection that overlaps the previous box most (the best-scoring one
when the track starts, or when nothing overlaps), count the frames with more than one face,
fill frames without a detection from their neighbours (linear interpolation, ends held) and
median-filter box centre and size over 13 frames (zero-padded ends), as syncnet_python does.
A clip where a face is found in too few frames raises ``FaceNotFoundError`` naming the file.

``StreamTracker`` does this on a stream of frames with bounded memory: each frame leaves the
tracker, with its final smoothed box, as soon as the 6 frames after it have been detected (or
the next detection after a gap has arrived), so crops flow on to the metrics in chunks and a
video is decoded once. Its boxes equal ``Track.smoothed()`` of the same detections whenever no
gap between detections is longer than the tracker's buffer (then the last box is held and the
clip's record says so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import medfilt

from eadbench.errors import FaceNotFoundError
from eadbench.faces.detect import Face, detect_batch, downscale
from eadbench.faces.detect import iou as _iou
from eadbench.faces.video import KeyFramePolicy, VideoDetector, pyramid_min_face
from eadbench.nets.mtcnn import NAME as DETECTOR
from eadbench.registry import Registry
from eadbench.weights import WeightStore

SMOOTH_KERNEL = 13
MIN_FACE_FRACTION = 0.5
MIN_FACE_FRAMES = 5
#: a StreamTracker holds at most this many bytes of frames (and at most LOOKAHEAD frames, but
#: never fewer than two smoothing windows and a detector batch) while it waits for detections
BUFFER_BYTES = 256 * 1024 * 1024
LOOKAHEAD = 108
#: a detected face whose box's longer side is under this many pixels is "small": the 224-256 px
#: crops (1.5x the box) upscale it more than 4x, so lips and landmarks span only a few real pixels
SMALL_FACE_PX = 40


@dataclass(frozen=True)
class TrackingProtocol:
    name: str
    version: str
    max_side: int | None  # detect on the frame downscaled to this longer side (None: full size)
    batch: int  # frames per detector call
    description: str
    keyframes: KeyFramePolicy | None = None  # full detection on key frames only (None: every frame)
    #: every frame's pyramid starts at faces of this fraction of the shorter side (on MTCNN's own
    #: levels; a frame where it finds no face gets the whole pyramid); None: MTCNN's 20 px
    min_face_fraction: float | None = None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict:
        """The protocol's parameters, as recorded in a run's manifest."""
        return {"max_side": self.max_side, "batch": self.batch,
                **({"min_face_fraction": self.min_face_fraction} if self.min_face_fraction else {}),
                **(self.keyframes.to_dict() if self.keyframes else {"key_every": 1})}

    def detector(self, store: WeightStore | None, scale: float):
        """A function from consecutive detector-sized frames to their faces (state carries over
        between calls of one video's detector)."""
        if self.keyframes is not None:
            return VideoDetector(self.keyframes, store)
        if self.min_face_fraction is not None:
            return lambda images: detect_large(images, store, scale, self.min_face_fraction)
        return lambda images: detect_batch(images, store, scale, prepared=True)

    def scale(self, height: int, width: int) -> float:
        if self.max_side is None or max(height, width) <= self.max_side:
            return 1.0
        return self.max_side / max(height, width)


def detect_large(images, store: WeightStore | None, scale: float, fraction: float) -> list[list[Face]]:
    """Faces of each prepared frame with MTCNN's pyramid cut to faces of at least ``fraction`` of the
    shorter side (snapped to MTCNN's own levels, so the scales kept are the full pyramid's); a frame
    where no face is found is detected again with the whole pyramid. Each frame's faces depend on
    that frame alone, as with ``mtcnn-full``: the same frame in two videos gets the same box."""
    if not len(images):
        return []
    min_face = pyramid_min_face(fraction * min(images[0].shape[:2]))
    faces = detect_batch(images, store, scale, prepared=True, min_face=min_face)
    empty = [i for i, f in enumerate(faces) if not f]
    if empty and min_face > 20:
        for i, f in zip(empty, detect_batch([images[i] for i in empty], store, scale, prepared=True)):
            faces[i] = f
    return faces


TRACKING: Registry[TrackingProtocol] = Registry("tracking protocol")
for _p in (
    TrackingProtocol("mtcnn-full", "1", None, 32, "MTCNN on every frame at full resolution"),
    TrackingProtocol("mtcnn-fast", "1", 384, 32, "MTCNN on every frame downscaled to a longer side of 384 px"),
    TrackingProtocol("mtcnn-large", "1", None, 32, "MTCNN on every frame at full resolution, its pyramid "
                     "starting at faces of 1/8 of the shorter side (the whole pyramid where that finds none)",
                     min_face_fraction=1 / 8),
    TrackingProtocol("mtcnn-track", "1", None, 32, "full MTCNN (smallest face 1/5 of the shorter side) on key "
                     "frames: every 25th, scene cuts, a face lost or below 0.9; R-Net+O-Net refine the previous "
                     "faces in between", KeyFramePolicy(key_every=25, min_face_fraction=0.2, min_score=0.9, cut=24.0)),
):
    TRACKING.add(_p.name, _p)
DEFAULT_TRACKING = os.environ.get("EADBENCH_TRACKING", "mtcnn-large")


@dataclass
class Track:
    boxes: np.ndarray  # (T, 4) raw detections, NaN where none
    scores: np.ndarray  # (T,), NaN where none
    landmarks: np.ndarray  # (T, 5, 2), NaN where none
    missing: list[int] = field(default_factory=list)
    detector: str = DETECTOR
    multi_face_frames: int = 0  # frames where the detector saw more than one face
    protocol: str = "mtcnn-full@1"
    geo: np.ndarray | None = None  # (T, 3) smoothed cx, cy, s the crops used (None: compute)
    held_frames: int = 0  # frames whose box was held because a gap outlasted the tracker's buffer

    POLICY = "best score at the start, then the face overlapping the previous box most"

    @property
    def n_frames(self) -> int:
        return len(self.boxes)

    @property
    def small_face_frames(self) -> int:
        """Frames whose detected face is smaller than ``SMALL_FACE_PX`` (longer side of the box)."""
        b = self.boxes[~np.isnan(self.boxes[:, 0])] if len(self.boxes) else self.boxes
        return int((np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) < SMALL_FACE_PX).sum()) if len(b) else 0

    def smoothed(self) -> np.ndarray:
        """(T, 3) centre x, centre y, half-size s = max(w, h) / 2, filled and median-filtered."""
        if self.geo is not None:
            return self.geo
        return smooth_boxes(self.boxes)

    def summary(self) -> dict:
        """What a clip's record says about its track."""
        return {"tracking": self.protocol, "frames": self.n_frames, "face_frames_missing": len(self.missing),
                "multi_face_frames": self.multi_face_frames, "small_face_frames": self.small_face_frames,
                "held_frames": self.held_frames,
                "tracking_policy": self.POLICY}

    def save(self, path: str | Path) -> None:
        from eadbench.atomic import atomic_path

        arrays = dict(boxes=self.boxes, scores=self.scores, landmarks=self.landmarks,
                      missing=np.asarray(self.missing, dtype=np.int64), detector=np.asarray(self.detector),
                      multi_face_frames=np.asarray(self.multi_face_frames), protocol=np.asarray(self.protocol),
                      held_frames=np.asarray(self.held_frames))
        if self.geo is not None:
            arrays["geo"] = self.geo
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "Track":
        with np.load(path, allow_pickle=False) as z:
            get = lambda k, d: z[k] if k in z else d  # noqa: E731 - older files lack newer fields
            return cls(z["boxes"], z["scores"], z["landmarks"], z["missing"].tolist(), str(z["detector"]),
                       int(get("multi_face_frames", 0)), str(get("protocol", "mtcnn-full@1")),
                       get("geo", None), int(get("held_frames", 0)))


def _geometry(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    s = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2
    return cx, cy, s


def smooth_boxes(boxes: np.ndarray) -> np.ndarray:
    """Raw (T, 4) boxes -> (T, 3) filled (linear, ends held) and median-filtered geometry."""
    ok = ~np.isnan(boxes[:, 0])
    if not ok.any():
        raise FaceNotFoundError("no face in any frame")
    idx = np.arange(len(boxes))
    out = []
    for v in _geometry(boxes):
        filled = np.interp(idx, idx[ok], v[ok])  # nearest-detection fill, ends held
        k = min(SMOOTH_KERNEL, len(filled) if len(filled) % 2 else len(filled) - 1)
        out.append(medfilt(filled, kernel_size=k) if k >= 3 else filled)
    return np.stack(out, axis=1)


def _pick(faces: list[Face], prev: np.ndarray | None) -> Face:
    if prev is None:
        return faces[0]
    pick = max(faces, key=lambda f: (_iou(f.box, prev), f.score))
    return faces[0] if _iou(pick.box, prev) == 0.0 else pick


def _check_found(missing: int, t: int, min_fraction: float, min_frames: int, source: str | None) -> None:
    found = t - missing
    where = f"{source}: " if source else ""
    need = max(min_frames, int(np.ceil(min_fraction * t)))
    if found == 0:
        raise FaceNotFoundError(f"{where}no face found in any of {t} frames")
    if found < need and found < t:
        raise FaceNotFoundError(f"{where}a face was found in only {found} of {t} frames (need {need})")


class StreamTracker:
    """Track a face over frames pushed one at a time; frames come back out with their final
    smoothed box (``(index, frame, (cx, cy, s))``, NaN where no face is known) as soon as that
    box is known. ``finish()`` releases the rest; ``failure`` then says when too few frames had
    a face (the frames still flow, for the metrics that need no face)."""

    def __init__(self, protocol: str | TrackingProtocol | None = None, store: WeightStore | None = None,
                 source: str | None = None, buffer_bytes: int = BUFFER_BYTES):
        self.protocol = protocol if isinstance(protocol, TrackingProtocol) else TRACKING.get(
            protocol or DEFAULT_TRACKING)
        self.store, self.source, self.buffer_bytes = store, source, buffer_bytes
        self.frames: dict[int, np.ndarray] = {}  # full-resolution frames not yet released
        self.small: list[np.ndarray] = []  # downscaled frames waiting for the detector
        self.pending: list[int] = []
        self.boxes: list[np.ndarray] = []
        self.scores: list[float] = []
        self.lms: list[np.ndarray] = []
        self.geo: list[np.ndarray] = []  # filled (interpolated) geometry per frame, before smoothing
        self.last_det: int | None = None  # the frame the filled values were last anchored at
        self.prev: np.ndarray | None = None
        self.multi = self.held = self.n = self.released = 0
        self.scale: float | None = None
        self.detector = None
        self.cap = 0
        self.smoothed: list[np.ndarray] = []
        self.failure: str | None = None
        self.last_small: np.ndarray | None = None
        self.last_faces: list[Face] = []

    # -- input -------------------------------------------------------------------------------------
    def push(self, frame: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        if self.scale is None:
            h, w = frame.shape[:2]
            self.scale = self.protocol.scale(h, w)
            self.detector = self.protocol.detector(self.store, self.scale)
            self.cap = max(2 * SMOOTH_KERNEL + self.protocol.batch,
                           min(LOOKAHEAD, int(self.buffer_bytes // max(1, frame.nbytes))))
        self.frames[self.n] = frame
        self.small.append(downscale(frame, self.scale))
        self.pending.append(self.n)
        self.boxes.append(np.full(4, np.nan))
        self.scores.append(np.nan)
        self.lms.append(np.full((5, 2), np.nan))
        self.n += 1
        if len(self.pending) >= self.protocol.batch:
            self._detect()
        return self._release(final=False)

    def finish(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Detect what is left and release every remaining frame."""
        if self.pending:
            self._detect()
        missing = int(np.isnan(np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)[:, 0]).sum())
        try:
            if self.n == 0:
                raise FaceNotFoundError(f"{self.source + ': ' if self.source else ''}the video has no frames")
            _check_found(missing, self.n, MIN_FACE_FRACTION, MIN_FACE_FRAMES, self.source)
        except FaceNotFoundError as exc:
            self.failure = str(exc)
        return self._release(final=True)

    # -- detection ---------------------------------------------------------------------------------
    def _detect(self) -> None:
        # a frame identical to the one before it (a still image, a frozen output) has the same faces
        fresh = []
        for k, im in enumerate(self.small):
            prev = self.small[k - 1] if k else self.last_small
            if prev is None or prev.shape != im.shape or not np.array_equal(prev, im):
                fresh.append(k)
        found_fresh = dict(zip(fresh, self.detector([self.small[k] for k in fresh]))) if fresh else {}
        found, last = [], self.last_faces
        for k in range(len(self.small)):
            last = found_fresh[k] if k in found_fresh else last
            found.append(last)
        self.last_small, self.last_faces = self.small[-1], last
        for i, faces in zip(self.pending, found):
            if not faces:
                continue
            self.multi += len(faces) > 1
            pick = _pick(faces, self.prev)
            self.boxes[i], self.scores[i], self.lms[i] = pick.box, pick.score, pick.landmarks
            self.prev = pick.box
            self._anchor(i)
        self.small, self.pending = [], []

    def _anchor(self, i: int) -> None:
        """A detection at frame ``i``: the frames since the last anchor get their filled values,
        linear between the two (np.interp's formula, so the boxes equal ``smooth_boxes``); held
        from ``i`` back to the start before the first detection."""
        cur = np.array([v[0] for v in _geometry(self.boxes[i][None])])
        if i < len(self.geo):  # already held over by the buffer limit: keep what was released
            self.geo[i] = cur if i >= self.released else self.geo[i]
        elif self.last_det is None or np.isnan(self.geo[self.last_det]).any():
            self.geo.extend([cur] * (i + 1 - len(self.geo)))
        else:
            a, before = self.last_det, self.geo[self.last_det]
            slope = (cur - before) / (i - a)
            self.geo.extend([slope * (j - a) + before for j in range(len(self.geo), i)] + [cur])
        self.last_det = i

    # -- output ------------------------------------------------------------------------------------
    def _release(self, final: bool) -> list[tuple[int, np.ndarray, np.ndarray]]:
        detected = self.n - len(self.pending)
        if final:
            fill = self.geo[-1] if self.geo else np.full(3, np.nan)
            self.geo.extend([fill] * (self.n - len(self.geo)))  # after the last detection the box is held
        elif self.n - self.released > self.cap:
            # a gap longer than the buffer: hold the last box (NaN before any face) over it
            fill = self.geo[-1] if self.geo else np.full(3, np.nan)
            target = min(self.n - self.cap + SMOOTH_KERNEL, detected)
            if len(self.geo) < target:
                self.held += target - len(self.geo)
                self.geo.extend([fill] * (target - len(self.geo)))
                self.last_det = len(self.geo) - 1
        if not final and self.n < SMOOTH_KERNEL:
            return []  # the kernel is only known once 13 frames exist (or at the end)
        half = self._kernel() // 2
        out = []
        while self.released < self.n:
            i = self.released
            if not final and len(self.geo) < i + half + 1:
                break
            out.append((i, self.frames.pop(i), self._smooth_at(i, half)))
            self.released += 1
        return out

    def _kernel(self) -> int:
        return min(SMOOTH_KERNEL, self.n if self.n % 2 else self.n - 1)

    def _smooth_at(self, i: int, half: int) -> np.ndarray:
        if half < 1:
            g = self.geo[i]
        else:
            window = [self.geo[j] if 0 <= j < self.n else np.zeros(3) for j in range(i - half, i + half + 1)]
            g = np.median(np.stack(window), axis=0)
        self.smoothed.append(g)
        return g

    def track(self) -> Track:
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        missing = [int(i) for i in np.flatnonzero(np.isnan(boxes[:, 0]))]
        geo = np.asarray(self.smoothed, dtype=np.float64).reshape(-1, 3) if len(self.smoothed) == self.n else None
        return Track(boxes, np.asarray(self.scores, dtype=np.float64),
                     np.asarray(self.lms, dtype=np.float64).reshape(-1, 5, 2), missing, DETECTOR, self.multi,
                     self.protocol.key, geo, self.held)


def track_clip(frames: np.ndarray, batch: int | None = None, min_fraction: float = MIN_FACE_FRACTION,
               min_frames: int = MIN_FACE_FRAMES, source: str | None = None, protocol: str | None = None,
               store: WeightStore | None = None) -> Track:
    """Detect and track the main face of frames held in memory; FaceNotFoundError (naming
    ``source``, the file the frames came from) when too few frames have one."""
    proto = TRACKING.get(protocol or DEFAULT_TRACKING)
    if batch is not None:
        proto = TrackingProtocol(proto.name, proto.version, proto.max_side, batch, proto.description, proto.keyframes)
    t = len(frames)
    boxes, scores, lms = np.full((t, 4), np.nan), np.full(t, np.nan), np.full((t, 5, 2), np.nan)
    prev, multi = None, 0
    scale = proto.scale(*frames.shape[1:3]) if t else 1.0
    detector = proto.detector(store, scale)
    for start in range(0, t, proto.batch):
        small = [downscale(f, scale) for f in frames[start:start + proto.batch]]
        for i, faces in enumerate(detector(small), start):
            if not faces:
                continue
            multi += len(faces) > 1
            pick = _pick(faces, prev)
            boxes[i], scores[i], lms[i] = pick.box, pick.score, pick.landmarks
            prev = pick.box
    missing = [int(i) for i in np.flatnonzero(np.isnan(boxes[:, 0]))]
    _check_found(len(missing), t, min_fraction, min_frames, source)
    return Track(boxes, scores, lms, missing, DETECTOR, multi, proto.key)
