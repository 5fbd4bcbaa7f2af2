"""`eadbench ablate` fast mode: trains two variants with the same seed, scores, writes the table."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from eadbench.cli.main import app

cli = CliRunner()


def test_fast_ablation_writes_the_table(tmp_path, monkeypatch):
    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))

    args = ["ablate", "--variants", "baseline,full", "--train-steps", "2", "--infer-steps", "1", "--limit", "1",
            "--metrics", "ssim,psnr", "--out", str(tmp_path / "abl"), "--quiet",
            "--set", "size=32", "--set", "channels=[16, 32]", "--set", "attention_levels=[false, true]",
            "--set", "cond_dim=32", "--set", "heads=2", "--set", "groups=4"]
    r = cli.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "| baseline | ✗ | ✗ | ✗ |" in r.output and "| full | ✓ | ✓ | ✓ |" in r.output
    data = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    rows = {x["variant"]: x for x in data["rows"]}
    assert rows["full"]["params"] > rows["baseline"]["params"]
    assert rows["full"]["metrics"]["ssim/ssim"] is not None
    r = cli.invoke(app, ["ablate", "--variants", "nope", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "unknown variant" in r.output


def test_syncnet_auto_trains_the_expert_first_and_turns_the_sync_loss_on(tmp_path, monkeypatch):
    from eadbench import ablate

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ablate, "EXPERT_STEPS", 3)
    out = tmp_path / "abl"
    args = ["ablate", "--variants", "full", "--train-steps", "2", "--infer-steps", "1", "--limit", "1",
            "--metrics", "psnr", "--out", str(out), "--quiet", "--syncnet", "auto",
            "--set", "size=32", "--set", "channels=[16, 32]", "--set", "attention_levels=[false, true]",
            "--set", "cond_dim=32", "--set", "heads=2", "--set", "groups=4"]
    r = cli.invoke(app, args)
    assert r.exit_code == 0, r.output
    overrides = json.loads((out / "ablation.json").read_text())["overrides"]
    assert overrides["syncnet_path"] == str(out / "sync256.pt") and (out / "sync256.pt").exists()
    trained = torch.load(out / "models" / "full" / "checkpoint.pt", weights_only=True)["config"]
    assert trained["w_sync"] == 0.02 and trained["syncnet_path"] == str(out / "sync256.pt")
    header = (out / "models" / "full" / "metrics.csv").read_text().splitlines()[0]
    assert "sync" in header.split(",")
