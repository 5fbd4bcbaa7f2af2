"""Nothing lost, nothing hidden: no command deletes what it did not write, one run per folder,
real-world timing quirks accepted, one-line errors for bad input, and every command says what
it did (issue 13). Each command that deletes or replaces something has its own test here."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from eadbench import datasets, media
from eadbench.cli.main import app
from eadbench.synth import write_dataset

cli = CliRunner()
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
TINY = ["--speakers", "1", "--clips", "1", "--seconds", "0.6", "--size", "96", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("lost") / "synth", layout="mead", speakers=2, clips=1,
                         seconds=0.8, size=128, seed=2)


def _precious(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.txt").write_text("x")
    (folder / "sub" / "notes.md").write_text("y")


def _intact(folder: Path) -> bool:
    return (folder / "thesis.txt").read_text() == "x" and (folder / "sub" / "notes.md").read_text() == "y"


# ------------------------------------------------------------------------------------------------
# synth
# ------------------------------------------------------------------------------------------------
def test_synth_refuses_a_folder_it_did_not_write_and_force_deletes_nothing(tmp_path):
    precious = tmp_path / "precious"
    _precious(precious)
    r = cli.invoke(app, ["synth", "--out", str(precious), *TINY])
    assert r.exit_code == 2 and "not empty and was not written by eadbench synth" in r.output
    assert _intact(precious) and not (precious / "eadbench-synth.json").exists()
    r = cli.invoke(app, ["synth", "--out", str(precious), "--force", *TINY])
    assert r.exit_code == 0, r.output
    assert _intact(precious) and (precious / "eadbench-synth.json").exists()
    # the current folder is protected like any other
    cwd = os.getcwd()
    try:
        os.chdir(precious)
        r = cli.invoke(app, ["synth", "--out", ".", *TINY])
    finally:
        os.chdir(cwd)
    assert r.exit_code == 2 and _intact(precious)


def test_synth_replaces_its_own_output_but_not_files_added_to_it(tmp_path):
    out = tmp_path / "ds"
    assert cli.invoke(app, ["synth", "--out", str(out), *TINY]).exit_code == 0
    first = json.loads((out / "eadbench-synth.json").read_text())["files"]
    assert first and all((out / f).exists() for f in first)
    r = cli.invoke(app, ["synth", "--out", str(out), "--seed", "1", *TINY])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "eadbench-synth.json").read_text())["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.") and p.suffix != ".lock"]
    (out / "mine.txt").write_text("keep me")
    r = cli.invoke(app, ["synth", "--out", str(out), *TINY])
    assert r.exit_code == 2 and "mine.txt" in r.output and (out / "mine.txt").read_text() == "keep me"


def test_synth_bad_settings_are_one_line_and_leave_no_folder(tmp_path):
    for args, msg in ((["--size", "33"], "--size must be an even"), (["--layout", "vox"], "unknown layout"),
                      (["--seconds", "0.2"], "--seconds must be above 0.5")):
        out = tmp_path / f"s{args[1]}"
        r = cli.invoke(app, ["synth", "--out", str(out), *args, "--quiet"])
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output, r.output
        assert not out.exists()


# ------------------------------------------------------------------------------------------------
# run: no deletion, one run per folder
# ------------------------------------------------------------------------------------------------
RUN = ["--methods", "static", "--metrics", "ssim", "--quiet"]


def test_run_no_resume_deletes_nothing_it_did_not_write(data, tmp_path):
    out = tmp_path / "out"
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(out), *RUN])
    assert r.exit_code == 0, r.output  # a run folder, to which the user then adds files
    for sub in ("videos", "scores", "cache"):
        _precious(out / sub)
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(out), "--no-resume", *RUN])
    assert r.exit_code == 0, r.output
    assert all(_intact(out / sub) for sub in ("videos", "scores", "cache"))
    assert (out / "summary.json").exists()
    mtime = next((out / "videos" / "static").glob("*.mp4")).stat().st_mtime_ns
    time.sleep(0.01)
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(out), "--no-resume", *RUN])
    assert r.exit_code == 0 and next((out / "videos" / "static").glob("*.mp4")).stat().st_mtime_ns > mtime


HOLD = """
import sys, time
from eadbench.locking import folder_lock
with folder_lock(sys.argv[1], "test holder"):
    print("locked", flush=True)
    time.sleep(60)
"""


def _holder(folder: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_locked_folder_is_refused_with_the_owner_named(data, tmp_path):
    out = tmp_path / "busy"
    holder = _holder(out)
    try:
        r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(out), "--no-resume", *RUN])
        assert r.exit_code == 2 and f"pid {holder.pid} on host" in r.output and "test holder" in r.output
        assert not (out / "summary.json").exists()
        r = cli.invoke(app, ["prepare", "--dataset", "synth", "--root", str(data), "--out", str(out), "--quiet"])
        assert r.exit_code == 2 and f"pid {holder.pid}" in r.output
    finally:
        holder.kill()
        holder.wait()
    # the kernel released the dead holder's lock: the next run goes ahead and says so
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(out), *RUN])
    assert r.exit_code == 0, r.output
    assert "took over a stale lock" in r.output and (out / "summary.json").exists()
    assert (out / ".eadbench.lock").read_text() == ""  # released on exit


def test_synth_output_is_locked_too(tmp_path):
    out = tmp_path / "ds"
    holder = _holder(out)
    try:
        r = cli.invoke(app, ["synth", "--out", str(out), *TINY])
        assert r.exit_code == 2 and "in use by" in r.output and [p.name for p in out.iterdir()] == [".eadbench.lock"]
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------------------------------------
# prepare: stale partials, folders of others, damaged meta.json
# ------------------------------------------------------------------------------------------------
def test_prepare_cleans_its_partials_keeps_others_and_redoes_damaged_clips(data, tmp_path):
    from eadbench.atomic import PARTIAL_MARKER
    from eadbench.locking import claim_folder

    out = tmp_path / "prep"
    ids = sorted(c.clip_id for c in datasets.scan("synth", data).clips)
    with claim_folder(out, "eadbench prepare", "prepare output"):  # a folder an earlier prepare wrote
        pass
    stale = out / "synth" / f".{ids[0]}.abc.partial"  # what a kill -9 leaves
    stale.mkdir(parents=True)
    (stale / PARTIAL_MARKER).write_text("1\n")
    mine = out / "synth" / ".mine.partial"  # looks alike, but has no eadbench marker
    mine.mkdir()
    _precious(out / "synth" / ids[1])  # someone else's folder where a clip would go
    r = cli.invoke(app, ["prepare", "--dataset", "synth", "--root", str(data), "--out", str(out),
                         "--protocols", "face256", "--quiet"])
    assert r.exit_code == 0, r.output
    assert not stale.exists() and mine.exists() and _intact(out / "synth" / ids[1])
    assert "prepared 1" in r.output and "was not written by eadbench prepare" in r.output
    meta = out / "synth" / ids[0] / "meta.json"
    meta.write_bytes(b"\x89PNG\x00\xff binary")
    (meta.parent / "emotion.txt").write_text("mine")  # a file prepare did not write travels with the redo
    from eadbench.prepare import iter_prepared

    with pytest.warns(UserWarning, match="unreadable or damaged"):
        assert list(iter_prepared(out / "synth")) == []
    r = cli.invoke(app, ["syncnet", "train", "--data", str(out / "synth"), "--out", str(tmp_path / "s.pt"),
                         "--steps", "1", "--quiet"])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    r = cli.invoke(app, ["prepare", "--dataset", "synth", "--root", str(data), "--out", str(out),
                         "--protocols", "face256", "--quiet"])
    assert r.exit_code == 0 and "prepared 1" in r.output  # the damaged clip was redone
    assert json.loads(meta.read_text())["meta_version"] == 1 and (meta.parent / "emotion.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------------------
# real-world timing: frame rates, audio slightly or clearly shorter than the video
# ------------------------------------------------------------------------------------------------
def test_audio_slack_is_padded_and_a_short_audio_trims_the_video():
    from eadbench.errors import MediaError

    audio = np.ones(int(1.95 * 16000), np.float32)  # 50 ms short of 2 s: AAC priming-sized
    fit = media.fit_audio_to_video("x.mp4", audio, 50)
    assert fit.n_frames == 50 and len(fit.audio) == 32000 and fit.trimmed_seconds == 0 and fit.note() is None
    assert fit.padded_seconds == pytest.approx(0.05)
    short = np.ones(int(1.6 * 16000), np.float32)  # 0.4 s short: the video is trimmed, and it says so
    fit = media.fit_audio_to_video("x.mp4", short, 50)
    assert fit.n_frames == 40 and len(fit.audio) == 25600 and fit.trimmed_seconds == pytest.approx(0.4)
    assert "trimmed by 0.40 s" in fit.note()
    with pytest.raises(MediaError, match="audio is shorter than the video"):
        media.fit_audio_to_video("x.mp4", short, 50, strict=True)


def _reencode(src: Path, dest: Path, fps, seconds: float) -> Path:
    """A real clip re-encoded at another frame rate (what a 29.97 fps HDTF download looks like)."""
    from fractions import Fraction

    import av

    from eadbench.media.encode import _encode_audio

    frames = media.read_frames(src, fps=None)
    audio = media.read_audio(src)
    rate = Fraction(fps).limit_denominator(1001)
    n = int(seconds * float(rate))
    with av.open(str(dest), "w") as c:
        vs = c.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        a = c.add_stream("aac", rate=16000, layout="mono")
        for i in range(n):
            vf = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            vf.pts, vf.time_base = i, 1 / rate
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
        _encode_audio(c, a, audio[: int(seconds * 16000)], 0, int(seconds * 16000), 16000)
        for p in a.encode(None):
            c.mux(p)
    return dest


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real clips not found at {REAL}")
def test_real_clips_at_odd_frame_rates_and_a_short_side_wav_are_accepted(tmp_path):
    from eadbench.errors import MediaError

    clips = {"2997": _reencode(REAL / "WDA_KatieHill_000.mp4", tmp_path / "a.mp4", 30000 / 1001, 2.069),
             "22": REAL / "retalking_1.mp4", "30": REAL / "retalking_4.mp4"}
    for name, path in clips.items():
        info = media.probe(path)
        frames = media.read_frames(path, max_frames=400)
        assert abs(len(frames) - info.duration * 25) <= 1, (name, len(frames), info.duration)
        fit = media.fit_audio_to_video(path, media.read_audio(path), len(frames))
        assert fit.trimmed_seconds == 0, (name, fit)
    # the portrait clip and its side wav (0.4 s shorter): trimmed and recorded, or refused when strict
    wav = media.read_audio(REAL / "latentsync_demo1_audio.wav")
    n = media.probe(REAL / "latentsync_demo1_video.mp4").n_frames
    fit = media.fit_audio_to_video(REAL / "latentsync_demo1_audio.wav", wav, n)
    assert fit.n_frames == int(len(wav) / 640) and 0.35 < fit.trimmed_seconds < 0.45
    with pytest.raises(MediaError):
        media.fit_audio_to_video(REAL / "latentsync_demo1_audio.wav", wav, n, strict=True)


def test_run_records_a_trimmed_video_and_strict_av_length_fails_the_clip(tmp_path):
    root = tmp_path / "hdtf"
    root.mkdir()
    frames = np.full((50, 96, 96, 3), 120, np.uint8)
    media.write_video(root / "WDA_Short_000.mp4", frames)
    media.write_wav(root / "WDA_Short_000.wav", np.zeros(int(1.5 * 16000), np.float32))
    split = tmp_path / "split.txt"
    split.write_text("WDA_Short_000 test\n")
    base = ["run", "--dataset", "hdtf", "--root", str(root), "--split-file", str(split), "--methods",
            "ground_truth", "--metrics", "psnr", "--quiet"]
    r = cli.invoke(app, [*base, "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert "trimmed by 0.52 s" in s["input_notes"]["WDA_Short_000"]  # 37 whole frames of 40 ms
    assert media.probe(tmp_path / "a" / "videos" / "ground_truth" / "WDA_Short_000.mp4").n_frames == 37
    r = cli.invoke(app, [*base, "--out", str(tmp_path / "b"), "--strict-av-length", "--strict"])
    assert r.exit_code == 1 and "audio is shorter than the video" in r.output


def test_duplicate_clip_ids_keep_one_file_and_list_the_others(tmp_path):
    root = tmp_path / "hdtf"
    for rel in ("a/WDA_Dup_000.mp4", "b/WDA_Dup_000.mp4", "WDA_Dup_001.mp4", "WDA_Dup_001.mov"):
        media.write_video(root / rel, np.zeros((3, 64, 64, 3), np.uint8))
    res = datasets.scan("hdtf", root)
    assert sorted(c.clip_id for c in res.clips) == ["WDA_Dup_000", "WDA_Dup_001"]
    dup = [s for s in res.skipped if "duplicate clip id" in s.reason]
    assert len(dup) == 2 and any(s.path.endswith("b/WDA_Dup_000.mp4") for s in dup)
    assert any("a/WDA_Dup_000.mp4 is used" in s.reason for s in dup)


# ------------------------------------------------------------------------------------------------
# one line, never a traceback
# ------------------------------------------------------------------------------------------------
def _one_line(r, code: int, text: str) -> None:
    assert r.exit_code == code, (r.exit_code, r.output)
    assert text in r.output and "Traceback" not in r.output, r.output


def test_bad_choices_are_one_line(data, tmp_path):
    _one_line(cli.invoke(app, ["datasets", "inspect", "--dataset", "mead", "--root", str(data), "--view", "left"]),
              2, "MEAD view must be one of")
    _one_line(cli.invoke(app, ["datasets", "inspect", "--dataset", "synth", "--root", str(data), "--split", "all"]),
              2, "no clips in split 'all'")
    _one_line(cli.invoke(app, ["datasets", "inspect", "--dataset", "ravdess", "--root", str(data), "--calm", "bogus"]),
              2, "--calm must be one of")
    video = next(data.rglob("*.mp4"))
    _one_line(cli.invoke(app, ["score", "--metric", "emotion", "--fake", str(video), "--emotion", "joy"]),
              2, "unknown emotion 'joy'")
    _one_line(cli.invoke(app, ["score", "--metric", "sim", "--fake", str(video)]), 2, "did you mean ssim")
    _one_line(cli.invoke(app, ["weights", "fetch", "nope"]), 2, "unknown weight file 'nope'")
    _one_line(cli.invoke(app, ["weights", "verify", "nope"]), 2, "unknown weight file 'nope'")


def test_unwritable_outputs_are_one_line(data, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = blocker / "out"
    _one_line(cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(bad), *RUN]),
              2, "cannot create the run folder")
    _one_line(cli.invoke(app, ["synth", "--out", str(bad), *TINY]), 2, str(blocker))
    _one_line(cli.invoke(app, ["prepare", "--dataset", "synth", "--root", str(data), "--out", str(bad), "--quiet"]),
              2, "cannot create")
    run = tmp_path / "run"
    assert cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(run), *RUN]).exit_code == 0
    _one_line(cli.invoke(app, ["report", str(run), "--out", str(bad), "--no-figures"]), 2, "cannot create the report")
    _one_line(cli.invoke(app, ["check", str(run), "--baseline", str(bad / "b.json"), "--update"]), 2, str(blocker))


@pytest.mark.parametrize("content", [b"", b'{"methods": {"static": {"ssim"', b"\x00\xff\x89binary",
                                     b'{"methods": [1, 2]}', b"[]"])
def test_damaged_summary_and_baseline_are_exit_2(data, tmp_path, content):
    run = tmp_path / "run"
    assert cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(run), *RUN]).exit_code == 0
    base = tmp_path / "base.json"
    assert cli.invoke(app, ["check", str(run), "--baseline", str(base), "--update"]).exit_code == 0
    good = (run / "summary.json").read_bytes()
    bad_base = tmp_path / "bad.json"
    bad_base.write_bytes(content)
    r = cli.invoke(app, ["check", str(run), "--baseline", str(bad_base)])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (run / "summary.json").write_bytes(content)
    for args in (["check", str(run), "--baseline", str(base)], ["report", str(run), "--out", str(tmp_path / "rep")]):
        r = cli.invoke(app, args)
        assert r.exit_code == 2 and "Traceback" not in r.output, (args, r.output)
    assert not (tmp_path / "rep").exists()
    (run / "summary.json").write_bytes(good)


def test_check_refuses_a_negative_tolerance(data, tmp_path):
    run = tmp_path / "run"
    assert cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(run), *RUN]).exit_code == 0
    base = tmp_path / "b.json"
    assert cli.invoke(app, ["check", str(run), "--baseline", str(base), "--update"]).exit_code == 0
    _one_line(cli.invoke(app, ["check", str(run), "--baseline", str(base), "-t", "ssim=-0.1"]), 2, ">= 0")
    data_ = json.loads(base.read_text())
    data_["tolerance"] = {"ssim": {"abs": -1}}
    base.write_text(json.dumps(data_))
    _one_line(cli.invoke(app, ["check", str(run), "--baseline", str(base)]), 2, "numbers >= 0")


# ------------------------------------------------------------------------------------------------
# say what was done
# ------------------------------------------------------------------------------------------------
def test_score_refuses_paired_videos_of_different_lengths_and_reports_frames(tmp_path):
    rng = np.random.default_rng(0)
    real = rng.integers(0, 255, (50, 64, 64, 3), dtype=np.uint8)
    media.write_video(tmp_path / "real.mp4", real)
    media.write_video(tmp_path / "fake.mp4", real[:3])
    args = ["score", "--metric", "ssim", "--fake", str(tmp_path / "fake.mp4"), "--real", str(tmp_path / "real.mp4")]
    _one_line(cli.invoke(app, args), 2, "3 generated vs 50 real frames")
    r = cli.invoke(app, [*args, "--allow-length-mismatch", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["per_item"]["fake"]["frames"] == {"fake": 3, "real": 50, "used": 3}


def test_one_failing_metric_never_hides_another(tmp_path):
    frames = np.random.default_rng(1).integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
    media.write_video(tmp_path / "v.mp4", frames)
    r = cli.invoke(app, ["score", "--metric", "ssim,fvd", "--fake", str(tmp_path / "v.mp4"), "--real",
                         str(tmp_path / "v.mp4")])
    assert r.exit_code == 2, r.output
    assert "ssim: 1  (ssim-gauss11@1" in r.output and "error: fvd: " in r.output and "FVD needs at least 2" in r.output


def test_a_broken_hsemotion_file_is_a_warning_and_the_classifier_is_named(data, tmp_path):
    wd = tmp_path / "w"
    wd.mkdir()
    (wd / "enet_b0_8_best_afew.pt").write_bytes(os.urandom(92))
    r = cli.invoke(app, ["weights", "list", "--weights-dir", str(wd)])
    assert "BROKEN: only 92 bytes" in r.output
    assert cli.invoke(app, ["weights", "verify", "hsemotion-enet-b0-8", "--weights-dir", str(wd)]).exit_code == 3
    run = tmp_path / "run"
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(run), "--methods",
                         "ground_truth", "--metrics", "emotion", "--weights-dir", str(wd), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "warning: metric emotion: HSEmotion not used" in r.output
    assert "[fer-mini-xception-7 (7 classes)]" in r.output
    s = json.loads((run / "summary.json").read_text())
    entry = s["methods"]["ground_truth"]["emotion"]["acc_emo"]
    assert entry["classifier"] == "fer-mini-xception-7 (7 classes)" and entry["n_used"] + entry["n_excluded"] == 2
    video = next((run / "videos" / "ground_truth").glob("*.mp4"))
    r = cli.invoke(app, ["score", "--metric", "emotion", "--fake", str(video), "--emotion", "happy",
                         "--weights-dir", str(wd)])
    assert "classifier fer-mini-xception-7" in r.output and "HSEmotion not used" in r.output
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(tmp_path / "r2"), "--methods",
                         "ground_truth", "--metrics", "emotion", "--weights-dir", str(wd), "--quiet", "--config",
                         str(_yaml(tmp_path, {"metric_options": {"emotion": {"classifier": "hsemotion"}}}))])
    assert "emotion unavailable" in r.output and "--trust-weights" in r.output  # asked for by name: an error


def _yaml(tmp_path: Path, obj: dict) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(json.dumps(obj))
    return p


def test_no_face_names_the_file(tmp_path):
    from eadbench.errors import FaceNotFoundError
    from eadbench.faces import track_clip

    with pytest.raises(FaceNotFoundError, match=r"^/some/clip.mp4: no face found in any of 6 frames"):
        track_clip(np.zeros((6, 96, 96, 3), np.uint8), source="/some/clip.mp4")


def test_two_faces_are_counted(tmp_path):
    import cv2
    import skimage.data

    from eadbench.faces import track_clip

    face = cv2.resize(skimage.data.astronaut()[:256, 96:352], (128, 128))
    two = np.concatenate([face, face], axis=1)
    track = track_clip(np.stack([two] * 4))
    assert track.multi_face_frames == 4 and not track.missing


# ------------------------------------------------------------------------------------------------
# smaller
# ------------------------------------------------------------------------------------------------
def test_outputs_honour_the_umask(data, tmp_path):
    old = os.umask(0o022)
    try:
        run = tmp_path / "run"
        assert cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(run),
                                *RUN]).exit_code == 0
    finally:
        os.umask(old)
    for p in (run / "summary.json", next((run / "videos" / "static").glob("*.mp4")), run / "per_clip.csv"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    assert stat.S_IMODE((run / "videos").stat().st_mode) == 0o755


def test_html_media_links_are_url_encoded(data, tmp_path):
    run = tmp_path / "run #1 100%"
    assert cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(run), *RUN]).exit_code == 0
    r = cli.invoke(app, ["report", str(run), "--out", str(tmp_path / "rep"), "--no-figures"])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "run%20%231%20100%25/videos/static/" in page and "run #1 100%/videos" not in page


def test_help_has_no_bool_placeholders_and_every_option_is_described():
    import typer

    cmd = typer.main.get_command(app)
    undocumented = []

    def walk(c, path):
        if hasattr(c, "commands"):
            for name, sub in c.commands.items():
                walk(sub, [*path, name])
            return
        for p in c.params:
            if type(p).__name__.endswith("Option") and not (p.help or "").strip():
                undocumented.append(f"{' '.join(path)} {p.opts[0]}")

    walk(cmd, [])
    assert not undocumented
    r = cli.invoke(app, ["run", "--help"])
    assert "<bool>" not in r.output and "--quiet" in r.output
    assert "Methods" in r.output and "ground_truth" in r.output and "Metrics" in r.output and "ssim" in r.output
    assert "sync expert" in cli.invoke(app, ["eadnet", "train", "--help"]).output
