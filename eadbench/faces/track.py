"""Face tracking over a clip: one box per frame, smoothed over time, misses reported.

Frames are detected in batches; the tracked face is the detection that overlaps the previous
box most (the best-scoring one when the track starts, or when it overlaps nothing); frames with
more than one face are counted, so a second person in the shot is never silently ignored. Box centre and size are median-filtered
over time (kernel 13, as syncnet_python does). A frame with no detection keeps its index in
``missing``; it is cropped with the nearest detected box (never dropped, never hidden).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import medfilt

from eadbench.errors import FaceNotFoundError
from eadbench.faces.detect import DETECTOR, detect_batch

SMOOTH_KERNEL = 13
MIN_FACE_FRACTION = 0.5
MIN_FACE_FRAMES = 5


@dataclass
class Track:
    boxes: np.ndarray  # (T, 4) raw detections, NaN where none
    scores: np.ndarray  # (T,), NaN where none
    landmarks: np.ndarray  # (T, 5, 2), NaN where none
    missing: list[int] = field(default_factory=list)
    detector: str = DETECTOR
    multi_face_frames: int = 0  # frames where the detector saw more than one face

    POLICY = "best score at the start, then the face overlapping the previous box most"

    @property
    def n_frames(self) -> int:
        return len(self.boxes)

    def smoothed(self) -> np.ndarray:
        """(T, 3) centre x, centre y, half-size s = max(w, h) / 2, filled and median-filtered."""
        ok = ~np.isnan(self.boxes[:, 0])
        if not ok.any():
            raise FaceNotFoundError("no face in any frame")
        b = self.boxes
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        s = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2
        idx = np.arange(len(b))
        out = []
        for v in (cx, cy, s):
            filled = np.interp(idx, idx[ok], v[ok])  # nearest-detection fill, ends held
            k = min(SMOOTH_KERNEL, len(filled) if len(filled) % 2 else len(filled) - 1)
            out.append(medfilt(filled, kernel_size=k) if k >= 3 else filled)
        return np.stack(out, axis=1)

    def save(self, path: str | Path) -> None:
        import os
        import tempfile

        p = Path(path)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".track.", suffix=".npz")
        os.close(fd)
        np.savez(tmp, boxes=self.boxes, scores=self.scores, landmarks=self.landmarks,
                 missing=np.asarray(self.missing, dtype=np.int64), detector=np.asarray(self.detector),
                 multi_face_frames=np.asarray(self.multi_face_frames))
        from eadbench.atomic import honour_umask

        honour_umask(tmp)
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | Path) -> "Track":
        with np.load(path, allow_pickle=False) as z:
            multi = int(z["multi_face_frames"]) if "multi_face_frames" in z else 0
            return cls(z["boxes"], z["scores"], z["landmarks"], z["missing"].tolist(), str(z["detector"]), multi)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def track_clip(frames: np.ndarray, batch: int = 32, min_fraction: float = MIN_FACE_FRACTION,
               min_frames: int = MIN_FACE_FRAMES, source: str | None = None) -> Track:
    """Detect and track the main face; raise FaceNotFoundError (naming ``source``, the file the
    frames came from) when too few frames have one."""
    t = len(frames)
    boxes = np.full((t, 4), np.nan)
    scores = np.full(t, np.nan)
    lms = np.full((t, 5, 2), np.nan)
    prev = None
    multi = 0
    for start in range(0, t, batch):
        for i, faces in enumerate(detect_batch(frames[start:start + batch]), start):
            if not faces:
                continue
            multi += len(faces) > 1
            pick = faces[0] if prev is None else max(faces, key=lambda f: (_iou(f.box, prev), f.score))
            if prev is not None and _iou(pick.box, prev) == 0.0:
                pick = faces[0]
            boxes[i], scores[i], lms[i] = pick.box, pick.score, pick.landmarks
            prev = pick.box
    missing = [int(i) for i in np.flatnonzero(np.isnan(boxes[:, 0]))]
    found = t - len(missing)
    where = f"{source}: " if source else ""
    if found == 0:
        raise FaceNotFoundError(f"{where}no face found in any of {t} frames")
    if found < max(min_frames, int(np.ceil(min_fraction * t))) and found < t:
        raise FaceNotFoundError(f"{where}a face was found in only {found} of {t} frames "
                                f"(need {max(min_frames, int(np.ceil(min_fraction * t)))})")
    return Track(boxes, scores, lms, missing, multi_face_frames=multi)
