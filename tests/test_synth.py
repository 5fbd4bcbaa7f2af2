"""The built-in synthetic data: real layouts, lip-sync by construction, faces the detector finds,
emotion visible on the face, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eadbench import datasets, faces, media
from eadbench.synth import ground_truth, write_dataset
from eadbench.synth.face import FaceAnimator, portrait


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("synth") / "mead", layout="mead", speakers=2, clips=2,
                         seconds=2.0, size=256, seed=3)


def test_mead_layout_is_read_by_the_real_loader(synth_root):
    res = datasets.scan("mead", synth_root)
    assert len(res.clips) == 4 and not res.skipped
    assert {c.split for c in res.clips} == {"test"}  # M003 and W009 are MEAD test actors
    assert all(c.audio is not None and c.audio.suffix == ".m4a" for c in res.clips)
    syn = datasets.scan("synth", synth_root)
    assert syn.dataset == "synth" and len(syn.clips) == 4 and syn.split_name == "synth-mead-seed3"


@pytest.mark.parametrize("layout,expect", [("hdtf", "hdtf"), ("ravdess", "ravdess")])
def test_other_layouts_are_read_by_their_loaders(tmp_path, layout, expect):
    root = write_dataset(tmp_path / layout, layout=layout, speakers=2, clips=1, seconds=1.0, size=128)
    res = datasets.scan("synth", root)
    assert len(res.clips) == 2 and not res.skipped
    assert len(datasets.scan(expect, root).clips) == 2
    if layout == "hdtf":
        assert {c.split for c in res.clips} == {"train", "test"}


def test_mouth_opening_follows_the_audio(synth_root):
    clip = datasets.scan("mead", synth_root).clips[0]
    gt = ground_truth(synth_root, clip.clip_id)
    audio = media.read_audio(clip.audio)
    n = len(gt["mouth_opening"])
    hop = 640
    x = np.pad(audio, (0, max(0, n * hop - len(audio))))[: n * hop].reshape(n, hop)
    rms = np.sqrt((x ** 2).mean(axis=1))  # computed here independently from the decoded m4a
    assert np.corrcoef(rms, gt["mouth_opening"])[0, 1] > 0.8
    # and the rendered mouth really opens: dark pixels in the mouth box track the opening
    frames = media.read_frames(clip.video)
    p = portrait(0, 256)
    mc, mw = p.mouth_centre, p.mouth_width
    box = frames[:, int(mc[1] - 0.1 * mw):int(mc[1] + 0.6 * mw), int(mc[0] - 0.4 * mw):int(mc[0] + 0.4 * mw)]
    darkness = (box.mean(axis=3) < 70).mean(axis=(1, 2))
    assert np.corrcoef(darkness, gt["mouth_opening"])[0, 1] > 0.6


def test_detector_finds_the_synthetic_faces(synth_root):
    for clip in datasets.scan("mead", synth_root).clips:
        frames = media.read_frames(clip.video)
        hits = faces.detect_batch(frames[::10])
        assert all(len(h) >= 1 for h in hits), clip.clip_id


def test_emotion_changes_the_face():
    p = portrait(0, 256)
    happy = FaceAnimator(p, "happy", 1.0).render(0.0, 0.0).astype(int)
    sad = FaceAnimator(p, "sad", 1.0).render(0.0, 0.0).astype(int)
    neutral = FaceAnimator(p, "neutral", 1.0).render(0.0, 0.0).astype(int)
    mc, mw = p.mouth_centre.astype(int), int(p.mouth_width)
    region = (slice(mc[1] - mw // 2, mc[1] + mw // 2), slice(mc[0] - mw, mc[0] + mw))
    assert np.abs(happy[region] - sad[region]).mean() > 8
    weak = FaceAnimator(p, "happy", 0.33).render(0.0, 0.0).astype(int)
    assert np.abs(weak[region] - neutral[region]).mean() < np.abs(happy[region] - neutral[region]).mean()


def test_deterministic_for_a_seed(tmp_path):
    a = write_dataset(tmp_path / "a", layout="hdtf", speakers=1, clips=1, seconds=0.6, size=128, seed=5)
    b = write_dataset(tmp_path / "b", layout="hdtf", speakers=1, clips=1, seconds=0.6, size=128, seed=5)
    fa, fb = sorted(a.glob("*.mp4")), sorted(b.glob("*.mp4"))
    assert [f.name for f in fa] == [f.name for f in fb]
    assert fa[0].read_bytes() == fb[0].read_bytes()
    meta = json.loads((a / "eadbench-synth.json").read_text())
    assert meta["layout"] == "hdtf" and meta["seed"] == 5
