"""The default tracking protocol ``mtcnn-large``: MTCNN on every frame with its pyramid cut to faces
of at least 1/8 of the shorter side (on MTCNN's own levels). It must give exactly the boxes of
``mtcnn-full`` on real footage (the measured reason it may be the default), fall back to the whole
pyramid on a frame where the cut one finds no face, and be recorded with results."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from eadbench.faces import track as track_mod
from eadbench.faces.track import DEFAULT_TRACKING, TRACKING, detect_large
from eadbench.faces.video import FACTOR, MIN_FACE, pyramid_min_face

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
CLIPS = ["WDA_KatieHill_000.mp4", "retalking_3.mp4", "latentsync_demo1_video.mp4", "mead_W011_front_sad_level3_001.mp4"]


def _tracked(frames, protocol):
    tr = track_mod.StreamTracker(protocol)
    out = []
    for f in frames:
        out += tr.push(f)
    out += tr.finish()
    return tr.track(), np.stack([g for _, _, g in out])


@pytest.mark.parametrize("clip", CLIPS)
def test_same_boxes_as_mtcnn_full_on_real_clips(clip):
    path = REAL / clip
    if not path.exists():
        pytest.skip(f"real clip absent: {path} (../shared/data/real is not part of the repository)")
    from eadbench import media

    frames = media.read_frames(path, max_frames=12)
    full, g_full = _tracked(frames, "mtcnn-full")
    large, g_large = _tracked(frames, "mtcnn-large")
    np.testing.assert_allclose(large.boxes, full.boxes, atol=1e-6)
    np.testing.assert_allclose(g_large, g_full, atol=1e-6)
    assert large.multi_face_frames == full.multi_face_frames and large.protocol == "mtcnn-large@1"


def test_pyramid_levels_are_mtcnns_own():
    for size in (30.0, 64.0, 73.75, 135.0, 300.0):
        m = pyramid_min_face(size)
        k = round(np.log(m / MIN_FACE) / -np.log(FACTOR))
        assert m <= size and abs(m - MIN_FACE / FACTOR ** k) < 1e-9 and MIN_FACE / FACTOR ** (k + 1) > size
    assert pyramid_min_face(5.0) == MIN_FACE


def test_a_frame_the_cut_pyramid_misses_gets_the_whole_one(monkeypatch):
    """A face far smaller than 1/8 of the frame: the cut pyramid cannot see it, the whole one does."""
    face = cv2.resize(skimage.data.astronaut()[:260, 120:380], (90, 90), interpolation=cv2.INTER_AREA)
    canvas = np.full((1024, 1024, 3), 127, np.uint8)
    canvas[400:490, 500:590] = face
    calls = []
    real = track_mod.detect_batch

    def spy(images, store=None, *a, **kw):
        calls.append(kw.get("min_face"))
        return real(images, store, *a, **kw)

    monkeypatch.setattr(track_mod, "detect_batch", spy)
    faces = detect_large([canvas], None, 1.0, 1 / 8)
    assert calls == [pyramid_min_face(128.0), None]  # the cut pyramid, then the whole one for this frame
    assert faces[0] and 480 < (faces[0][0].box[0] + faces[0][0].box[2]) / 2 < 610


def test_default_and_recorded():
    assert DEFAULT_TRACKING == "mtcnn-large" or DEFAULT_TRACKING == __import__("os").environ.get("EADBENCH_TRACKING")
    p = TRACKING.get("mtcnn-large")
    assert p.key == "mtcnn-large@1" and p.to_dict()["min_face_fraction"] == 1 / 8
    assert "min_face_fraction" not in TRACKING.get("mtcnn-full").to_dict()  # mtcnn-full stays as it was
