"""`eadbench ablate` fast mode: trains two variants with the same seed, scores, writes the table."""

from __future__ import annotations

import json

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
