"""Per-clip emotion descriptions (`eadbench eadnet describe`): facial actions move the FACS way on
real faces, face descriptions differ across emotions (real MEAD clips and the built-in synthetic
data), the CLI writes, caches, limits and records failures, the vlm describer's plumbing works
with a tiny random model, and text/video filtering uses the per-clip texts."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from eadnet import describe as D
from typer.testing import CliRunner

from eadbench.cli.main import app
from eadbench.prepare import prepare_dataset
from eadbench.synth import write_dataset
from tests.helpers.shared_data import real_data

cli = CliRunner()
MEAD_FILE = re.compile(r"mead_(?P<speaker>\w+?)_front_(?P<emotion>[a-z]+)_level(?P<level>\d)_\d+\.mp4$")
DETECT_STRIDE = 8  # MTCNN on every 8th frame, boxes interpolated (the tracker's own fill): 8x faster


@pytest.fixture(scope="module")
def real_prepared(tmp_path_factory):
    """The real MEAD W011 clips as prepared-clip folders (face256 crops + meta.json)."""
    from eadbench import faces, media
    from eadbench.faces.track import Track

    real = real_data()
    files = sorted(real.glob("mead_W011_front_*.mp4"))
    if len(files) < 8:
        pytest.skip(f"real MEAD W011 clips not found in {real} (set EADBENCH_SHARED to the shared folder)")
    out = tmp_path_factory.mktemp("real") / "prepared"
    for f in files:
        m = MEAD_FILE.search(f.name)
        frames = media.read_frames(f)
        part = faces.track_clip(frames[::DETECT_STRIDE])
        boxes = np.full((len(frames), 4), np.nan)
        boxes[::DETECT_STRIDE] = part.boxes
        track = Track(boxes, np.full(len(frames), np.nan), np.full((len(frames), 5, 2), np.nan))
        d = out / f.stem
        media.write_video(d / "crops" / "face256.mp4", faces.crop_clip(frames, "face256", track).frames)
        clip = {"clip_id": f.stem, "speaker": m["speaker"], "emotion": m["emotion"],
                "intensity": int(m["level"]), "intensity_levels": 3}
        (d / "meta.json").write_text(json.dumps({"clip": clip, "crops": {"face256": {}}}))
    return out


@pytest.fixture(scope="module")
def synth_prepared(tmp_path_factory):
    """Built-in synthetic data, 3 speakers x 2 clips (each speaker: neutral and angry)."""
    d = tmp_path_factory.mktemp("synth-describe")
    root = write_dataset(d / "synth", layout="mead", speakers=3, clips=2, seconds=1.0, size=128, seed=0)
    prepare_dataset("synth", root, d / "prep", protocols=("face256",), progress=False)
    return d / "prep" / "synth"


def _copy(src, dest):
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("emotion.*", "describe_failures.jsonl"))
    return dest


# Directions that hold on W011 (the table in docs/describe.md). Not here because they do not hold
# there: sad lip corners down and brows knitted, angry lips pressed, disgusted upper lip raised
# and corners down, fear lips stretched and brows knitted, happy eyes narrowed.
KEY_DIRECTIONS = {
    "happy": ("lip_corner_pull", "lip_stretch"),
    "sad": ("inner_brow_raise",),
    "surprised": ("inner_brow_raise", "outer_brow_raise", "eye_widen", "jaw_drop"),
    "angry": ("inner_brow_raise", "brow_knit"),
    "disgusted": ("nose_wrinkle",),
    "fear": ("inner_brow_raise", "outer_brow_raise", "eye_widen", "jaw_drop"),
    "contempt": ("lip_corner_asymmetry",),
}


def test_action_units_move_the_facs_way_on_real_faces(real_prepared):
    from eadbench.faces import actions
    from eadbench.media import read_frames

    series = {}
    for d in sorted(real_prepared.iterdir()):
        emotion = json.loads((d / "meta.json").read_text())["clip"]["emotion"]
        series[emotion] = actions.measure_crops(read_frames(d / "crops" / "face256.mp4"))
    assert all(np.isfinite(s["mouth_opening"]).mean() > 0.95 for s in series.values())
    wrong = []
    for emotion, names in KEY_DIRECTIONS.items():
        res = actions.compare_to_neutral(series[emotion], series["neutral"])
        for name in names:
            v = actions.verdict(res[name], actions.EXPECTED[emotion][name])
            if v != "holds":
                wrong.append(f"{emotion} {name}: {res[name]['delta']:+.3f} ({v})")
    assert not wrong, wrong
    # speech moves the mouth: the per-frame opening varies within the neutral clip
    assert np.nanstd(series["neutral"]["mouth_opening"]) > 0.01


def test_face_descriptions_of_real_clips_differ_across_emotions(real_prepared, tmp_path):
    data = _copy(real_prepared, tmp_path / "real")
    rep = D.describe_prepared(data, D.FaceDescriber(), progress=False)
    texts = {k.split("_front_")[1].split("_")[0]: v for k, v in rep.texts.items()}
    assert len(texts) == 8 and len(set(texts.values())) == 8, texts
    assert texts["neutral"].startswith("relaxed face")
    assert "lip corners pulled up" in texts["happy"]
    assert all(p in texts["surprised"] for p in ("brows raised", "eyes widened", "mouth open"))
    assert "brows lowered" in texts["angry"] and "brows lowered" in texts["disgusted"]
    rec = json.loads((data / "mead_W011_front_sad_level3_001" / "emotion.json").read_text())
    assert rec["describer"] == "face" and rec["details"]["baseline"] == "speaker-neutral"


def test_face_descriptions_of_synthetic_clips_differ_across_emotions(synth_prepared, tmp_path):
    data = _copy(synth_prepared, tmp_path / "synth")
    # one speaker without its neutral clip: compared with the other speakers' (population baseline)
    alone = sorted(c.name for c in data.iterdir() if c.name.startswith("W009") and "neutral" in c.name)[0]
    shutil.rmtree(data / alone)
    rep = D.describe_prepared(data, D.FaceDescriber(), progress=False)
    assert not rep.failed and len(rep.texts) == 5
    emotion = {c: c.split("_")[2] for c in rep.texts}
    for a in rep.texts:
        for b in rep.texts:
            if emotion[a] != emotion[b]:
                assert rep.texts[a] != rep.texts[b], (a, b, rep.texts)
    assert all(t.startswith("relaxed face") for c, t in rep.texts.items() if emotion[c] == "neutral")
    base = {c: json.loads((data / c / "emotion.json").read_text())["details"]["baseline"] for c in rep.texts}
    assert {base[c] for c in rep.texts if c.startswith(("M003", "M012"))} == {"speaker-neutral"}
    assert {base[c] for c in rep.texts if c.startswith("W009")} == {"population-neutral"}
    # the synthetic angry face lowers its brows (AU4) on at least one speaker
    assert any("brows lowered" in t for c, t in rep.texts.items() if emotion[c] == "angry"), rep.texts


def test_cli_writes_caches_limits_and_records_failures(synth_prepared, tmp_path):
    from eadnet.config import EADNetConfig
    from eadnet.data import clip_condition, load_prepared, text_source

    from eadbench.prepare import iter_prepared

    data = _copy(synth_prepared, tmp_path / "synth")
    r = cli.invoke(app, ["eadnet", "describe", "--data", str(data), "--limit", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert "described 2, unchanged 0, failed 0" in r.output
    assert len(list(data.glob("*/emotion.txt"))) == 2
    r = cli.invoke(app, ["eadnet", "describe", "--data", str(data), "-q"])
    assert "described 4, unchanged 2, failed 0" in r.output
    r = cli.invoke(app, ["eadnet", "describe", "--data", str(data), "-q"])
    assert "described 0, unchanged 6, failed 0" in r.output
    # training reads the texts
    prepared = {p.clip_id: p for p in iter_prepared(data)}
    angry = next(p for c, p in sorted(prepared.items()) if "angry" in c)
    assert clip_condition(angry)[0] == (angry.dir / "emotion.txt").read_text().strip()
    assert text_source(angry) == "face"
    clips = load_prepared(data, EADNetConfig.preset_config("tiny", size=32))
    assert {c.text_source for c in clips} == {"face"}
    # a broken clip is recorded (not counted as unchanged) and the run goes on
    victim = sorted(c for c in prepared if "neutral" not in c)[-1]
    (data / victim / "crops" / "face256.mp4").write_bytes(b"not a video")
    r = cli.invoke(app, ["eadnet", "describe", "--data", str(data), "-q"])
    assert r.exit_code == 0 and "described 0, unchanged 5, failed 1" in r.output, r.output
    fails = [json.loads(x) for x in (data / "describe_failures.jsonl").read_text().splitlines()]
    assert [f["clip_id"] for f in fails] == [victim]
    assert fails[0]["describer"] == "face"
    # another describer rewrites every clip it can
    r = cli.invoke(app, ["eadnet", "describe", "--data", str(data), "--describer", "template", "-q"])
    assert "described 6, unchanged 0, failed 0" in r.output
    from eadbench.labels import describe_emotion

    assert (angry.dir / "emotion.txt").read_text().strip() == describe_emotion("angry", 1 / 3)
    assert (data / "describe_failures.jsonl").read_text() == ""


def test_cli_bad_input_is_one_line(tmp_path):
    def run(*args):
        r = cli.invoke(app, ["eadnet", "describe", *args])
        return r.exit_code, r.output.strip()

    code, out = run("--data", str(tmp_path / "nope"))
    assert code == 2 and "no such folder" in out and "Traceback" not in out
    (tmp_path / "empty").mkdir()
    code, out = run("--data", str(tmp_path / "empty"))
    assert code == 2 and "no prepared clip" in out
    clip = tmp_path / "one" / "clip1"
    clip.mkdir(parents=True)
    (clip / "meta.json").write_text(json.dumps({"clip": {"emotion": "sad"}, "crops": {}}))
    assert run("--data", str(tmp_path / "one"), "--describer", "poem")[0] == 2
    code, out = run("--data", str(tmp_path / "one"), "--model", "x")
    assert code == 2 and "--model belongs to --describer vlm" in out
    assert run("--data", str(tmp_path / "one"), "--limit", "0")[0] == 2
    assert run("--data", str(tmp_path / "one"), "--describer", "vlm", "--device", "tpu")[0] == 2
    code, out = run("--data", str(tmp_path / "one"), "--describer", "vlm", "--model", "nobody/no-such-vlm")
    assert code == 3 and "not in the Hugging Face cache" in out and "--model FOLDER" in out
    code, out = run("--data", str(tmp_path / "one"), "--describer", "vlm", "--model", str(tmp_path / "empty"))
    assert code == 3 and "no config.json" in out
    # a clip without the face256 crop is a recorded failure, not a crash; nothing described is exit 2
    code, out = run("--data", str(tmp_path / "one"), "-q")
    assert code == 2 and "failed 1" in out and "nothing described" in out
    assert "face256" in (tmp_path / "one" / "describe_failures.jsonl").read_text()


def test_vlm_describer_plumbing_with_a_tiny_random_model(synth_prepared, tmp_path):
    """A tiny random Qwen2-VL (it writes nonsense): loading from a folder, images in the chat
    template, generation, decoding, and a cache keyed by the model's files."""
    from tests.helpers.tiny_vlm import build_tiny_vlm

    data = _copy(synth_prepared, tmp_path / "synth")
    model = build_tiny_vlm(tmp_path / "tiny-vlm", seed=0)
    args = ["eadnet", "describe", "--data", str(data), "--describer", "vlm", "--model", str(model),
            "--device", "cpu", "--limit", "2", "-q"]
    r = cli.invoke(app, args)
    assert r.exit_code == 0 and "described 2, unchanged 0, failed 0" in r.output, r.output
    texts = sorted(data.glob("*/emotion.txt"))
    assert len(texts) == 2 and all(t.read_text().strip() for t in texts)
    rec = json.loads((texts[0].parent / "emotion.json").read_text())
    assert rec["describer"] == "vlm" and rec["details"]["prompt_version"] == D.PROMPT_VERSION
    assert rec["details"]["model"].startswith("tiny-vlm@sha256:") and rec["details"]["frames"] == D.VLM_FRAMES
    assert "unchanged 2" in cli.invoke(app, args).output
    build_tiny_vlm(model, seed=1)  # other weights: other cache key
    assert "described 2, unchanged 0" in cli.invoke(app, args).output


def test_sample_frames_and_reply_cleaning():
    frames = np.arange(100)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    picked = [int(f[0, 0, 0]) for f in D.sample_frames(frames, 4)]
    assert picked == [10, 36, 63, 89]
    assert D.clean_reply("  Brows raised,\n mouth   open.  ") == "Brows raised, mouth open."


def test_sentences_name_the_strongest_actions():
    assert D.sentence({"jaw_drop": 0.1, "eye_widen": -0.2}) == "relaxed face, no clear facial action; neutral"
    assert D.sentence({"inner_brow_raise": 0.3}) == "inner brows raised; faint"
    s = D.sentence({"inner_brow_raise": 2.5, "outer_brow_raise": 1.2, "eye_widen": 0.9, "jaw_drop": 0.7,
                    "lip_corner_pull": -0.6})
    assert s == "brows raised, eyes widened, mouth open; strong"
    assert D.sentence({"lip_corner_pull": -1.5, "nose_wrinkle": -3.0}) == "lip corners pulled down; moderate"
    assert D.prototype("happy", 0.9) == "lip corners pulled up, lips stretched wide, eyes narrowed; strong"


def test_filtering_compares_the_video_with_its_own_per_clip_text(synth_prepared, tmp_path):
    import csv

    from eadnet.config import EADNetConfig
    from eadnet.data import load_prepared
    from eadnet.filtering import emotion_prompt, filter_clips

    data = _copy(synth_prepared, tmp_path / "synth")
    D.describe_prepared(data, D.FaceDescriber(), progress=False)
    clips = load_prepared(data, EADNetConfig.preset_config("tiny", size=32))
    kept = filter_clips(clips, 0.0, report=tmp_path / "filtering.csv")
    rows = list(csv.DictReader(open(tmp_path / "filtering.csv")))
    assert len(kept) == len(rows) == 6
    assert {r["text_source"] for r in rows} == {"face"}
    assert all(r["text"] == (data / r["clip_id"] / "emotion.txt").read_text().strip() for r in rows)
    # the video side is written in the face describer's words for face texts
    assert emotion_prompt("happy", 0.9, "face") == D.prototype("happy", 0.9)
    assert emotion_prompt("happy", 0.9, "template").startswith("a person speaking")
    sims = sorted(float(r["similarity"]) for r in rows)
    kept = filter_clips(clips, (sims[0] + sims[1]) / 2)
    assert len(kept) == 5
