"""The ``latentsync`` procedure's face finding, as LatentSync's eval/syncnet_detect.py (syncnet_python's
run_pipeline.py adapted) does it: scene cuts by PySceneDetect 0.6.1's ContentDetector rule, S3FD's
score threshold and non-maximum suppression on any detector's faces, greedy IoU face tracks with
interpolated boxes, and their crop of a frame. Apart from the procedure (latentsync.py), which
streams frames through these, so each file holds one job; their values are defined here once."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from eadbench.errors import MetricInputError
from eadbench.metrics.lse.core import SIZE, _LipStream

# LatentSync's eval/syncnet_detect.py (run_pipeline.py's values, min_track 50)
MIN_TRACK = 50  # a track needs more detections than this; a scene at least this many frames
NUM_FAILED_DET = 25  # a face may be missing for this many frames inside a track
IOU_THRES = 0.5  # a face joins a track when its IoU with the track's last face is above this
MIN_FACE_SIZE = 100  # pixels: the mean box width or height of a kept track must be above this
CROP_SCALE = 0.4
SMOOTH = 13  # median filter of box centre and size (scipy.signal.medfilt: zero-padded ends)
FACEDET_SCALE = 0.25  # the detector sees the frame at this scale (their detect_face's facedet_scale)
FACE_CONF = 0.9  # S3FD's score threshold (detect_face(conf_th=0.9))
FACE_NMS = 0.1  # S3FD's non-maximum suppression overlap
SCENE_THRESHOLD = 27.0  # PySceneDetect 0.6.1 ContentDetector defaults
SCENE_MIN_LEN = 15
SCENE_MIN_WIDTH = 256  # SceneManager's automatic downscale: factor = width // 256


class SceneCuts:
    """PySceneDetect 0.6.1's ContentDetector with its defaults, fed frame by frame: frame ``f``
    starts a new scene when the mean absolute difference of hue, saturation and value against
    the previous frame (averaged over the three) is at least 27 and at least 15 frames have
    passed since the last cut (or since frame 0). Frames are first downscaled by the
    SceneManager's automatic factor, width // 256, with bilinear resizing."""

    def __init__(self) -> None:
        self.last: tuple[np.ndarray, ...] | None = None
        self.last_cut = 0
        self.cuts: list[int] = []

    def push(self, index: int, frame_rgb: np.ndarray) -> bool:
        h, w = frame_rgb.shape[:2]
        factor = 1 if w < SCENE_MIN_WIDTH else w // SCENE_MIN_WIDTH
        small = frame_rgb
        if factor > 1:
            small = cv2.resize(np.ascontiguousarray(frame_rgb), (round(w / factor), round(h / factor)),
                               interpolation=cv2.INTER_LINEAR)
        hsv = cv2.split(cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV))
        last, self.last = self.last, hsv
        if last is None:
            return False
        pixels = float(hsv[0].shape[0] * hsv[0].shape[1])
        deltas = [np.sum(np.abs(a.astype(np.int32) - b.astype(np.int32))) / pixels for a, b in zip(hsv, last)]
        score = (deltas[0] * 1.0 + deltas[1] * 1.0 + deltas[2] * 1.0 + 0.0) / 3.0
        if score >= SCENE_THRESHOLD and index - self.last_cut >= SCENE_MIN_LEN:
            self.last_cut = index
            self.cuts.append(index)
            return True
        return False


def box_iou(a, b) -> float:
    """IoU of two (x1, y1, x2, y2) boxes, as syncnet_python's bb_intersection_over_union."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def suppress(faces: list[tuple[np.ndarray, float]], conf: float = FACE_CONF,
             overlap: float = FACE_NMS) -> list[np.ndarray]:
    """S3FD's post-processing on any detector's faces: score above ``conf``, then greedy
    non-maximum suppression (best score first; a box overlapping a kept one by more than
    ``overlap`` IoU is dropped). Boxes in the kept order."""
    order = sorted((f for f in faces if f[1] > conf), key=lambda f: -f[1])
    kept: list[np.ndarray] = []
    for box, _ in order:
        if all(box_iou(box, k) <= overlap for k in kept):
            kept.append(np.asarray(box, dtype=np.float64))
    return kept


@dataclass
class FaceTrack:
    """One face track of the ``latentsync`` procedure, built frame by frame."""

    scene: int
    members: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame, box) taken, in order
    boxes: list[np.ndarray] = field(default_factory=list)  # interpolated box of frames first, first + 1, ...
    done: bool = False  # no face can join any more
    cropped: int = 0  # crops cut so far
    crops: list[np.ndarray] = field(default_factory=list)  # cut, not yet handed to the lip stream
    lips: _LipStream | None = None
    result: dict | None = None
    error: str | None = None  # why a kept track cannot be scored (their script raises on it)
    crop_error: str | None = None  # a crop that cannot be cut (used only if the track is kept)

    @property
    def first(self) -> int:
        return self.members[0][0]

    @property
    def last(self) -> int:
        return self.members[-1][0]

    def take(self, frame: int, box: np.ndarray) -> None:
        """A face joins: the frames since the last one get boxes interpolated linearly between
        the two (scipy's interp1d, which hands this case to numpy.interp: a face's own frame
        keeps its box exactly, a frame between two faces gets slope * (frame - f0) + box0)."""
        box = np.asarray(box, dtype=np.float64)
        if self.members and frame > self.last:
            f0, b0 = self.members[-1]
            slope = (box - b0) / (frame - f0)
            self.boxes.extend(slope * (g - f0) + b0 for g in range(f0 + 1, frame))
            self.boxes.append(box)
        elif not self.members:
            self.boxes.append(box)
        self.members.append((frame, box))

    def offer(self, frame: int, faces: list[np.ndarray], num_failed_det: int = NUM_FAILED_DET) -> None:
        """One pass of their loop over a frame's remaining faces: the first face starts an empty
        track; a face within ``num_failed_det`` frames of the track's last one and overlapping it
        by more than IoU 0.5 joins. A face that joins is removed from ``faces`` while the loop
        walks the list, so the face after it is skipped, as a Python for-loop over a list being
        shortened does."""
        i = 0
        while i < len(faces):
            face = faces[i]
            if not self.members:
                self.take(frame, face)
                faces.pop(i)
            elif frame - self.last <= num_failed_det:
                if box_iou(face, self.members[-1][1]) > IOU_THRES:
                    self.take(frame, face)
                    faces.pop(i)
            else:
                break
            i += 1

    def geometry(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo, 3) centre x, centre y, half-size s of interpolated boxes lo .. hi-1, as their
        crop_video computes them."""
        b = np.asarray(self.boxes[lo:hi])
        return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2,
                         np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2], axis=1)

    def kept(self, min_track: int, min_face_size: float = MIN_FACE_SIZE) -> bool:
        if len(self.members) <= min_track:
            return False
        b = np.asarray(self.boxes)
        return max(np.mean(b[:, 2] - b[:, 0]), np.mean(b[:, 3] - b[:, 1])) > min_face_size


def _span(start: int, stop: int, n: int) -> tuple[int, int]:
    """Python slice bounds [start:stop] of a sequence of length n (negative starts wrap)."""
    return slice(start, stop).indices(n)[:2]


def latentsync_crop(frame: np.ndarray, x: float, y: float, s: float, cs: float = CROP_SCALE) -> np.ndarray:
    """Their crop of one frame at smoothed centre (x, y) and half-size s: the frame padded by
    int(s (1 + 2 cs)) with 110, rows [y - s, y + s (1 + 2 cs)), columns [x - s (1 + cs),
    x + s (1 + cs)) (truncated like their slices), resized to 224x224 (bilinear). The padding
    is virtual: only the window is built."""
    h, w = frame.shape[:2]
    bsi = int(s * (1 + 2 * cs))
    my, mx = y + bsi, x + bsi
    r0, r1 = _span(int(my - s), int(my + s * (1 + 2 * cs)), h + 2 * bsi)
    c0, c1 = _span(int(mx - s * (1 + cs)), int(mx + s * (1 + cs)), w + 2 * bsi)
    if r1 <= r0 or c1 <= c0:
        raise MetricInputError(f"empty face crop at centre ({x:.1f}, {y:.1f}), half-size {s:.1f} px (their "
                               "crop fails there too)")
    face = np.full((r1 - r0, c1 - c0, frame.shape[2]), 110, dtype=frame.dtype)
    fr0, fr1 = max(r0, bsi), min(r1, bsi + h)
    fc0, fc1 = max(c0, bsi), min(c1, bsi + w)
    if fr1 > fr0 and fc1 > fc0:
        face[fr0 - r0:fr1 - r0, fc0 - c0:fc1 - c0] = frame[fr0 - bsi:fr1 - bsi, fc0 - bsi:fc1 - bsi]
    return cv2.resize(face, (SIZE, SIZE))
