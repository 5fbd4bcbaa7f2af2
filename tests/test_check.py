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


def _two_methods(path, gt: float, static: float, split_hash="abc"):
    """A run folder with one LSE-C value each for ground_truth and static (no per-clip rows)."""
    path.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns=["method", "clip_id", "metric", "output", "value", "status"]).to_csv(
        path / "per_clip.csv", index=False)
    entry = {"direction": "higher", "protocol": "syncnet-v2@1+custom-expert", "n_used": 4}
    summary = {"dataset": "synth", "split": "test", "split_name": "synth", "split_hash": split_hash,
               "methods": {m: {"lse": {"lse_c": {"value": v, **entry}}}
                           for m, v in (("ground_truth", gt), ("static", static))}}
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def test_orderings_hold_on_the_run_alone_and_survive_update(tmp_path):
    """An ordering is judged on the run's own gap, whatever the absolute values did: a run whose
    values all moved by a machine-wide shift passes it, a run where the control caught up fails it."""
    b = tmp_path / "baseline.json"
    assert runner.invoke(app, ["check", str(_two_methods(tmp_path / "base", 0.22, 0.04)), "--baseline", str(b),
                               "--update"]).exit_code == 0
    data = json.loads(b.read_text())
    data["tolerance"] = {"default": {"abs": 0.2}}
    data["orderings"] = [{"metric": "lse/lse_c", "better": "ground_truth", "worse": "static", "margin": 0.05,
                          "why": "the sync expert must tell synced from still lips"}]
    b.write_text(json.dumps(data))
    r = _check(_two_methods(tmp_path / "shifted_down", 0.12, 0.03), b)  # another CPU: both lower
    assert r.exit_code == 0, r.output
    assert "ground_truth > static" in r.output and "0.09" in r.output  # the gap is shown
    r = _check(_two_methods(tmp_path / "caught_up", 0.10, 0.07), b)  # within tolerance, but no gap
    assert r.exit_code == 1, r.output
    assert "ground_truth no longer beats static on lse_c by 0.05: the sync expert must tell" in r.output
    assert r.output.count("REGRESSED") == 1
    verdicts = json.loads(_check(tmp_path / "caught_up", b, "--json").output)
    row = [v for v in verdicts if v["method"] == "ground_truth > static"][0]
    assert row["baseline"] == pytest.approx(0.18) and row["current"] == pytest.approx(0.03)
    # --update keeps the orderings (and the tolerances) it was given
    assert runner.invoke(app, ["check", str(tmp_path / "base"), "--baseline", str(b), "--update"]).exit_code == 0
    assert json.loads(b.read_text())["orderings"] == data["orderings"]


def test_bad_or_unanswerable_orderings_are_input_errors(tmp_path):
    b = tmp_path / "baseline.json"
    base = _two_methods(tmp_path / "base", 0.22, 0.04)
    assert runner.invoke(app, ["check", str(base), "--baseline", str(b), "--update"]).exit_code == 0
    data = json.loads(b.read_text())
    for bad in ([{"metric": "lse_c", "better": "ground_truth", "worse": "static"}],
                [{"metric": "lse/lse_c", "better": "ground_truth", "worse": "static", "margin": -1}],
                {"metric": "lse/lse_c"}):
        b.write_text(json.dumps({**data, "orderings": bad}))
        r = _check(base, b)
        assert r.exit_code == 2 and "orderings must be a list" in r.output, r.output
    b.write_text(json.dumps({**data, "orderings": [{"metric": "lse/lse_c", "better": "ground_truth",
                                                     "worse": "eadnet"}]}))
    r = _check(base, b)
    assert r.exit_code == 2 and "no value for eadnet lse/lse_c" in r.output, r.output
