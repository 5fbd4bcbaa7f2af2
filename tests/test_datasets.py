"""Dataset parsers on trees of empty files with real names, and `eadbench datasets` CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from eadbench import datasets
from eadbench.cli.main import app
from eadbench.datasets import hdtf as hdtf_mod
from eadbench.errors import DatasetLayoutError

runner = CliRunner()


def touch(root, *paths):
    for p in paths:
        f = root / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")


@pytest.fixture()
def mead(tmp_path):
    touch(tmp_path,
          "M003/video/front/angry/level_3/001.mp4", "M003/audio/angry/level_3/001.m4a",
          "M003/video/front/neutral/level_1/002.mp4", "M003/audio/neutral/level_1/002.m4a",
          "M003/video/front/contempt/level_2/003.mp4",            # no side audio: video track
          "M003/video/left_30/happy/level_1/001.mp4",             # another view
          "W021/video/front/happy/level_1/004.mp4", "W021/audio/happy/level_1/004.m4a",
          "W021/video/front/neutral/level_2/005.mp4",             # neutral has only level_1
          "W021/video/front/joyful/level_1/006.mp4",              # unknown emotion
          "W021/video/front/sad/level_9/007.mp4",                 # bad level
          "W021/video/front/sad/level_1/notes.txt",               # not a video
          "X99/video/front/sad/level_1/001.mp4")                  # not an actor
    return tmp_path


def test_mead_parses_real_layout(mead):
    res = datasets.scan("mead", mead)
    ids = {c.clip_id: c for c in res.clips}
    assert set(ids) == {"M003_front_angry_level_3_001", "M003_front_neutral_level_1_002",
                        "M003_front_contempt_level_2_003", "W021_front_happy_level_1_004"}
    c = ids["M003_front_angry_level_3_001"]
    assert (c.speaker, c.emotion, c.intensity, c.split, c.intensity_scalar) == ("M003", "angry", 3, "test", 1.0)
    assert c.audio.name == "001.m4a"
    assert ids["M003_front_contempt_level_2_003"].audio is None  # falls back to the video's own track
    assert ids["W021_front_happy_level_1_004"].split == "train"
    reasons = {s.reason for s in res.skipped}
    assert "neutral has only level_1 in MEAD" in reasons
    assert "unknown emotion folder 'joyful'" in reasons
    assert any("bad intensity folder" in r for r in reasons)
    assert any("not a video file" in r for r in reasons)
    assert any("not an actor id" in r for r in reasons)
    side = datasets.scan("mead", mead, view="left_30")
    assert [c.clip_id for c in side.clips] == ["M003_left_30_happy_level_1_001"]
    assert {c.split for c in datasets.scan("mead", mead, split="test").clips} == {"test"}


def test_ravdess_parses_every_field(tmp_path):
    touch(tmp_path,
          "Actor_01/01-01-05-02-01-01-01.mp4",   # AV speech angry strong, actor 1 (male)
          "Actor_02/01-01-02-01-02-02-02.mp4",   # calm
          "Actor_02/02-01-03-01-01-01-02.mp4",   # video-only
          "Actor_02/01-02-03-01-01-01-02.mp4",   # song
          "Actor_02/03-01-03-01-01-01-02.wav",   # audio-only
          "Actor_03/01-01-01-02-01-01-03.mp4",   # neutral strong: impossible
          "Actor_03/01-01-04-01-01-01-05.mp4",   # actor field != folder
          "Actor_04/README.txt", "stray.mp4", "01-01-03-01-01-01-07.mp4")
    res = datasets.scan("ravdess", tmp_path)
    ids = {c.clip_id: c for c in res.clips}
    assert set(ids) == {"01-01-05-02-01-01-01", "01-01-02-01-02-02-02"}
    a = ids["01-01-05-02-01-01-01"]
    assert (a.emotion, a.intensity, a.intensity_levels, a.speaker, a.split) == ("angry", 2, 2, "Actor_01", "test")
    assert a.extras["gender"] == "male" and a.extras["statement"] == 1 and a.extras["modality"] == "audio-video"
    calm = ids["01-01-02-01-02-02-02"]
    assert calm.emotion == "calm" and calm.extras["gender"] == "female" and calm.extras["repetition"] == 2
    assert datasets.scan("ravdess", tmp_path, calm="neutral").clips[0].emotion in ("neutral", "angry")
    assert {c.emotion for c in datasets.scan("ravdess", tmp_path, calm="neutral").clips} == {"angry", "neutral"}
    assert len(datasets.scan("ravdess", tmp_path, calm="exclude").clips) == 1
    reasons = " | ".join(s.reason for s in res.skipped)
    for want in ("video-only", "song clip", "audio-only", "neutral has no strong", "does not match folder",
                 "not a RAVDESS media file", "not inside an Actor_NN folder"):
        assert want in reasons, want
    songs = datasets.scan("ravdess", tmp_path, channels=("01", "02"))
    assert "01-02-03-01-01-01-02" in {c.clip_id for c in songs.clips}


def test_hdtf_default_split_is_deterministic_and_named(tmp_path):
    names = [f"{p}_{n}_{i:03d}.mp4" for p, n in [("WDA", "BarackObama"), ("WRA", "KellyAyotte"),
                                                   ("RD", "Radio34"), ("WDA", "Jo_Ann")] + [
        ("WRA", f"Spk{k}") for k in range(30)]
             for i in range(2)]
    touch(tmp_path, *names, "notes.txt", "bad_name.mp4")
    res = datasets.scan("hdtf", tmp_path)
    assert res.split_name == "hdtf-hash10-v1"
    assert len(res.clips) == len(names)
    for c in res.clips:  # identity-disjoint: both clips of a speaker share a split
        assert c.split == hdtf_mod.hash_split(c.speaker)
    assert {c.split for c in res.clips} == {"train", "test"}
    assert datasets.scan("hdtf", tmp_path).summary() == res.summary()
    jo = next(c for c in res.clips if c.clip_id == "WDA_Jo_Ann_001")
    assert jo.speaker == "WDA_Jo_Ann" and jo.extras["index"] == 1
    assert [s.reason for s in res.skipped] == ["name does not match <RD|WDA|WRA>_<name>_<idx>"]


def test_hdtf_user_split_file(tmp_path):
    touch(tmp_path, "WDA_A_000.mp4", "WDA_A_001.mp4", "WRA_B_000.mp4")
    sf = tmp_path / "_my-split.txt"
    sf.write_text("# mine\nWDA_A_001 test\nWRA_B\n")
    res = datasets.scan("hdtf", tmp_path, split_file=sf)
    assert res.split_name == "_my-split"
    assert {c.clip_id: c.split for c in res.clips} == {"WDA_A_000": "train", "WDA_A_001": "test", "WRA_B_000": "test"}
    sf.write_text("WDA_A_001 holdout extra\n")
    with pytest.raises(DatasetLayoutError, match="expected"):
        datasets.scan("hdtf", tmp_path, split_file=sf)


@pytest.mark.parametrize("name", ["mead", "hdtf", "ravdess", "synth"])
def test_empty_or_missing_root_is_one_line(tmp_path, name):
    with pytest.raises(DatasetLayoutError, match="expected"):
        datasets.scan(name, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="empty"):
        datasets.scan(name, tmp_path / "empty")


def test_cli_list_and_inspect(mead):
    r = runner.invoke(app, ["datasets", "list"])
    assert r.exit_code == 0 and all(n in r.output for n in ("hdtf", "mead", "ravdess", "synth"))
    r = runner.invoke(app, ["datasets", "inspect", "--dataset", "mead", "--root", str(mead), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert set(s) >= {"dataset", "root", "split", "clips", "by_split", "by_emotion", "by_intensity",
                      "by_speaker", "skipped"}
    assert s["clips"] == 4 and s["by_split"] == {"test": 3, "train": 1}
    assert s["by_emotion"] == {"angry": 1, "contempt": 1, "happy": 1, "neutral": 1}
    assert all(set(x) == {"path", "reason"} for x in s["skipped"])
    r = runner.invoke(app, ["datasets", "inspect", "--dataset", "mead", "--root", str(mead), "--split", "test"])
    assert r.exit_code == 0 and "3 clips" in r.output and "joyful" in r.output
    r = runner.invoke(app, ["datasets", "inspect", "--dataset", "mead", "--root", str(mead / "nope")])
    assert r.exit_code == 2 and "expected" in r.output and "Traceback" not in r.output
