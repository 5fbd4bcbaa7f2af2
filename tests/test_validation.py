"""Every value a user can get wrong is refused in one line with exit 2 (issue 23, items 2-4 and
part of 7): a damaged summary.json (never exit 1, which CI reads as a regression), metric options
and protocols checked against what each metric declares, check's tolerances and baseline files,
count options such as --limit, and device strings."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from eadbench.cli.main import app
from tests.test_check import make_run

cli = CliRunner()


def _one_line_exit_2(r) -> str:
    """The result is exit 2 with a single error line and no traceback; returns that line."""
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert "Traceback" not in r.output and not isinstance(r.exception, (ValueError, TypeError)), r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.output
    return errors[0]


@pytest.fixture()
def run_and_baseline(tmp_path):
    rng = np.random.default_rng(0)
    run = make_run(tmp_path / "run", list(7 + rng.normal(0, 1, 6)), 100.0)
    b = tmp_path / "baseline.json"
    assert cli.invoke(app, ["check", str(run), "--baseline", str(b), "--update"]).exit_code == 0
    return run, b


def _edit_summary(run, **entry):
    s = json.loads((run / "summary.json").read_text())
    s["methods"]["eadnet"]["fvd"]["fvd"].update(entry)
    (run / "summary.json").write_text(json.dumps(s))


# ------------------------------------------------------------------------------------------------
# item 2: a damaged summary.json is exit 2 naming the file and the field, in every reader
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", [{"value": "abc"}, {"value": [1]}, {"direction": "sideways"},
                                   {"ci95": "wide"}, {"n_used": "six"}])
def test_damaged_summary_is_exit_2_in_check_and_report(run_and_baseline, tmp_path, entry):
    run, b = run_and_baseline
    _edit_summary(run, **entry)
    field = next(iter(entry))
    for args in (["check", str(run), "--baseline", str(b)], ["report", str(run), "--out", str(tmp_path / "rep")]):
        line = _one_line_exit_2(cli.invoke(app, args))
        assert "summary.json" in line and f"eadnet.fvd.fvd.{field}" in line
    assert not (tmp_path / "rep").exists()


def test_null_value_in_summary_is_still_accepted(run_and_baseline):
    run, b = run_and_baseline
    s = json.loads((run / "summary.json").read_text())
    s["methods"]["eadnet"]["extra"] = {"x": {"value": None, "direction": None}}
    (run / "summary.json").write_text(json.dumps(s))
    r = cli.invoke(app, ["check", str(run), "--baseline", str(b)])
    assert r.exit_code == 0, r.output


# ------------------------------------------------------------------------------------------------
# item 3: metric options and protocols checked against each metric's declarations, from every way in
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from eadbench.synth import write_dataset

    return write_dataset(tmp_path_factory.mktemp("valid") / "synth", layout="mead", speakers=2, clips=1,
                         seconds=0.8, size=96, seed=2)


BAD_SETTINGS = [
    (["--metric-option", "fvd.clips_per_video=abc"], "fvd option clips_per_video must be a whole number"),
    (["--metric-option", "fvd.clips_per_video=-3"], "fvd option clips_per_video must be a whole number of clips >= 1"),
    (["--metric-option", "fvd.clip_per_video=2"], "did you mean clips_per_video?"),
    (["--metric-option", "emotion.classifier=hse"], "emotion option classifier value 'hse'"),
    (["--metric-option", "lse.min_track=-1"], "lse option min_track must be a whole number of frames >= 0"),
    (["--protocol", "nosuch=x"], "unknown metric 'nosuch'"),
    (["--protocol", "fvd=latentsyn"], "unknown fvd protocol 'latentsyn'; did you mean latentsync?"),
]


@pytest.mark.parametrize("flags,message", BAD_SETTINGS)
def test_run_refuses_bad_metric_settings_before_writing(data, tmp_path, flags, message):
    out = tmp_path / "run"
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--methods", "static", "--metrics", "ssim",
                         "--out", str(out), "--quiet", *flags])
    assert message in _one_line_exit_2(r)
    assert not out.exists()


@pytest.mark.parametrize("config,message", [
    ({"metric_options": {"fvd": {"clips_per_video": 0}}}, "fvd option clips_per_video must be a whole number"),
    ({"metric_options": {"fvd": 3}}, "metric fvd: options must be a mapping"),
    ({"protocols": {"ssim": "nonsense"}}, "unknown ssim protocol 'nonsense'"),
    ({"protocols": ["fvd"]}, "protocols must be a mapping"),
])
def test_config_file_metric_settings_go_through_the_same_check(data, tmp_path, config, message):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(json.dumps(config))
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--methods", "static", "--metrics", "ssim",
                         "--out", str(tmp_path / "run"), "--quiet", "--config", str(cfg)])
    assert message in _one_line_exit_2(r)


def test_robustness_refuses_bad_metric_settings(data, tmp_path):
    out = tmp_path / "rob"
    for flags, message in BAD_SETTINGS[:2] + BAD_SETTINGS[5:6]:
        r = cli.invoke(app, ["robustness", "--dataset", "synth", "--root", str(data), "--metrics", "ssim",
                             "--perturbations", "h264-crf18", "--bootstrap", "0", "--out", str(out), "--quiet", *flags])
        assert message in _one_line_exit_2(r)
    assert not out.exists()


def test_library_metric_context_is_checked_by_the_declaration():
    from eadbench.errors import ChoiceError
    from eadbench.metrics import METRICS
    from eadbench.metrics.base import MetricContext

    for bad in ({"clips_per_video": "abc"}, {"clips_per_video": -3}, {"clips_per_video": True}):
        with pytest.raises(ChoiceError, match="clips_per_video must be a whole number"):
            METRICS.get("fvd").factory(MetricContext(options=bad))
    info = METRICS.get("fvd")
    assert info.parse_options({"clips_per_video": "2"}) == {"clips_per_video": 2}  # text from a flag: its type


def _image_folders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for side in ("fake", "real"):
        (tmp_path / side).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / side / f"{i}.png")
    return ["--fake", str(tmp_path / "fake"), "--real", str(tmp_path / "real")]


def test_score_protocol_metric_equals_name_is_checked_not_read_as_a_name(tmp_path):
    files = _image_folders(tmp_path)
    line = _one_line_exit_2(cli.invoke(app, ["score", "--metric", "ssim", *files, "--protocol", "ssim=nonsense"]))
    assert "unknown ssim protocol 'nonsense'" in line and "ssim=nonsense" not in line
    line = _one_line_exit_2(cli.invoke(app, ["score", "--metric", "ssim", *files, "--protocol", "nosuch=x"]))
    assert "unknown metric 'nosuch'" in line
    r = cli.invoke(app, ["score", "--metric", "ssim,psnr", *files, "--protocol", "ssim=ssim-gauss11", "--json"])
    assert r.exit_code == 0, r.output
    assert [x["protocol"] for x in json.loads(r.output)] == ["ssim-gauss11@1", "psnr-frame-mean@1"]


# ------------------------------------------------------------------------------------------------
# item 3: check's tolerance names and baseline files
# ------------------------------------------------------------------------------------------------
def test_check_tolerance_names_must_be_compared_metrics(run_and_baseline):
    run, b = run_and_baseline
    line = _one_line_exit_2(cli.invoke(app, ["check", str(run), "--baseline", str(b), "-t", "nosuch=5%"]))
    assert "--tolerance" in line and "'nosuch'" in line
    assert "did you mean fvd" in _one_line_exit_2(cli.invoke(app, ["check", str(run), "--baseline", str(b),
                                                                    "-t", "fdv=5%"]))
    for name in ("fvd", "lse_c", "lse/lse_c", "default"):
        r = cli.invoke(app, ["check", str(run), "--baseline", str(b), "-t", f"{name}=5%"])
        assert r.exit_code == 0, r.output


@pytest.mark.parametrize("edit,message", [
    (lambda d: d["values"]["eadnet"]["fvd/fvd"].update(direction="sideways"),
     "values.eadnet.fvd/fvd.direction is 'sideways'"),
    (lambda d: d["values"]["eadnet"]["lse/lse_c"].update(per_clip="oops"), "values.eadnet.lse/lse_c.per_clip"),
    (lambda d: d["tolerance"].update(nosuch={"abs": 1}), "tolerance: unknown metric or output 'nosuch'"),
    (lambda d: d.update(split="train"), "differ in split (run 'test', baseline 'train')"),
])
def test_check_refuses_a_damaged_or_other_split_baseline(run_and_baseline, edit, message):
    run, b = run_and_baseline
    data = json.loads(b.read_text())
    edit(data)
    b.write_text(json.dumps(data))
    assert message in _one_line_exit_2(cli.invoke(app, ["check", str(run), "--baseline", str(b)]))


# ------------------------------------------------------------------------------------------------
# item 4: --limit and every other count is refused below its declared minimum, never sliced with
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,option,least", [
    (["run", "--dataset", "synth", "--limit", "-1"], "--limit", 1),
    (["run", "--dataset", "synth", "--limit", "0"], "--limit", 1),
    (["run", "--dataset", "synth", "--workers", "0"], "--workers", 1),
    (["robustness", "--dataset", "synth", "--limit", "-1"], "--limit", 1),
    (["robustness", "--dataset", "synth", "--bootstrap", "-5"], "--bootstrap", 0),
    (["probe", "lipleak", "--dataset", "synth", "--limit", "-1"], "--limit", 0),
    (["prepare", "--dataset", "synth", "--out", "p", "--limit", "-1"], "--limit", 1),
    (["report", "r", "--max-clips", "-1"], "--max-clips", 1),
    (["ablate", "--limit", "-1"], "--limit", 1),
    (["syncnet", "train", "--out", "s", "--steps", "-1"], "--steps", 1),
])
def test_counts_below_their_minimum_are_exit_2(tmp_path, monkeypatch, args, option, least):
    monkeypatch.chdir(tmp_path)
    r = cli.invoke(app, [*args, "--root", str(tmp_path)] if args[0] in ("run", "robustness") else args)
    assert r.exit_code == 2, r.output
    assert f"Invalid value for '{option}'" in r.output and f"greater than or equal to {least}" in r.output
    assert "Traceback" not in r.output and list(tmp_path.iterdir()) == []


def test_limit_in_a_config_file_is_checked_too(data, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(json.dumps({"limit": -1}))
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--methods", "static", "--metrics", "ssim",
                         "--out", str(tmp_path / "run"), "--quiet", "--config", str(cfg)])
    assert "limit must be a whole number >= 1, got -1" in _one_line_exit_2(r)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------------
# item 7: device strings
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cuda:x", "cuda:-1", "gpu", "cuda0"])
def test_malformed_device_names_the_accepted_forms(tmp_path, device):
    r = cli.invoke(app, ["score", "--metric", "ssim", *_image_folders(tmp_path), "--device", device])
    line = _one_line_exit_2(r)
    assert "--device must be auto, cpu, cuda or cuda:N" in line and "CUDA is not available" not in line


def test_well_formed_cuda_device_without_cuda_keeps_its_message():
    import torch

    from eadbench.devices import resolve_device
    from eadbench.errors import ChoiceError

    if torch.cuda.is_available():
        assert resolve_device("cuda:0") == "cuda:0"
        with pytest.raises(ChoiceError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(ChoiceError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_run_refuses_a_malformed_device_before_scanning_or_training(tmp_path):
    out = tmp_path / "run"  # the built-in data would be generated and a model trained before the device was read
    r = cli.invoke(app, ["run", "--dataset", "synth", "--device", "cuda:x", "--out", str(out), "--quiet"])
    assert "--device must be auto, cpu, cuda or cuda:N" in _one_line_exit_2(r)
    assert not out.exists()


@pytest.mark.parametrize("args", [["run", "--dataset", "synth", "--limit", "-1"],
                                  ["run", "--dataset", "synth", "--nosuch", "3"],
                                  ["robustness", "--metrics", "ssim", "--limit", "0"],
                                  ["nosuchcommand"]])
def test_usage_errors_of_the_console_script_are_one_line_and_exit_2(args, tmp_path):
    """The console script (not only CliRunner): click's usage block is one line naming the command."""
    r = subprocess.run([sys.executable, "-m", "eadbench.cli.main", *args], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "--help" in lines[0] and "Traceback" not in r.stderr + r.stdout
    assert not list(tmp_path.iterdir())  # nothing written
