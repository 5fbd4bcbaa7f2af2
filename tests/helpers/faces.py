"""Quick face crops for tests that measure mouths on many frames: MTCNN (``mtcnn-fast``) on every
``stride``-th frame, boxes interpolated in between, cut with the pinned ``face256`` crop; and a
frozen-head copy of such crops (the head-motion tests' harmful control), a copy with frozen eyes and
brows (the blink/brow tests'), and an H.264 re-encoded copy (the harmless control of them all)."""

from __future__ import annotations

import numpy as np

STRIDE = 8


def reencoded(frames: np.ndarray, crf: int) -> np.ndarray:
    """``frames`` through eadbench's H.264 writer at ``crf`` and back (as many frames as given)."""
    import tempfile
    from pathlib import Path

    from eadbench import media

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "re.mp4"
        with media.VideoWriter(path, crf=crf) as w:
            for f in frames:
                w.write(f)
        return media.read_frames(path)[: len(frames)]


def fast_track(frames: np.ndarray, stride: int = STRIDE):
    """An MTCNN (``mtcnn-fast``) track detected on every ``stride``-th frame; the crop interpolates
    the boxes in between."""
    from eadbench import faces
    from eadbench.faces.track import Track

    part = faces.track_clip(frames[::stride], protocol="mtcnn-fast")
    boxes = np.full((len(frames), 4), np.nan)
    boxes[::stride] = part.boxes
    return Track(boxes, np.full(len(frames), np.nan), np.full((len(frames), 5, 2), np.nan))


def fast_crops(frames: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """face256 crops from ``fast_track`` (boxes interpolated)."""
    from eadbench import faces

    return faces.crop_clip(frames, "face256", fast_track(frames, stride)).frames


#: the mouth window of a face256 crop (rows, columns) that ``frozen_head`` keeps moving
MOUTH_WINDOW = (slice(150, 230), slice(80, 176))


def frozen_head(crops: np.ndarray) -> np.ndarray:
    """A frozen-head copy of face256 crops: the first crop on every frame, with each frame's own mouth
    window pasted in (the mouth still talks, the head never moves)."""
    out = np.repeat(crops[:1], len(crops), axis=0)
    out[:, MOUTH_WINDOW[0], MOUTH_WINDOW[1]] = crops[:, MOUTH_WINDOW[0], MOUTH_WINDOW[1]]
    return out


#: the eyes-and-brows window of a face256 crop (rows, columns) that ``frozen_upper`` freezes: on 19 real
#: clips the mesh's brows top at row 57 and the lower lids end by row 140; the mouth window is below it
UPPER_WINDOW = (slice(52, 140), slice(36, 220))


def frozen_upper(crops: np.ndarray) -> np.ndarray:
    """A copy of face256 crops whose eyes-and-brows window is the first crop's on every frame (the rest of
    the face, mouth and head included, still moves)."""
    out = crops.copy()
    out[:, UPPER_WINDOW[0], UPPER_WINDOW[1]] = crops[:1, UPPER_WINDOW[0], UPPER_WINDOW[1]]
    return out
