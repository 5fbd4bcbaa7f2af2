"""The project's own regression gate: the default synthetic benchmark (`eadbench run --dataset
synth`) checked against the committed baseline with `eadbench check`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASELINE = Path(__file__).resolve().parent.parent / "reports" / "baselines" / "synth.json"


def test_default_synthetic_benchmark_has_not_regressed(tmp_path):
    env = {**os.environ, "EADBENCH_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "eadbench.cli.main", "run", "--dataset", "synth", "--out",
                          str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    check = subprocess.run([sys.executable, "-m", "eadbench.cli.main", "check", str(tmp_path / "run"),
                            "--baseline", str(BASELINE)], capture_output=True, text=True, env=env, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no regression" in check.stdout
