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
