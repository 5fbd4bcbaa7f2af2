"""Face detection on real photos, tracking with misses, and the crop protocols' geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from eadbench import faces
from eadbench.errors import FaceNotFoundError


@pytest.fixture(scope="module")
def astronaut():
    return skimage.data.astronaut()


def test_detects_the_astronaut_face_with_plausible_landmarks(astronaut):
    found = faces.detect_faces(astronaut)
    assert len(found) == 1
    f = found[0]
    x1, y1, x2, y2 = f.box
    # the face is in the upper middle of the 512x512 photo, about 90x110 px
    assert 150 < x1 < 220 and 240 < x2 < 300 and 30 < y1 < 100 and 140 < y2 < 200 and f.score > 0.99
    le, re, nose, ml, mr = f.landmarks
    assert le[0] < nose[0] < re[0] and ml[0] < mr[0]          # left/right order
    assert max(le[1], re[1]) < nose[1] < min(ml[1], mr[1])    # eyes above nose above mouth
    assert all(x1 <= p[0] <= x2 and y1 <= p[1] <= y2 for p in f.landmarks)


def test_blank_image_has_no_face():
    assert faces.detect_faces(np.full((256, 256, 3), 127, np.uint8)) == []


def test_real_lfw_faces_are_found():
    lfw = skimage.data.lfw_subset()[:6]  # 25x25 grey crops of real faces
    imgs = [cv2.cvtColor(cv2.resize((im * 255).astype(np.uint8), (160, 160)), cv2.COLOR_GRAY2RGB) for im in lfw]
    imgs = [cv2.copyMakeBorder(im, 48, 48, 48, 48, cv2.BORDER_REPLICATE) for im in imgs]
    hits = sum(bool(r) for r in faces.detect_batch(imgs))
    assert hits >= 5


def _clip(astronaut, n=20, blanks=()):
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    frames = np.stack([np.roll(small, 2 * i, axis=1) for i in range(n)])
    for b in blanks:
        frames[b] = 127
    return frames


def test_track_follows_motion_and_reports_missing_frames(astronaut):
    frames = _clip(astronaut, blanks=(5, 6))
    tr = faces.track_clip(frames)
    assert tr.missing == [5, 6]
    cx = (tr.boxes[:, 0] + tr.boxes[:, 2]) / 2
    ok = ~np.isnan(cx)
    slope = np.polyfit(np.arange(20)[ok], cx[ok], 1)[0]
    assert 1.5 < slope < 2.5  # the face moves 2 px per frame
    res = faces.crop_clip(frames, "syncnet", tr)
    assert res.frames.shape == (20, 224, 224, 3) and res.missing == [5, 6]  # nothing dropped


def test_too_few_face_frames_is_a_clear_failure(astronaut):
    frames = _clip(astronaut, n=10, blanks=range(2, 10))
    with pytest.raises(FaceNotFoundError, match="found in only 2 of 10 frames"):
        faces.track_clip(frames)


def test_syncnet_crop_window_matches_syncnet_python_definition():
    proto = faces.CROP_PROTOCOLS.get("syncnet")
    cx, cy, s = 100.0, 120.0, 40.0
    # rows cy-s .. cy+s(1+2*0.4); columns cx-s(1+0.4) .. cx+s(1+0.4)
    assert proto.window(cx, cy, s) == pytest.approx((80.0, 192.0, 44.0, 156.0))
    frame = np.zeros((300, 300, 3), np.uint8)
    frame[80:192, 44:156] = 255  # exactly the window: the crop is all white
    out = proto.crop(frame, cx, cy, s)
    assert out.shape == (224, 224, 3) and out[2:-2, 2:-2].min() == 255
    # near the border the padding is syncnet_python's constant 110
    edge = proto.crop(np.zeros((100, 100, 3), np.uint8), 5.0, 5.0, 40.0)
    assert edge[0, 0, 0] == 110


def test_face256_is_a_square_1p5x_box(astronaut):
    proto = faces.CROP_PROTOCOLS.get("face256")
    assert proto.window(100, 100, 20) == (70, 130, 70, 130)
    assert proto.crop(astronaut, 224, 117, 50).shape == (256, 256, 3)


def _scripted_detector(monkeypatch, per_frame):
    """detect_batch replaced by a script: per_frame[i] is a list of boxes for frame i (the frame's
    first pixel holds its index)."""
    from eadbench.faces import track as track_mod

    calls = []

    def detect(images, store=None, scale=1.0, prepared=False):
        calls.append(len(images))
        out = []
        for im in images:
            i = int(im[0, 0, 0]) + 256 * int(im[0, 0, 1])
            out.append([faces.Face(np.asarray(b, float), 0.99 - 0.01 * k, np.zeros((5, 2)))
                        for k, b in enumerate(per_frame[i])])
        return out

    monkeypatch.setattr(track_mod, "detect_batch", detect)
    return calls


def _indexed_frames(n, size=64):
    frames = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        frames[i, 0, 0, 0], frames[i, 0, 0, 1] = i % 256, i // 256
    return frames


@pytest.mark.parametrize("n,gaps", [(40, []), (40, [(0, 4), (10, 17), (37, 40)]), (9, [(3, 5)]),
                                    (120, [(20, 60)])])
def test_stream_tracker_equals_whole_clip_smoothing(monkeypatch, n, gaps):
    """Streaming in bounded memory gives the same boxes as smoothing the whole clip at once,
    and releases every frame once, in order."""
    from eadbench.faces.track import StreamTracker, smooth_boxes, track_clip

    rng = np.random.default_rng(n)
    per = []
    for i in range(n):
        x, y = 20 + 3 * np.sin(i / 5) + rng.normal(0, 0.7), 18 + rng.normal(0, 0.7)
        w = 22 + rng.normal(0, 0.5)
        hidden = any(a <= i < b for a, b in gaps)
        per.append([] if hidden else [[x, y, x + w, y + 1.1 * w], [1, 1, 6, 6]][: 1 + (i % 7 == 0)])
    _scripted_detector(monkeypatch, per)
    frames = _indexed_frames(n)
    whole = track_clip(frames, protocol="mtcnn-full")
    tracker = StreamTracker("mtcnn-full", buffer_bytes=0)  # the smallest buffer: 2 kernels + a batch
    out = []
    for f in frames:
        out += tracker.push(f)
        assert len(tracker.frames) <= tracker.cap + tracker.protocol.batch
    out += tracker.finish()
    assert [i for i, _, _ in out] == list(range(n)) and all(f[0, 0, 0] == i % 256 for i, f, _ in out)
    got = np.stack([g for _, _, g in out])
    assert tracker.failure is None and tracker.track().missing == whole.missing
    assert tracker.track().multi_face_frames == whole.multi_face_frames == sum(i % 7 == 0 for i in range(n)
                                                                               if per[i])
    np.testing.assert_array_equal(got, smooth_boxes(whole.boxes))
    np.testing.assert_array_equal(tracker.track().smoothed(), got)


def test_stream_tracker_holds_the_box_over_a_gap_longer_than_its_buffer(monkeypatch):
    from eadbench.faces.track import StreamTracker

    n = 200
    per = [[] if 30 <= i < 120 else [[20, 20, 40, 42]] for i in range(n)]
    _scripted_detector(monkeypatch, per)
    tracker = StreamTracker("mtcnn-full", buffer_bytes=0)
    peak = 0
    out = []
    for f in _indexed_frames(n):
        out += tracker.push(f)
        peak = max(peak, len(tracker.frames))
    out += tracker.finish()
    assert len(out) == n and peak <= tracker.cap + tracker.protocol.batch < n
    assert tracker.track().held_frames > 0 and tracker.failure is None  # 110 of 200 frames had a face
    assert np.isfinite(np.stack([g for _, _, g in out])).all()


def test_stream_tracker_without_any_face_still_releases_every_frame(monkeypatch):
    from eadbench.faces.track import StreamTracker

    _scripted_detector(monkeypatch, [[] for _ in range(30)])
    tracker = StreamTracker("mtcnn-full", source="clip.mp4")
    out = []
    for f in _indexed_frames(30):
        out += tracker.push(f)
    out += tracker.finish()
    assert len(out) == 30 and np.isnan(np.stack([g for _, _, g in out])).all()
    assert tracker.failure == "clip.mp4: no face found in any of 30 frames"
