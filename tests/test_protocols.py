"""Issue 17's comparison protocols on a real (small) run: equal coverage (values over the clips
every method scored, ``--coverage all`` keeps each method's own clips, `check` fails when a
method's coverage fell), honest FVD (what it was computed from, carried into summary.json, the
table footnote and a "n too small" flag; FVD against the number of clips in `report`)."""

from __future__ import annotations

import json
import sys
import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from eadbench import config
from eadbench import run as runner
from eadbench.cli.main import app
from eadbench.report.figures import fvd_samples
from eadbench.report.tables import main_table
from eadbench.results import common_clips, summarise
from eadbench.run.layout import load_run
from eadbench.synth import write_dataset

# a method that fails on one clip (exit 1) and blurs the others
FLAKY = textwrap.dedent("""
    import sys, numpy as np, cv2
    from eadbench import media
    video, out, clip = sys.argv[1], sys.argv[2], sys.argv[3]
    if clip == "M003_front_neutral_level_1_001":
        sys.exit("this method cannot do this clip")
    f = media.read_frames(video)
    media.write_video(out, np.stack([cv2.GaussianBlur(x, (0, 0), 2.0) for x in f]))
""")


def _rows(values: dict[str, dict[str, float | None]]) -> list[dict]:
    return [{"method": m, "clip_id": c, "metric": "ssim", "output": "ssim", "value": v,
             "status": "ok" if v is not None else "failed", "reason": None if v is not None else "x"}
            for m, clips in values.items() for c, v in clips.items()]


def test_summarise_compares_like_with_like():
    from eadbench.metrics import METRICS

    rows = _rows({"a": {"c1": 0.9, "c2": 0.5, "c3": 0.1}, "b": {"c1": 0.8, "c2": 0.6, "c3": None}})
    assert common_clips(rows, set()) == {("ssim", "ssim"): {"c1", "c2"}}
    infos = {"ssim": METRICS.get("ssim")}
    inter = summarise(rows, {}, infos, 50, 0)
    a = inter["a"]["ssim"]["ssim"]
    assert a["value"] == pytest.approx(0.7) and a["n_used"] == 2 and a["n_dropped"] == 1
    assert a["value_all"] == pytest.approx(0.5) and a["n_all"] == 3
    assert inter["b"]["ssim"]["ssim"]["n_dropped"] == 0
    every = summarise(rows, {}, infos, 50, 0, coverage="all")
    assert every["a"]["ssim"]["ssim"]["value"] == pytest.approx(0.5)
    assert every["a"]["ssim"]["ssim"]["n_used"] == 3


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("protocols")
    root = write_dataset(d / "synth", layout="mead", speakers=2, clips=2, seconds=1.2, size=96, seed=4)
    script = d / "flaky.py"
    script.write_text(FLAKY)
    methods = ["ground_truth", "static",
               {"name": "flaky", "method": "command", "argv": [sys.executable, str(script), "{video}", "{out}",
                                                               "{clip_id}"]}]
    cfg = config.resolve(None, dataset="synth", root=str(root), out=str(d / "run"), quiet=True,
                         metrics=["ssim", "fvd"])
    cfg.methods = [config.MethodSpec.parse(m) for m in methods]
    runner.run(cfg, echo=lambda s: None)
    return d / "run"


def test_run_uses_the_clips_every_method_scored(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    per_clip = pd.read_csv(run_dir / "per_clip.csv")
    gt = summary["methods"]["ground_truth"]["ssim"]["ssim"]
    flaky = summary["methods"]["flaky"]["ssim"]["ssim"]
    n_clips = per_clip[(per_clip.method == "ground_truth") & (per_clip.metric == "ssim")].shape[0]
    assert flaky["n_used"] == gt["n_used"] == n_clips - 1 and gt["n_dropped"] == 1
    ok = per_clip[(per_clip.method == "static") & (per_clip.metric == "ssim") & (per_clip.status == "ok")]
    kept = ok[ok.clip_id != "M003_front_neutral_level_1_001"]
    static = summary["methods"]["static"]["ssim"]["ssim"]
    assert static["value"] == pytest.approx(kept.value.mean(), abs=1e-6)
    assert static["value_all"] == pytest.approx(ok.value.mean(), abs=1e-6)


def test_fvd_says_what_it_was_computed_from(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    e = summary["methods"]["static"]["fvd"]["fvd"]
    for key in ("n_clips_fake", "n_clips_real", "frames_per_clip", "resolution", "stride", "feature_network",
                "weights_sha256", "real_side", "stable"):
        assert key in e, key
    assert e["stable"] is False  # a handful of clips
    table = main_table([load_run(run_dir)])
    assert any(label.startswith("FVD") and label.endswith("†") for _, label in table.columns)
    note = next(f for f in table.footnotes if "FVD:" in f and "protocol" not in f)
    assert "n too small for a stable FVD" in note and e["weights_sha256"][:12] in note
    assert "coverage intersection" in " ".join(table.footnotes)
    curves = fvd_samples(load_run(run_dir))
    assert set(curves) >= {"static", "flaky"}
    n, value, _ = curves["static"][-1]  # the whole set: the run's own value
    assert value == pytest.approx(summary["methods"]["static"]["fvd"]["fvd"]["value_all"]
                                  if "value_all" in e else e["value"], rel=1e-4)


def test_check_fails_when_coverage_fell(run_dir, tmp_path):
    cli = CliRunner()
    base = tmp_path / "baseline.json"
    r = cli.invoke(app, ["check", str(run_dir), "--baseline", str(base), "--update"])
    assert r.exit_code == 0, r.output
    data = json.loads(base.read_text())
    data["values"]["static"]["ssim/ssim"]["n_used"] += 1  # the baseline scored one clip more
    data["values"] = {"static": {"ssim/ssim": data["values"]["static"]["ssim/ssim"]}}
    base.write_text(json.dumps(data))
    r = cli.invoke(app, ["check", str(run_dir), "--baseline", str(base)])
    assert r.exit_code == 1, r.output
    assert "coverage fell" in r.output

