"""The ``mtcnn-track`` tracking protocol (eadbench.faces.video): boxes close to ``mtcnn-full`` on
a real clip, full detection on key frames (a scene cut, a lost or unsure face), the
StreamTracker contract (multi-face counting, misses, FaceNotFoundError) and the protocol
recorded with results."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from eadbench.faces import video as video_mod
from eadbench.faces.track import TRACKING, StreamTracker
from eadbench.faces.video import KeyFramePolicy, VideoDetector

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
CLIP = REAL / "mead_W011_front_angry_level3_001.mp4"


@pytest.fixture(scope="module")
def face():
    return cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)


def _moving(face, n):
    return [np.roll(face, 2 * i, axis=1) for i in range(n)]


def _spy(monkeypatch) -> list[int]:
    """Record the image of every full detection (the caller maps them to frame indices)."""
    calls: list[int] = []
    real = video_mod.detect_batch

    def spy(images, store=None, *a, **kw):
        calls.append(id(images[0]))
        return real(images, store, *a, **kw)

    monkeypatch.setattr(video_mod, "detect_batch", spy)
    return calls


def _full_frames(frames, policy, monkeypatch) -> tuple[list[int], list]:
    calls = _spy(monkeypatch)
    det = VideoDetector(policy)
    found = []
    for f in frames:
        found.append(det.detect(f))
    ids = {id(f): i for i, f in enumerate(frames)}
    return sorted({ids[c] for c in calls}), found


def _track(frames, protocol):
    tr = StreamTracker(protocol)
    out = []
    for f in frames:
        out += tr.push(f)
    out += tr.finish()
    assert [i for i, _, _ in out] == list(range(len(frames)))
    return tr, np.stack([g for _, _, g in out])


def test_boxes_close_to_mtcnn_full_on_a_real_clip():
    if not CLIP.exists():
        pytest.skip(f"real clip absent: {CLIP} (../shared/data/real is not part of the repository)")
    from eadbench import media

    frames = media.read_frames(CLIP, max_frames=40)
    full, g_full = _track(frames, "mtcnn-full")
    fast, g_fast = _track(frames, "mtcnn-track")
    assert fast.detector.key_frames <= 3 < len(frames)  # frames 0 and 25, not every frame
    assert fast.track().missing == full.track().missing == []
    # the smoothed boxes the crops are cut from: centres a few pixels apart (the full detector's own
    # frame-to-frame jitter on this clip is about 3 px), sizes within a few percent
    off = np.hypot(*(g_fast[:, :2] - g_full[:, :2]).T) / g_full[:, 2]
    size = np.abs(g_fast[:, 2] / g_full[:, 2] - 1)
    assert off.mean() < 0.04 and off.max() < 0.1, (off.mean(), off.max())
    assert size.mean() < 0.03 and size.max() < 0.1, (size.mean(), size.max())


def test_a_scene_cut_is_a_key_frame(face, monkeypatch):
    frames = _moving(face, 10)
    frames[5:] = [(f * 0.3).astype(np.uint8) for f in frames[5:]]  # another shot: the same face, much darker
    policy = KeyFramePolicy(key_every=100, min_face_fraction=0.2, min_score=0.9, cut=24.0)
    full, found = _full_frames(frames, policy, monkeypatch)
    assert full == [0, 5] and all(len(f) == 1 for f in found)
    # the same frames with the cut threshold above any difference: the face is simply followed
    full, _ = _full_frames(frames, KeyFramePolicy(100, 0.2, 0.9, 256.0), monkeypatch)
    assert full == [0]


def test_key_frames_every_n_frames(face, monkeypatch):
    full, found = _full_frames(_moving(face, 12), KeyFramePolicy(5, 0.2, 0.9, 24.0), monkeypatch)
    assert full == [0, 5, 10] and all(len(f) == 1 for f in found)


def test_a_lost_face_triggers_full_detection(face, monkeypatch):
    frames = _moving(face, 8)
    frames[3] = np.full_like(face, 127)
    frames[4] = np.full_like(face, 127)
    policy = KeyFramePolicy(key_every=100, min_face_fraction=0.2, min_score=0.9, cut=256.0)  # no cut rule
    full, found = _full_frames(frames, policy, monkeypatch)
    assert full == [0, 3, 4, 5]  # lost at 3, nothing to follow at 4, found again at 5, then followed
    assert [len(f) for f in found] == [1, 1, 1, 0, 0, 1, 1, 1]


def test_an_unsure_face_triggers_full_detection(face, monkeypatch):
    # no refined face can score above 1: every frame is detected in full
    full, found = _full_frames(_moving(face, 4), KeyFramePolicy(100, 0.2, 1.01, 256.0), monkeypatch)
    assert full == [0, 1, 2, 3] and all(len(f) == 1 for f in found)


def test_refined_boxes_follow_the_face(face):
    det = VideoDetector(TRACKING.get("mtcnn-track").keyframes)
    first = det.detect(face)[0]
    moved = det.detect(np.roll(face, 5, axis=1))[0]  # 5 px: below the scene-cut threshold
    assert det.key_frames == 1
    centre = lambda f: np.array([f.box[0] + f.box[2], f.box[1] + f.box[3]]) / 2  # noqa: E731
    np.testing.assert_allclose(centre(moved) - centre(first), [5, 0], atol=2)  # MTCNN's own jitter: ~2 px
    assert moved.score > 0.9 and moved.landmarks.shape == (5, 2)


def test_stream_contract_multi_face_misses_and_not_found(face):
    two = np.concatenate([face, face], axis=1)  # two faces side by side, every frame
    frames = [np.roll(two, i, axis=1) for i in range(15)]
    tr, _ = _track(frames, "mtcnn-track")
    full, _ = _track(frames, "mtcnn-full")
    assert tr.track().multi_face_frames == full.track().multi_face_frames == 15
    # a gap of missing faces is filled and counted
    frames = _moving(face, 20)
    for i in (7, 8):
        frames[i] = np.full_like(face, 127)
    tr, geo = _track(frames, "mtcnn-track")
    assert tr.track().missing == [7, 8] and not np.isnan(geo).any() and tr.failure is None
    # too few faces: the tracker says so, naming the file
    tr = StreamTracker("mtcnn-track", source="clip.mp4")
    for _ in range(12):
        tr.push(np.full_like(face, 127))
    tr.finish()
    assert tr.failure == "clip.mp4: no face found in any of 12 frames"


def test_protocol_recorded_with_results(tmp_path, monkeypatch):
    import json

    import eadbench.run as run_mod
    from eadbench import config
    from eadbench.synth import write_dataset

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    data = write_dataset(tmp_path / "synth", layout="mead", speakers=1, clips=2, seconds=1.2, size=128, seed=4)
    cfg = config.resolve(None, dataset="synth", root=str(data), out=str(tmp_path / "r"), quiet=True, metrics=["lmd"],
                         tracking="mtcnn-track", device="cpu")
    cfg.methods = [config.MethodSpec.parse("static")]
    res = run_mod.run(cfg, echo=lambda s: None)
    manifest = json.loads((Path(res.out) / "manifest.json").read_text())
    assert manifest["tracking"]["protocol"] == "mtcnn-track@1"
    assert manifest["tracking"]["parameters"] == {"max_side": None, "batch": 32, "key_every": 25,
                                                  "min_face_fraction": 0.2, "min_score": 0.9, "scene_cut": 24.0}
    details = [json.loads(x) for x in (Path(res.out) / "clip_details.jsonl").read_text().splitlines()]
    lmd = [d for d in details if d["metric"] == "lmd"]
    assert lmd and all(d["face_frames_missing"] == 0 for d in lmd)
    assert TRACKING.get("mtcnn-full").to_dict()["key_every"] == 1  # every frame: mtcnn-full stays as it was
