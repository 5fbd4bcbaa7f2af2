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


EADNET_BASELINE = BASELINE.parent / "synth-eadnet.json"
EADNET_METRICS = "ssim,psnr,lmd"


def _cli(*args: str, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eadbench.cli.main", *args], check=False, capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_eadnet_trained_in_ci_has_not_regressed_and_a_broken_sampler_fails_the_gate(tmp_path):
    """The reference model in the gate: the tiny EAD-Net trained here on the synthetic training
    split (300 steps, about 3 minutes on 2 cores; weights are never committed), the test clips
    generated and scored, and compared with the committed baseline. Then the same checkpoint with
    its EMA weights replaced by the untrained initial ones (what a 0.999 EMA without warm-up still
    mostly is after 300 steps: the bug this gate was built after) must fail it.

    What this cannot catch yet: a model trained for 3 CPU minutes has not learned lip-sync, so a
    broken audio path changes its scores by less than the noise (measured with this checkpoint and
    the audio projection zeroed: mouth LMD 7.26 -> 7.14, two of the 4 clips each way)."""
    import torch
    import yaml
    from eadnet.config import EADNetConfig
    from eadnet.model import EADNet

    env = {**os.environ, "EADBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    abl = tmp_path / "ablate"
    r = _cli("ablate", "--variants", "full", "--train-steps", "300", "--infer-steps", "4", "--metrics",
             EADNET_METRICS, "--out", str(abl), "--quiet", env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    check = _cli("check", str(abl / "run"), "--baseline", str(EADNET_BASELINE), env=env, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no regression" in check.stdout

    ckpt = abl / "models" / "full" / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=True)
    cfg = EADNetConfig.from_dict(state["config"])
    torch.manual_seed(cfg.seed)
    state["ema"] = EADNet(cfg).state_dict()  # the initial weights, as the trainer draws them
    torch.save(state, tmp_path / "broken.pt")
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump({
        "dataset": "synth", "metrics": EADNET_METRICS.split(","),
        "methods": [{"name": "full", "method": "eadnet", "checkpoint": str(tmp_path / "broken.pt"), "steps": 4,
                     "guidance": 1.0}]}))
    r = _cli("run", "--config", str(tmp_path / "broken.yaml"), "--out", str(tmp_path / "broken"), "--quiet", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    check = _cli("check", str(tmp_path / "broken"), "--baseline", str(EADNET_BASELINE), env=env, timeout=300)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "REGRESSED" in check.stdout
