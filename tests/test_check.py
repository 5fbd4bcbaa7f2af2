"""`eadbench check`: direction-aware tolerances, bootstrap noise guard, refusals, --update."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eadbench.cli.main import app

runner = CliRunner()


def make_run(path, lse_c: list[float], fid: float, protocol="stylegan-v@1", split_hash="abc"):
    """A run folder with the files check reads: summary.json and per_clip.csv."""
    path.mkdir(parents=True, exist_ok=True)
    clips = [f"c{i:02d}" for i in range(len(lse_c))]
    rows = [{"method": "eadnet", "clip_id": c, "speaker": "s", "emotion": "happy", "intensity": 1,
             "metric": "lse", "output": "lse_c", "value": v, "status": "ok", "reason": None}
            for c, v in zip(clips, lse_c)]
    pd.DataFrame(rows).to_csv(path / "per_clip.csv", index=False)
    summary = {"dataset": "synth", "split": "test", "split_name": "synth", "split_hash": split_hash,
               "methods": {"eadnet": {
                   "lse": {"lse_c": {"value": float(np.mean(lse_c)), "direction": "higher",
                                     "protocol": "syncnet-v2@1", "n_used": len(lse_c)}},
                   "fvd": {"fvd": {"value": fid, "direction": "lower", "protocol": protocol}}}}}
    (path / "summary.json").write_text(json.dumps(summary))
    return path


@pytest.fixture()
def baseline(tmp_path):
    rng = np.random.default_rng(0)
    base = make_run(tmp_path / "base", list(7 + rng.normal(0, 1, 12)), 100.0)
    b = tmp_path / "baseline.json"
    r = runner.invoke(app, ["check", str(base), "--baseline", str(b), "--update"])
    assert r.exit_code == 0, r.output
    return b, tmp_path


def _check(run, b, *extra):
    return runner.invoke(app, ["check", str(run), "--baseline", str(b), *extra])


def test_same_run_passes_and_update_writes_values(baseline):
    b, tmp = baseline
    data = json.loads(b.read_text())
    assert data["values"]["eadnet"]["fvd/fvd"]["value"] == 100.0
    assert len(data["values"]["eadnet"]["lse/lse_c"]["per_clip"]) == 12
    r = _check(tmp / "base", b)
    assert r.exit_code == 0, r.output
    assert "no regression" in r.output


def test_direction_matters(baseline):
    b, tmp = baseline
    base_lse = pd.read_csv(tmp / "base" / "per_clip.csv")["value"].tolist()
    better = make_run(tmp / "better", [v + 3 for v in base_lse], 60.0)  # higher LSE-C, lower FVD
    r = _check(better, b)
    assert r.exit_code == 0, r.output
    assert r.output.count("improved") == 2
    worse = make_run(tmp / "worse", [v - 3 for v in base_lse], 160.0)
    r = _check(worse, b)
    assert r.exit_code == 1, r.output
    assert r.output.count("REGRESSED") == 2


def test_tolerance_option_absorbs_a_small_change(baseline):
    b, tmp = baseline
    base_lse = pd.read_csv(tmp / "base" / "per_clip.csv")["value"].tolist()
    run = make_run(tmp / "fvd_up", base_lse, 112.0)  # +12% FVD, default tolerance 5%
    assert _check(run, b).exit_code == 1
    assert _check(run, b, "--tolerance", "fvd=15%").exit_code == 0
    assert _check(run, b, "--tolerance", "fvd=20").exit_code == 0


def test_bootstrap_guards_against_clip_noise(baseline):
    b, tmp = baseline
    base_lse = pd.read_csv(tmp / "base" / "per_clip.csv")["value"].to_numpy()
    rng = np.random.default_rng(1)
    # mean drops by ~0.5 (> 5% of 7) but per-clip changes are noise of sd 2 around it
    noisy = base_lse - 0.5 + rng.normal(0, 2, len(base_lse))
    noisy += (base_lse.mean() - 0.5) - noisy.mean()
    run = make_run(tmp / "noisy", list(noisy), 100.0)
    r = _check(run, b)
    assert r.exit_code == 0, r.output
    assert "within clip noise" in r.output
    assert _check(run, b, "--no-bootstrap").exit_code == 1
    # the same mean drop applied uniformly is a real regression
    run = make_run(tmp / "uniform", list(base_lse - 0.5), 100.0)
    assert _check(run, b).exit_code == 1


def test_refuses_other_protocol_split_or_missing_metric(baseline):
    b, tmp = baseline
    base_lse = pd.read_csv(tmp / "base" / "per_clip.csv")["value"].tolist()
    r = _check(make_run(tmp / "proto", base_lse, 100.0, protocol="latentsync@1"), b)
    assert r.exit_code == 2 and "protocol" in r.output
    r = _check(make_run(tmp / "split", base_lse, 100.0, split_hash="zzz"), b)
    assert r.exit_code == 2 and "split_hash" in r.output
    run = make_run(tmp / "missing", base_lse, 100.0)
    s = json.loads((run / "summary.json").read_text())
    del s["methods"]["eadnet"]["fvd"]
    (run / "summary.json").write_text(json.dumps(s))
    r = _check(run, b)
    assert r.exit_code == 2 and "no value for eadnet fvd/fvd" in r.output
    assert _check(tmp / "nope", b).exit_code == 2
