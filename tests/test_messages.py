"""Nothing lost, second round (issue 23, items 5 and 7): every missing value has a reason and a
non-zero exit, JSON is always valid, skipped inputs and refused preconditions are said at once,
and no third-party log line leaks into a command's output. Each test reproduces a report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eadbench.cli.main import app
from eadbench.synth import write_dataset

cli = CliRunner()


def _strict_json(text: str):
    """json.loads that refuses NaN / Infinity (what Python writes by default and JSON does not allow)."""
    def refuse(const):
        raise ValueError(f"not valid JSON: {const}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> Path:
    """One 0.6 s synthetic talking clip: too short for avsync (25 voiced frames) and lipleak (10 silent)."""
    root = write_dataset(tmp_path_factory.mktemp("msgs") / "short", layout="hdtf", speakers=1, clips=1,
                         seconds=0.6, size=96, seed=3)
    return next(Path(root).glob("*.mp4"))


# ------------------------------------------------------------------------------------------------
# item 5: score never prints n/a without a reason, never exits 0 then, never writes NaN
# ------------------------------------------------------------------------------------------------
def test_score_without_a_value_gives_the_reason_and_exit_2(short):
    r = cli.invoke(app, ["score", "--metric", "avsync,lipleak,ssim", "--fake", str(short), "--real", str(short)])
    assert r.exit_code == 2, r.output
    assert "avsync: n/a" in r.output and "lipleak: n/a" in r.output and "ssim: 1  (" in r.output
    assert "error: avsync: no value (1 of 1 item(s) excluded)" in r.output and "voiced frames" in r.output
    assert "error: lipleak: no value (1 of 1 item(s) excluded)" in r.output and "silent frames" in r.output
    assert "nan" not in r.output.lower()


def test_score_json_is_valid_with_null_and_a_reason(short):
    r = cli.invoke(app, ["score", "--metric", "avsync,ssim", "--fake", str(short), "--real", str(short), "--json"],
                   catch_exceptions=False)
    assert r.exit_code == 2
    avsync, ssim = _strict_json(r.stdout)
    assert avsync["value"] is None and "only" in avsync["reason"] and "voiced frames" in avsync["reason"]
    assert all(v is None for v in avsync["values"].values())
    assert list(avsync["excluded"]) == [short.stem]
    assert ssim["reason"] is None and math.isclose(ssim["value"], 1.0)


def test_every_json_writer_refuses_nan(tmp_path):
    import numpy as np

    from eadbench.jsonio import atomic_write_json, dumps

    obj = {"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": np.array([np.nan, 2.0])}
    assert _strict_json(dumps(obj)) == {"a": None, "b": [None, 1.5], "c": [None, 2.0]}
    atomic_write_json(tmp_path / "x.json", obj)
    assert _strict_json((tmp_path / "x.json").read_text())["a"] is None


# ------------------------------------------------------------------------------------------------
# item 7: the TFLite runtime's banner never reaches a command's output
# ------------------------------------------------------------------------------------------------
def test_no_xnnpack_banner_in_a_real_command(short):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "eadbench.cli.main", "score", "--metric", "lmd", "--fake", str(short),
                        "--real", str(short)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("lmd: 0  (mesh468-face256@1")  # the face mesh did run
    assert "XNNPACK" not in p.stdout + p.stderr and "INFO:" not in p.stderr, p.stderr


# ------------------------------------------------------------------------------------------------
# item 7: avsync without audio refuses before any decoding or face tracking
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def no_decoding(monkeypatch):
    import eadbench.run.driver as driver

    def refuse(path, *a, **k):
        raise AssertionError(f"{path} was decoded although no metric could use it")

    monkeypatch.setattr(driver, "stream_video", refuse)


def test_score_avsync_without_audio_refuses_at_once(short, tmp_path, no_decoding):
    from eadbench import media

    silent = tmp_path / "silent.mp4"
    media.write_video(silent, media.read_frames(short))
    r = cli.invoke(app, ["score", "--metric", "avsync", "--fake", str(silent)])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert f"metric avsync needs audio: {silent} has no audio track" in r.output


def test_the_run_driver_checks_audio_before_decoding(short, no_decoding):
    from eadbench.metrics import METRICS
    from eadbench.metrics.base import ClipMeta, MetricContext
    from eadbench.run.driver import ClipScoring, Job, score_clip
    from eadbench.weights import WeightStore

    store = WeightStore()
    ev = METRICS.get("avsync").factory(MetricContext(store=store))
    outcomes, infos = score_clip(ClipScoring(ClipMeta("c", audio=None), short, [Job("m", short, {"avsync": ev})],
                                             store))
    assert outcomes[("m", "avsync")].status == "failed" and "needs audio" in outcomes[("m", "avsync")].error
    assert infos == {}


# ------------------------------------------------------------------------------------------------
# item 7: two faces or a small face are said in text mode, not only counted in the JSON
# ------------------------------------------------------------------------------------------------
def _face_videos(tmp_path: Path) -> tuple[Path, Path]:
    import cv2
    import numpy as np
    import skimage.data

    from eadbench import media

    face = cv2.resize(skimage.data.astronaut()[:256, 96:352], (128, 128))
    small = np.full((160, 160, 3), 128, np.uint8)
    small[60:108, 60:108] = cv2.resize(face, (48, 48))  # a detected box of about 20 px
    two, tiny = tmp_path / "two.mp4", tmp_path / "tiny.mp4"
    media.write_video(two, np.stack([np.concatenate([face, face], axis=1)] * 8))
    media.write_video(tiny, np.stack([small] * 8))
    return two, tiny


def test_two_faces_and_a_small_face_are_warned_in_text_mode(tmp_path):
    two, tiny = _face_videos(tmp_path)
    r = cli.invoke(app, ["score", "--metric", "lmd", "--fake", str(two), "--real", str(two)])
    assert f"warning: {two}: 8 of 8 frames show more than one face" in r.output, r.output
    assert r.output.count("more than one face") == 1  # the same video as both sides: said once
    r = cli.invoke(app, ["score", "--metric", "lmd", "--fake", str(tiny), "--real", str(tiny)])
    assert f"warning: {tiny}: 8 of 8 frames have a face under 40 px" in r.output, r.output
    r = cli.invoke(app, ["score", "--metric", "lmd", "--fake", str(tiny), "--real", str(tiny), "--json"])
    rec = _strict_json(r.stdout)
    assert any("face under 40 px" in w for w in rec["warnings"])


# ------------------------------------------------------------------------------------------------
# item 7: `eadnet describe` does not exit 0 when it described nothing
# ------------------------------------------------------------------------------------------------
def test_describe_that_describes_nothing_exits_2(short, tmp_path):
    prep = tmp_path / "prep"
    r = cli.invoke(app, ["prepare", "--dataset", "hdtf", "--root", str(short.parent), "--out", str(prep),
                         "--protocols", "syncnet", "--quiet"])  # no face256 crops: the face describer cannot work
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["eadnet", "describe", "--data", str(prep / "hdtf"), "--quiet"])
    assert r.exit_code == 2, r.output
    assert "error: nothing described: all 1 clip(s) failed" in r.output and "no face256 crop" in r.output
    assert "Traceback" not in r.output


# ------------------------------------------------------------------------------------------------
# item 7: `run` says which input files it skipped and why, and records them
# ------------------------------------------------------------------------------------------------
def test_run_reports_and_records_skipped_inputs(short, tmp_path):
    import shutil

    root = tmp_path / "hdtf"
    (root / "b").mkdir(parents=True)
    shutil.copy(short, root / short.name)
    shutil.copy(short, root / "b" / short.name)  # the same clip id twice
    shutil.copy(short, root / "holiday_clip.mp4")  # not an HDTF name
    out = tmp_path / "run"
    r = cli.invoke(app, ["run", "--dataset", "hdtf", "--root", str(root), "--out", str(out), "--methods",
                         "ground_truth", "--metrics", "psnr", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "skipped 2 input file(s)" in r.output and "eadbench datasets inspect --dataset hdtf" in r.output
    lines = r.output.splitlines()
    assert "    1: duplicate clip id" in lines
    assert "    1: name does not match <RD|WDA|WRA>_<name>_<idx>" in lines
    summary = _strict_json((out / "summary.json").read_text())
    assert sorted(Path(s["path"]).name for s in summary["skipped_inputs"]) == [short.name, "holiday_clip.mp4"]
    manifest = _strict_json((out / "manifest.json").read_text())
    assert manifest["dataset"]["skipped"] == summary["skipped_inputs"]


# ------------------------------------------------------------------------------------------------
# item 7: `weights list` says "loads" only for a file it loaded
# ------------------------------------------------------------------------------------------------
def _hsemotion_row(wd: Path) -> str:
    r = cli.invoke(app, ["weights", "list", "--weights-dir", str(wd)])
    assert r.exit_code == 0, r.output
    return next(line for line in r.output.splitlines() if "hsemotion-enet-b0-8" in line)


def test_weights_list_never_says_loads_for_a_pickle_it_did_not_load(tmp_path):
    import zipfile

    import timm
    import torch

    wd = tmp_path / "w"
    wd.mkdir()
    f = wd / "enet_b0_8_best_afew.pt"
    torch.save({"w": torch.zeros(300_000)}, f)  # a 1.2 MB torch pickle, but no model in it
    assert f.stat().st_size > 1_000_000
    row = _hsemotion_row(wd)
    assert row.startswith("!! ") and "BROKEN: holds plain tensors" in row and "loads" not in row
    data = f.read_bytes()
    f.write_bytes(data[:200] + bytes(len(data) - 400) + data[-200:])  # same size, payload zeroed
    row = _hsemotion_row(wd)
    assert row.startswith("!! ") and "BROKEN: a damaged zip archive" in row, row
    torch.save(timm.create_model("efficientnet_b0", num_classes=8, pretrained=False), f)
    good = zipfile.ZipFile(f)
    parts = {n: good.read(n) for n in good.namelist()}
    with zipfile.ZipFile(f, "w") as z:  # a valid archive whose pickle is garbage
        for n, b in parts.items():
            z.writestr(n, b"\x80\x02garbage" if n.endswith("data.pkl") else b)
    row = _hsemotion_row(wd)
    assert row.startswith("!! ") and "BROKEN: does not load" in row, row
    torch.save(timm.create_model("efficientnet_b0", num_classes=8, pretrained=False), f)
    row = _hsemotion_row(wd)  # the right kind of file: parsed, and said not to be loaded
    assert row.startswith("ok ") and "parses as a pickled timm model, not loaded" in row and "loads" not in row
    r = cli.invoke(app, ["weights", "list", "--weights-dir", str(wd), "--json"])
    hs = next(x for x in _strict_json(r.stdout) if x["name"] == "hsemotion-enet-b0-8")
    assert "three different pickles" in hs["no_hash_reason"]
