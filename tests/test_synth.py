"""The built-in synthetic data: real layouts, lip-sync by construction, faces the detector finds
in every frame, emotions the offline classifier recognises and that grow with intensity, a plan
that covers every emotion in both splits, determinism (also across torch thread counts)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eadbench import datasets, faces, media
from eadbench.labels import EMOTIONS
from eadbench.synth import ground_truth, photos, write_dataset
from eadbench.synth.face import FaceAnimator, portrait
from eadbench.synth.generate import _plan, _test_group, render_clip
from eadbench.synth.readout import classifier, read_clip


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """MTCNN and fer run 10x faster on one thread on a busy 2-core machine; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    p = portrait(_speaker_index(clip.speaker), 256)
    assert p.source == gt["source_photo"]
    mc, mw = p.mouth_centre, p.mouth_width
    box = frames[:, int(mc[1] - 0.1 * mw):int(mc[1] + 0.6 * mw), int(mc[0] - 0.4 * mw):int(mc[0] + 0.4 * mw)]
    darkness = (box.mean(axis=3) < 70).mean(axis=(1, 2))
    assert np.corrcoef(darkness, gt["mouth_opening"])[0, 1] > 0.6


def _speaker_index(actor: str) -> int:
    from eadbench.synth.generate import MEAD_ACTORS

    return MEAD_ACTORS.index(actor)


def test_tracker_finds_the_face_in_every_frame(synth_root):
    """Every frame of every clip (benchmarks/synth_emotions.py checks a whole split)."""
    for clip in datasets.scan("mead", synth_root).clips:
        assert faces.track_clip(media.read_frames(clip.video)).missing == [], clip.clip_id


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


def _clip(speaker: int, emotion: str, level: int, seconds: float = 2.0, size: int = 256, seed: int = 0):
    """Frames of one clip rendered in memory as write_dataset renders them."""
    item = {"speaker_index": speaker, "emotion": emotion, "level": level if emotion != "neutral" else 1,
            "levels": 3, "sentence": "please bring the blue folder to the meeting after lunch"}
    return render_clip(item, seconds, size, seed)[0]


@pytest.fixture(scope="module")
def fer():
    return classifier("fer")


def test_classifier_recognises_the_rendered_emotions(fer):
    """On one test speaker's face (W009) at level 3, the metric's own reading (MTCNN track,
    face256, face box, fer mean over frames; 13 of 50 frames, 128 px for speed) names at least
    5 of the 7 emotions fer knows (measured: 6, all but disgusted)."""
    readings = {e: read_clip(_clip(1, e, 3, size=128)[::4], e, fer) for e in EMOTIONS if e != "contempt"}
    hits = [e for e, r in readings.items() if r.correct]
    assert len(hits) >= 5, {e: r.pred for e, r in readings.items()}
    assert all(r.missing == () for r in readings.values())


def test_target_probability_rises_with_intensity(fer):
    """The probability of the target emotion, averaged over four emotions, grows from level 1
    to 2 to 3 (M003's face, 13 of 50 frames at 128 px; measured 0.63, 0.71, 0.80)."""
    emotions = ("angry", "happy", "sad", "surprised")
    mean = [np.mean([read_clip(_clip(0, e, lev, size=128)[::4], e, fer).target_prob for e in emotions])
            for lev in (1, 2, 3)]
    assert mean[0] + 0.02 < mean[1] and mean[1] + 0.02 < mean[2], mean


def test_rendering_does_not_depend_on_torch_threads():
    """Frames are identical under torch.set_num_threads(1) and (2) (a full test session used to
    render other frames than a fresh process: portrait landmarks came from MTCNN at run time)."""
    import torch

    from eadbench.synth import face

    before = torch.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            face.portrait.cache_clear()
            photos.load_source.cache_clear()
            out.append(_clip(0, "happy", 2, seconds=0.6, size=128, seed=2))
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(out[0], out[1])


def test_photo_table_agrees_with_the_detector():
    """The stored landmarks of the portraits are where MTCNN finds eyes and mouth corners."""
    for i in range(8):
        p = portrait(i, 256)
        found = faces.detect_faces(p.image)
        assert found, p.source
        lm = found[0].landmarks
        stored = np.concatenate([p.eyes, p.mouth])
        assert np.abs(lm[[0, 1, 3, 4]] - stored).max() < 0.03 * 256, (p.source, lm, stored)


def test_default_plan_covers_every_emotion_in_both_splits():
    from eadbench.config import RunConfig

    s = RunConfig().synth
    plan = _plan(s["layout"], int(s["speakers"]), int(s["clips"]))
    for test in (True, False):
        items = [i for i in plan if _test_group("mead", i["speaker_index"]) == test]
        speakers = {i["speaker"] for i in items}
        assert {i["emotion"] for i in items} == set(EMOTIONS)
        assert all(any(i["emotion"] == "neutral" for i in items if i["speaker"] == sp) for sp in speakers)
        for e in EMOTIONS:
            if e != "neutral":  # each emotion at every level, on several speakers
                assert {i["level"] for i in items if i["emotion"] == e} == {1, 2, 3}
                assert len({i["speaker"] for i in items if i["emotion"] == e}) >= 2
        if test:
            assert len(items) >= 16 and speakers == {"M003", "M030", "W009", "W015"}
    assert len({i["clip_id"] for i in plan}) == len(plan)


def test_counterfactual_renders_hold_everything_but_the_expression(tmp_path):
    """``renders="train"``: every training clip once per emotion (MEAD layout, neutral under level 1),
    over the clip's own speech, mouth opening and head motion: the renders of one utterance share
    its id and audio, and the one in the clip's own emotion is the clip itself, frame for frame;
    test speakers are never rendered."""
    from eadbench.datasets.mead import test_actors

    kw = dict(layout="mead", speakers=3, clips=2, seconds=0.6, size=128, seed=1)
    plain = write_dataset(tmp_path / "plain", **kw)
    renders = write_dataset(tmp_path / "renders", renders="train", **kw)
    scan = datasets.get("synth").scan(renders)
    assert not scan.skipped
    originals = [c for c in datasets.get("synth").scan(plain).clips if c.split == "train"]
    assert originals and not {c.speaker for c in scan.clips} & test_actors()
    assert len(scan.clips) == len(originals) * len(EMOTIONS)
    for clip in originals:
        group = [c for c in scan.clips if c.speaker == clip.speaker and c.video.stem == clip.video.stem]
        assert sorted(c.emotion for c in group) == sorted(EMOTIONS)
        audio = {media.read_audio(c.audio).tobytes() for c in group}
        assert audio == {media.read_audio(clip.audio).tobytes()}
        twin = next(c for c in group if c.emotion == clip.emotion)
        assert np.array_equal(media.read_frames(twin.video), media.read_frames(clip.video))
        gt = ground_truth(renders, next(c for c in group if c.emotion == "neutral").clip_id)
        assert gt["render_of"] == clip.clip_id and gt["speech_emotion"] == clip.emotion
        assert gt["mouth_opening"] == ground_truth(plain, clip.clip_id)["mouth_opening"]
