"""`eadbench score` and `eadbench weights` from the command line: JSON shape and exit codes."""

from __future__ import annotations

import json

import numpy as np
import skimage.data
from PIL import Image
from skimage.metrics import structural_similarity
from typer.testing import CliRunner

from eadbench.cli.main import app

cli = CliRunner()


def _folder(d, n, size=(64, 64), noise=0, seed=0):
    d.mkdir()
    rng = np.random.default_rng(seed)
    img = np.asarray(Image.fromarray(skimage.data.astronaut()).resize(size))
    out = []
    for i in range(n):
        im = np.clip(np.roll(img, i, axis=1).astype(int) + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(im).save(d / f"{i:03d}.png")
        out.append(im)
    return out


def test_score_image_folders_json(tmp_path):
    fake = _folder(tmp_path / "fake", 3, noise=15, seed=1)
    real = _folder(tmp_path / "real", 3)
    r = cli.invoke(app, ["score", "--metric", "ssim", "--fake", str(tmp_path / "fake"), "--real",
                         str(tmp_path / "real"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out) >= {"metric", "value", "protocol", "n", "per_item", "weights"}
    ref = np.mean([structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255) for a, b in zip(real, fake)])
    assert out["metric"] == "ssim" and abs(out["value"] - ref) < 1e-4 and out["protocol"] == "ssim-gauss11@1"
    r = cli.invoke(app, ["score", "--metric", "ssim,psnr", "--fake", str(tmp_path / "fake"), "--real",
                         str(tmp_path / "real"), "--json"])
    assert r.exit_code == 0 and [x["metric"] for x in json.loads(r.output)] == ["ssim", "psnr"]


def test_score_bad_inputs_exit_2_in_one_line(tmp_path):
    _folder(tmp_path / "a", 3)
    _folder(tmp_path / "b", 2)
    (tmp_path / "empty").mkdir()
    cases = [
        ["--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b")],          # mismatched pair counts
        ["--fake", str(tmp_path / "empty"), "--real", str(tmp_path / "a")],      # empty folder
        ["--fake", str(tmp_path / "nope"), "--real", str(tmp_path / "a")],       # missing
        ["--fake", str(tmp_path / "a")],                                          # SSIM needs --real
    ]
    for args in cases:
        r = cli.invoke(app, ["score", "--metric", "ssim", *args])
        assert r.exit_code == 2, (args, r.output)
        assert r.output.count("\n") == 1 and "Traceback" not in r.output
    d = tmp_path / "mixed"
    d.mkdir()
    Image.new("RGB", (32, 32)).save(d / "0.png")
    Image.new("RGB", (40, 32)).save(d / "1.png")
    r = cli.invoke(app, ["score", "--metric", "ssim", "--fake", str(d), "--real", str(d)])
    assert r.exit_code == 2 and "different sizes" in r.output


def test_missing_weight_exits_3_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    _folder(tmp_path / "a", 3)
    r = cli.invoke(app, ["score", "--metric", "fid", "--fake", str(tmp_path / "a"), "--real", str(tmp_path / "a")])
    assert r.exit_code == 3
    assert "pt_inception-2015-12-05-6726825d.pth" in r.output and "put it at" in r.output


def test_weights_list_and_verify(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    r = cli.invoke(app, ["weights", "list", "--json"])
    assert r.exit_code == 0
    rows = {x["name"]: x for x in json.loads(r.output)}
    assert rows["i3d-kinetics-400"]["present"] and rows["i3d-kinetics-400"]["hash_ok"] is True
    assert rows["fer-mini-xception"]["source"].startswith("package")
    assert not rows["inception-fid"]["present"] and "put it at" in rows["inception-fid"]["fix"]
    assert cli.invoke(app, ["weights", "verify"]).exit_code == 0
    bad = tmp_path / "w"
    bad.mkdir()
    (bad / "i3d-kinetics-400.ckpt").write_bytes(b"tampered")
    r = cli.invoke(app, ["weights", "verify", "i3d-kinetics-400", "--weights-dir", str(bad)])
    assert r.exit_code == 3 and "does not match" in r.output


def test_score_profile_times_every_stage_in_cpu_seconds_and_frames(tmp_path):
    """Issue 24 item 3: the end of a score says what each stage cost in CPU seconds, and
    ``--profile`` prints the table: decode and each metric, with their frame counts and frames/s."""
    from eadbench import media

    fake = _folder(tmp_path / "f", 40, size=(96, 96), noise=10, seed=1)
    real = _folder(tmp_path / "r", 40, size=(96, 96))
    media.write_video(tmp_path / "fake.mp4", fake)
    media.write_video(tmp_path / "real.mp4", real)
    args = ["score", "--metric", "ssim,psnr", "--fake", str(tmp_path / "fake.mp4"), "--real",
            str(tmp_path / "real.mp4")]
    r = cli.invoke(app, args + ["--profile"])
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert lines[0].startswith("time: ") and "CPU-s by stage" in lines[0]
    header = next(i for i, ln in enumerate(lines) if ln.startswith("stage"))
    rows = {ln.split()[0]: ln.split() for ln in lines[header + 1:]}
    for stage in ("decode", "metric:ssim", "metric:psnr"):
        wall, cpu, frames, fps = float(rows[stage][1]), float(rows[stage][2]), int(rows[stage][3]), rows[stage][4]
        assert wall >= 0 and cpu >= 0 and float(fps) > 0 and frames == 40 * (2 if stage == "decode" else 1)
    assert "frames/CPU-s" not in cli.invoke(app, args).stderr  # the table only when asked
