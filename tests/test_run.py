"""`eadbench run` end to end on synthetic data: outputs, no silent drops, resume after a kill,
determinism, local workers and torchrun shards equal to a single process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from eadbench import config, media
from eadbench import run as runner
from eadbench.cli.main import app
from eadbench.synth import write_dataset

cli = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("rundata") / "synth"
    return write_dataset(root, layout="mead", speakers=2, clips=2, seconds=1.2, size=128, seed=1)


BROKEN = {"name": "broken", "method": "command", "argv": [sys.executable, "-c", "import sys; sys.exit('boom: no GPU')",
                                                          "{out}"]}


def _cfg(data, out, **kw):
    base = dict(dataset="synth", root=str(data), out=str(out), quiet=True, metrics=["ssim", "psnr"],
                methods=["ground_truth", "static"])
    base.update(kw)
    cfg = config.resolve(None, **{k: v for k, v in base.items() if k != "methods"})
    cfg.methods = [config.MethodSpec.parse(m) for m in base["methods"]]
    return cfg


@pytest.fixture(scope="module")
def first_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    res = runner.run(_cfg(data, out, methods=["ground_truth", "static", BROKEN]), echo=lambda s: None)
    return out, res


def test_run_folder_contents_and_values(first_run):
    out, res = first_run
    for f in ("manifest.json", "per_clip.csv", "per_clip.parquet", "summary.json", "failures.csv"):
        assert (out / f).exists(), f
    s = json.loads((out / "summary.json").read_text())
    gt, st = s["methods"]["ground_truth"], s["methods"]["static"]
    assert gt["ssim"]["ssim"]["value"] == 1.0 and gt["psnr"]["psnr"]["value"] == 100.0
    assert st["ssim"]["ssim"]["value"] < 0.99 and st["ssim"]["ssim"]["n_used"] == 4
    assert st["ssim"]["ssim"]["ci95"][0] <= st["ssim"]["ssim"]["value"] <= st["ssim"]["ssim"]["ci95"][1]
    assert s["n_clips"] == 4 and s["split_name"] == "synth-mead-seed1"
    assert len(list((out / "videos" / "static").glob("*.mp4"))) == 4
    m = json.loads((out / "manifest.json").read_text())
    assert m["dataset"]["split_hash"] == s["split_hash"] and m["protocols"]["ssim"]["protocol"] == "ssim-gauss11"
    assert m["config"]["methods"][2]["method"] == "command" and m["torch"].startswith("2.13")


def test_failures_are_rows_with_reasons_never_dropped(first_run):
    out, res = first_run
    df = pd.read_csv(out / "per_clip.csv")
    broken = df[df["method"] == "broken"]
    assert set(broken["clip_id"]) == set(df[df["method"] == "static"]["clip_id"])  # every clip has rows
    assert (broken["status"] == "failed").all()
    assert broken["reason"].str.contains("boom: no GPU").all()
    s = json.loads((out / "summary.json").read_text())
    assert s["methods"]["broken"]["ssim"]["ssim"]["n_failed"] == 4
    assert s["methods"]["broken"]["ssim"]["ssim"]["value"] is None
    fails = pd.read_csv(out / "failures.csv")
    assert len(fails) >= 4 and len(res.failures) >= 4


def test_resume_after_kill_gives_identical_results(first_run, data):
    out, _ = first_run
    before = (out / "summary.json").read_bytes()
    video = out / "videos" / "static" / sorted(p.name for p in (out / "videos" / "static").glob("*.mp4"))[0]
    mtime = video.stat().st_mtime_ns
    # simulate a kill -9 half-way: one video, one score file and a temp file are gone/left over
    other = sorted((out / "videos" / "static").glob("*.mp4"))[1]
    other.unlink()
    shutil.rmtree(out / "scores" / "ground_truth" / sorted(os.listdir(out / "scores" / "ground_truth"))[0])
    (out / "videos" / "static" / ".x.mp4.part").write_bytes(b"junk")
    runner.run(_cfg(data, out, methods=["ground_truth", "static", BROKEN]), echo=lambda s: None)
    assert (out / "summary.json").read_bytes() == before
    assert video.stat().st_mtime_ns == mtime  # finished work was reused, not redone
    assert other.exists()


def test_no_resume_is_deterministic(first_run, data, tmp_path):
    out, _ = first_run
    again = tmp_path / "again"
    runner.run(_cfg(data, again, methods=["ground_truth", "static", BROKEN], resume=False), echo=lambda s: None)
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()


def test_two_local_workers_equal_one_process(first_run, data, tmp_path):
    out, _ = first_run
    par = tmp_path / "par"
    runner.run(_cfg(data, par, methods=["ground_truth", "static", BROKEN], workers=2), echo=lambda s: None)
    assert (par / "summary.json").read_bytes() == (out / "summary.json").read_bytes()
    # the workers' stage tables reach timings.json: every frame of both generated methods, scored once
    # (not compared with ``out``'s table: earlier tests resume that folder, and a resumed run's table
    # counts only what it redid)
    frames = _stage_frames(par)
    videos = [v for m in ("ground_truth", "static") for v in (par / "videos" / m).glob("*.mp4")]
    generated = sum(media.probe(v).n_frames for v in videos)
    assert generated > 0 and frames["metric:ssim"] == frames["metric:psnr"] == generated
    assert frames["generate:ground_truth"] + frames["generate:static"] == generated


def _stage_frames(run) -> dict[str, int]:
    return {k: r["frames"] for k, r in json.loads((run / "timings.json").read_text())["stages"].items()}


def test_timings_give_every_stage_in_cpu_seconds_and_frames(data, tmp_path):
    """Issue 24 item 3: decode, generation and each metric, in CPU seconds and frames/s (a run of
    its own: other tests resume the shared run's folder, which rewrites its timings)."""
    out = tmp_path / "timed"
    res = runner.run(_cfg(data, out, methods=["ground_truth", "static"]), echo=lambda s: None)
    t = json.loads((out / "timings.json").read_text())
    assert t == res.timings and t["cpu_seconds"] > 0 and t["wall"] > 0
    # what came before the clips (data, built-in models, networks' setup), in wall seconds
    assert set(t["setup_wall"]) == {"data", "builtin_models", "networks"}
    assert all(v >= 0 for v in t["setup_wall"].values()) and sum(t["setup_wall"].values()) <= t["wall"]
    frames = _stage_frames(out)
    assert {"decode", "generate:ground_truth", "generate:static", "metric:ssim", "metric:psnr"} <= set(frames)
    assert frames["metric:ssim"] == frames["metric:psnr"] == frames["generate:ground_truth"] + frames["generate:static"]
    for stage in ("decode", "metric:ssim", "generate:static"):
        row = t["stages"][stage]
        assert row["cpu_seconds"] > 0 and row["fps"] == pytest.approx(row["frames"] / row["seconds"], rel=0.01)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_ranks_equal_one_process(first_run, data, tmp_path):
    out, _ = first_run
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(json.dumps({"dataset": "synth", "root": str(data), "metrics": ["ssim", "psnr"],
                                    "methods": ["ground_truth", "static", BROKEN], "quiet": True}))
    dist = tmp_path / "dist"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                        "--master-port", str(_free_port()), "-m", "eadbench.cli.main", "run",
                        "--config", str(cfg_file), "--out", str(dist)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (dist / "summary.json").read_bytes() == (out / "summary.json").read_bytes()


def test_corrupt_input_clip_is_recorded_and_strict_exits_1(data, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    victim = sorted(bad.glob("M003/video/front/*/*/*.mp4"))[0]
    victim.write_bytes(victim.read_bytes()[:2000])
    out = tmp_path / "out"
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(bad), "--out", str(out), "--methods",
                         "static", "--metrics", "ssim", "--quiet", "--strict"])
    assert r.exit_code == 1, r.output
    df = pd.read_csv(out / "per_clip.csv")
    failed = df[df["status"] == "failed"]
    assert len(failed) >= 1 and failed["reason"].str.contains("not a readable media file").any()
    assert (df["status"] == "ok").sum() == 3  # the other clips were scored
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(bad), "--out", str(out), "--methods",
                         "static", "--metrics", "ssim", "--quiet"])
    assert r.exit_code == 0


def test_bad_arguments_are_one_line(data, tmp_path):
    r = cli.invoke(app, ["run", "--dataset", "mead", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--root is required" in r.output
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--metrics", "nope", "--quiet",
                         "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and "unknown metric 'nope'" in r.output
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--methods", "nope", "--quiet",
                         "--out", str(tmp_path / "z")])
    assert r.exit_code == 2 and "unknown method 'nope'" in r.output


def test_kill_9_then_rerun_equals_uninterrupted(data, tmp_path):
    import signal
    import time

    args = [sys.executable, "-m", "eadbench.cli.main", "run", "--dataset", "synth", "--root", str(data),
            "--methods", "ground_truth,static", "--metrics", "ssim,psnr", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(args + ["--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((killed / "scores").glob("*/*/*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists()  # it really died before the end
    assert subprocess.run(args + ["--out", str(killed)], env=env, capture_output=True).returncode == 0
    clean = tmp_path / "clean"
    assert subprocess.run(args + ["--out", str(clean)], env=env, capture_output=True).returncode == 0
    assert (killed / "summary.json").read_bytes() == (clean / "summary.json").read_bytes()
