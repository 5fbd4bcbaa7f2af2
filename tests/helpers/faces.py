"""Quick face crops for tests that measure mouths on many frames: MTCNN (``mtcnn-fast``) on every
``stride``-th frame, boxes interpolated in between, cut with the pinned ``face256`` crop."""

from __future__ import annotations

import numpy as np

STRIDE = 8


def fast_crops(frames: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """face256 crops from an MTCNN track detected on every ``stride``-th frame (boxes interpolated)."""
    from eadbench import faces
    from eadbench.faces.track import Track

    part = faces.track_clip(frames[::stride], protocol="mtcnn-fast")
    boxes = np.full((len(frames), 4), np.nan)
    boxes[::stride] = part.boxes
    track = Track(boxes, np.full(len(frames), np.nan), np.full((len(frames), 5, 2), np.nan))
    return faces.crop_clip(frames, "face256", track).frames
